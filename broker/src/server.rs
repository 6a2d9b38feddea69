//! Starting and stopping a broker: data directory, metadata, logs, listener, background tasks.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;

use crate::config::BrokerConfig;
use crate::group::GroupCoordinator;
use crate::meta_properties::{decode_uuid, random_uuid, MetaError, MetaProperties};
use crate::metadata::{Controller, FileMetadataLog, MetadataImage};
use crate::replica_manager::{now_ms, ReplicaManager};

/// Shared state every request handler sees.
pub struct BrokerState {
    /// The configuration.
    pub config: Arc<BrokerConfig>,
    /// The controller (single-node: in process).
    pub controller: Controller,
    /// Hosted partitions.
    pub replicas: Arc<ReplicaManager>,
    /// The group coordinator.
    pub groups: Arc<GroupCoordinator>,
    /// The transaction coordinator (and producer id allocation).
    pub txns: Arc<crate::txn::TransactionCoordinator>,
    /// Bounds the bytes of requests read but not yet answered (`queued.max.request.bytes`).
    pub request_memory: Arc<Semaphore>,
    /// Bounds the requests being handled at once (`queued.max.requests`).
    pub request_slots: Arc<Semaphore>,
    /// Bounds the open connections (`max.connections`).
    pub connection_slots: Arc<Semaphore>,
    /// Flips to true when the broker shuts down; long polls and connections watch it.
    pub shutdown: watch::Receiver<bool>,
    /// Open connections, which shutdown waits for.
    pub(crate) connections: Arc<crate::network::Connections>,
    /// The data directory's id (`directory.id` of `meta.properties`, KIP-858).
    pub directory_id: uuid::Uuid,
    /// This broker's registration epoch in a cluster (-1 on a single node).
    pub(crate) broker_epoch: Arc<std::sync::atomic::AtomicI64>,
}

