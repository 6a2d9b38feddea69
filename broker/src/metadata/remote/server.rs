//! The controller's side: serves brokers' requests and, in a quorum, the other controllers'
//! Raft messages.

use std::time::Duration;

use bytes::{BufMut, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{read_frame, Request, Response, CONTROLLER_API_KEY};
use crate::error::ErrorCode;
use crate::metadata::controller::{Controller, OpError};

/// Most batches one metadata fetch answers with.
const MAX_BATCHES_PER_FETCH: usize = 500;

/// Serves controller requests on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, controller: Controller, shutdown: watch::Receiver<bool>) {
    loop {
        let mut stop = shutdown.clone();
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, peer)) = accepted else {
            // (out of file descriptors, say: do not spin)
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (controller, shutdown) = (controller.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, controller, shutdown).await {
                tracing::debug!(%peer, error = %e, "controller connection closed");
            }
        });
    }
}

async fn serve_connection(
    mut stream: TcpStream,
    controller: Controller,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    // the broker (and its epoch) that heartbeats on this connection: when the connection
    // closes, it may have crashed
    let mut heartbeating: Option<(i32, i64)> = None;
    let result = serve_frames(&mut stream, &controller, &mut shutdown, &mut heartbeating).await;
    if let Some((broker, epoch)) = heartbeating {
        if !*shutdown.borrow() && controller.is_active() {
            tokio::spawn(async move {
                controller.heartbeat_connection_closed(broker, epoch).await;
            });
        }
    }
    result
}

async fn serve_frames(
    stream: &mut TcpStream,
    controller: &Controller,
    shutdown: &mut watch::Receiver<bool>,
    heartbeating: &mut Option<(i32, i64)>,
) -> std::io::Result<()> {
    loop {
        let frame = tokio::select! {
            f = read_frame(stream) => f?,
            _ = shutdown.changed() => return Ok(()),
        };
        let Some(frame) = frame else { return Ok(()) };
        if frame.len() < 8 {
            return Err(std::io::Error::other("short controller request"));
        }
        let key = i16::from_be_bytes([frame[0], frame[1]]);
        let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let response = if key != CONTROLLER_API_KEY {
            Response::Failed {
                message: format!("API key {key} is not served on the controller listener"),
            }
        } else {
            match serde_json::from_slice::<Request>(&frame[8..]) {
                Ok(req) => {
                    if let Request::Heartbeat(hb) = &req {
                        *heartbeating = Some((hb.broker_id, hb.broker_epoch));
                    }
                    match controller.active_or_leader() {
                        Err(leader) if req.for_active_controller() => {
                            Response::NotController { leader }
                        }
                        _ => handle(controller, req).await,
                    }
                }
                Err(e) => Response::Failed {
                    message: format!("bad controller request: {e}"),
                },
            }
        };
        let body = serde_json::to_vec(&response).map_err(std::io::Error::other)?;
        let mut out = BytesMut::with_capacity(body.len() + 8);
        out.put_i32(body.len() as i32 + 4);
        out.put_i32(correlation);
        out.put_slice(&body);
        stream.write_all(&out).await?;
    }
}

/// A refusal because this controller is not (or no longer) the active one: the broker asks the
/// active controller instead.
fn refused<T>(controller: &Controller, results: &[Result<T, OpError>]) -> Option<Response> {
    let all_refused = !results.is_empty()
        && results
            .iter()
            .all(|r| matches!(r, Err((ErrorCode::NotController, _))));
    all_refused.then(|| Response::NotController {
        leader: controller.leader_hint(),
    })
}

async fn handle(controller: &Controller, req: Request) -> Response {
    let response = handle_request(controller, req).await;
    let redirect = match &response {
        Response::Topics { results, .. } => refused(controller, results),
        Response::Deleted { results, .. } => refused(controller, results),
        Response::Altered { results, .. } => refused(controller, results),
        Response::Done { result, .. } => refused(controller, std::slice::from_ref(result)),
        Response::ProducerIds { result } => refused(controller, std::slice::from_ref(result)),
        Response::Registered { result, .. } => refused(controller, std::slice::from_ref(result)),
        Response::Heartbeat { result } => refused(controller, std::slice::from_ref(result)),
        Response::AlterPartition {
            result: Err(ErrorCode::NotController),
        } => Some(Response::NotController {
            leader: controller.leader_hint(),
        }),
        _ => None,
    };
    redirect.unwrap_or(response)
}

