//! A cluster member towards its controller: it registers (fenced), heartbeats every
//! `broker.heartbeat.interval.ms` (the controller unfences it once it has applied its own
//! registration, and fences it when heartbeats stop for `broker.session.timeout.ms`), and on a
//! clean shutdown hands its leaderships over before it stops (controlled shutdown, through
//! heartbeats that ask to shut down, as KRaft brokers do).
//!
//! The controller is reached in process for now (an in-process cluster, for tests); over the
//! network once the controller quorum exists (`docs/design/replication.md`, steps 8 and 9).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::controller::broker_heartbeats::{Heartbeat, RegistrationRequest};
use crate::error::ErrorCode;
use crate::metadata::Endpoint;
use crate::server::BrokerState;

/// Registers this broker and keeps its session alive until shutdown. `unfenced` is told the
/// first time the controller answers a heartbeat with the broker unfenced (Kafka's broker starts
/// serving clients only then).
pub async fn run(
    state: Arc<BrokerState>,
    addr: SocketAddr,
    unfenced: tokio::sync::oneshot::Sender<()>,
) {
    let mut unfenced = Some(unfenced);
    let config = &state.config;
    let interval = Duration::from_millis(config.cluster.lifecycle.heartbeat_interval_ms.max(1));
    let host = match &config.advertised {
        Some((h, _)) => h.clone(),
        None if addr.ip().is_unspecified() => "127.0.0.1".to_string(),
        None => addr.ip().to_string(),
    };
    let request = RegistrationRequest {
        broker_id: config.node_id,
        cluster_id: state.image().cluster_id.clone(),
        incarnation_id: Uuid::new_v4(),
        endpoints: vec![Endpoint {
            name: config.cluster.inter_broker_listener.clone(),
            host,
            port: addr.port(),
        }],
        rack: config.cluster.rack.clone(),
        directory_ids: vec![state.directory_id],
    };
    let mut shutdown = state.shutdown.clone();
    let mut registered = false;
    // failures in a row: the first is a warning, the rest (a controller election, a controller
    // down) are not repeated every 100 ms
    let mut failing = 0u32;
    loop {
        if !registered {
            match state.controller.register_broker(request.clone()).await {
                Ok(epoch) => {
                    failing = 0;
                    let first = state.broker_epoch() < 0;
                    state.broker_epoch.store(epoch, Ordering::Release);
                    registered = true;
                    if first {
                        // only now does this broker take up its replicas
                        let attached = crate::server::attach_replicas(
                            Arc::clone(&state.replicas),
                            state.controller.clone(),
                        )
                        .await;
                        if let Err(e) = attached {
                            tracing::error!(error = %e, "cannot open replicas");
                        }
                    }
                    continue;
                }
                Err((code, message)) => {
                    failing += 1;
                    if failing == 1 || failing % 50 == 0 {
                        tracing::warn!(?code, %message, failing, "broker registration failed; retrying");
                    }
                }
            }
        } else {
            match state
                .controller
                .broker_heartbeat(heartbeat(&state, false))
                .await
            {
                Ok(answer) => {
                    if !answer.is_fenced {
                        if let Some(tx) = unfenced.take() {
                            let _ = tx.send(());
                        }
                    }
                    if failing > 0 {
                        tracing::info!(failed = failing, "heartbeats answered again");
                        failing = 0;
                    }
                }
                Err((ErrorCode::StaleBrokerEpoch | ErrorCode::BrokerIdNotRegistered, _)) => {
                    tracing::warn!("broker registration lost; registering again");
                    registered = false;
                    continue;
                }
                Err((code, message)) => {
                    // again soon: a connection that closed under this broker must not look like
                    // a crash to the controller (it fences after half an interval of silence)
                    failing += 1;
                    if failing == 1 || failing % 50 == 0 {
                        tracing::warn!(?code, %message, failing, "heartbeat failed; retrying");
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        _ = shutdown.changed() => return,
                    }
                    continue;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn heartbeat(state: &BrokerState, want_shut_down: bool) -> Heartbeat {
    Heartbeat {
        broker_id: state.config.node_id,
        broker_epoch: state.broker_epoch(),
        metadata_offset: state.image().offset,
        want_fence: false,
        want_shut_down,
    }
}

/// Asks the controller to move this broker's leaderships away, and waits (at most
/// `min(30 s, 3 × broker.session.timeout.ms)`) until it says the broker may stop. Nothing to do
/// for a broker that never registered.
pub async fn controlled_shutdown(state: &BrokerState) {
    if state.broker_epoch() < 0 || !state.config.cluster.lifecycle.controlled_shutdown {
        return;
    }
    let lifecycle = &state.config.cluster.lifecycle;
    let interval = Duration::from_millis(lifecycle.heartbeat_interval_ms.clamp(1, 500));
    let limit = Duration::from_millis((3 * lifecycle.session_timeout_ms).min(30_000));
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        match state
            .controller
            .broker_heartbeat(heartbeat(state, true))
            .await
        {
            Ok(answer) if answer.should_shut_down => {
                tracing::info!("controlled shutdown: leaderships moved");
                return;
            }
            Ok(_) => {}
            Err((code, message)) => {
                tracing::warn!(?code, %message, "controlled shutdown heartbeat failed; stopping");
                return;
            }
        }
        tokio::time::sleep(interval).await;
    }
    tracing::warn!("controlled shutdown did not finish in time; stopping anyway");
}