impl BrokerState {
    /// The current metadata image.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.controller.image()
    }

    /// This broker's registration epoch in a cluster (-1 on a single node).
    pub fn broker_epoch(&self) -> i64 {
        self.broker_epoch.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A running broker. Call [`BrokerHandle::shutdown`] to stop it cleanly; dropping the handle
/// stops serving at once without the clean-shutdown steps, like a crash (the next start then
/// recovers the logs).
pub struct BrokerHandle {
    addr: std::net::SocketAddr,
    state: Arc<BrokerState>,
    shutdown_tx: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    cleaner: crate::log_cleaner::LogCleaner,
    _lock: DirLock,
}

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory cannot be used.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Metadata could not be loaded.
    #[error("metadata: {0}")]
    Metadata(String),
    /// The configuration asks for something this version cannot run yet.
    #[error("{0}")]
    Unsupported(String),
    /// The data directory belongs to another node or cluster, or is not formatted.
    #[error(transparent)]
    Meta(#[from] MetaError),
}

const CLEAN_SHUTDOWN_FILE: &str = ".clean-shutdown";

/// An exclusive lock on the data directory (a lock file holding our pid), so that two brokers
/// never write the same logs. The parts of one node (controller and broker) share it: the file
/// goes when the last of them lets go.
struct DirLock {
    path: std::path::PathBuf,
}

/// How many holders each lock file of this process has.
static DIR_LOCKS: std::sync::Mutex<std::collections::BTreeMap<std::path::PathBuf, usize>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

impl DirLock {
    fn acquire(dir: &Path) -> Result<Self, StartError> {
        let path = dir.join(".lock");
        let mut held = DIR_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&path) {
            *n += 1;
            return Ok(DirLock { path });
        }
        let me = std::process::id();
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(pid) = text.trim().parse::<u32>() {
                if pid != me && process_alive(pid) {
                    return Err(StartError::DataDir {
                        path: dir.display().to_string(),
                        reason: format!("in use by another broker process (pid {pid}); stop it or choose another log.dirs"),
                    });
                }
            }
        }
        std::fs::write(&path, me.to_string()).map_err(|e| StartError::DataDir {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        held.insert(path.clone(), 1);
        Ok(DirLock { path })
    }
}

/// Creates and locks a data directory; says whether the last stop was clean (the marker is
/// consumed: a crash from now on leaves none).
fn open_data_dir(dir: &Path) -> Result<(DirLock, bool), StartError> {
    std::fs::create_dir_all(dir).map_err(|e| StartError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let lock = DirLock::acquire(dir)?;
    let marker = dir.join(CLEAN_SHUTDOWN_FILE);
    let clean = marker.exists();
    let _ = std::fs::remove_file(&marker);
    if !clean {
        tracing::info!(dir = %dir.display(), "no clean shutdown marker: logs will be recovered");
    }
    Ok((lock, clean))
}

/// Binds a listener on `addr` (`host:port`; port 0 picks one) and gives its bound address.
async fn bind(addr: &str) -> Result<(TcpListener, std::net::SocketAddr), StartError> {
    let error = |source| StartError::Bind {
        addr: addr.to_string(),
        source,
    };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let bound = listener.local_addr().map_err(error)?;
    Ok((listener, bound))
}

/// Whether process `pid` runs: it exists and is not a zombie (a killed broker whose parent has
/// not reaped it yet holds no file any more).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // the state follows the command name in parentheses: `pid (comm) S ...`
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let mut held = DIR_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        let last = match held.get_mut(&self.path) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => {
                held.remove(&self.path);
                true
            }
        };
        if last {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A running node: a broker, a controller, or both (`process.roles`).
pub struct NodeHandle {
    controller: Option<ControllerHandle>,
    broker: Option<BrokerHandle>,
}

/// The controller part of a cluster node: the metadata log, broker sessions, and the
/// controller listener brokers connect to.
pub struct ControllerHandle {
    addr: std::net::SocketAddr,
    controller: Controller,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _lock: DirLock,
}

impl NodeHandle {
    /// The broker listener's address, if this node is a broker.
    pub fn broker_addr(&self) -> Option<std::net::SocketAddr> {
        self.broker.as_ref().map(|b| b.local_addr())
    }

    /// The controller listener's address, if this node is a controller.
    pub fn controller_addr(&self) -> Option<std::net::SocketAddr> {
        self.controller.as_ref().map(|c| c.addr)
    }

    /// The broker part.
    pub fn broker(&self) -> Option<&BrokerHandle> {
        self.broker.as_ref()
    }

    /// Stops the broker part cleanly (a controlled shutdown first), then the controller part.
    pub async fn shutdown(self) {
        if let Some(b) = self.broker {
            b.shutdown().await;
        }
        if let Some(c) = self.controller {
            let _ = c.stop.send(true);
            let controller = c.controller.clone();
            let stopping = controller.clone();
            let _ = tokio::task::spawn_blocking(move || stopping.stop()).await;
            for t in c.tasks {
                let _ = t.await;
            }
            controller.leave_quorum().await;
            tracing::info!("controller stopped");
        }
    }
}

/// Starts a node with `config`: on a single node (no `controller.quorum.voters`) today's
/// broker; in a cluster the controller (a voter of the Raft quorum `controller.quorum.voters`
/// names) and/or the broker `process.roles` names.
pub async fn start_node(config: BrokerConfig) -> Result<NodeHandle, StartError> {
    let crate::config::ClusterMode::Quorum(quorum) = config.cluster.mode.clone() else {
        let broker = start(config).await?;
        return Ok(NodeHandle {
            controller: None,
            broker: Some(broker),
        });
    };
    let roles = config.cluster.roles;
    let config = Arc::new(config);
    let controller = if roles.controller {
        Some(start_controller(Arc::clone(&config)).await?)
    } else {
        None
    };
    let broker = if roles.broker {
        // the voters, else the bootstrap servers (whose ids the broker learns by asking)
        let mut voters: Vec<(i32, String)> = quorum
            .voters
            .iter()
            .map(|v| (v.id, format!("{}:{}", v.host, v.port)))
            .collect();
        if voters.is_empty() {
            voters = quorum
                .bootstrap
                .iter()
                .map(|(host, port)| (-1, format!("{host}:{port}")))
                .collect();
        }
        let remote = connect_to_controller(Arc::clone(&config), &voters).await?;
        Some(start_member((*config).clone(), remote).await?)
    } else {
        None
    };
    Ok(NodeHandle { controller, broker })
}

/// Connects to the controller at `addr`, waiting (and saying so every few seconds) while it is
/// not up yet.
async fn connect_to_controller(
    config: Arc<BrokerConfig>,
    voters: &[(i32, String)],
) -> Result<Controller, StartError> {
    let started = std::time::Instant::now();
    let mut last_said = std::time::Instant::now();
    loop {
        match Controller::connect(Arc::clone(&config), voters).await {
            Ok(c) => return Ok(c),
            Err(e) => {
                if last_said.elapsed() >= Duration::from_secs(5) || started == last_said {
                    tracing::warn!(error = %e, "waiting for the controller quorum");
                    last_said = std::time::Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// Starts the controller part: the metadata log of a formatted data directory, broker sessions
/// and the controller listener (`controller.listener.names`).
async fn start_controller(config: Arc<BrokerConfig>) -> Result<ControllerHandle, StartError> {
    let dir = config.data_dir.clone();
    let dir_err = |e: std::io::Error| StartError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&dir).map_err(dir_err)?;
    let lock = DirLock::acquire(&dir)?;
    // the controller's directory says which cluster this is: it must be formatted (Kafka too)
    let Some(meta) = MetaProperties::read(&dir)? else {
        return Err(StartError::DataDir {
            path: dir.display().to_string(),
            reason: "not formatted: a controller needs a cluster id; run `tributary storage random-uuid`, then `tributary storage format -t <id> --config <this file>`".into(),
        });
    };
    meta.check(&dir, config.node_id, None)?;
    let listener_conf = config
        .cluster
        .listeners
        .iter()
        .find(|l| config.cluster.controller_listener_names.contains(&l.name))
        .cloned()
        .ok_or_else(|| {
            StartError::Unsupported(
                "a controller needs a listener named in controller.listener.names".into(),
            )
        })?;
    let host = if listener_conf.host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        listener_conf.host.clone()
    };
    let (listener, addr) = bind(&format!("{host}:{}", listener_conf.port)).await?;
    let controller = Controller::open_quorum(
        Arc::clone(&config),
        &dir.join("__cluster_metadata-0"),
        meta.cluster_id.clone(),
    )
    .await
    .map_err(StartError::Metadata)?;
    let known = controller.image().cluster_id.clone();
    if !known.is_empty() && known != meta.cluster_id {
        controller.leave_quorum().await;
        return Err(StartError::Metadata(format!(
            "the metadata log belongs to cluster {known}, the data directory to {}",
            meta.cluster_id
        )));
    }
    let (stop, stop_rx) = watch::channel(false);
    let tasks = vec![
        tokio::spawn(controller.clone().run_periodic(stop_rx.clone())),
        tokio::spawn(crate::metadata::remote::serve(
            listener,
            controller.clone(),
            stop_rx,
        )),
    ];
    tracing::info!(%addr, cluster_id = %meta.cluster_id, node_id = config.node_id, "controller started");
    Ok(ControllerHandle {
        addr,
        controller,
        stop,
        tasks,
        _lock: lock,
    })
}

/// Starts a single-node broker with `config` on the current tokio runtime (a cluster node is
/// started with [`start_node`]).
pub async fn start(config: BrokerConfig) -> Result<BrokerHandle, StartError> {
    if let crate::config::ClusterMode::Quorum(_) = config.cluster.mode {
        return Err(StartError::Unsupported(
            "controller.quorum.voters is set: start a cluster node with start_node".into(),
        ));
    }
    let config = Arc::new(config);
    let dir = config.data_dir.clone();
    let dir_err = |e: std::io::Error| StartError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    let (lock, clean) = open_data_dir(&dir)?;
    let (listener, addr) = bind(&config.listen_addr.to_string()).await?;
    let advertised = config
        .advertised
        .clone()
        .map(|(h, p)| (h, if p == 0 { addr.port() } else { p }))
        .unwrap_or_else(|| {
            let host = if addr.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                addr.ip().to_string()
            };
            (host, addr.port())
        });

    // a formatted directory says which cluster it belongs to; a single node formats its own
    let formatted = MetaProperties::read(&dir)?;
    if let Some(m) = &formatted {
        m.check(&dir, config.node_id, None)?;
    }
    let metadata_dir = dir.join("__cluster_metadata-0");
    let store = FileMetadataLog::open(&metadata_dir).map_err(dir_err)?;
    let controller = {
        let config = Arc::clone(&config);
        let cluster_id = formatted.as_ref().map(|m| m.cluster_id.clone());
        tokio::task::spawn_blocking(move || {
            Controller::open_formatted(Box::new(store), config, advertised, cluster_id)
        })
        .await
        .map_err(|e| StartError::Metadata(e.to_string()))?
        .map_err(StartError::Metadata)?
    };
    let meta = claim_directory(&dir, config.node_id, formatted, &controller)?;
    // a directory formatted before directory ids has none: it gets one, kept from now on
    let directory_id = match decode_uuid(&meta.directory_id) {
        Some(id) => id,
        None => {
            let m = MetaProperties {
                directory_id: random_uuid(),
                ..meta
            };
            m.write(&dir)?;
            decode_uuid(&m.directory_id).unwrap_or_default()
        }
    };
    launch(Launch {
        config,
        controller,
        member: false,
        listener,
        addr,
        clean,
        directory_id,
        lock,
    })
    .await
}

/// Starts a broker that is a member of a cluster whose controller is `controller`: one opened
/// with [`Controller::open_cluster`] in this process, or a connection to one in another process
/// ([`Controller::connect`], whose metadata the broker then keeps fetching). It registers,
/// heartbeats, follows the leaders of the partitions it replicates and leads the others. Its
/// data directory is formatted with the controller's cluster id.
pub async fn start_member(
    config: BrokerConfig,
    controller: Controller,
) -> Result<BrokerHandle, StartError> {
    let config = Arc::new(config);
    let dir = config.data_dir.clone();
    let (lock, clean) = open_data_dir(&dir)?;
    let (listener, addr) = bind(&config.listen_addr.to_string()).await?;
    let formatted = MetaProperties::read(&dir)?;
    let meta = claim_directory(&dir, config.node_id, formatted, &controller)?;
    let directory_id = decode_uuid(&meta.directory_id).unwrap_or_default();
    launch(Launch {
        config,
        controller,
        member: true,
        listener,
        addr,
        clean,
        directory_id,
        lock,
    })
    .await
}

/// The data directory's `meta.properties` for the cluster `controller` knows: checked when the
/// directory was formatted, written (formatting it) when not.
fn claim_directory(
    dir: &Path,
    node_id: i32,
    formatted: Option<MetaProperties>,
    controller: &Controller,
) -> Result<MetaProperties, StartError> {
    let cluster_id = controller.image().cluster_id.clone();
    match formatted {
        Some(m) => {
            m.check(dir, node_id, Some(&cluster_id))?;
            Ok(m)
        }
        None => {
            let m = MetaProperties {
                cluster_id,
                node_id,
                directory_id: random_uuid(),
            };
            m.write(dir)?;
            Ok(m)
        }
    }
}

/// What both kinds of start hand to [`launch`].
struct Launch {
    config: Arc<BrokerConfig>,
    controller: Controller,
    member: bool,
    listener: TcpListener,
    addr: std::net::SocketAddr,
    clean: bool,
    directory_id: uuid::Uuid,
    lock: DirLock,
}

/// Opens the replicas, starts the coordinators, the listener and the background tasks.
async fn launch(l: Launch) -> Result<BrokerHandle, StartError> {
    let Launch {
        config,
        controller,
        member,
        listener,
        addr,
        clean,
        directory_id,
        lock,
    } = l;
    let dir = config.data_dir.clone();
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut replica_manager = ReplicaManager::new(&dir, Arc::clone(&config), clean);
    let broker_epoch = Arc::new(std::sync::atomic::AtomicI64::new(-1));
    if member {
        let image_source = {
            let controller = controller.clone();
            Arc::new(move || controller.image()) as crate::replication::fetcher::ImageSource
        };
        replica_manager.set_fetchers(crate::replication::fetcher::FetcherManager::new(
            config.node_id,
            Arc::clone(&config),
            image_source,
            tokio::runtime::Handle::current(),
            shutdown_rx.clone(),
            Arc::clone(&broker_epoch),
            Arc::clone(replica_manager.quotas()),
        ));
    }
    let replicas = Arc::new(replica_manager);
    if !member {
        // (a cluster member does this once it is registered: see `attach_replicas`)
        attach_replicas(Arc::clone(&replicas), controller.clone())
            .await
            .map_err(|e| StartError::Metadata(e.to_string()))?;
    }

    let groups = GroupCoordinator::new(
        config.group.clone(),
        Arc::clone(&replicas),
        controller.clone(),
    );
    let txns = crate::txn::TransactionCoordinator::new(
        config.txn.clone(),
        config.node_id,
        Arc::clone(&replicas),
        controller.clone(),
        Arc::clone(&groups),
    );
    let state = Arc::new(BrokerState {
        request_memory: Arc::new(Semaphore::new(config.queued_max_request_bytes)),
        request_slots: Arc::new(Semaphore::new(config.queued_max_requests)),
        connection_slots: Arc::new(Semaphore::new(
            config.max_connections.min(Semaphore::MAX_PERMITS),
        )),
        config: Arc::clone(&config),
        controller,
        replicas,
        groups: Arc::clone(&groups),
        txns: Arc::clone(&txns),
        shutdown: shutdown_rx,
        connections: Arc::default(),
        directory_id,
        broker_epoch,
    });
    // A cluster member serves clients once the controller has unfenced it, as Kafka's brokers
    // do: before that its metadata may not list a single live broker (a client would then wait
    // for a controller that it is never told about). Connections wait in the listen backlog.
    let (unfenced_tx, unfenced_rx) = tokio::sync::oneshot::channel();
    let accept = {
        let state = Arc::clone(&state);
        let mut shutdown = state.shutdown.clone();
        async move {
            if member {
                tokio::select! {
                    first = unfenced_rx => if first.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
            crate::network::accept_loop(listener, state).await;
        }
    };
    let mut tasks = vec![
        tokio::spawn(accept),
        tokio::spawn(flusher(Arc::clone(&state))),
        tokio::spawn(retention(Arc::clone(&state))),
        tokio::spawn(producer_expiry(Arc::clone(&state))),
        groups.start(),
        txns.start(),
    ];
    if state.controller.is_remote() {
        tasks.push(tokio::spawn(
            state
                .controller
                .clone()
                .follow_metadata(state.shutdown.clone()),
        ));
    }
    if member {
        tasks.push(tokio::spawn(crate::lifecycle::run(
            Arc::clone(&state),
            addr,
            unfenced_tx,
        )));
        tasks.push(tokio::spawn(isr_checks(Arc::clone(&state))));
        tasks.push(tokio::spawn(hw_checkpoints(Arc::clone(&state))));
    }
    let cleaner = crate::log_cleaner::LogCleaner::start(&state.replicas, config.cleaner.clone());
    tracing::info!(%addr, dir = %dir.display(), node_id = config.node_id, "broker started");
    Ok(BrokerHandle {
        addr,
        state,
        shutdown_tx,
        tasks,
        cleaner,
        _lock: lock,
    })
}

/// Makes the hosted replicas follow the metadata from now on. A cluster member calls it only
/// after registering: its new incarnation fences the old one first, so that it never leads again
/// at an epoch it may have led with data it since lost.
pub(crate) async fn attach_replicas(
    replicas: Arc<ReplicaManager>,
    controller: Controller,
) -> Result<(), tokio::task::JoinError> {
    tokio::task::spawn_blocking(move || {
        let rm = Arc::clone(&replicas);
        controller.add_listener(Box::new(move |image| rm.reconcile(image)));
        replicas.handle_stray_dirs(&controller.image());
    })
    .await
}

/// Checks the ISRs of the partitions led here every `replica.lag.time.max.ms / 2`.
async fn isr_checks(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let period =
        Duration::from_millis((state.config.cluster.replication.lag_time_max_ms / 2).max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        crate::replication::alter_partition::check_isrs(&state);
    }
}

/// Saves the high watermarks every `replica.high.watermark.checkpoint.interval.ms`.
async fn hw_checkpoints(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let period = Duration::from_millis(state.config.cluster.replication.hw_checkpoint_interval_ms);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        let replicas = Arc::clone(&state.replicas);
        let _ = tokio::task::spawn_blocking(move || replicas.checkpoint_high_watermarks()).await;
    }
}

/// Fsyncs logs whose `flush.ms` has passed, every `log.flush.scheduler.interval.ms`.
async fn flusher(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let period = Duration::from_millis(state.config.flush_scheduler_interval_ms.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        let replicas = Arc::clone(&state.replicas);
        let _ = tokio::task::spawn_blocking(move || replicas.flush_due(now_ms())).await;
    }
}

/// Deletes segments past retention every `log.retention.check.interval.ms`.
async fn retention(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let period = Duration::from_millis(state.config.retention_check_interval_ms.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        let replicas = Arc::clone(&state.replicas);
        let _ = tokio::task::spawn_blocking(move || replicas.apply_retention(now_ms())).await;
    }
}

/// Forgets idle producers every `producer.id.expiration.check.interval.ms`.
async fn producer_expiry(state: Arc<BrokerState>) {
    let mut shutdown = state.shutdown.clone();
    let period = Duration::from_millis(
        state
            .config
            .txn
            .producer_id_expiration_check_interval_ms
            .max(1),
    );
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => return,
        }
        let replicas = Arc::clone(&state.replicas);
        let _ = tokio::task::spawn_blocking(move || replicas.expire_producers(now_ms())).await;
    }
}

impl BrokerHandle {
    /// The address the Kafka listener is bound to.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Shared state (for tests and embedding).
    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// The log cleaner (metrics, and a wake-up for tests and tools).
    pub fn cleaner(&self) -> &crate::log_cleaner::LogCleaner {
        &self.cleaner
    }

    /// Stops at once, as a crash would: no controlled shutdown, no flush, no clean-shutdown
    /// marker (the next start recovers the logs). A cluster member stops heartbeating and is
    /// fenced when its session expires.
    pub async fn kill(self) {
        let _ = self.shutdown_tx.send(true);
        self.state.replicas.stop_fetchers();
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        // a dead process's sockets close
        self.state.controller.disconnect().await;
        self.state
            .connections
            .wait_closed(Duration::from_secs(10))
            .await;
        tracing::info!("broker killed");
    }

    /// Stops accepting, closes connections, flushes and closes every log, and leaves the clean
    /// shutdown marker so the next start skips recovery.
    pub async fn shutdown(self) {
        // a cluster member hands its leaderships over first (the lifecycle task stops with the
        // shutdown signal, so the heartbeats asking to stop come from here)
        crate::lifecycle::controlled_shutdown(&self.state).await;
        let _ = self.shutdown_tx.send(true);
        // Parked JoinGroup / SyncGroup requests are answered NOT_COORDINATOR so that their
        // connections can finish.
        self.state.groups.close();
        self.state.txns.close();
        self.state.replicas.stop_fetchers();
        // Stop accepting first, then let connections finish the request in hand (an append is
        // never cut in half) and close; only then are the logs closed.
        for t in &self.tasks {
            t.abort();
        }
        for t in self.tasks {
            let _ = t.await;
        }
        self.state
            .connections
            .wait_closed(Duration::from_secs(10))
            .await;
        self.state.controller.disconnect().await;
        let state = Arc::clone(&self.state);
        let dir = state.config.data_dir.clone();
        let mut cleaner = self.cleaner;
        let clean = tokio::task::spawn_blocking(move || {
            // a pass in progress gives up; its partial file is discarded
            cleaner.stop();
            state.replicas.shutdown()
        })
        .await
        .unwrap_or(false);
        if clean {
            if let Err(e) = std::fs::write(dir.join(CLEAN_SHUTDOWN_FILE), b"") {
                tracing::warn!(error = %e, "cannot write clean shutdown marker");
            }
        }
        tracing::info!("broker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::process_alive;

    #[test]
    fn a_killed_process_not_yet_reaped_holds_no_data_directory() {
        assert!(process_alive(std::process::id()));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(process_alive(pid));
        child.kill().unwrap();
        // a zombie until reaped
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!process_alive(pid));
        child.wait().unwrap();
        assert!(!process_alive(pid));
    }
}
