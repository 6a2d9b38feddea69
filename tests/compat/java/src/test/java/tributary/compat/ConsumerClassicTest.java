package tributary.compat;

import java.util.Map;

import org.apache.kafka.clients.consumer.ConsumerConfig;

/**
 * The consumer API with group.protocol=classic (JoinGroup, SyncGroup, Heartbeat, LeaveGroup): the
 * client's default assignors (range first: eager rebalances), a 10 s session.
 */
class ConsumerClassicTest extends ConsumerTestBase {
    @Override
    Map<String, Object> protocolConfig() {
        return Map.of(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic",
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10000,
                ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 1000);
    }

    @Override
    String protocolName() {
        return "classic";
    }
}
