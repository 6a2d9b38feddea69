//! DescribeLogDirs: the broker's log directory, its partitions with their sizes, and the disk's
//! total and usable bytes (`kafka-log-dirs --describe`, Admin `describeLogDirs`).

use std::collections::BTreeMap;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use super::{blocking, sb, topic_name};
use crate::dispatch::RequestContext;

/// Total and usable bytes of the file system holding `dir`; -1 each when it cannot be read, as
/// Kafka answers when it does not know.
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let block = i64::try_from(s.f_frsize).unwrap_or(0);
            let blocks = |n: u64| i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(block);
            (blocks(s.f_blocks), blocks(s.f_bavail))
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the log dir's disk space");
            (-1, -1)
        }
    }
}

/// Handles DescribeLogDirs.
pub async fn handle(ctx: RequestContext, req: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    let state = std::sync::Arc::clone(&ctx.state);
    let result = blocking(move || {
        // null topics: every partition; otherwise the named partitions that exist here
        let wanted: Option<BTreeMap<String, Vec<i32>>> = req.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.topic.0.to_string(), t.partitions))
                .collect()
        });
        let mut topics: BTreeMap<String, Vec<DescribeLogDirsPartition>> = BTreeMap::new();
        for p in state.replicas.all() {
            let asked = wanted.as_ref().is_none_or(|w| {
                w.get(p.topic.as_ref())
                    .is_some_and(|parts| parts.contains(&p.index))
            });
            if !asked {
                continue;
            }
            topics.entry(p.topic.to_string()).or_default().push(
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.index)
                    .with_partition_size(i64::try_from(p.size_bytes()).unwrap_or(i64::MAX))
                    .with_offset_lag(0)
                    .with_is_future_key(false),
            );
        }
        let dir = std::fs::canonicalize(&state.config.data_dir)
            .unwrap_or_else(|_| state.config.data_dir.clone());
        let (total, usable) = disk_space(&dir);
        let topics = topics
            .into_iter()
            .map(|(name, mut partitions)| {
                partitions.sort_by_key(|p| p.partition_index);
                DescribeLogDirsTopic::default()
                    .with_name(topic_name(name))
                    .with_partitions(partitions)
            })
            .collect();
        DescribeLogDirsResult::default()
            .with_log_dir(sb(dir.display().to_string()))
            .with_topics(topics)
            .with_total_bytes(total)
            .with_usable_bytes(usable)
    })
    .await;
    match result {
        Ok(r) => DescribeLogDirsResponse::default().with_results(vec![r]),
        Err(code) => DescribeLogDirsResponse::default().with_error_code(code.code()),
    }
}
