//! `BrokerHeartbeatManager`: the active controller's view of broker sessions (Kafka's class of
//! the same name and `calculateNextBrokerState`).
//!
//! Pure: the caller passes the current image and the time (monotonic milliseconds), and turns the
//! returned [`BrokerTransition`]s into records (`replication_control::transition_records`). The
//! manager's state is not in the metadata log: a newly active controller calls
//! [`BrokerHeartbeatManager::activated`], which gives every unfenced broker a whole new session,
//! as Kafka's controller does after a failover.
//!
//! | broker is   | heartbeat / event                                   | then                |
//! |-------------|-----------------------------------------------------|---------------------|
//! | fenced      | wants to shut down                                  | shut down now       |
//! | fenced      | does not want fencing, has seen its registration    | unfence             |
//! | unfenced    | wants fencing                                       | fence (or shut down)|
//! | unfenced    | wants to shut down, leads partitions                | controlled shutdown |
//! | unfenced    | wants to shut down, leads nothing                   | fence, shut down now|
//! | shutting down | leads nothing and the others have seen that       | fence, shut down now|
//! | any         | no heartbeat for `broker.session.timeout.ms`        | fence               |

use std::collections::BTreeMap;

use uuid::Uuid;

use super::replication_control::{transition_records, BrokerTransition};
use crate::error::ErrorCode;
use crate::metadata::{Endpoint, MetadataImage, MetadataRecord, TopicImage};

/// A broker's registration request (BrokerRegistration, API 62), as the controller needs it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RegistrationRequest {
    /// Node id.
    pub broker_id: i32,
    /// The cluster id in the broker's `meta.properties`.
    pub cluster_id: String,
    /// Random per process start.
    pub incarnation_id: Uuid,
    /// Advertised listeners; the first is the inter-broker one.
    pub endpoints: Vec<Endpoint>,
    /// `broker.rack`.
    pub rack: Option<String>,
    /// Log directory ids.
    pub directory_ids: Vec<Uuid>,
}

/// A BrokerHeartbeat (API 63), as the controller needs it.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Heartbeat {
    /// Node id.
    pub broker_id: i32,
    /// The epoch its registration got.
    pub broker_epoch: i64,
    /// The metadata offset the broker has applied.
    pub metadata_offset: i64,
    /// The broker asks to stay fenced (still catching up).
    pub want_fence: bool,
    /// The broker asks to shut down.
    pub want_shut_down: bool,
}

/// What the controller answers a heartbeat, besides the records of a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeartbeatAnswer {
    /// The broker has applied the metadata up to its own registration.
    pub is_caught_up: bool,
    /// The broker is fenced (after the transition, if any).
    pub is_fenced: bool,
    /// The broker may stop now.
    pub should_shut_down: bool,
}

#[derive(Debug, Clone)]
struct Session {
    epoch: i64,
    incarnation_id: Uuid,
    /// The last heartbeat; `None`: no session (a fenced broker when this controller became
    /// active).
    last_contact_ms: Option<u64>,
    /// Whether the broker itself registered or heartbeat with this controller (a session given
    /// out at activation has not).
    heard: bool,
    metadata_offset: i64,
    /// The broker must have applied this offset (its own registration) before it is unfenced.
    registration_offset: i64,
    /// Set once its controlled shutdown is committed: others must have applied it.
    shutdown_offset: Option<i64>,
}

/// Broker sessions on the active controller.
#[derive(Debug, Clone)]
pub struct BrokerHeartbeatManager {
    session_timeout_ms: u64,
    sessions: BTreeMap<i32, Session>,
}

impl BrokerHeartbeatManager {
    /// A manager for a newly active controller: every registered unfenced broker starts a whole
    /// session now (a fenced one has none, so that a restarted broker may register at once),
    /// and must have applied `image.offset` before it is unfenced.
    pub fn activated(session_timeout_ms: u64, image: &MetadataImage, now_ms: u64) -> Self {
        let sessions = image
            .brokers
            .values()
            .map(|b| {
                (
                    b.id,
                    Session {
                        epoch: b.epoch,
                        incarnation_id: b.incarnation_id,
                        last_contact_ms: (!b.fenced).then_some(now_ms),
                        heard: false,
                        metadata_offset: -1,
                        registration_offset: image.offset,
                        shutdown_offset: None,
                    },
                )
            })
            .collect();
        BrokerHeartbeatManager {
            session_timeout_ms,
            sessions,
        }
    }

