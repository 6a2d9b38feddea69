//! OffsetFetch: committed offsets of a group (v8+: of several groups). Partitions without a
//! commit answer offset -1.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};

use super::{sb, topic_name};
use crate::dispatch::RequestContext;
use crate::error::ErrorCode;
use crate::group::records::OffsetValue;

use std::collections::BTreeSet;

type Committed = Vec<(String, Vec<(i32, Option<OffsetValue>)>)>;

fn fetch(
    ctx: &RequestContext,
    group: &str,
    member: Option<(&str, i32)>,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Result<Committed, ErrorCode> {
    // An empty group id is accepted, as Kafka does for backwards compatibility.
    ctx.state.groups.fetch_offsets(group, member, topics)
}

/// With `require_stable` (v7+), partitions with offsets committed in a transaction not yet
/// ended answer UNSTABLE_OFFSET_COMMIT, so that a consumer does not start from an offset its
/// transactional producer may still abort.
fn unstable(ctx: &RequestContext, group: &str, require_stable: bool) -> BTreeSet<(String, i32)> {
    if require_stable {
        ctx.state.groups.pending_txn_partitions(group)
    } else {
        BTreeSet::new()
    }
}

/// `(offset, epoch, metadata)` of a partition's answer.
fn position(v: &Option<OffsetValue>) -> (i64, i32, String) {
    match v {
        Some(v) => (v.offset, v.leader_epoch, v.metadata.clone()),
        None => (-1, -1, String::new()),
    }
}

/// The v8+ (per group) shape of committed offsets.
fn group_topics(
    committed: Committed,
    unstable: &BTreeSet<(String, i32)>,
) -> Vec<OffsetFetchResponseTopics> {
    committed
        .into_iter()
        .map(|(t, parts)| {
            let partitions = parts
                .iter()
                .map(|(p, v)| {
                    let (o, e, m) = position(v);
                    let part = OffsetFetchResponsePartitions::default()
                        .with_partition_index(*p)
                        .with_committed_offset(o)
                        .with_committed_leader_epoch(e)
                        .with_metadata(Some(sb(m)));
                    if unstable.contains(&(t.clone(), *p)) {
                        part.with_committed_offset(-1)
                            .with_error_code(ErrorCode::UnstableOffsetCommit.code())
                    } else {
                        part
                    }
                })
                .collect();
            OffsetFetchResponseTopics::default()
                .with_name(topic_name(t))
                .with_partitions(partitions)
        })
        .collect()
}

/// Handles OffsetFetch.
pub async fn handle(ctx: RequestContext, req: OffsetFetchRequest) -> OffsetFetchResponse {
    let version = ctx.version;
    if version >= 8 {
        let groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                // v9: members of consumer groups fetch with their epoch
                let member = g
                    .member_id
                    .as_ref()
                    .filter(|_| version >= 9)
                    .map(|m| (m.as_str(), g.member_epoch));
                match fetch(&ctx, g.group_id.0.as_str(), member, topics) {
                    Ok(committed) => {
                        let unstable = unstable(&ctx, g.group_id.0.as_str(), req.require_stable);
                        OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id)
                            .with_topics(group_topics(committed, &unstable))
                    }
                    Err(code) => OffsetFetchResponseGroup::default()
                        .with_group_id(GroupId(g.group_id.0))
                        .with_error_code(code.code()),
                }
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let requested: Option<Vec<(String, Vec<i32>)>> = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    let (committed, error) = match fetch(&ctx, req.group_id.0.as_str(), None, requested.clone()) {
        Ok(c) => (c, ErrorCode::None),
        // Before v2 the group's error is given on every partition asked for; from v2 on it is
        // the top-level error alone.
        Err(code) if version < 2 => (
            requested
                .unwrap_or_default()
                .into_iter()
                .map(|(t, ps)| (t, ps.into_iter().map(|p| (p, None)).collect()))
                .collect(),
            code,
        ),
        Err(code) => (Vec::new(), code),
    };
    let partition_error = if version < 2 { error } else { ErrorCode::None };
    let unstable = unstable(
        &ctx,
        req.group_id.0.as_str(),
        version >= 7 && req.require_stable,
    );
    let topics = committed
        .into_iter()
        .map(|(t, parts)| {
            OffsetFetchResponseTopic::default()
                .with_name(topic_name(t.clone()))
                .with_partitions(
                    parts
                        .iter()
                        .map(|(p, v)| {
                            let (o, e, m) = position(v);
                            let stable = !unstable.contains(&(t.clone(), *p));
                            let mut part = OffsetFetchResponsePartition::default()
                                .with_partition_index(*p)
                                .with_committed_offset(if stable { o } else { -1 })
                                .with_metadata(Some(sb(m)))
                                .with_error_code(if stable {
                                    partition_error.code()
                                } else {
                                    ErrorCode::UnstableOffsetCommit.code()
                                });
                            if version >= 5 {
                                part = part.with_committed_leader_epoch(e);
                            }
                            part
                        })
                        .collect(),
                )
        })
        .collect();
    let mut resp = OffsetFetchResponse::default().with_topics(topics);
    if version >= 2 {
        resp = resp.with_error_code(error.code());
    }
    resp
}
