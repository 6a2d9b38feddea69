//! Topics through Kafka's admin API (librdkafka).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

/// Creates, deletes and describes topics (a handle: clones share one admin client).
#[derive(Clone)]
pub struct Topics {
    admin: std::sync::Arc<AdminClient<DefaultClientContext>>,
}

const TIMEOUT: Duration = Duration::from_secs(30);

impl Topics {
    /// An admin client of the cluster at `bootstrap`.
    pub fn new(bootstrap: &str) -> Result<Topics, String> {
        // (asking whether a topic exists must not create it: librdkafka's metadata requests
        // would otherwise let a broker with `auto.create.topics.enable` make it with its
        // default partitions, before `PARTITIONS` is read)
        let admin = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|e| format!("cannot create an admin client: {e}"))?;
        Ok(Topics {
            admin: std::sync::Arc::new(admin),
        })
    }

    /// The number of partitions of `topic` (`None`: it does not exist).
    pub async fn describe(&self, topic: &str) -> Result<Option<i32>, String> {
        let admin = self.admin.inner();
        let topic = topic.to_string();
        let metadata = tokio::task::block_in_place(|| admin.fetch_metadata(Some(&topic), TIMEOUT))
            .map_err(|e| format!("cannot describe topic {topic}: {e}"))?;
        Ok(metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len() as i32))
    }

    /// Every topic, with each of its partitions' replica count.
    pub async fn list(&self) -> Result<Vec<(String, Vec<usize>)>, String> {
        let admin = self.admin.inner();
        let metadata = tokio::task::block_in_place(|| admin.fetch_metadata(None, TIMEOUT))
            .map_err(|e| format!("cannot list topics: {e}"))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| {
                (
                    t.name().to_string(),
                    t.partitions().iter().map(|p| p.replicas().len()).collect(),
                )
            })
            .collect())
    }

    /// Whether `topic` exists.
    pub async fn exists(&self, topic: &str) -> Result<bool, String> {
        Ok(self.describe(topic).await?.is_some())
    }

    /// The number of partitions of an existing `topic`.
    pub async fn partitions(&self, topic: &str) -> Result<i32, String> {
        self.describe(topic)
            .await?
            .ok_or_else(|| format!("Topic '{topic}' does not exist"))
    }

    /// Creates `topic` (nothing when it exists).
    pub async fn create(
        &self,
        topic: &str,
        partitions: i32,
        replicas: Option<i16>,
    ) -> Result<(), String> {
        self.create_with_configs(topic, partitions, replicas, &[])
            .await
    }

    /// Creates `topic` with topic `configs` (nothing when it exists).
    pub async fn create_with_configs(
        &self,
        topic: &str,
        partitions: i32,
        replicas: Option<i16>,
        configs: &[(&str, &str)],
    ) -> Result<(), String> {
        let replication = match replicas {
            Some(r) if r > 0 => TopicReplication::Fixed(i32::from(r)),
            _ => TopicReplication::Fixed(-1),
        };
        let mut new = NewTopic::new(topic, partitions, replication);
        for (k, v) in configs {
            new = new.set(k, v);
        }
        let results = self
            .admin
            .create_topics(
                [&new],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            )
            .await
            .map_err(|e| format!("cannot create topic {topic}: {e}"))?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => return Err(format!("cannot create topic {t}: {code}")),
            }
        }
        Ok(())
    }

    /// Deletes `topic`.
    pub async fn delete(&self, topic: &str) -> Result<(), String> {
        let results = self
            .admin
            .delete_topics(
                &[topic],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            )
            .await
            .map_err(|e| format!("cannot delete topic {topic}: {e}"))?;
        for r in results {
            if let Err((t, code)) = r {
                if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                    return Err(format!("cannot delete topic {t}: {code}"));
                }
            }
        }
        Ok(())
    }

    /// Deletes the consumer group `group` (gone already is no error).
    pub async fn delete_group(&self, group: &str) -> Result<(), String> {
        let results = self
            .admin
            .delete_groups(
                &[group],
                &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
            )
            .await
            .map_err(|e| format!("cannot delete group {group}: {e}"))?;
        for r in results {
            if let Err((g, code)) = r {
                if code != RDKafkaErrorCode::GroupIdNotFound {
                    return Err(format!("cannot delete group {g}: {code}"));
                }
            }
        }
        Ok(())
    }

    /// The cluster's id (`None`: the cluster did not answer in time).
    pub async fn cluster_id(&self) -> Option<String> {
        let admin = std::sync::Arc::clone(&self.admin);
        tokio::task::spawn_blocking(move || admin.inner().fetch_cluster_id(Duration::from_secs(10)))
            .await
            .ok()
            .flatten()
    }
}