async fn handle_request(controller: &Controller, req: Request) -> Response {
    let offset = |c: &Controller| c.image().offset;
    match req {
        Request::CreateTopics {
            specs,
            validate_only,
        } => {
            let results = controller
                .create_topics(specs, validate_only)
                .await
                .into_iter()
                .map(|r| r.map(|t| (*t).clone()))
                .collect();
            Response::Topics {
                results,
                offset: offset(controller),
            }
        }
        Request::DeleteTopics { topics } => Response::Deleted {
            results: controller.delete_topics(topics).await,
            offset: offset(controller),
        },
        Request::AlterConfigs {
            changes,
            validate_only,
        } => Response::Altered {
            results: controller.alter_configs(changes, validate_only).await,
            offset: offset(controller),
        },
        Request::CreatePartitions {
            topic,
            count,
            assignments,
            validate_only,
        } => Response::Done {
            result: controller
                .create_partitions(topic, count, assignments, validate_only)
                .await,
            offset: offset(controller),
        },
        Request::ElectLeaders { kind, partitions } => Response::Partitions {
            results: controller.elect_leaders(kind, partitions).await,
            offset: offset(controller),
        },
        Request::AlterReassignments {
            changes,
            allow_rf_change,
        } => Response::Partitions {
            results: controller
                .alter_partition_reassignments(changes, allow_rf_change)
                .await,
            offset: offset(controller),
        },
        Request::AllocateProducerIds { broker_id, size } => Response::ProducerIds {
            result: controller.allocate_producer_ids(broker_id, size).await,
        },
        Request::RegisterBroker(req) => Response::Registered {
            result: controller.register_broker(req).await,
            offset: offset(controller),
        },
        Request::Heartbeat(hb) => Response::Heartbeat {
            result: controller.broker_heartbeat(hb).await,
        },
        Request::AlterPartition(change) => Response::AlterPartition {
            result: controller.alter_partition(change).await,
        },
        Request::FetchMetadata {
            from,
            max_wait_ms,
            broker_id,
        } => {
            if let Some(id) = broker_id {
                controller.observer_fetched(id, from - 1);
            }
            fetch_metadata(
                controller,
                from,
                Duration::from_millis(max_wait_ms.min(5_000)),
            )
            .await
        }
        Request::RaftAppend(req) => match controller.raft() {
            Some(raft) => {
                controller.heard_from_leader();
                Response::RaftAppend(raft.append_entries(req).await)
            }
            None => not_a_quorum(),
        },
        Request::RaftVote(req) => match controller.raft() {
            Some(raft) => Response::RaftVote(raft.vote(req).await),
            None => not_a_quorum(),
        },
        Request::RaftSnapshot(req) => match controller.raft() {
            Some(raft) => Response::RaftSnapshot(raft.install_snapshot(req).await),
            None => not_a_quorum(),
        },
    }
}

fn not_a_quorum() -> Response {
    Response::Failed {
        message: "this controller is not a member of a Raft quorum".into(),
    }
}

/// The batches after `from`, waiting up to `wait` for one; a snapshot when `from` is older than
/// the history kept.
async fn fetch_metadata(controller: &Controller, from: i64, wait: Duration) -> Response {
    let mut rx = controller.subscribe();
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let image = rx.borrow_and_update().clone();
        if image.offset >= from {
            // (`from` -1 asks for a snapshot)
            let since = if from >= 0 {
                controller.history_since(from, MAX_BATCHES_PER_FETCH)
            } else {
                None
            };
            return match since {
                // (bounded: the broker fetches again at once for the rest)
                Some(batches) => Response::Metadata {
                    snapshot: None,
                    batches,
                    committed: image.offset,
                    quorum: controller.quorum_view(),
                },
                None => Response::Metadata {
                    snapshot: Some((image.offset, image.to_records())),
                    batches: Vec::new(),
                    committed: image.offset,
                    quorum: controller.quorum_view(),
                },
            };
        }
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    Response::Metadata {
        snapshot: None,
        batches: Vec::new(),
        committed: controller.image().offset,
        quorum: controller.quorum_view(),
    }
}
