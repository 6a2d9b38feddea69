package tributary.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The consumer API, run once per group protocol: {@link ConsumerClassicTest} (group.protocol=classic,
 * JoinGroup/SyncGroup/Heartbeat) and {@link ConsumerKip848Test} (group.protocol=consumer,
 * ConsumerGroupHeartbeat, KIP-848).
 */
abstract class ConsumerTestBase {
    static Admin admin;

    @BeforeAll
    static void setUp() {
        admin = Kit.admin();
    }

    @AfterAll
    static void tearDown() {
        admin.close();
    }

    /** The protocol-specific consumer settings of a group member. */
    abstract Map<String, Object> protocolConfig();

    /** The group protocol name as the admin client reports it ("classic" or "consumer"). */
    abstract String protocolName();

    KafkaConsumer<String, String> member(String group, Map<String, Object> extra) {
        Map<String, Object> c = new HashMap<>(protocolConfig());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.putAll(extra);
        return Kit.consumer(c);
    }

    KafkaConsumer<String, String> member(String group) {
        return member(group, Map.of());
    }

    static void produce(String topic, int partition, int count, String prefix) throws Exception {
        try (KafkaProducer<String, String> p = Kit.producer()) {
            for (int i = 0; i < count; i++) {
                p.send(new ProducerRecord<>(topic, partition, prefix + i, prefix + i));
            }
            p.flush();
        }
    }

    static Map<TopicPartition, OffsetAndMetadata> offsets(String topic, int parts, long offset, String meta) {
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        for (int p = 0; p < parts; p++) {
            m.put(new TopicPartition(topic, p), new OffsetAndMetadata(offset, meta + p));
        }
        return m;
    }

    /** Polls every consumer in turn (100 ms each) until {@code cond} holds. */
    @SafeVarargs
    static void pollAllUntil(String what, java.util.function.BooleanSupplier cond,
            KafkaConsumer<String, String>... consumers) {
        Kit.waitUntil(what, Duration.ofSeconds(45), () -> {
            for (KafkaConsumer<String, String> c : consumers) {
                c.poll(Duration.ofMillis(100));
            }
            return cond.getAsBoolean();
        });
    }