    fn expired(&self, s: &Session, now_ms: u64) -> bool {
        s.last_contact_ms
            .is_none_or(|t| now_ms.saturating_sub(t) > self.session_timeout_ms)
    }

    /// Checks a registration and gives the records to commit (Kafka's
    /// `ClusterControlManager.registerBroker`). The same incarnation registering again (it lost
    /// its answer or its session) amends its registration: same epoch, same fencing. A new
    /// incarnation gets the next broker epoch and starts fenced; when the previous one is still
    /// unfenced, it is fenced first (its leaderships move, `unclean` as for any fencing). A new
    /// incarnation while the previous one is unfenced with a live session is
    /// DUPLICATE_BROKER_REGISTRATION.
    pub fn register(
        &self,
        image: &MetadataImage,
        req: &RegistrationRequest,
        now_ms: u64,
        unclean: &dyn Fn(&TopicImage) -> bool,
    ) -> Result<Vec<MetadataRecord>, (ErrorCode, String)> {
        if req.cluster_id != image.cluster_id {
            return Err((
                ErrorCode::InconsistentClusterId,
                format!(
                    "Expected cluster ID {}, but got cluster ID {}",
                    image.cluster_id, req.cluster_id
                ),
            ));
        }
        let Some(first) = req.endpoints.first() else {
            return Err((
                ErrorCode::InvalidRegistration,
                format!("Broker {} registered without a listener.", req.broker_id),
            ));
        };
        let existing = image.brokers.get(&req.broker_id);
        let live = self
            .sessions
            .get(&req.broker_id)
            .is_some_and(|s| !self.expired(s, now_ms));
        let mut records = Vec::new();
        let (epoch, fenced, in_controlled_shutdown) = match existing {
            Some(b) if b.incarnation_id == req.incarnation_id => {
                (b.epoch, b.fenced, b.in_controlled_shutdown)
            }
            // (a fenced registration serves nothing: a new incarnation may replace it at once)
            Some(b) if live && !b.fenced => {
                return Err((
                    ErrorCode::DuplicateBrokerRegistration,
                    "Another broker is registered with that broker id.".to_string(),
                ))
            }
            Some(b) => {
                if !b.fenced {
                    records.extend(
                        transition_records(image, b.id, BrokerTransition::Fence, unclean)
                            .unwrap_or_default(),
                    );
                }
                (image.next_broker_epoch.max(1), true, false)
            }
            None => (image.next_broker_epoch.max(1), true, false),
        };
        records.push(MetadataRecord::RegisterBroker {
            broker_id: req.broker_id,
            host: first.host.clone(),
            port: first.port,
            rack: req.rack.clone(),
            epoch,
            incarnation_id: req.incarnation_id,
            endpoints: req.endpoints.clone(),
            fenced,
            in_controlled_shutdown,
            directory_ids: req.directory_ids.clone(),
        });
        Ok(records)
    }

    /// Records a committed registration: `epoch` from the record, `offset` where it was committed.
    pub fn registered(
        &mut self,
        broker_id: i32,
        epoch: i64,
        incarnation_id: Uuid,
        offset: i64,
        now_ms: u64,
    ) {
        self.sessions.insert(
            broker_id,
            Session {
                epoch,
                incarnation_id,
                last_contact_ms: Some(now_ms),
                heard: true,
                metadata_offset: -1,
                registration_offset: offset,
                shutdown_offset: None,
            },
        );
    }

    /// Records that `broker_id`'s controlled shutdown was committed at `offset`.
    pub fn shutdown_committed(&mut self, broker_id: i32, offset: i64) {
        if let Some(s) = self.sessions.get_mut(&broker_id) {
            s.shutdown_offset = Some(offset);
        }
    }

