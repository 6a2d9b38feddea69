package tributary.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.InputStream;
import java.util.Properties;

import org.apache.kafka.clients.producer.KafkaProducer;
import org.junit.jupiter.api.Test;

/**
 * The kafka-clients on the test classpath is the one asked for with -Dkafka.version, so the report
 * lines "java4.0.0/..." really are kafka-clients 4.0.0. Needs no broker: run.sh --prepare runs it
 * to make Maven fetch everything a test run uses.
 */
class ClientVersionTest {
    @Test
    void kafkaClientsIsTheRequestedVersion() throws Exception {
        Properties p = new Properties();
        // the resource AppInfoParser reads (its package moved in 4.x, the resource did not)
        try (InputStream in = KafkaProducer.class.getResourceAsStream("/kafka/kafka-version.properties")) {
            assertNotNull(in, "kafka-clients' version resource");
            p.load(in);
        }
        assertEquals(System.getProperty("kafka.version"), p.getProperty("version"));
    }
}