    /**
     * subscribe(list); commitSync and commitAsync with metadata; committed() and the admin client
     * read the offsets and metadata back; a new member of the group resumes from the commit.
     */
    @Test
    void subscribeListAndCommitWithMetadata() throws Exception {
        String topic = Kit.uniq("j-sub");
        String group = Kit.uniq("g-sub");
        Kit.createTopic(admin, topic, 3);
        for (int p = 0; p < 3; p++) {
            produce(topic, p, 10, "a" + p + "-");
        }
        Set<TopicPartition> all = new HashSet<>(Kit.partitions(topic, 3));
        try (KafkaConsumer<String, String> c = member(group)) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> recs = Kit.pollUntil(c, 30, Duration.ofSeconds(45));
            assertEquals(30, recs.size());
            assertEquals(Set.of(topic), c.subscription());
            assertEquals(all, c.assignment());

            c.commitSync(offsets(topic, 3, 10, "sync-"));
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(all);
            for (int p = 0; p < 3; p++) {
                OffsetAndMetadata om = committed.get(new TopicPartition(topic, p));
                assertEquals(10, om.offset());
                assertEquals("sync-" + p, om.metadata());
            }

            for (int p = 0; p < 3; p++) {
                produce(topic, p, 1, "b" + p + "-");
            }
            Kit.pollUntil(c, 3);
            AtomicReference<Object> done = new AtomicReference<>();
            c.commitAsync(offsets(topic, 3, 11, "async-"), (offs, err) -> done.set(err == null ? offs : err));
            Kit.waitUntil("the commitAsync callback", () -> {
                c.poll(Duration.ofMillis(50));
                return done.get() != null;
            });
            assertTrue(done.get() instanceof Map, "commitAsync succeeded: " + done.get());
            assertEquals(offsets(topic, 3, 11, "async-"), done.get());
            committed = c.committed(all);
            for (int p = 0; p < 3; p++) {
                assertEquals(11, committed.get(new TopicPartition(topic, p)).offset());
                assertEquals("async-" + p, committed.get(new TopicPartition(topic, p)).metadata());
            }
            Map<TopicPartition, OffsetAndMetadata> fromAdmin =
                    Kit.get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
            assertEquals(3, fromAdmin.size());
            assertEquals("async-1", fromAdmin.get(new TopicPartition(topic, 1)).metadata());
            assertEquals(11, fromAdmin.get(new TopicPartition(topic, 1)).offset());
        }
        for (int p = 0; p < 3; p++) {
            produce(topic, p, 1, "c" + p + "-");
        }
        try (KafkaConsumer<String, String> c = member(group)) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> recs = Kit.pollUntil(c, 3, Duration.ofSeconds(45));
            assertEquals(3, recs.size(), "only what follows the committed offsets");
            for (ConsumerRecord<String, String> r : recs) {
                assertEquals(11, r.offset());
                assertEquals("c" + r.partition() + "-0", r.value());
            }
            c.commitSync();
            assertEquals(12, c.committed(all).get(new TopicPartition(topic, 2)).offset(), "commitSync() commits positions");
        }
    }

    /** subscribe(Pattern): matching topics only, and a matching topic created later joins in. */
    @Test
    void subscribePattern() throws Exception {
        String base = Kit.uniq("j-pat");
        String group = Kit.uniq("g-pat");
        Kit.createTopic(admin, base + "-a", 2);
        Kit.createTopic(admin, base + "-b", 1);
        Kit.createTopic(admin, "other-" + base, 1);
        produce(base + "-a", 0, 1, "a");
        produce(base + "-a", 1, 1, "a");
        produce(base + "-b", 0, 1, "b");
        produce("other-" + base, 0, 1, "x");
        Map<String, Object> extra = new HashMap<>();
        extra.put(ConsumerConfig.METADATA_MAX_AGE_CONFIG, 1000);
        try (KafkaConsumer<String, String> c = member(group, extra)) {
            c.subscribe(Pattern.compile(Pattern.quote(base) + "-.*"));
            List<ConsumerRecord<String, String>> recs = Kit.pollUntil(c, 3, Duration.ofSeconds(45));
            Set<String> topics = recs.stream().map(ConsumerRecord::topic).collect(Collectors.toSet());
            assertEquals(Set.of(base + "-a", base + "-b"), topics);
            assertEquals(3, recs.size());
            c.commitSync();

            Kit.createTopic(admin, base + "-c", 1);
            produce(base + "-c", 0, 1, "c");
            recs = Kit.pollUntil(c, 1, Duration.ofSeconds(45));
            assertEquals(base + "-c", recs.get(0).topic(), "a new matching topic is picked up");
            assertEquals(1, recs.size());
            assertTrue(c.assignment().contains(new TopicPartition(base + "-c", 0)));
            assertFalse(c.assignment().contains(new TopicPartition("other-" + base, 0)));
        }
    }

    /**
     * assign, seek, seekToBeginning/End, position, beginningOffsets/endOffsets, offsetsForTimes,
     * and out-of-range positions reset by auto.offset.reset (or raised when it is none).
     */
    @Test
    void assignSeekAndOffsetLookups() throws Exception {
        String topic = Kit.uniq("j-assign");
        Kit.createTopic(admin, topic, 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        long t0 = System.currentTimeMillis() - 600_000L;
        try (KafkaProducer<String, String> p = Kit.producer()) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, 0, t0 + i * 1000L, "k" + i, "v" + i));
            }
            for (int i = 0; i < 3; i++) {
                p.send(new ProducerRecord<>(topic, 1, t0 + i, "k" + i, "w" + i));
            }
            p.flush();
        }
        try (KafkaConsumer<String, String> c = Kit.plainConsumer()) {
            assertEquals(Map.of(p0, 0L, p1, 0L), c.beginningOffsets(List.of(p0, p1)));
            assertEquals(Map.of(p0, 10L, p1, 3L), c.endOffsets(List.of(p0, p1)));

            Map<TopicPartition, OffsetAndTimestamp> byTime = c.offsetsForTimes(Map.of(p0, t0 + 4500, p1, t0));
            assertEquals(5, byTime.get(p0).offset());
            assertEquals(t0 + 5000, byTime.get(p0).timestamp());
            assertEquals(0, byTime.get(p1).offset());
            assertEquals(t0, byTime.get(p1).timestamp());
            Map<TopicPartition, OffsetAndTimestamp> none = c.offsetsForTimes(Map.of(p0, t0 + 60_000));
            assertTrue(none.containsKey(p0));
            assertNull(none.get(p0), "no record at or after the time");

            c.assign(List.of(p0, p1));
            assertEquals(Set.of(p0, p1), c.assignment());
            c.seek(p0, 5);
            c.seek(p1, 2);
            assertEquals(5, c.position(p0));
            List<ConsumerRecord<String, String>> recs = Kit.pollUntil(c, 6);
            assertEquals(6, recs.size());
            List<Long> p0Offsets = recs.stream().filter(r -> r.partition() == 0).map(ConsumerRecord::offset).toList();
            assertEquals(List.of(5L, 6L, 7L, 8L, 9L), p0Offsets);
            assertEquals("w2", recs.stream().filter(r -> r.partition() == 1).findFirst().orElseThrow().value());
            assertEquals(10, c.position(p0));
            assertEquals(3, c.position(p1));

            c.seekToBeginning(List.of(p0));
            assertEquals(0, c.position(p0));
            c.seekToEnd(List.of(p0));
            assertEquals(10, c.position(p0));

            c.seek(p1, 100);
            recs = Kit.pollUntil(c, 3);
            assertEquals(List.of(0L, 1L, 2L), recs.stream().map(ConsumerRecord::offset).toList(),
                    "an out-of-range position is reset to the earliest offset");
        }
        try (KafkaConsumer<String, String> c = Kit.consumer(Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(p1));
            c.seek(p1, 100);
            OffsetOutOfRangeException e = assertThrows(OffsetOutOfRangeException.class, () -> {
                long deadline = System.nanoTime() + Kit.WAIT.toNanos();
                while (System.nanoTime() < deadline) {
                    c.poll(Duration.ofMillis(200));
                }
            });
            assertEquals(100L, e.offsetOutOfRangePartitions().get(p1));
        }
    }

    /** One consumer's view of its partitions, built from its rebalance callbacks. */
    static final class Tracker implements ConsumerRebalanceListener {
        final String name;
        final List<String> log;
        final Set<TopicPartition> owned = new TreeSet<>((a, b) -> a.toString().compareTo(b.toString()));
        final List<String> problems;
        Tracker other;

        Tracker(String name, List<String> log, List<String> problems) {
            this.name = name;
            this.log = log;
            this.problems = problems;
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> ps) {
            log.add(name + " revoked " + new TreeSet<>(ps.stream().map(TopicPartition::partition).toList()));
            if (!owned.containsAll(ps)) {
                problems.add(name + " revoked " + ps + " while owning " + owned);
            }
            owned.removeAll(ps);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> ps) {
            log.add(name + " assigned " + new TreeSet<>(ps.stream().map(TopicPartition::partition).toList()));
            for (TopicPartition tp : ps) {
                if (owned.contains(tp)) {
                    problems.add(name + " assigned " + tp + " it already owned");
                }
                if (other != null && other.owned.contains(tp)) {
                    problems.add(name + " assigned " + tp + " while " + other.name + " still owns it");
                }
            }
            owned.addAll(ps);
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> ps) {
            log.add(name + " lost " + ps);
            problems.add(name + " lost " + ps);
            owned.removeAll(ps);
        }
    }

    /**
     * Rebalance listener callbacks: a second member makes the first revoke partitions before the
     * second is given them; a partition is never owned by both; each member's callbacks agree
     * with assignment(); the member that closes revokes what it had and the other gets it all.
     */
    @Test
    void rebalanceListenerCallbacksInOrder() throws Exception {
        String topic = Kit.uniq("j-rebal");
        String group = Kit.uniq("g-rebal");
        Kit.createTopic(admin, topic, 4);
        Set<TopicPartition> all = new HashSet<>(Kit.partitions(topic, 4));
        List<String> log = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Tracker ta = new Tracker("A", log, problems);
        Tracker tb = new Tracker("B", log, problems);
        ta.other = tb;
        tb.other = ta;
        try (KafkaConsumer<String, String> a = member(group)) {
            a.subscribe(List.of(topic), ta);
            pollAllUntil("A owns all 4 partitions", () -> a.assignment().equals(all) && ta.owned.equals(all), a);
            assertEquals("A assigned [0, 1, 2, 3]", log.get(log.size() - 1));

            try (KafkaConsumer<String, String> b = member(group)) {
                b.subscribe(List.of(topic), tb);
                pollAllUntil("A and B share the 4 partitions", () -> !a.assignment().isEmpty()
                        && !b.assignment().isEmpty() && a.assignment().size() + b.assignment().size() == 4
                        && ta.owned.equals(a.assignment()) && tb.owned.equals(b.assignment()), a, b);
                Set<TopicPartition> union = new HashSet<>(a.assignment());
                union.addAll(b.assignment());
                assertEquals(all, union, "log: " + log);
                int bAssigned = indexOf(log, "B assigned", true);
                int aRevoked = indexOf(log, "A revoked", false);
                assertTrue(aRevoked >= 0 && aRevoked < bAssigned,
                        "A revoked before B was assigned partitions; log: " + log);
                assertTrue(problems.isEmpty(), problems + "; log: " + log);
                log.add("-- B closes");
            }
            assertTrue(tb.owned.isEmpty(), "B revoked its partitions on close; log: " + log);
            pollAllUntil("A owns all 4 partitions again", () -> a.assignment().equals(all) && ta.owned.equals(all), a);
            assertTrue(problems.isEmpty(), problems + "; log: " + log);
        }
    }

    /** Index of the first log line starting with {@code prefix}; with nonEmpty, one not ending "[]". */
    private static int indexOf(List<String> log, String prefix, boolean nonEmpty) {
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).startsWith(prefix) && (!nonEmpty || !log.get(i).endsWith("[]"))) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Static membership (group.instance.id): the members show their instance ids; a member that
     * closes and comes back with the same id before its session ends gets the same partitions
     * back, and the other member is not disturbed.
     */
    @Test
    void staticMembershipKeepsAssignmentAcrossRestart() throws Exception {
        String topic = Kit.uniq("j-static");
        String group = Kit.uniq("g-static");
        Kit.createTopic(admin, topic, 4);
        List<String> log = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        Tracker ta = new Tracker("A", log, problems);
        Tracker tb = new Tracker("B", log, problems);
        Set<TopicPartition> aHad;
        try (KafkaConsumer<String, String> b = member(group, Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "inst-b"))) {
            b.subscribe(List.of(topic), tb);
            try (KafkaConsumer<String, String> a = member(group, Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "inst-a"))) {
                a.subscribe(List.of(topic), ta);
                pollAllUntil("A and B have 2 partitions each", () -> a.assignment().size() == 2
                        && b.assignment().size() == 2 && ta.owned.size() == 2 && tb.owned.size() == 2, a, b);
                aHad = new HashSet<>(a.assignment());
                ConsumerGroupDescription d = Kit.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
                assertEquals(Set.of("inst-a", "inst-b"), d.members().stream()
                        .map(m -> m.groupInstanceId().orElse("none")).collect(Collectors.toSet()));
            }
            log.add("-- A closed");
            int mark = log.size();
            Tracker ta2 = new Tracker("A'", log, problems);
            try (KafkaConsumer<String, String> a2 = member(group, Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "inst-a"))) {
                a2.subscribe(List.of(topic), ta2);
                pollAllUntil("A' gets partitions", () -> !a2.assignment().isEmpty(), a2, b);
                // give B a few polls to see any rebalance the rejoin might have caused
                for (int i = 0; i < 5; i++) {
                    b.poll(Duration.ofMillis(100));
                    a2.poll(Duration.ofMillis(100));
                }
                assertEquals(aHad, a2.assignment(), "the restarted static member gets its partitions back; log: " + log);
                List<String> bEvents = log.subList(mark, log.size()).stream().filter(s -> s.startsWith("B ")).toList();
                assertEquals(List.of(), bEvents, "B is not disturbed; log: " + log);
                assertEquals(2, b.assignment().size());
            }
        }
        assertTrue(problems.isEmpty(), problems + "; log: " + log);
    }

    /** pause() stops records of a partition (buffered ones too) until resume(). */
    @Test
    void pauseAndResume() throws Exception {
        String topic = Kit.uniq("j-pause");
        String group = Kit.uniq("g-pause");
        Kit.createTopic(admin, topic, 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        produce(topic, 0, 5, "x");
        produce(topic, 1, 5, "y");
        try (KafkaConsumer<String, String> c = member(group)) {
            c.subscribe(List.of(topic));
            Kit.pollUntil(c, 10, Duration.ofSeconds(45));
            c.pause(List.of(p0));
            assertEquals(Set.of(p0), c.paused());
            produce(topic, 0, 5, "x2-");
            produce(topic, 1, 5, "y2-");
            List<ConsumerRecord<String, String>> recs = Kit.pollUntil(c, 5);
            // a few more polls: records of the paused partition must not come
            for (int i = 0; i < 5; i++) {
                c.poll(Duration.ofMillis(100)).forEach(recs::add);
            }
            assertEquals(5, recs.size());
            assertTrue(recs.stream().allMatch(r -> r.partition() == 1), "only the unpaused partition");
            c.resume(List.of(p0));
            assertEquals(Set.of(), c.paused());
            recs = Kit.pollUntil(c, 5);
            assertEquals(List.of(5L, 6L, 7L, 8L, 9L), recs.stream().map(ConsumerRecord::offset).toList());
            assertTrue(recs.stream().allMatch(r -> r.partition() == 0));
        }
    }

    /** wakeup() from another thread ends a long poll with WakeupException; the consumer goes on. */
    @Test
    void wakeupInterruptsPoll() throws Exception {
        String topic = Kit.uniq("j-wake");
        String group = Kit.uniq("g-wake");
        Kit.createTopic(admin, topic, 1);
        ScheduledExecutorService ex = Executors.newSingleThreadScheduledExecutor();
        try (KafkaConsumer<String, String> c = member(group)) {
            c.subscribe(List.of(topic));
            pollAllUntil("assigned", () -> !c.assignment().isEmpty(), c);
            ex.schedule(c::wakeup, 500, TimeUnit.MILLISECONDS);
            assertThrows(WakeupException.class, () -> c.poll(Duration.ofSeconds(60)));
            c.wakeup();
            assertThrows(WakeupException.class, () -> c.poll(Duration.ofSeconds(60)),
                    "a wakeup before poll makes the next poll throw");
            produce(topic, 0, 1, "after-wakeup");
            List<ConsumerRecord<String, String>> recs = Kit.pollUntil(c, 1);
            assertEquals("after-wakeup0", recs.get(0).value());
        } finally {
            ex.shutdownNow();
        }
    }

    /** close() leaves the group at once: no member is left, the group is Empty. */
    @Test
    void closeLeavesGroup() throws Exception {
        String topic = Kit.uniq("j-close");
        String group = Kit.uniq("g-close");
        Kit.createTopic(admin, topic, 2);
        try (KafkaConsumer<String, String> c = member(group, Map.of(ConsumerConfig.CLIENT_ID_CONFIG, "closer"))) {
            c.subscribe(List.of(topic));
            pollAllUntil("assigned", () -> c.assignment().size() == 2, c);
            ConsumerGroupDescription d = Kit.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(1, d.members().size());
            MemberDescription m = d.members().iterator().next();
            assertEquals("closer", m.clientId());
            assertEquals(new HashSet<>(Kit.partitions(topic, 2)), m.assignment().topicPartitions());
            assertEquals(protocolName(), d.type().toString().toLowerCase(java.util.Locale.ROOT));
        }
        ConsumerGroupDescription d = Kit.get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
        assertEquals(List.of(), List.copyOf(d.members()), "no member left after close()");
        assertEquals(GroupState.EMPTY, d.groupState());
        assertNotNull(d.coordinator());
    }
}