    /// Handles a heartbeat: renews the session and decides the broker's next state.
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        hb: &Heartbeat,
        now_ms: u64,
    ) -> Result<(HeartbeatAnswer, Option<BrokerTransition>), (ErrorCode, String)> {
        let Some(broker) = image.brokers.get(&hb.broker_id) else {
            return Err((
                ErrorCode::BrokerIdNotRegistered,
                format!("Broker {} is not registered.", hb.broker_id),
            ));
        };
        if broker.epoch != hb.broker_epoch {
            return Err((
                ErrorCode::StaleBrokerEpoch,
                format!(
                    "Expected broker epoch {}, but got broker epoch {}",
                    broker.epoch, hb.broker_epoch
                ),
            ));
        }
        let min_other_offset = self
            .sessions
            .iter()
            .filter(|(id, _)| **id != hb.broker_id)
            .filter(|(id, _)| image.brokers.get(id).is_some_and(|b| b.is_active()))
            .map(|(_, s)| s.metadata_offset)
            .min();
        let session = self
            .sessions
            .entry(hb.broker_id)
            .or_insert_with(|| Session {
                epoch: broker.epoch,
                incarnation_id: broker.incarnation_id,
                last_contact_ms: Some(now_ms),
                heard: true,
                metadata_offset: -1,
                registration_offset: image.offset,
                shutdown_offset: None,
            });
        session.epoch = broker.epoch;
        session.last_contact_ms = Some(now_ms);
        session.heard = true;
        session.metadata_offset = session.metadata_offset.max(hb.metadata_offset);
        let caught_up = session.metadata_offset >= session.registration_offset;
        let leads = image.partitions_led_by(hb.broker_id).next().is_some();
        let answer = |fenced, shut| HeartbeatAnswer {
            is_caught_up: caught_up,
            is_fenced: fenced,
            should_shut_down: shut,
        };
        // a controlled shutdown this controller saw committed (after a failover it starts over)
        let shutdown_seen = session
            .shutdown_offset
            .map(|at| min_other_offset.is_none_or(|m| m >= at));
        let decision = if broker.fenced {
            if hb.want_shut_down {
                (answer(true, true), None)
            } else if !hb.want_fence && caught_up {
                (answer(false, false), Some(BrokerTransition::Unfence))
            } else {
                (answer(true, false), None)
            }
        } else if hb.want_fence {
            (
                answer(true, hb.want_shut_down),
                Some(BrokerTransition::Fence),
            )
        } else if hb.want_shut_down || broker.in_controlled_shutdown {
            match (leads, broker.in_controlled_shutdown, shutdown_seen) {
                // done: it leads nothing and every other active broker has seen that
                (false, _, None) | (false, _, Some(true)) => {
                    (answer(true, true), Some(BrokerTransition::Fence))
                }
                (_, true, Some(_)) => (answer(false, false), None),
                _ => (
                    answer(false, false),
                    Some(BrokerTransition::ControlledShutdown),
                ),
            }
        } else {
            (answer(false, false), None)
        };
        if matches!(
            decision.1,
            Some(BrokerTransition::Fence | BrokerTransition::Unfence)
        ) {
            session.shutdown_offset = None;
        }
        Ok(decision)
    }

    /// The unfenced brokers whose session expired at `now_ms`: fence them.
    pub fn expired_brokers(&self, image: &MetadataImage, now_ms: u64) -> Vec<i32> {
        self.sessions
            .iter()
            .filter(|(id, s)| {
                image
                    .brokers
                    .get(id)
                    .is_some_and(|b| !b.fenced && b.epoch == s.epoch)
                    && self.expired(s, now_ms)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether broker `broker_id`'s session at `epoch` has had no heartbeat since `since_ms`.
    pub fn silent_since(&self, broker_id: i32, epoch: i64, since_ms: u64) -> bool {
        self.sessions
            .get(&broker_id)
            .is_some_and(|s| s.epoch == epoch && s.last_contact_ms.is_none_or(|t| t <= since_ms))
    }

    /// Whether broker `broker_id`'s session at `epoch` has heard from the broker itself (a
    /// registration or a heartbeat) after `since_ms`.
    pub fn heard_since(&self, broker_id: i32, epoch: i64, since_ms: u64) -> bool {
        self.sessions.get(&broker_id).is_some_and(|s| {
            s.epoch == epoch && s.heard && s.last_contact_ms.is_some_and(|t| t > since_ms)
        })
    }

    /// Forgets a broker that was unregistered.
    pub fn remove(&mut self, broker_id: i32) {
        self.sessions.remove(&broker_id);
    }

    /// The incarnation the manager knows for `broker_id`.
    pub fn incarnation(&self, broker_id: i32) -> Option<Uuid> {
        self.sessions.get(&broker_id).map(|s| s.incarnation_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::LeaderRecovery;

    const SESSION: u64 = 9_000;
    const NO_UNCLEAN: &dyn Fn(&TopicImage) -> bool = &|_| false;
    const TOPIC: Uuid = Uuid::from_u128(3);

    fn req(id: i32, incarnation: u128) -> RegistrationRequest {
        RegistrationRequest {
            broker_id: id,
            cluster_id: "c".into(),
            incarnation_id: Uuid::from_u128(incarnation),
            endpoints: vec![Endpoint {
                name: "PLAINTEXT".into(),
                host: "127.0.0.1".into(),
                port: 9000 + id as u16,
            }],
            rack: None,
            directory_ids: vec![],
        }
    }

    fn cluster() -> MetadataImage {
        MetadataImage::empty()
            .apply(
                0,
                &[MetadataRecord::Cluster {
                    cluster_id: "c".into(),
                }],
            )
            .unwrap()
    }

    fn apply(img: &MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        img.apply(img.offset + 1, records).unwrap()
    }

    /// Registers `id` through the manager, committing the records.
    fn register(
        m: &mut BrokerHeartbeatManager,
        img: &MetadataImage,
        id: i32,
        inc: u128,
        now: u64,
    ) -> (MetadataImage, i64) {
        let records = m.register(img, &req(id, inc), now, NO_UNCLEAN).unwrap();
        let Some(MetadataRecord::RegisterBroker { epoch, .. }) = records.last() else {
            unreachable!()
        };
        let epoch = *epoch;
        let next = apply(img, &records);
        m.registered(id, epoch, Uuid::from_u128(inc), next.offset, now);
        (next, epoch)
    }

    fn unfence(id: i32, epoch: i64) -> MetadataRecord {
        MetadataRecord::UnfenceBroker {
            broker_id: id,
            epoch,
        }
    }

    /// Topic "t" with one partition on `replicas`, led by the first.
    fn topic(replicas: &[i32]) -> Vec<MetadataRecord> {
        vec![
            MetadataRecord::Topic {
                name: "t".into(),
                topic_id: TOPIC,
            },
            MetadataRecord::Partition {
                topic_id: TOPIC,
                partition: 0,
                replicas: replicas.to_vec(),
                isr: replicas.to_vec(),
                leader: replicas[0],
                leader_epoch: 0,
                partition_epoch: 0,
                adding: vec![],
                removing: vec![],
                leader_recovery: LeaderRecovery::Recovered,
            },
        ]
    }

    fn hb(id: i32, epoch: i64, offset: i64, fence: bool, shut: bool) -> Heartbeat {
        Heartbeat {
            broker_id: id,
            broker_epoch: epoch,
            metadata_offset: offset,
            want_fence: fence,
            want_shut_down: shut,
        }
    }

    #[test]
    fn a_broker_is_unfenced_once_it_has_seen_its_registration() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, epoch) = register(&mut m, &img, 1, 1, 0);
        assert!(img.brokers[&1].fenced);
        // behind its registration: stays fenced
        let (a, t) = m
            .heartbeat(&img, &hb(1, epoch, img.offset - 1, false, false), 10)
            .unwrap();
        assert_eq!((a.is_caught_up, a.is_fenced, t), (false, true, None));
        // caught up but asking to stay fenced
        let (a, t) = m
            .heartbeat(&img, &hb(1, epoch, img.offset, true, false), 20)
            .unwrap();
        assert_eq!((a.is_caught_up, a.is_fenced, t), (true, true, None));
        let (a, t) = m
            .heartbeat(&img, &hb(1, epoch, img.offset, false, false), 30)
            .unwrap();
        assert_eq!((a.is_fenced, t), (false, Some(BrokerTransition::Unfence)));
    }

    #[test]
    fn stale_epochs_unknown_brokers_and_other_clusters_are_refused() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, epoch) = register(&mut m, &img, 1, 1, 0);
        let e = m
            .heartbeat(&img, &hb(1, epoch - 1, 0, false, false), 1)
            .unwrap_err();
        assert_eq!(e.0, ErrorCode::StaleBrokerEpoch);
        let e = m
            .heartbeat(&img, &hb(2, epoch, 0, false, false), 1)
            .unwrap_err();
        assert_eq!(e.0, ErrorCode::BrokerIdNotRegistered);
        let mut other = req(2, 2);
        other.cluster_id = "d".into();
        let e = m.register(&img, &other, 1, NO_UNCLEAN).unwrap_err();
        assert_eq!(e.0, ErrorCode::InconsistentClusterId);
    }

    #[test]
    fn a_second_live_incarnation_is_a_duplicate_until_the_first_session_expires() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, epoch) = register(&mut m, &img, 1, 1, 0);
        let (img, e2) = register(&mut m, &img, 2, 2, 0);
        m.heartbeat(&img, &hb(1, epoch, img.offset, false, false), 0)
            .unwrap();
        let mut records = vec![unfence(1, epoch), unfence(2, e2)];
        records.extend(topic(&[1, 2]));
        let img = apply(&img, &records);
        let e = m.register(&img, &req(1, 2), 5_000, NO_UNCLEAN).unwrap_err();
        assert_eq!(e.0, ErrorCode::DuplicateBrokerRegistration);
        // the same incarnation registering again amends its registration: same epoch, unfenced
        let amended = apply(
            &img,
            &m.register(&img, &req(1, 1), 5_000, NO_UNCLEAN).unwrap(),
        );
        assert_eq!(amended.brokers[&1].epoch, epoch);
        assert!(!amended.brokers[&1].fenced);
        // another incarnation after the session expired: the old one is fenced first (its
        // leadership moves), then the new one registers fenced with a newer epoch
        let records = m
            .register(&img, &req(1, 3), 5_000 + SESSION + 1, NO_UNCLEAN)
            .unwrap();
        let next = apply(&img, &records);
        let b = &next.brokers[&1];
        assert!(b.fenced && b.epoch > epoch);
        let p = &next.topics["t"].partitions[0];
        assert_eq!((p.leader, p.isr.clone()), (2, vec![2]));
    }

    #[test]
    fn a_silent_broker_is_fenced_after_the_session_timeout() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, epoch) = register(&mut m, &img, 1, 1, 0);
        m.heartbeat(&img, &hb(1, epoch, img.offset, false, false), 1_000)
            .unwrap();
        let img = apply(&img, &[unfence(1, epoch)]);
        assert!(m.expired_brokers(&img, 1_000 + SESSION).is_empty());
        assert_eq!(m.expired_brokers(&img, 1_000 + SESSION + 1), vec![1]);
        // a fenced broker is not fenced again
        let fenced = apply(
            &img,
            &[MetadataRecord::FenceBroker {
                broker_id: 1,
                epoch,
            }],
        );
        assert!(m.expired_brokers(&fenced, 100_000).is_empty());
    }

    #[test]
    fn a_newly_active_controller_gives_every_broker_a_whole_session() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, _) = register(&mut m, &img, 1, 1, 0);
        let m2 = BrokerHeartbeatManager::activated(SESSION, &img, 50_000);
        assert!(m2.expired_brokers(&img, 50_000 + SESSION).is_empty());
        assert_eq!(m2.incarnation(1), Some(Uuid::from_u128(1)));
    }

    #[test]
    fn a_session_given_out_at_activation_has_not_heard_from_the_broker() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, epoch) = register(&mut m, &img, 1, 1, 0);
        let img = apply(&img, &[unfence(1, epoch)]);
        // a new active controller: a session, but nothing from the broker yet
        let mut m2 = BrokerHeartbeatManager::activated(SESSION, &img, 1_000);
        assert!(!m2.heard_since(1, epoch, 500));
        m2.heartbeat(&img, &hb(1, epoch, img.offset, false, false), 1_200)
            .unwrap();
        assert!(m2.heard_since(1, epoch, 500));
        assert!(!m2.heard_since(1, epoch, 1_200));
        assert!(!m2.heard_since(1, epoch + 1, 500));
    }

    #[test]
    fn a_broker_fenced_before_a_controller_restart_registers_again_at_once() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, _) = register(&mut m, &img, 1, 1, 0);
        assert!(img.brokers[&1].fenced);
        // the controller restarts; the broker restarts with a new incarnation
        let m2 = BrokerHeartbeatManager::activated(SESSION, &img, 5);
        assert!(m2.register(&img, &req(1, 2), 6, NO_UNCLEAN).is_ok());
    }

    #[test]
    fn controlled_shutdown_waits_until_leaderships_moved_and_others_saw_it() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, e1) = register(&mut m, &img, 1, 1, 0);
        let (img, e2) = register(&mut m, &img, 2, 2, 0);
        let mut records = vec![unfence(1, e1), unfence(2, e2)];
        records.extend(topic(&[1, 2]));
        let img = apply(&img, &records);
        m.heartbeat(&img, &hb(2, e2, img.offset, false, false), 1)
            .unwrap();
        let (a, t) = m
            .heartbeat(&img, &hb(1, e1, img.offset, false, true), 1)
            .unwrap();
        assert_eq!(
            (a.should_shut_down, t),
            (false, Some(BrokerTransition::ControlledShutdown))
        );
        // the controller commits the shutdown and moves the leadership to 2
        let records = crate::controller::replication_control::transition_records(
            &img,
            1,
            BrokerTransition::ControlledShutdown,
            NO_UNCLEAN,
        )
        .unwrap();
        let img = apply(&img, &records);
        assert_eq!(img.topics["t"].partitions[0].leader, 2);
        m.shutdown_committed(1, img.offset);
        // broker 2 has not applied it yet
        let (a, t) = m
            .heartbeat(&img, &hb(1, e1, img.offset, false, true), 2)
            .unwrap();
        assert_eq!((a.should_shut_down, t), (false, None));
        m.heartbeat(&img, &hb(2, e2, img.offset, false, false), 3)
            .unwrap();
        let (a, t) = m
            .heartbeat(&img, &hb(1, e1, img.offset, false, true), 4)
            .unwrap();
        assert_eq!(
            (a.should_shut_down, a.is_fenced, t),
            (true, true, Some(BrokerTransition::Fence))
        );
    }

    #[test]
    fn a_broker_that_leads_nothing_is_fenced_and_stops_at_once() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, e1) = register(&mut m, &img, 1, 1, 0);
        let img = apply(&img, &[unfence(1, e1)]);
        let (a, t) = m
            .heartbeat(&img, &hb(1, e1, img.offset, false, true), 1)
            .unwrap();
        assert_eq!(
            (a.should_shut_down, a.is_fenced, t),
            (true, true, Some(BrokerTransition::Fence))
        );
    }

    #[test]
    fn a_controlled_shutdown_starts_over_after_a_controller_failover() {
        let img = cluster();
        let mut m = BrokerHeartbeatManager::activated(SESSION, &img, 0);
        let (img, e1) = register(&mut m, &img, 1, 1, 0);
        let mut records = vec![
            unfence(1, e1),
            MetadataRecord::BrokerRegistrationChange {
                broker_id: 1,
                epoch: e1,
                in_controlled_shutdown: Some(true),
            },
        ];
        records.extend(topic(&[1]));
        let img = apply(&img, &records);
        // the new controller never saw the shutdown committed: it plans it again
        let mut m2 = BrokerHeartbeatManager::activated(SESSION, &img, 10);
        let (_, t) = m2
            .heartbeat(&img, &hb(1, e1, img.offset, false, true), 11)
            .unwrap();
        assert_eq!(t, Some(BrokerTransition::ControlledShutdown));
    }
}
