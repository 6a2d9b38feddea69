//! Metadata: brokers, the controller, and topics with their partitions and leaders.
//! Creates unknown topics on the fly when `auto.create.topics.enable` allows it.

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use uuid::Uuid;

use super::{sb, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::metadata::{is_internal_topic, validate_topic_name, MetadataImage, TopicImage};

fn topic_response(image: &MetadataImage, t: &TopicImage) -> MetadataResponseTopic {
    let live = |b: &i32| image.brokers.get(b).is_some_and(|b| !b.fenced);
    let partitions = t
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // a partition without a leader is LEADER_NOT_AVAILABLE; fenced replicas are offline
            let code = if p.has_leader() {
                ErrorCode::None
            } else {
                ErrorCode::LeaderNotAvailable
            };
            MetadataResponsePartition::default()
                .with_error_code(code.code())
                .with_partition_index(i as i32)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|b| BrokerId(*b)).collect())
                .with_isr_nodes(p.isr.iter().map(|b| BrokerId(*b)).collect())
                .with_offline_replicas(
                    p.replicas
                        .iter()
                        .filter(|b| !live(b))
                        .map(|b| BrokerId(*b))
                        .collect(),
                )
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(t.name.clone())))
        .with_topic_id(t.id)
        .with_is_internal(is_internal_topic(&t.name))
        .with_partitions(partitions)
}

fn error_topic(name: Option<String>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_name(name.map(topic_name))
        .with_topic_id(id)
        .with_error_code(code.code())
}

/// Handles Metadata.
pub async fn handle(ctx: RequestContext, req: MetadataRequest) -> MetadataResponse {
    let state = &ctx.state;
    let all = match &req.topics {
        None => true,
        Some(t) => ctx.version == 0 && t.is_empty(),
    };
    let auto_create =
        state.config.auto_create_topics && (ctx.version < 4 || req.allow_auto_topic_creation);
    let mut topics = Vec::new();
    if all {
        let image = state.image();
        topics = image
            .topics
            .values()
            .map(|t| topic_response(&image, t))
            .collect();
    } else {
        for requested in req.topics.unwrap_or_default() {
            let image = state.image();
            // a topic named by id (v10+) is looked up by id, whatever the name says: the Java
            // client sends an empty name beside the id
            let by_id = !requested.topic_id.is_nil();
            let resp = match requested.name.filter(|_| !by_id) {
                Some(name) => {
                    let name = name.0.to_string();
                    match image.topics.get(&name) {
                        Some(t) => topic_response(&image, t),
                        None if validate_topic_name(&name).is_err() => {
                            error_topic(Some(name), Uuid::nil(), ErrorCode::InvalidTopicException)
                        }
                        None if auto_create && !is_internal_topic(&name) => {
                            match state.controller.ensure_topic(&name).await {
                                Ok(t) => {
                                    tracing::info!(topic = %name, client = ?ctx.client_id, "auto-created topic");
                                    topic_response(&state.image(), &t)
                                }
                                Err((code, msg)) => {
                                    tracing::warn!(topic = %name, error = %msg, "auto-creation failed");
                                    error_topic(Some(name), Uuid::nil(), code)
                                }
                            }
                        }
                        None => {
                            error_topic(Some(name), Uuid::nil(), ErrorCode::UnknownTopicOrPartition)
                        }
                    }
                }
                None => match image.topic_by_id(&requested.topic_id) {
                    Some(t) => topic_response(&image, t),
                    None => error_topic(None, requested.topic_id, ErrorCode::UnknownTopicId),
                },
            };
            topics.push(resp);
        }
    }
    if req.include_topic_authorized_operations {
        for t in &mut topics {
            if t.error_code == 0 {
                t.topic_authorized_operations = super::TOPIC_AUTHORIZED_OPERATIONS;
            }
        }
    }
    let image = state.image();
    // fenced brokers are not listed (KRaft); the controller id is a live broker, since clients
    // cannot reach controllers
    let brokers: Vec<MetadataResponseBroker> = image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(sb(b.host.clone()))
                .with_port(i32::from(b.port))
                .with_rack(b.rack.clone().map(sb))
        })
        .collect();
    let cluster_ops = if req.include_cluster_authorized_operations {
        super::CLUSTER_AUTHORIZED_OPERATIONS
    } else {
        i32::MIN
    };
    MetadataResponse::default()
        .with_cluster_authorized_operations(cluster_ops)
        .with_brokers(brokers)
        .with_cluster_id(Some(sb(image.cluster_id.clone())))
        .with_controller_id(BrokerId(controller_id(&image, state.config.node_id)))
        .with_topics(topics)
}

/// The controller id brokers report: this broker when it is live (a single node always is), else
/// the lowest live broker, and -1 (Kafka's "no controller") when no broker is live: a client
/// told of a controller missing from the response's brokers would wait for it, while -1 makes
/// it ask again.
pub(crate) fn controller_id(image: &MetadataImage, me: i32) -> i32 {
    let live = image.unfenced_brokers();
    if live.contains(&me) {
        me
    } else {
        live.first().copied().unwrap_or(-1)
    }
}
