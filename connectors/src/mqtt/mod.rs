//! An MQTT source: subscribes to MQTT topic filters (wildcards `+` and `#` allowed) and writes
//! each message to one Kafka topic, the MQTT topic as the key (`STRING`) and the payload as the
//! value (`BYTES`), as Confluent's MQTT Source connector does, with its config keys
//! (`mqtt.server.uri`, `mqtt.topics`, `kafka.topic`, `mqtt.qos`, ...). QoS 1 and 2 messages are
//! acknowledged to the MQTT broker only after their records were committed to Kafka.

mod source;

pub use source::{MqttSourceConnector, MqttSourceTask};

use tributary_connect::connector::{ConnectorInstance, ConnectorPlugin, ConnectorType};

/// The source plugin.
pub fn source_plugin() -> ConnectorPlugin {
    ConnectorPlugin {
        class: "io.confluent.connect.mqtt.MqttSourceConnector",
        kind: ConnectorType::Source,
        version: crate::file::VERSION,
        task_class: "io.confluent.connect.mqtt.MqttSourceTask",
        config: source::CONFIG,
        create: || ConnectorInstance::Source(Box::new(MqttSourceConnector::default())),
    }
}
