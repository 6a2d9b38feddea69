//! Leader elections on request (ElectLeaders) and partition reassignments
//! (AlterPartitionReassignments) on the controller. The plans are the pure functions of
//! [`crate::controller::reassignment`]; this runs them on the active controller (brokers send
//! them there) and commits their records.

use super::controller::{Controller, OpError};
use super::{unclean_allowed, MetadataImage, MetadataRecord};
use crate::controller::reassignment::{alter_reassignment, elect_leader};
use crate::error::ErrorCode;

pub use crate::controller::reassignment::{is_reassigning, ElectionType};

/// Target replicas per partition (`None`: cancel its reassignment), by topic.
pub type ReassignmentTargets = Vec<(String, Vec<(i32, Option<Vec<i32>>)>)>;

/// An outcome per partition, by topic, in the order asked.
pub type PartitionResults = Vec<(String, Vec<(i32, Result<(), OpError>)>)>;

/// Adds `record` to `records` and to the image `staged` the next partitions are planned on (one
/// request may name a partition twice).
fn stage(
    staged: &mut MetadataImage,
    records: &mut Vec<MetadataRecord>,
    record: MetadataRecord,
) -> Result<(), OpError> {
    let next = staged
        .apply(staged.offset + 1, std::slice::from_ref(&record))
        .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))?;
    *staged = next;
    records.push(record);
    Ok(())
}

impl Controller {
    /// Elects leaders as `kind` asks for `partitions` (by topic), or for every partition when
    /// `None`; then partitions whose election is not needed are left out of the answer, as
    /// Kafka does.
    pub async fn elect_leaders(
        &self,
        kind: ElectionType,
        partitions: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<PartitionResults, OpError> {
        if let Some(remote) = &self.inner.remote {
            return remote.elect_leaders(self, kind, partitions).await;
        }
        self.run(move |image, _| {
            let all = partitions.is_none();
            let wanted = partitions.unwrap_or_else(|| {
                image
                    .topics
                    .values()
                    .map(|t| (t.name.clone(), (0..t.partitions.len() as i32).collect()))
                    .collect()
            });
            let mut staged = image.clone();
            let mut records = Vec::new();
            let mut results = Vec::new();
            for (topic, indexes) in wanted {
                let mut out = Vec::new();
                for index in indexes {
                    match elect_leader(&staged, &topic, index, kind) {
                        Ok(r) => out.push((index, stage(&mut staged, &mut records, r))),
                        Err((ErrorCode::ElectionNotNeeded, _)) if all => {}
                        Err(e) => out.push((index, Err(e))),
                    }
                }
                results.push((topic, out));
            }
            (records, results)
        })
        .await
    }

    /// Starts, changes or (replicas `None`) cancels the reassignments of the partitions named.
    /// `allow_rf_change` false refuses targets that change the replica count.
    pub async fn alter_partition_reassignments(
        &self,
        changes: ReassignmentTargets,
        allow_rf_change: bool,
    ) -> Result<PartitionResults, OpError> {
        if let Some(remote) = &self.inner.remote {
            return remote
                .alter_partition_reassignments(self, changes, allow_rf_change)
                .await;
        }
        self.run(move |image, config| {
            let mut staged = image.clone();
            let mut records = Vec::new();
            let mut results = Vec::new();
            for (topic, partitions) in changes {
                let unclean = staged
                    .topics
                    .get(&topic)
                    .is_some_and(|t| unclean_allowed(config, &staged, t));
                let mut out = Vec::new();
                for (index, target) in partitions {
                    let planned = alter_reassignment(
                        &staged,
                        &topic,
                        index,
                        target.as_deref(),
                        unclean,
                        allow_rf_change,
                    );
                    let outcome = match planned {
                        Ok(Some(r)) => stage(&mut staged, &mut records, r),
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    };
                    if outcome.is_ok() {
                        tracing::info!(%topic, partition = index, replicas = ?target, "partition reassignment changed");
                    }
                    out.push((index, outcome));
                }
                results.push((topic, out));
            }
            (records, results)
        })
        .await
    }
}
