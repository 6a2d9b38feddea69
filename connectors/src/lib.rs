//! # tributary-connectors
//!
//! The connectors a Tributary Connect worker runs, one folder per connector, with Kafka
//! Connect's well-known class names and config keys.
//!
//! * [`file`]: `FileStreamSourceConnector` and `FileStreamSinkConnector`.
//! * [`http`]: an HTTP sink (`io.confluent.connect.http.HttpSinkConnector`'s keys).
//!
//! [`register`] adds them all to a worker's plugins.

pub mod file;
pub mod http;

use tributary_connect::connector::Plugins;

/// Adds every connector of this crate to `plugins`.
pub fn register(plugins: &mut Plugins) {
    plugins.register(file::source_plugin());
    plugins.register(file::sink_plugin());
    plugins.register(http::sink_plugin());
}
