//! # tributary-connectors
//!
//! The connectors a Tributary Connect worker runs, one folder per connector, with Kafka
//! Connect's well-known class names and config keys.
//!
//! * [`datagen`]: Confluent's data generator (`io.confluent.kafka.connect.datagen.DatagenConnector`).
//! * [`file`]: `FileStreamSourceConnector` and `FileStreamSinkConnector`.
//! * [`http`]: an HTTP sink (`io.confluent.connect.http.HttpSinkConnector`'s keys).
//! * [`jdbc`]: PostgreSQL source and sink, compatible with Confluent's JDBC connectors
//!   (`io.confluent.connect.jdbc.JdbcSourceConnector` and `JdbcSinkConnector`).
//! * [`redis`]: a Redis sink (`SET` / `HSET`, the keys of
//!   `com.github.jcustenborder.kafka.connect.redis.RedisSinkConnector`).
//! * [`mqtt`]: an MQTT source (`io.confluent.connect.mqtt.MqttSourceConnector`'s keys).
//!
//! [`register`] adds them all to a worker's plugins.

pub mod datagen;
pub mod file;
pub mod http;
pub mod jdbc;
pub mod mqtt;
pub mod redis;

use tributary_connect::connector::Plugins;

/// Adds every connector of this crate to `plugins`.
pub fn register(plugins: &mut Plugins) {
    plugins.register(datagen::plugin());
    plugins.register(file::source_plugin());
    plugins.register(file::sink_plugin());
    plugins.register(http::sink_plugin());
    plugins.register(jdbc::source_plugin());
    plugins.register(jdbc::sink_plugin());
    plugins.register(redis::sink_plugin());
    plugins.register(mqtt::source_plugin());
}
