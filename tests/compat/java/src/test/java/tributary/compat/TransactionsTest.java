package tributary.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tributary.compat.Kit.get;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Transactions: commit and abort as read_committed and read_uncommitted consumers see them, the
 * last stable offset, sendOffsetsToTransaction with the consumer's group metadata, fencing of a
 * zombie producer, and the coordinator aborting a transaction that outlives transaction.timeout.ms.
 */
class TransactionsTest {
    static Admin admin;

    @BeforeAll
    static void setUp() {
        admin = Kit.admin();
    }

    @AfterAll
    static void tearDown() {
        admin.close();
    }

    static KafkaProducer<String, String> txnProducer(String id, int timeoutMs) {
        return Kit.producer(Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id,
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, timeoutMs));
    }

    static KafkaConsumer<String, String> reader(boolean committed) {
        return Kit.consumer(Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG,
                committed ? "read_committed" : "read_uncommitted"));
    }

    /** Everything readable from {@code tps}: polls until the position reaches the end offset. */
    static List<ConsumerRecord<String, String>> drain(KafkaConsumer<String, String> c, List<TopicPartition> tps) {
        c.assign(tps);
        c.seekToBeginning(tps);
        Map<TopicPartition, Long> end = c.endOffsets(tps);
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        Kit.waitUntil("position reaches " + end, () -> {
            c.poll(Duration.ofMillis(100)).forEach(out::add);
            return tps.stream().allMatch(tp -> c.position(tp) >= end.get(tp));
        });
        return out;
    }

    static List<String> values(List<ConsumerRecord<String, String>> recs) {
        return recs.stream().map(ConsumerRecord::value).collect(Collectors.toList());
    }

    /**
     * A committed transaction is visible to read_committed readers, an aborted one is not
     * (read_uncommitted readers see both); markers take offsets; the open transaction holds the
     * last stable offset (endOffsets of a read_committed consumer) until it ends.
     */
    @Test
    void commitAbortAndReadCommitted() throws Exception {
        String topic = Kit.uniq("j-txn");
        Kit.createTopic(admin, topic, 2);
        List<TopicPartition> tps = Kit.partitions(topic, 2);
        TopicPartition p0 = tps.get(0);
        try (KafkaProducer<String, String> p = txnProducer(Kit.uniq("t-ca"), 60000);
                KafkaProducer<String, String> plain = Kit.producer();
                KafkaConsumer<String, String> rc = reader(true)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 4; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, "k", "committed-" + i));
            }
            p.commitTransaction();

            p.beginTransaction();
            for (int i = 0; i < 4; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, "k", "aborted-" + i));
            }
            p.flush();
            p.abortTransaction();

            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "k", "open-0")).get(30, TimeUnit.SECONDS);
            // p0: 2 committed + marker, 2 aborted + marker = offsets 0..5; the open transaction starts at 6
            assertEquals(6L, rc.endOffsets(List.of(p0)).get(p0), "the LSO stops at the open transaction");
            plain.send(new ProducerRecord<>(topic, 0, "k", "plain-after-open")).get(30, TimeUnit.SECONDS);
            assertEquals(6L, rc.endOffsets(List.of(p0)).get(p0), "later records wait behind the open transaction");
            List<ConsumerRecord<String, String>> seen = drain(rc, tps);
            assertEquals(Set.of("committed-0", "committed-1", "committed-2", "committed-3"), Set.copyOf(values(seen)));
            p.commitTransaction();
        }
        try (KafkaConsumer<String, String> rc = reader(true); KafkaConsumer<String, String> ru = reader(false)) {
            assertEquals(9L, rc.endOffsets(List.of(p0)).get(p0));
            List<String> committed = values(drain(rc, List.of(p0)));
            assertEquals(List.of("committed-0", "committed-2", "open-0", "plain-after-open"), committed);
            List<String> all = values(drain(ru, List.of(p0)));
            assertEquals(List.of("committed-0", "committed-2", "aborted-0", "aborted-2", "open-0", "plain-after-open"), all);
        }
    }

    /**
     * Consume-transform-produce: sendOffsetsToTransaction with the consumer's group metadata commits
     * the input offsets with the output records; an aborted transaction commits neither.
     */
    @Test
    void sendOffsetsToTransaction() throws Exception {
        String in = Kit.uniq("j-txn-in");
        String out = Kit.uniq("j-txn-out");
        String group = Kit.uniq("g-txn");
        Kit.createTopic(admin, in, 1);
        Kit.createTopic(admin, out, 1);
        TopicPartition inTp = new TopicPartition(in, 0);
        try (KafkaProducer<String, String> p = Kit.producer()) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(in, 0, "k" + i, "v" + i));
            }
            p.flush();
        }
        Map<String, Object> cc = new HashMap<>();
        cc.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        cc.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cc.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5);
        try (KafkaConsumer<String, String> c = Kit.consumer(cc);
                KafkaProducer<String, String> p = txnProducer(Kit.uniq("t-ctp"), 60000)) {
            p.initTransactions();
            c.subscribe(List.of(in));
            List<ConsumerRecord<String, String>> batch = Kit.pollUntil(c, 5, Duration.ofSeconds(45));
            p.beginTransaction();
            for (ConsumerRecord<String, String> r : batch) {
                p.send(new ProducerRecord<>(out, 0, r.key(), r.value().toUpperCase()));
            }
            long next = batch.get(batch.size() - 1).offset() + 1;
            p.sendOffsetsToTransaction(Map.of(inTp, new OffsetAndMetadata(next, "txn-meta")), c.groupMetadata());
            p.commitTransaction();
            OffsetAndMetadata committed = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()).get(inTp);
            assertEquals(next, committed.offset());
            assertEquals("txn-meta", committed.metadata());
            assertEquals(next, c.committed(Set.of(inTp)).get(inTp).offset());

            List<ConsumerRecord<String, String>> rest = Kit.pollUntil(c, 10 - (int) next);
            p.beginTransaction();
            for (ConsumerRecord<String, String> r : rest) {
                p.send(new ProducerRecord<>(out, 0, r.key(), "aborted"));
            }
            p.sendOffsetsToTransaction(Map.of(inTp, new OffsetAndMetadata(10)), c.groupMetadata());
            p.abortTransaction();
            assertEquals(next, get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()).get(inTp).offset(),
                    "an aborted transaction commits no offsets");
        }
        try (KafkaConsumer<String, String> rc = reader(true)) {
            List<String> got = values(drain(rc, List.of(new TopicPartition(out, 0))));
            assertEquals(List.of("V0", "V1", "V2", "V3", "V4").subList(0, got.size()), got);
            assertEquals(5, got.size());
        }
    }

    /**
     * A second producer with the same transactional.id fences the first: the zombie's commit fails
     * with ProducerFencedException and its open transaction is aborted.
     */
    @Test
    void zombieProducerIsFenced() throws Exception {
        String topic = Kit.uniq("j-txn-zombie");
        String id = Kit.uniq("t-zombie");
        Kit.createTopic(admin, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> zombie = txnProducer(id, 60000)) {
            zombie.initTransactions();
            zombie.beginTransaction();
            zombie.send(new ProducerRecord<>(topic, 0, "k", "zombie")).get(30, TimeUnit.SECONDS);
            try (KafkaProducer<String, String> fresh = txnProducer(id, 60000)) {
                fresh.initTransactions();
                fresh.beginTransaction();
                fresh.send(new ProducerRecord<>(topic, 0, "k", "fresh"));
                fresh.commitTransaction();
            }
            Exception e = assertThrows(Exception.class, zombie::commitTransaction);
            Kit.assertCause(e, ProducerFencedException.class);
        }
        try (KafkaConsumer<String, String> rc = reader(true)) {
            assertEquals(List.of("fresh"), values(drain(rc, List.of(tp))));
        }
    }

    /**
     * A transaction left open past transaction.timeout.ms is aborted by the coordinator: its records
     * never become visible to read_committed readers, the LSO moves on, and the producer learns it
     * was fenced when it tries to commit.
     */
    @Test
    void transactionTimeoutAborts() throws Exception {
        String topic = Kit.uniq("j-txn-timeout");
        String id = Kit.uniq("t-timeout");
        Kit.createTopic(admin, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = txnProducer(id, 2000);
                KafkaConsumer<String, String> rc = reader(true)) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "k", "timed-out")).get(30, TimeUnit.SECONDS);
            assertEquals(0L, rc.endOffsets(List.of(tp)).get(tp));
            Kit.waitUntil("the coordinator aborts the timed-out transaction",
                    () -> rc.endOffsets(List.of(tp)).get(tp) == 2L);
            TransactionDescription d = get(admin.describeTransactions(List.of(id)).description(id));
            assertTrue(Set.of(TransactionState.COMPLETE_ABORT, TransactionState.EMPTY).contains(d.state()),
                    "state after the timeout: " + d.state());
            assertEquals(List.of(), values(drain(rc, List.of(tp))));
            Exception e = assertThrows(Exception.class, p::commitTransaction);
            // KIP-890 (transaction.version 2, Kafka 4's default) bumps the epoch on the timeout abort
            // and the coordinator answers the late commit INVALID_TXN_STATE; before it, the
            // producer is fenced.
            Kit.assertCause(e, transactionVersion() >= 2 ? InvalidTxnStateException.class : ProducerFencedException.class);
        }
    }

    /** The finalized transaction.version feature of the cluster (0 when the broker reports none). */
    static short transactionVersion() throws Exception {
        var f = get(admin.describeFeatures().featureMetadata()).finalizedFeatures().get("transaction.version");
        return f == null ? 0 : f.maxVersionLevel();
    }
}
