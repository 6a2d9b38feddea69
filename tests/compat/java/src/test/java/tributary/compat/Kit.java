package tributary.compat;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * What every test class shares: the broker address (system property {@code bootstrap}), unique
 * names, client factories with bounded timeouts, topic creation that waits until the topic is
 * usable, and polling with deadlines (never a bare sleep).
 */
final class Kit {
    private Kit() {}

    static final String BOOTSTRAP = System.getProperty("bootstrap", "127.0.0.1:9092");
    /** The tributary binary, for the CLI side of the partitioning test. */
    static final String TRIBUTARY_BIN = System.getProperty("tributary.bin",
            System.getProperty("user.home") + "/.cache/tributary/target/debug/tributary");
    /** Upper bound of any single wait in these tests. */
    static final Duration WAIT = Duration.ofSeconds(30);

    static String uniq(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        return Admin.create(p);
    }

    static KafkaProducer<String, String> producer(Map<String, Object> overrides) {
        Map<String, Object> p = new HashMap<>();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
        p.putAll(overrides);
        return new KafkaProducer<>(p);
    }

    static KafkaProducer<String, String> producer() {
        return producer(Map.of());
    }

    static KafkaConsumer<String, String> consumer(Map<String, Object> overrides) {
        Map<String, Object> p = new HashMap<>();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, BOOTSTRAP);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.putAll(overrides);
        return new KafkaConsumer<>(p);
    }

    /** A consumer outside any group (assign only). */
    static KafkaConsumer<String, String> plainConsumer() {
        return consumer(Map.of());
    }

    static <T> T get(org.apache.kafka.common.KafkaFuture<T> f) throws Exception {
        try {
            return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception) {
                throw (Exception) e.getCause();
            }
            throw e;
        }
    }

    /** The cause of a failed admin future, failing the test if it succeeded. */
    static Throwable failureOf(org.apache.kafka.common.KafkaFuture<?> f) throws Exception {
        try {
            f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        fail("expected the call to fail, it succeeded");
        return null;
    }

    static void createTopic(Admin admin, String name, int partitions) throws Exception {
        createTopic(admin, name, partitions, Map.of());
    }

    /** Creates a topic and waits until its every partition has a leader in the metadata. */
    static void createTopic(Admin admin, String name, int partitions, Map<String, String> configs)
            throws Exception {
        get(admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs))).all());
        waitUntil("topic " + name + " has leaders for " + partitions + " partitions", () -> {
            try {
                var d = admin.describeTopics(List.of(name)).allTopicNames().get(10, TimeUnit.SECONDS).get(name);
                return d.partitions().size() == partitions
                        && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty());
            } catch (Exception e) {
                return false;
            }
        });
    }

    static List<TopicPartition> partitions(String topic, int n) {
        return IntStream.range(0, n).mapToObj(i -> new TopicPartition(topic, i)).collect(Collectors.toList());
    }

    /** Polls {@code cond} every 50 ms until it holds; fails after {@link #WAIT}. */
    static void waitUntil(String what, BooleanSupplier cond) {
        waitUntil(what, WAIT, cond);
    }

    static void waitUntil(String what, Duration timeout, BooleanSupplier cond) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout.toSeconds() + " s waiting until " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting until " + what);
            }
        }
    }

    /**
     * Polls {@code consumer} until {@code count} records arrived in total (more may come with the
     * last poll); fails after {@link #WAIT} with what arrived so far.
     */
    static <K, V> List<ConsumerRecord<K, V>> pollUntil(KafkaConsumer<K, V> consumer, int count) {
        return pollUntil(consumer, count, WAIT);
    }

    static <K, V> List<ConsumerRecord<K, V>> pollUntil(KafkaConsumer<K, V> consumer, int count, Duration timeout) {
        List<ConsumerRecord<K, V>> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (out.size() < count) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout.toSeconds() + " s with " + out.size() + " of " + count
                        + " records");
            }
            ConsumerRecords<K, V> recs = consumer.poll(Duration.ofMillis(200));
            recs.forEach(out::add);
        }
        return out;
    }

    /** Reads every partition of {@code topic} from the start until {@code count} records arrived. */
    static List<ConsumerRecord<String, String>> readAll(String topic, int partitions, int count,
            Map<String, Object> overrides) {
        try (KafkaConsumer<String, String> c = consumer(overrides)) {
            c.assign(partitions(topic, partitions));
            c.seekToBeginning(partitions(topic, partitions));
            return pollUntil(c, count);
        }
    }

    static List<ConsumerRecord<String, String>> readAll(String topic, int partitions, int count) {
        return readAll(topic, partitions, count, Map.of());
    }

    static void assertCause(Throwable t, Class<? extends Throwable> expected) {
        Throwable c = t;
        while (c != null) {
            if (expected.isInstance(c)) {
                return;
            }
            c = c.getCause();
        }
        assertTrue(false, "expected " + expected.getSimpleName() + " but got " + t);
    }

    static <T> List<T> sorted(Collection<T> c, java.util.Comparator<T> cmp) {
        List<T> l = new ArrayList<>(c);
        l.sort(cmp);
        return l;
    }
}
