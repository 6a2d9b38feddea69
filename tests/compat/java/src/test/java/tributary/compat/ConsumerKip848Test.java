package tributary.compat;

import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerConfig;

/**
 * The consumer API with group.protocol=consumer (KIP-848: ConsumerGroupHeartbeat, the assignment
 * computed by the broker, heartbeat interval and session timeout set by the broker).
 */
class ConsumerKip848Test extends ConsumerTestBase {
    @Override
    Map<String, Object> protocolConfig() {
        return Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
    }

    @Override
    String protocolName() {
        return "consumer";
    }
}
