//! A Redis sink: each record's key and value written to Redis, as `SET key value` or, for
//! struct and map values, as the fields of a hash (`HSET`); a tombstone (null value) deletes
//! the key. Config keys follow the well-known Redis sink connector
//! (`com.github.jcustenborder.kafka.connect.redis.RedisSinkConnector`: `redis.hosts`,
//! `redis.database`, `redis.password`, `redis.client.mode`, ...), plus `redis.command`.

mod sink;

pub use sink::{RedisSinkConnector, RedisSinkTask};

use tributary_connect::connector::{ConnectorInstance, ConnectorPlugin, ConnectorType};

/// The sink plugin.
pub fn sink_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "com.github.jcustenborder.kafka.connect.redis.RedisSinkConnector",
        kind: ConnectorType::Sink,
        version: crate::file::VERSION,
        task_class: "com.github.jcustenborder.kafka.connect.redis.RedisSinkTask",
        config: sink::CONFIG,
        create: || ConnectorInstance::Sink(Box::new(RedisSinkConnector::default())),
    }
}
