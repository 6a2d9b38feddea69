package tributary.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tributary.compat.Kit.BOOTSTRAP;

import java.io.File;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The producer with its default settings (idempotence on, acks=all) and with the knobs users turn. */
class ProducerTest {
    static Admin admin;

    @BeforeAll
    static void setUp() {
        admin = Kit.admin();
    }

    @AfterAll
    static void tearDown() {
        admin.close();
    }

    /**
     * Keyed records from the Java producer (default partitioner: murmur2 of the key modulo the
     * partition count) and from {@code tributary produce --key-separator :} land on the same
     * partition for every key.
     */
    @Test
    void keyedRecordsLandWhereTributaryProducePutsThem() throws Exception {
        String topic = Kit.uniq("j-keys");
        int parts = 6;
        Kit.createTopic(admin, topic, parts);
        int keys = 60;
        try (KafkaProducer<String, String> p = Kit.producer()) {
            for (int i = 0; i < keys; i++) {
                p.send(new ProducerRecord<>(topic, "key-" + i, "java"));
            }
            p.flush();
        }
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < keys; i++) {
            lines.append("key-").append(i).append(":cli\n");
        }
        runCliProduce(topic, lines.toString());

        List<ConsumerRecord<String, String>> recs = Kit.readAll(topic, parts, 2 * keys);
        assertEquals(2 * keys, recs.size());
        Map<String, Integer> java = new TreeMap<>();
        Map<String, Integer> cli = new TreeMap<>();
        for (ConsumerRecord<String, String> r : recs) {
            (r.value().equals("java") ? java : cli).put(r.key(), r.partition());
        }
        assertEquals(keys, java.size(), "every key read back from the Java producer");
        assertEquals(java, cli, "partition per key: Java producer vs tributary produce");
        for (Map.Entry<String, Integer> e : java.entrySet()) {
            int expected = Utils.toPositive(Utils.murmur2(e.getKey().getBytes(StandardCharsets.UTF_8))) % parts;
            assertEquals(expected, e.getValue(), "murmur2 partition of " + e.getKey());
        }
        assertTrue(java.values().stream().distinct().count() > 1, "keys spread over partitions");
    }

    private static void runCliProduce(String topic, String input) throws Exception {
        File bin = new File(Kit.TRIBUTARY_BIN);
        assertTrue(bin.canExecute(), "tributary binary at " + bin + " (system property tributary.bin)");
        Path log = Files.createTempFile("tributary-produce", ".log");
        try {
            Process proc = new ProcessBuilder(bin.getPath(), "produce", topic, "--key-separator", ":", "-b", BOOTSTRAP)
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            try (OutputStream in = proc.getOutputStream()) {
                in.write(input.getBytes(StandardCharsets.UTF_8));
            }
            boolean done = proc.waitFor(60, TimeUnit.SECONDS);
            if (!done) {
                proc.destroyForcibly();
            }
            assertTrue(done, "tributary produce finished within 60 s");
            assertEquals(0, proc.exitValue(), "tributary produce exit status; output:\n" + Files.readString(log));
        } finally {
            Files.deleteIfExists(log);
        }
    }

    /**
     * Headers (several, a repeated key, a null value), explicit timestamps, null keys and null values
     * come back as sent; RecordMetadata reports consecutive offsets and the CreateTime timestamp.
     */
    @Test
    void headersTimestampsNullKeysAndValues() throws Exception {
        String topic = Kit.uniq("j-fields");
        Kit.createTopic(admin, topic, 1);
        long t0 = System.currentTimeMillis() - 3_600_000L;
        List<Header> headers = List.of(
                new RecordHeader("h1", "v1".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader("h2", new byte[] {0, 1, 2, (byte) 0xff}),
                new RecordHeader("h1", "again".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader("nullv", null));
        List<ProducerRecord<String, String>> sent = List.of(
                new ProducerRecord<>(topic, 0, t0, "k0", "v0", headers),
                new ProducerRecord<>(topic, 0, t0 + 1, (String) null, "null key"),
                new ProducerRecord<>(topic, 0, t0 + 2, "null value", (String) null),
                new ProducerRecord<>(topic, 0, t0 + 3, (String) null, (String) null),
                new ProducerRecord<>(topic, 0, t0 + 4, "", ""));
        List<RecordMetadata> metas = new ArrayList<>();
        try (KafkaProducer<String, String> p = Kit.producer()) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (ProducerRecord<String, String> r : sent) {
                fs.add(p.send(r));
            }
            for (Future<RecordMetadata> f : fs) {
                metas.add(f.get(30, TimeUnit.SECONDS));
            }
        }
        for (int i = 0; i < sent.size(); i++) {
            assertEquals(i, metas.get(i).offset(), "offset of record " + i);
            assertEquals(t0 + i, metas.get(i).timestamp(), "RecordMetadata timestamp of record " + i);
            assertEquals(0, metas.get(i).partition());
        }
        List<ConsumerRecord<String, String>> got = Kit.readAll(topic, 1, sent.size());
        for (int i = 0; i < sent.size(); i++) {
            ConsumerRecord<String, String> r = got.get(i);
            assertEquals(i, r.offset());
            assertEquals(sent.get(i).key(), r.key(), "key of record " + i);
            assertEquals(sent.get(i).value(), r.value(), "value of record " + i);
            assertEquals(t0 + i, r.timestamp(), "timestamp of record " + i);
            assertEquals(TimestampType.CREATE_TIME, r.timestampType());
        }
        Header[] h = got.get(0).headers().toArray();
        assertEquals(4, h.length, "header count");
        for (int i = 0; i < 4; i++) {
            assertEquals(headers.get(i).key(), h[i].key());
            assertArrayEquals(headers.get(i).value(), h[i].value(), "value of header " + i);
        }
        assertNull(got.get(0).headers().lastHeader("nullv").value());
        assertEquals("again", new String(got.get(0).headers().lastHeader("h1").value(), StandardCharsets.UTF_8));
        assertEquals(0, got.get(1).headers().toArray().length);
    }

    /** With message.timestamp.type=LogAppendTime the broker's clock replaces the producer's timestamp. */
    @Test
    void logAppendTimeTopicStampsBrokerTime() throws Exception {
        String topic = Kit.uniq("j-logappend");
        Kit.createTopic(admin, topic, 1, Map.of("message.timestamp.type", "LogAppendTime"));
        long old = System.currentTimeMillis() - 86_400_000L;
        long before = System.currentTimeMillis();
        RecordMetadata m;
        try (KafkaProducer<String, String> p = Kit.producer()) {
            m = p.send(new ProducerRecord<>(topic, 0, old, "k", "v")).get(30, TimeUnit.SECONDS);
        }
        long after = System.currentTimeMillis();
        assertTrue(m.timestamp() >= before - 5000 && m.timestamp() <= after + 5000,
                "RecordMetadata carries the broker's append time, got " + m.timestamp());
        ConsumerRecord<String, String> r = Kit.readAll(topic, 1, 1).get(0);
        assertEquals(TimestampType.LOG_APPEND_TIME, r.timestampType());
        assertEquals(m.timestamp(), r.timestamp());
    }

    @Test
    void compressionNone() throws Exception {
        compression("none");
    }

    @Test
    void compressionGzip() throws Exception {
        compression("gzip");
    }

    @Test
    void compressionSnappy() throws Exception {
        compression("snappy");
    }

    @Test
    void compressionLz4() throws Exception {
        compression("lz4");
    }

    @Test
    void compressionZstd() throws Exception {
        compression("zstd");
    }

    /** One compression codec: batches written compressed, read back intact, in order. */
    private void compression(String codec) throws Exception {
        String topic = Kit.uniq("j-" + codec);
        Kit.createTopic(admin, topic, 2);
        int n = 400;
        Map<String, Object> cfg = new HashMap<>();
        cfg.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        cfg.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        try (KafkaProducer<String, String> p = Kit.producer(cfg)) {
            for (int i = 0; i < n; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, "k" + i, ("value " + i + " ").repeat(20)));
            }
            p.flush();
            MetricName ratio = p.metrics().keySet().stream()
                    .filter(k -> k.name().equals("compression-rate-avg") && k.group().equals("producer-metrics"))
                    .findFirst().orElseThrow();
            double rate = ((Number) p.metrics().get(ratio).metricValue()).doubleValue();
            if (codec.equals("none")) {
                assertEquals(1.0, rate, 0.001, "no compression");
            } else {
                assertTrue(rate < 0.5, "batches were compressed (compression-rate-avg " + rate + ")");
            }
        }
        List<ConsumerRecord<String, String>> got = Kit.readAll(topic, 2, n);
        assertEquals(n, got.size());
        long[] next = new long[2];
        for (ConsumerRecord<String, String> r : got) {
            int i = Integer.parseInt(r.key().substring(1));
            assertEquals(i % 2, r.partition());
            assertEquals(next[r.partition()]++, r.offset(), "offsets dense and ordered");
            assertEquals(i / 2, r.offset(), "record order within the partition");
            assertEquals(("value " + i + " ").repeat(20), r.value());
        }
    }

    /**
     * Idempotent producer (the default) with max.in.flight.requests.per.connection=5 and retries:
     * a proxy between it and the broker cuts the connection five times right after the broker took
     * a Produce request, so the producer re-sends that request and the others it had in flight,
     * which the broker already appended. Every record is written once, in the order sent, and each
     * send reports the offset the record really has.
     */
    @Test
    void inFlightFiveWithRetriesKeepsOrder() throws Exception {
        String topic = Kit.uniq("j-order");
        Kit.createTopic(admin, topic, 1);
        int n = 5000;
        Map<String, Object> cfg = new HashMap<>();
        cfg.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        cfg.put(ProducerConfig.RETRIES_CONFIG, Integer.MAX_VALUE);
        cfg.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, 20);
        cfg.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, 20);
        cfg.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        cfg.put(ProducerConfig.BATCH_SIZE_CONFIG, 512);
        cfg.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 60000);
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (DroppingProxy proxy = new DroppingProxy(BOOTSTRAP, 10, 5)) {
            cfg.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, proxy.bootstrap());
            try (KafkaProducer<String, String> p = Kit.producer(cfg)) {
                for (int i = 0; i < n; i++) {
                    fs.add(p.send(new ProducerRecord<>(topic, 0, null, String.format("%06d", i))));
                }
                p.flush();
                for (int i = 0; i < n; i++) {
                    assertEquals(i, fs.get(i).get(30, TimeUnit.SECONDS).offset(), "offset of record " + i);
                }
                assertEquals(5, proxy.drops(), "connections cut under in-flight requests");
                assertTrue(metric(p, "record-retry-total") > 0, "the producer retried");
            }
        }
        List<ConsumerRecord<String, String>> got = Kit.readAll(topic, 1, n);
        assertEquals(n, got.size(), "no duplicates");
        for (int i = 0; i < n; i++) {
            assertEquals(String.format("%06d", i), got.get(i).value(), "record at offset " + i);
        }
    }

    /**
     * acks=all on a topic whose min.insync.replicas exceeds its replication factor: Kafka 4
     * counts min(min.insync.replicas, replication factor) (KIP-966), so a one-replica topic with
     * min.insync.replicas=2 still takes writes.
     */
    @Test
    void minInsyncReplicasAboveReplicationFactorStillTakesWrites() throws Exception {
        String topic = Kit.uniq("j-minisr");
        Kit.createTopic(admin, topic, 1, Map.of("min.insync.replicas", "2"));
        try (KafkaProducer<String, String> p = Kit.producer(Map.of(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 10000,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000))) {
            assertEquals(0, p.send(new ProducerRecord<>(topic, 0, "k", "v")).get(30, TimeUnit.SECONDS).offset());
        }
    }

    private static double metric(KafkaProducer<?, ?> p, String name) {
        MetricName m = p.metrics().keySet().stream()
                .filter(k -> k.name().equals(name) && k.group().equals("producer-metrics"))
                .findFirst().orElseThrow();
        return ((Number) p.metrics().get(m).metricValue()).doubleValue();
    }
}
