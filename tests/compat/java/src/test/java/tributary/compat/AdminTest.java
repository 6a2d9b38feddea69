package tributary.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static tributary.compat.Kit.failureOf;
import static tributary.compat.Kit.get;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeProducersResult.PartitionProducerState;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.GroupSubscribedToTopicException;
import org.apache.kafka.common.errors.InvalidConfigurationException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.InvalidReplicationFactorException;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.SecurityDisabledException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.TransactionalIdNotFoundException;
import org.apache.kafka.common.errors.UnknownMemberIdException;
import org.apache.kafka.common.errors.UnknownTopicIdException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The admin client: topics, configs, offsets, records, cluster, groups, transactions, features, ACLs. */
class AdminTest {
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
     * createTopics (with configs, validateOnly, and the errors for an existing topic, a bad config and
     * a replication factor above the broker count), listTopics, describeTopics, createPartitions
     * (and the error for shrinking), deleteTopics (and the error for an unknown topic).
     */
    @Test
    void topicLifecycle() throws Exception {
        String topic = Kit.uniq("j-adm-topic");
        get(admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1)
                .configs(Map.of("cleanup.policy", "compact", "retention.ms", "123456")))).all());
        Kit.waitUntil("the topic is listed", () -> names().contains(topic));
        TopicDescription d = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic);
        assertEquals(topic, d.name());
        assertFalse(d.isInternal());
        assertNotEquals(org.apache.kafka.common.Uuid.ZERO_UUID, d.topicId());
        assertEquals(3, d.partitions().size());
        for (TopicPartitionInfo p : d.partitions()) {
            assertNotNull(p.leader());
            assertEquals(List.of(p.leader()), p.replicas());
            assertEquals(List.of(p.leader()), p.isr());
        }
        assertEquals(List.of(0, 1, 2), d.partitions().stream().map(TopicPartitionInfo::partition).toList());

        Throwable e = failureOf(admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all());
        assertInstanceOf(TopicExistsException.class, e);

        String never = Kit.uniq("j-adm-validate");
        get(admin.createTopics(List.of(new NewTopic(never, 2, (short) 1)), new CreateTopicsOptions().validateOnly(true)).all());
        assertFalse(names().contains(never), "validateOnly creates nothing");

        e = failureOf(admin.createTopics(List.of(new NewTopic(Kit.uniq("j-adm-bad"), 1, (short) 1)
                .configs(Map.of("retention.ms", "not-a-number")))).all());
        assertInstanceOf(InvalidConfigurationException.class, e);
        e = failureOf(admin.createTopics(List.of(new NewTopic(Kit.uniq("j-adm-bad"), 1, (short) 1)
                .configs(Map.of("no.such.config", "1")))).all());
        assertInstanceOf(InvalidConfigurationException.class, e);
        e = failureOf(admin.createTopics(List.of(new NewTopic(Kit.uniq("j-adm-rf"), 1, (short) 3))).all());
        assertInstanceOf(InvalidReplicationFactorException.class, e);

        get(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all());
        Kit.waitUntil("5 partitions", () -> {
            try {
                return get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic).partitions().size() == 5;
            } catch (Exception x) {
                return false;
            }
        });
        e = failureOf(admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all());
        assertInstanceOf(InvalidPartitionsException.class, e);

        Set<String> listed = get(admin.listTopics().names());
        assertTrue(listed.stream().noneMatch(n -> n.startsWith("__")), "internal topics are not listed by default");
        assertTrue(get(admin.listTopics(new ListTopicsOptions().listInternal(true)).listings()).stream()
                .filter(l -> l.name().equals(topic)).allMatch(l -> !l.isInternal()));

        get(admin.deleteTopics(List.of(topic)).all());
        Kit.waitUntil("the topic is gone", () -> !names().contains(topic));
        e = failureOf(admin.describeTopics(List.of(topic)).allTopicNames());
        assertInstanceOf(UnknownTopicOrPartitionException.class, e);
        e = failureOf(admin.deleteTopics(List.of(topic)).all());
        assertInstanceOf(UnknownTopicOrPartitionException.class, e);
    }

    /** describeTopics by topic id (Metadata v12 asking by id), and UNKNOWN_TOPIC_ID for an unknown id. */
    @Test
    void describeTopicsById() throws Exception {
        String topic = Kit.uniq("j-adm-byid");
        Kit.createTopic(admin, topic, 2);
        org.apache.kafka.common.Uuid id = get(admin.describeTopics(List.of(topic)).allTopicNames()).get(topic).topicId();
        TopicDescription d = get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(id))).allTopicIds()).get(id);
        assertEquals(topic, d.name());
        assertEquals(id, d.topicId());
        assertEquals(2, d.partitions().size());
        Throwable e = failureOf(admin.describeTopics(TopicCollection.ofTopicIds(
                List.of(org.apache.kafka.common.Uuid.randomUuid()))).allTopicIds());
        assertInstanceOf(UnknownTopicIdException.class, e);
    }

    private static Set<String> names() {
        try {
            return admin.listTopics().names().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    private static Config describe(ConfigResource r) throws Exception {
        return get(admin.describeConfigs(List.of(r)).all()).get(r);
    }

    private static void alter(ConfigResource r, AlterConfigOp... ops) throws Exception {
        get(admin.incrementalAlterConfigs(Map.of(r, List.of(ops))).all());
    }

    private static AlterConfigOp op(String name, String value, AlterConfigOp.OpType type) {
        return new AlterConfigOp(new ConfigEntry(name, value), type);
    }

    /**
     * describeConfigs of a topic (values and sources) and incrementalAlterConfigs SET, DELETE,
     * APPEND, SUBTRACT, validateOnly, and INVALID_CONFIG for a bad value or an unknown name.
     */
    @Test
    void topicConfigs() throws Exception {
        String topic = Kit.uniq("j-adm-cfg");
        Kit.createTopic(admin, topic, 1, Map.of("retention.ms", "123456", "cleanup.policy", "compact"));
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config c = describe(r);
        assertEquals("123456", c.get("retention.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, c.get("retention.ms").source());
        assertFalse(c.get("retention.ms").isDefault());
        assertEquals("compact", c.get("cleanup.policy").value());
        ConfigEntry maxBytes = c.get("max.message.bytes");
        assertEquals("1048588", maxBytes.value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, maxBytes.source());
        assertTrue(maxBytes.isDefault());
        assertEquals(ConfigEntry.ConfigType.INT, maxBytes.type());
        assertFalse(maxBytes.isSensitive());

        alter(r, op("retention.ms", "200000", AlterConfigOp.OpType.SET),
                op("cleanup.policy", "delete", AlterConfigOp.OpType.APPEND));
        awaitValue(r, "retention.ms", "200000");
        assertEquals("compact,delete", describe(r).get("cleanup.policy").value());

        alter(r, op("cleanup.policy", "compact", AlterConfigOp.OpType.SUBTRACT),
                op("retention.ms", null, AlterConfigOp.OpType.DELETE));
        awaitValue(r, "cleanup.policy", "delete");
        c = describe(r);
        assertEquals("604800000", c.get("retention.ms").value(), "back to the default");
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, c.get("retention.ms").source());

        get(admin.incrementalAlterConfigs(Map.of(r, List.of(op("retention.ms", "999", AlterConfigOp.OpType.SET))),
                new AlterConfigsOptions().validateOnly(true)).all());
        // a real change made after it: once that shows, the validateOnly one would have too
        alter(r, op("segment.ms", "3600000", AlterConfigOp.OpType.SET));
        awaitValue(r, "segment.ms", "3600000");
        assertEquals("604800000", describe(r).get("retention.ms").value(), "validateOnly changes nothing");

        Throwable e = failureOf(admin.incrementalAlterConfigs(Map.of(r, List.of(
                op("retention.ms", "abc", AlterConfigOp.OpType.SET)))).all());
        assertInstanceOf(InvalidConfigurationException.class, e);
        e = failureOf(admin.incrementalAlterConfigs(Map.of(r, List.of(
                op("no.such.config", "1", AlterConfigOp.OpType.SET)))).all());
        assertInstanceOf(InvalidConfigurationException.class, e);

        ConfigResource missing = new ConfigResource(ConfigResource.Type.TOPIC, Kit.uniq("j-adm-missing"));
        var both = admin.describeConfigs(List.of(r, missing)).values();
        assertEquals("delete", get(both.get(r)).get("cleanup.policy").value());
        e = failureOf(both.get(missing));
        assertInstanceOf(UnknownTopicOrPartitionException.class, e);
    }

    /**
     * describeConfigs and incrementalAlterConfigs on the broker: a per-broker value
     * (DYNAMIC_BROKER_CONFIG), a cluster-wide default (DYNAMIC_DEFAULT_BROKER_CONFIG), both removed
     * again; a config that cannot change at run time is refused.
     */
    @Test
    void brokerConfigs() throws Exception {
        Node node = get(admin.describeCluster().nodes()).iterator().next();
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, node.idString());
        ConfigResource cluster = new ConfigResource(ConfigResource.Type.BROKER, "");
        Config c = describe(broker);
        assertNotNull(c.get("num.partitions"), "num.partitions described");
        assertNotNull(c.get("log.retention.bytes"));
        assertEquals("-1", c.get("log.retention.bytes").value());
        String big = "1099511627776";
        try {
            alter(broker, op("log.retention.bytes", big, AlterConfigOp.OpType.SET));
            awaitValue(broker, "log.retention.bytes", big);
            assertEquals(ConfigEntry.ConfigSource.DYNAMIC_BROKER_CONFIG, describe(broker).get("log.retention.bytes").source());
        } finally {
            alter(broker, op("log.retention.bytes", null, AlterConfigOp.OpType.DELETE));
        }
        awaitValue(broker, "log.retention.bytes", "-1");
        try {
            alter(cluster, op("log.retention.bytes", big, AlterConfigOp.OpType.SET));
            awaitValue(broker, "log.retention.bytes", big);
            assertEquals(ConfigEntry.ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG, describe(broker).get("log.retention.bytes").source());
            assertEquals(big, describe(cluster).get("log.retention.bytes").value());
        } finally {
            alter(cluster, op("log.retention.bytes", null, AlterConfigOp.OpType.DELETE));
        }
        awaitValue(broker, "log.retention.bytes", "-1");
        Throwable e = failureOf(admin.incrementalAlterConfigs(Map.of(broker, List.of(
                op("log.dirs", "/nowhere", AlterConfigOp.OpType.SET)))).all());
        assertInstanceOf(InvalidRequestException.class, e);
    }

    /**
     * Configs change through the metadata log: Kafka's broker applies a change a moment after the
     * call returns, so reads after a change wait for it.
     */
    private static void awaitValue(ConfigResource r, String name, String value) {
        Kit.waitUntil(name + " = " + value, () -> {
            try {
                return value.equals(describe(r).get(name).value());
            } catch (Exception e) {
                return false;
            }
        });
    }

    /** listOffsets earliest, latest, max timestamp and by time; deleteRecords moves the start. */
    @Test
    void listOffsetsAndDeleteRecords() throws Exception {
        String topic = Kit.uniq("j-adm-offs");
        Kit.createTopic(admin, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long t0 = System.currentTimeMillis() - 100_000L;
        long[] ts = {100, 300, 200, 250, 400, 350, 500, 450, 600, 550};
        try (KafkaProducer<String, String> p = Kit.producer()) {
            for (int i = 0; i < ts.length; i++) {
                p.send(new ProducerRecord<>(topic, 0, t0 + ts[i], "k", "v" + i));
            }
            p.flush();
        }
        assertEquals(0, offset(tp, OffsetSpec.earliest()).offset());
        assertEquals(10, offset(tp, OffsetSpec.latest()).offset());
        ListOffsetsResultInfo max = offset(tp, OffsetSpec.maxTimestamp());
        assertEquals(8, max.offset());
        assertEquals(t0 + 600, max.timestamp());
        ListOffsetsResultInfo byTime = offset(tp, OffsetSpec.forTimestamp(t0 + 260));
        assertEquals(1, byTime.offset(), "first offset whose timestamp is at or after the time");
        assertEquals(t0 + 300, byTime.timestamp());
        assertEquals(-1, offset(tp, OffsetSpec.forTimestamp(t0 + 10_000)).offset(), "no such record");

        var deleted = get(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks().get(tp));
        assertEquals(4, deleted.lowWatermark());
        assertEquals(4, offset(tp, OffsetSpec.earliest()).offset());
        assertEquals(4, offset(tp, OffsetSpec.forTimestamp(t0)).offset(), "by time skips deleted records");
        try (KafkaConsumer<String, String> c = Kit.plainConsumer()) {
            assertEquals(4L, c.beginningOffsets(List.of(tp)).get(tp));
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            assertEquals(4, c.position(tp));
        }
        Throwable e = failureOf(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all());
        assertInstanceOf(OffsetOutOfRangeException.class, e);
        var all = get(admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(-1))).lowWatermarks().get(tp));
        assertEquals(10, all.lowWatermark(), "-1 deletes up to the high watermark");
    }

    private static ListOffsetsResultInfo offset(TopicPartition tp, OffsetSpec spec) throws Exception {
        return get(admin.listOffsets(Map.of(tp, spec)).partitionResult(tp));
    }

    /** describeCluster: the cluster id, one node at the bootstrap address, a controller. */
    @Test
    void describeCluster() throws Exception {
        DescribeClusterResult r = admin.describeCluster();
        String id = get(r.clusterId());
        assertNotNull(id);
        assertFalse(id.isEmpty());
        Collection<Node> nodes = get(r.nodes());
        assertEquals(1, nodes.size());
        Node n = nodes.iterator().next();
        assertEquals(Kit.BOOTSTRAP, n.host() + ":" + n.port());
        assertTrue(n.id() >= 0);
        Node controller = get(r.controller());
        assertNotNull(controller);
        assertEquals(n.id(), controller.id());
        assertEquals(id, get(admin.describeCluster().clusterId()), "stable cluster id");
    }

    /**
     * Consumer groups: list (with state and type), describe, list/alter/delete offsets and delete
     * groups, with Kafka's errors for a group that still has members and an unknown group.
     */
    @Test
    void consumerGroupsClassic() throws Exception {
        consumerGroups("classic", "range", GroupType.CLASSIC);
    }

    /** The same for a group of the consumer protocol (KIP-848), the assignment made by the broker. */
    @Test
    void consumerGroupsConsumerProtocol() throws Exception {
        consumerGroups("consumer", "uniform", GroupType.CONSUMER);
    }

    @SuppressWarnings("deprecation")
    private void consumerGroups(String protocol, String assignor, GroupType type) throws Exception {
        String topic = Kit.uniq("j-adm-grp");
        String group = Kit.uniq("g-adm");
        Kit.createTopic(admin, topic, 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (KafkaProducer<String, String> p = Kit.producer()) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, i % 2, "k", "v" + i));
            }
            p.flush();
        }
        Map<String, Object> cfg = new HashMap<>();
        cfg.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        cfg.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        try (KafkaConsumer<String, String> c = Kit.consumer(cfg)) {
            c.subscribe(List.of(topic));
            Kit.pollUntil(c, 10, Duration.ofSeconds(45));
            c.commitSync(Map.of(p0, new OffsetAndMetadata(5, "m0"), p1, new OffsetAndMetadata(3, "m1")));

            ConsumerGroupListing l = get(admin.listConsumerGroups().all()).stream()
                    .filter(g -> g.groupId().equals(group)).findFirst().orElseThrow();
            assertEquals(Optional.of(GroupState.STABLE), l.groupState());
            assertEquals(Optional.of(type), l.type());
            assertFalse(l.isSimpleConsumerGroup());
            ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(type, d.type());
            assertEquals(1, d.members().size());
            assertEquals(Set.of(p0, p1), d.members().iterator().next().assignment().topicPartitions());
            assertEquals(assignor, d.partitionAssignor());
            Throwable e = failureOf(admin.deleteConsumerGroups(List.of(group)).all());
            assertInstanceOf(GroupNotEmptyException.class, e);
            e = failureOf(admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(1))).all());
            assertInstanceOf(UnknownMemberIdException.class, e);
            e = failureOf(admin.deleteConsumerGroupOffsets(group, Set.of(p0)).all());
            assertInstanceOf(GroupSubscribedToTopicException.class, e);
        }
        ConsumerGroupListing l = get(admin.listConsumerGroups().all()).stream()
                .filter(g -> g.groupId().equals(group)).findFirst().orElseThrow();
        assertEquals(Optional.of(GroupState.EMPTY), l.groupState());

        Map<TopicPartition, OffsetAndMetadata> offs = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
        assertEquals(Map.of(p0, new OffsetAndMetadata(5, Optional.empty(), "m0"), p1, new OffsetAndMetadata(3, Optional.empty(), "m1")),
                withoutEpochs(offs));

        get(admin.alterConsumerGroupOffsets(group, Map.of(p0, new OffsetAndMetadata(1, "altered"))).all());
        offs = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
        assertEquals(1, offs.get(p0).offset());
        assertEquals("altered", offs.get(p0).metadata());
        assertEquals(3, offs.get(p1).offset());

        get(admin.deleteConsumerGroupOffsets(group, Set.of(p1)).all());
        offs = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata());
        assertEquals(Set.of(p0), offs.keySet());

        get(admin.deleteConsumerGroups(List.of(group)).all());
        assertTrue(get(admin.listConsumerGroups().all()).stream().noneMatch(g -> g.groupId().equals(group)));
        Throwable e = failureOf(admin.deleteConsumerGroups(List.of(group)).all());
        assertInstanceOf(GroupIdNotFoundException.class, e);
        e = failureOf(admin.describeConsumerGroups(List.of(group)).describedGroups().get(group));
        assertInstanceOf(GroupIdNotFoundException.class, e);
    }

    private static Map<TopicPartition, OffsetAndMetadata> withoutEpochs(Map<TopicPartition, OffsetAndMetadata> m) {
        return m.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey,
                e -> new OffsetAndMetadata(e.getValue().offset(), Optional.empty(), e.getValue().metadata())));
    }

    private static KafkaProducer<String, String> txnProducer(String id) {
        return Kit.producer(Map.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id,
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60000));
    }

    /**
     * listTransactions, describeTransactions and describeProducers on an open transaction;
     * abortTransaction ends it on the partition (the last stable offset moves past it);
     * fenceProducers fences a producer (its commit fails with ProducerFencedException).
     */
    @Test
    void transactions() throws Exception {
        String topic = Kit.uniq("j-adm-txn");
        String txnId = Kit.uniq("t-adm");
        Kit.createTopic(admin, topic, 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = txnProducer(txnId)) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "k", "open")).get(30, TimeUnit.SECONDS);

            TransactionListing listing = get(admin.listTransactions().all()).stream()
                    .filter(t -> t.transactionalId().equals(txnId)).findFirst().orElseThrow();
            assertEquals(TransactionState.ONGOING, listing.state());
            TransactionDescription d = get(admin.describeTransactions(List.of(txnId)).description(txnId));
            assertEquals(TransactionState.ONGOING, d.state());
            assertEquals(listing.producerId(), d.producerId());
            assertEquals(Set.of(tp), d.topicPartitions());
            assertEquals(60000, d.transactionTimeoutMs());
            assertTrue(d.transactionStartTimeMs().isPresent());
            assertTrue(get(admin.listTransactions(new org.apache.kafka.clients.admin.ListTransactionsOptions()
                    .filterProducerIds(Set.of(d.producerId()))).all()).stream()
                    .anyMatch(t -> t.transactionalId().equals(txnId)), "listTransactions by producer id");

            PartitionProducerState ps = get(admin.describeProducers(List.of(tp)).partitionResult(tp));
            final ProducerState open = ps.activeProducers().stream().filter(s -> s.producerId() == d.producerId())
                    .findFirst().orElseThrow();
            assertEquals(d.producerEpoch(), open.producerEpoch());
            assertEquals(0, open.lastSequence());
            assertEquals(java.util.OptionalLong.of(0), open.currentTransactionStartOffset());

            try (KafkaConsumer<String, String> rc = Kit.consumer(Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"))) {
                assertEquals(0L, rc.endOffsets(List.of(tp)).get(tp), "the open transaction holds the LSO");
                get(admin.abortTransaction(new AbortTransactionSpec(tp, d.producerId(), (short) d.producerEpoch(),
                        open.coordinatorEpoch().orElse(-1))).all());
                Kit.waitUntil("the LSO moves past the aborted transaction", () -> rc.endOffsets(List.of(tp)).get(tp) == 2L);
            }
            ProducerState state = get(admin.describeProducers(List.of(tp)).partitionResult(tp)).activeProducers().stream()
                    .filter(s -> s.producerId() == d.producerId()).findFirst().orElseThrow();
            assertEquals(java.util.OptionalLong.empty(), state.currentTransactionStartOffset());
        }

        Throwable e = failureOf(admin.describeTransactions(List.of(Kit.uniq("t-none"))).all());
        assertInstanceOf(TransactionalIdNotFoundException.class, e);

        String fenced = Kit.uniq("t-fence");
        try (KafkaProducer<String, String> p = txnProducer(fenced)) {
            p.initTransactions();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "k", "doomed")).get(30, TimeUnit.SECONDS);
            short before = (short) get(admin.describeTransactions(List.of(fenced)).description(fenced)).producerEpoch();
            get(admin.fenceProducers(List.of(fenced)).all());
            TransactionDescription after = get(admin.describeTransactions(List.of(fenced)).description(fenced));
            assertTrue(after.producerEpoch() > before, "fencing bumps the epoch");
            Exception x = assertThrows(Exception.class, p::commitTransaction);
            Kit.assertCause(x, ProducerFencedException.class);
        }
    }

    /**
     * describeFeatures (ApiVersions v3+): a finalized-features epoch, every finalized feature within
     * the range the broker supports, and group.version at least 1 (the KIP-848 consumer protocol
     * that ConsumerKip848Test uses; Kafka 4 finalizes it by default).
     */
    @Test
    void describeFeatures() throws Exception {
        FeatureMetadata f = get(admin.describeFeatures().featureMetadata());
        assertTrue(f.finalizedFeaturesEpoch().isPresent(), "finalized epoch: " + f);
        assertFalse(f.finalizedFeatures().isEmpty(), "finalized: " + f);
        for (var e : f.finalizedFeatures().entrySet()) {
            var sup = f.supportedFeatures().get(e.getKey());
            assertNotNull(sup, e.getKey() + " is finalized but not supported: " + f);
            assertTrue(e.getValue().minVersionLevel() <= e.getValue().maxVersionLevel()
                    && e.getValue().maxVersionLevel() >= sup.minVersion()
                    && e.getValue().maxVersionLevel() <= sup.maxVersion(),
                    e.getKey() + " finalized within the supported range: " + f);
        }
        var group = f.finalizedFeatures().get("group.version");
        assertNotNull(group, "group.version finalized: " + f);
        assertTrue(group.maxVersionLevel() >= 1, "group.version >= 1: " + f);
    }

    /** Without an authorizer, the ACL calls fail with SecurityDisabledException, as Kafka's do. */
    @Test
    void aclCallsSayNoAuthorizer() throws Exception {
        Throwable e = failureOf(admin.describeAcls(AclBindingFilter.ANY).values());
        assertInstanceOf(SecurityDisabledException.class, e);
        AclBinding binding = new AclBinding(new ResourcePattern(ResourceType.TOPIC, "t", PatternType.LITERAL),
                new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
        e = failureOf(admin.createAcls(List.of(binding)).all());
        assertInstanceOf(SecurityDisabledException.class, e);
        e = failureOf(admin.deleteAcls(List.of(AclBindingFilter.ANY)).all());
        assertInstanceOf(SecurityDisabledException.class, e);
    }
}
