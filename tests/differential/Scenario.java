import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.AlterConfigsOptions;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.CreatePartitionsOptions;
import org.apache.kafka.clients.admin.CreateTopicsOptions;
import org.apache.kafka.clients.admin.CreateTopicsResult;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.DescribeConfigsOptions;
import org.apache.kafka.clients.admin.DescribeTopicsOptions;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.ListTransactionsOptions;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.MemberToRemove;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.QuorumInfo;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicCollection;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.TopicPartitionReplica;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownServerException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.message.AddOffsetsToTxnRequestData;
import org.apache.kafka.common.message.AddOffsetsToTxnResponseData;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData;
import org.apache.kafka.common.message.AddPartitionsToTxnResponseData;
import org.apache.kafka.common.message.ApiVersionsRequestData;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatResponseData;
import org.apache.kafka.common.message.DescribeGroupsRequestData;
import org.apache.kafka.common.message.DescribeGroupsResponseData;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.EndTxnResponseData;
import org.apache.kafka.common.message.HeartbeatRequestData;
import org.apache.kafka.common.message.HeartbeatResponseData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.InitProducerIdResponseData;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.JoinGroupResponseData;
import org.apache.kafka.common.message.LeaveGroupRequestData;
import org.apache.kafka.common.message.LeaveGroupResponseData;
import org.apache.kafka.common.message.ListOffsetsRequestData;
import org.apache.kafka.common.message.ListOffsetsResponseData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetCommitResponseData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.OffsetFetchResponseData;
import org.apache.kafka.common.message.OffsetForLeaderEpochRequestData;
import org.apache.kafka.common.message.OffsetForLeaderEpochResponseData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.message.SyncGroupResponseData;
import org.apache.kafka.common.message.TxnOffsetCommitRequestData;
import org.apache.kafka.common.message.TxnOffsetCommitResponseData;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.quota.ClientQuotaAlteration;
import org.apache.kafka.common.quota.ClientQuotaEntity;
import org.apache.kafka.common.quota.ClientQuotaFilter;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The differential scenario: one fixed list of steps (good and bad requests) sent through the
 * Java Admin, Producer and Consumer (and, for requests no well-behaved client sends, through
 * {@link Raw}) to one bootstrap address. Each step prints one line, {@code NAME | RESULT}, into
 * the transcript, with everything that differs from run to run masked (the run's unique name
 * part, producer and member ids, hosts and ports, wall-clock timestamps). Running it against
 * Apache Kafka and against Tributary and diffing the two transcripts is the differential test
 * (scripts/differential.sh).
 *
 * Usage: java Scenario BOOTSTRAP [TRANSCRIPT [NOTES]]
 *   TRANSCRIPT  the compared lines (default: standard output)
 *   NOTES       the same lines plus each exception's message (informational, not compared)
 * Progress (step name and duration) goes to standard error.
 */
public final class Scenario {
    static String bootstrap;
    static String run;
    static PrintStream transcript;
    static PrintStream notes;
    static Admin admin;
    static final Set<String> names = new HashSet<>();
    static final ExecutorService exec = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "step");
        t.setDaemon(true);
        return t;
    });
    /** Step timeout: every client call inside has its own shorter bound. */
    static final long STEP_TIMEOUT_S = 150;
    static final Duration POLL = Duration.ofMillis(200);
    /**
     * Record timestamps are BASE_TS + fixed steps, so listOffsets by time is deterministic; the base
     * is ten minutes before the run (old enough to be in the past, young enough that no retention
     * check removes the records), printed as "base+N".
     */
    static final long BASE_TS = (System.currentTimeMillis() / 1000) * 1000 - 600_000;

    interface Body {
        Object call() throws Exception;
    }

    // ---------------------------------------------------------------- harness

    static void step(String name, Body body) {
        step(name, false, body);
    }

    /** A step whose exception message is part of the compared line (where the text matters). */
    static void stepMsg(String name, Body body) {
        step(name, true, body);
    }

    static void step(String name, boolean compareMessage, Body body) {
        if (!names.add(name)) throw new IllegalStateException("duplicate step name " + name);
        long t0 = System.nanoTime();
        Future<Object> f = exec.submit(body::call);
        String result;
        String message = null;
        try {
            Object r = f.get(STEP_TIMEOUT_S, TimeUnit.SECONDS);
            result = "ok" + (r == null ? "" : " " + r);
        } catch (TimeoutException e) {
            f.cancel(true);
            result = "TIMEOUT";
        } catch (ExecutionException e) {
            Throwable t = unwrap(e.getCause());
            result = error(t);
            message = t.getMessage();
            if (compareMessage) result += " \"" + message + "\"";
        } catch (InterruptedException e) {
            throw new RuntimeException(e);
        }
        String line = mask(name + " | " + result);
        transcript.println(line);
        transcript.flush();
        notes.println(line + (message != null && !compareMessage ? "   # " + mask(message) : ""));
        notes.flush();
        System.err.printf("%-55s %5d ms%n", name, (System.nanoTime() - t0) / 1_000_000);
    }

    static Throwable unwrap(Throwable t) {
        while (t.getCause() != null && (t instanceof ExecutionException || t instanceof CompletionException
                || t.getClass() == KafkaException.class)) {
            t = t.getCause();
        }
        return t;
    }

    static String error(Throwable t) {
        Errors e = Errors.forException(t);
        String s = "ERR " + t.getClass().getSimpleName();
        if (e != Errors.UNKNOWN_SERVER_ERROR || t instanceof UnknownServerException) s += " " + e.name();
        return s;
    }

    static String mask(String s) {
        s = s.replace(run, "<run>");
        s = s.replace(bootstrap, "<bootstrap>");
        s = s.replaceAll("127\\.0\\.0\\.1:\\d+", "<addr>");
        s = s.replaceAll("/127\\.0\\.0\\.1", "<host>");
        return s;
    }

    static <T> T get(KafkaFuture<T> f) throws Exception {
        return f.get(40, TimeUnit.SECONDS);
    }

    static <T> T get(Future<T> f) throws Exception {
        return f.get(40, TimeUnit.SECONDS);
    }

    static String t(String s) {
        return "dt-" + run + "-" + s;
    }

    static String g(String s) {
        return "dg-" + run + "-" + s;
    }

    static String x(String s) {
        return "dx-" + run + "-" + s;
    }

    static TopicPartition tp(String topic, int p) {
        return new TopicPartition(topic, p);
    }

    static String err(short code) {
        return Errors.forCode(code).name();
    }

    static String ids(Collection<Node> nodes) {
        if (nodes == null) return "null";
        return nodes.stream().map(n -> String.valueOf(n.id())).collect(Collectors.joining(",", "[", "]"));
    }

    static String tps(Collection<TopicPartition> c) {
        return new TreeSet<>(c.stream().map(TopicPartition::toString).collect(Collectors.toList())).toString();
    }

    static <K extends Comparable<K>, V> String sorted(Map<K, V> m) {
        return new TreeMap<>(m).toString();
    }

    static Admin newAdmin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "differential-admin");
        return Admin.create(p);
    }

    static KafkaProducer<String, String> producer(Object... kv) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 30000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        for (int i = 0; i < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(Object... kv) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15000);
        for (int i = 0; i < kv.length; i += 2) p.put(kv[i], kv[i + 1]);
        return new KafkaConsumer<>(p);
    }

    /** Polls until {@code n} records arrived or 30 s passed; returns what arrived. */
    static List<ConsumerRecord<String, String>> pollN(KafkaConsumer<String, String> c, int n) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 30_000;
        while (got.size() < n && System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(POLL)) got.add(r);
        }
        return got;
    }

    /** Polls for {@code ms} and returns everything (to see that nothing more comes). */
    static List<ConsumerRecord<String, String>> pollFor(KafkaConsumer<String, String> c, long ms) {
        List<ConsumerRecord<String, String>> got = new ArrayList<>();
        long deadline = System.currentTimeMillis() + ms;
        while (System.currentTimeMillis() < deadline) {
            for (ConsumerRecord<String, String> r : c.poll(POLL)) got.add(r);
        }
        return got;
    }

    static String values(List<ConsumerRecord<String, String>> rs) {
        return rs.stream().map(r -> r.offset() + ":" + r.value()).collect(Collectors.joining(",", "[", "]"));
    }

    /** Polls the consumers until together they own {@code total} partitions, each owning some. */
    @SafeVarargs
    static boolean awaitAssignment(int total, long ms, KafkaConsumer<String, String>... cs) {
        long deadline = System.currentTimeMillis() + ms;
        int stableRounds = 0;
        while (System.currentTimeMillis() < deadline) {
            int sum = 0;
            boolean allOwn = true;
            for (KafkaConsumer<String, String> c : cs) {
                c.poll(POLL);
                sum += c.assignment().size();
                allOwn &= !c.assignment().isEmpty();
            }
            if (sum == total && allOwn) {
                if (++stableRounds >= 3) return true;
            } else {
                stableRounds = 0;
            }
        }
        return false;
    }

    /** Polls {@code check} every 200 ms until it is true or {@code ms} passed. */
    static boolean until(long ms, Supplier<Boolean> check) throws InterruptedException {
        long deadline = System.currentTimeMillis() + ms;
        while (System.currentTimeMillis() < deadline) {
            try {
                if (check.get()) return true;
            } catch (RuntimeException ignored) {
                // not there yet
            }
            Thread.sleep(200);
        }
        return check.get();
    }

    static void createTopic(String name, int partitions, Map<String, String> configs) throws Exception {
        get(admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1).configs(configs))).all());
        awaitTopic(name);
    }

    /**
     * Waits (at most 10 s) until a created topic is visible to describeTopics and describeConfigs:
     * Kafka answers CreateTopics when the controller committed the topic, and its broker learns of
     * it a moment later.
     */
    static void awaitTopic(String name) throws InterruptedException {
        until(10_000, () -> {
            try {
                get(admin.describeTopics(List.of(name)).allTopicNames());
                get(admin.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, name))).all());
                return true;
            } catch (Exception e) {
                return false;
            }
        });
    }

    static void close(AutoCloseable c) {
        if (c == null) return;
        try {
            if (c instanceof KafkaConsumer) ((KafkaConsumer<?, ?>) c).close(Duration.ofSeconds(10));
            else if (c instanceof KafkaProducer) ((KafkaProducer<?, ?>) c).close(Duration.ofSeconds(10));
            else c.close();
        } catch (Exception ignored) {
            // closing is not under test here
        }
    }

    // ---------------------------------------------------------------- main

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        transcript = args.length > 1 ? new PrintStream(new FileOutputStream(args[1]), true, StandardCharsets.UTF_8) : System.out;
        notes = args.length > 2 ? new PrintStream(new FileOutputStream(args[2]), true, StandardCharsets.UTF_8)
                : new PrintStream(java.io.OutputStream.nullOutputStream());
        run = String.format("%08x", ThreadLocalRandom.current().nextInt() & 0x7fffffff);
        admin = newAdmin();
        try {
            Cluster.run();
            Topics.run();
            Configs.run();
            Produce.run();
            Offsets.run();
            Consume.run();
            ClassicGroups.run();
            ConsumerGroups.run();
            Transactions.run();
            RawTxn.run();
            Internal.run();
        } finally {
            admin.close(Duration.ofSeconds(10));
        }
        transcript.close();
        notes.close();
        System.exit(0);
    }

    // ---------------------------------------------------------------- cluster-level APIs

    static final class Cluster {
        static void run() {
            step("cluster.describe", () -> {
                DescribeClusterResult r = admin.describeCluster();
                Collection<Node> nodes = get(r.nodes());
                Node controller = get(r.controller());
                String clusterId = get(r.clusterId());
                return "nodes=" + ids(nodes) + " controller=" + (controller == null ? "none" : controller.id())
                        + " clusterId=" + (clusterId == null || clusterId.isEmpty() ? "missing" : "<id>")
                        + " hosts=" + nodes.stream().map(n -> n.host() + ":" + n.port()).collect(Collectors.toList())
                        + " authorizedOperations=" + get(r.authorizedOperations());
            });
            step("cluster.describe.authorizedOperations", () -> {
                Set<AclOperation> ops = get(admin.describeCluster(
                        new DescribeClusterOptions().includeAuthorizedOperations(true)).authorizedOperations());
                return ops == null ? "null" : new TreeSet<>(ops).toString();
            });
            step("features.describe.finalized", () -> {
                FeatureMetadata m = get(admin.describeFeatures().featureMetadata());
                return new TreeMap<>(m.finalizedFeatures().entrySet().stream().collect(Collectors.toMap(
                        Map.Entry::getKey, e -> e.getValue().minVersionLevel() + ".." + e.getValue().maxVersionLevel())));
            });
            step("features.describe.supported", () -> {
                FeatureMetadata m = get(admin.describeFeatures().featureMetadata());
                return new TreeMap<>(m.supportedFeatures().entrySet().stream().collect(Collectors.toMap(
                        Map.Entry::getKey, e -> e.getValue().minVersion() + ".." + e.getValue().maxVersion())));
            });
            step("features.describe.epoch", () -> {
                FeatureMetadata m = get(admin.describeFeatures().featureMetadata());
                return m.finalizedFeaturesEpoch().isPresent() ? "present" : "absent";
            });
            step("features.update.unknownFeature", () -> {
                get(admin.updateFeatures(Map.of("no.such.feature",
                        new FeatureUpdate((short) 1, FeatureUpdate.UpgradeType.UPGRADE)),
                        new UpdateFeaturesOptions().validateOnly(true)).all());
                return null;
            });
            step("metadataQuorum.describe", () -> {
                QuorumInfo q = get(admin.describeMetadataQuorum().quorumInfo());
                return "leader=" + q.leaderId() + " voters="
                        + q.voters().stream().map(v -> v.replicaId()).sorted().collect(Collectors.toList())
                        + " observers=" + q.observers().size();
            });
            step("logDirs.describe", () -> {
                var m = get(admin.describeLogDirs(List.of(1)).allDescriptions());
                var dirs = m.get(1);
                return "brokers=" + m.keySet() + " dirs=" + (dirs == null ? "none" : dirs.size())
                        + " errors=" + (dirs == null ? "-" : dirs.values().stream()
                                .map(d -> d.error() == null ? "none" : d.error().getClass().getSimpleName())
                                .collect(Collectors.toList()));
            });
            step("logDirs.describe.unknownBroker", () -> {
                get(admin.describeLogDirs(List.of(99), new org.apache.kafka.clients.admin.DescribeLogDirsOptions()
                        .timeoutMs(3000)).allDescriptions());
                return null;
            });
            step("acls.describe", () -> get(admin.describeAcls(AclBindingFilter.ANY).values()).size());
            stepMsg("acls.create", () -> {
                get(admin.createAcls(List.of(new AclBinding(
                        new ResourcePattern(ResourceType.TOPIC, t("acl"), PatternType.LITERAL),
                        new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW)))).all());
                return null;
            });
            stepMsg("acls.delete", () -> get(admin.deleteAcls(List.of(AclBindingFilter.ANY)).all()).size());
            step("clientQuotas.describe", () -> get(admin.describeClientQuotas(ClientQuotaFilter.all()).entities()).size());
            step("clientQuotas.alter.validateOnly", () -> {
                ClientQuotaEntity e = new ClientQuotaEntity(Map.of(ClientQuotaEntity.CLIENT_ID, "c-" + run));
                get(admin.alterClientQuotas(List.of(new ClientQuotaAlteration(e,
                        List.of(new ClientQuotaAlteration.Op("producer_byte_rate", 1024.0)))),
                        new org.apache.kafka.clients.admin.AlterClientQuotasOptions().validateOnly(true)).all());
                return null;
            });
            step("scramCredentials.describe", () -> get(admin.describeUserScramCredentials().all()).size());
            step("delegationTokens.describe", () -> get(admin.describeDelegationToken().delegationTokens()).size());
            step("clientMetricsResources.list", () -> get(admin.listClientMetricsResources().all()).size());
            step("configResources.list.brokers", () -> get(admin.listConfigResources(
                    Set.of(ConfigResource.Type.BROKER), new org.apache.kafka.clients.admin.ListConfigResourcesOptions()).all())
                    .stream().map(ConfigResource::name).sorted().collect(Collectors.toList()));
            step("raw.apiVersions.badSoftwareName", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (ApiVersionsResponseData) raw.send(new ApiVersionsRequestData()
                            .setClientSoftwareName("bad name!").setClientSoftwareVersion("1.0"), 3);
                    return err(r.errorCode());
                }
            });
            step("raw.apiVersions.v3", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (ApiVersionsResponseData) raw.send(new ApiVersionsRequestData()
                            .setClientSoftwareName("differential").setClientSoftwareVersion("1.0"), 3);
                    // the API set differs by design; what must hold is the answer's shape
                    return err(r.errorCode()) + " hasProduce=" + (r.apiKeys().find((short) 0) != null)
                            + " hasFetch=" + (r.apiKeys().find((short) 1) != null);
                }
            });
            step("raw.metadata.unknownTopic.noAutoCreate", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (MetadataResponseData) raw.send(new MetadataRequestData()
                            .setTopics(List.of(new MetadataRequestData.MetadataRequestTopic().setName(t("nometa"))))
                            .setAllowAutoTopicCreation(false), 12);
                    var tr = r.topics().iterator().next();
                    return err(tr.errorCode()) + " partitions=" + tr.partitions().size()
                            + " topicId=" + (Uuid.ZERO_UUID.equals(tr.topicId()) ? "zero" : "set");
                }
            });
            step("raw.metadata.invalidTopicName", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (MetadataResponseData) raw.send(new MetadataRequestData()
                            .setTopics(List.of(new MetadataRequestData.MetadataRequestTopic().setName("bad name!")))
                            .setAllowAutoTopicCreation(true), 12);
                    var tr = r.topics().iterator().next();
                    return err(tr.errorCode()) + " internal=" + tr.isInternal();
                }
            });
            step("raw.metadata.emptyTopicList", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (MetadataResponseData) raw.send(new MetadataRequestData()
                            .setTopics(List.of()).setAllowAutoTopicCreation(false), 12);
                    return "topics=" + r.topics().size() + " brokers=" + r.brokers().size()
                            + " controller=" + r.controllerId() + " clusterId=" + (r.clusterId() == null ? "null" : "<id>");
                }
            });
        }
    }

    // ---------------------------------------------------------------- topics

    static final class Topics {
        static Uuid mainId;

        static void run() {
            String main = t("main");
            stepMsg("topic.create", () -> {
                CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(main, 3, (short) 1)));
                get(r.all());
                awaitTopic(main);
                mainId = get(r.topicId(main));
                Config c = get(r.config(main));
                return "partitions=" + get(r.numPartitions(main)) + " rf=" + get(r.replicationFactor(main))
                        + " topicId=" + (mainId == null || Uuid.ZERO_UUID.equals(mainId) ? "missing" : "<id>")
                        + " cleanup.policy=" + c.get("cleanup.policy").value()
                        + " max.message.bytes=" + c.get("max.message.bytes").value();
            });
            step("topic.create.duplicate", () -> {
                get(admin.createTopics(List.of(new NewTopic(main, 3, (short) 1))).all());
                return null;
            });
            step("topic.create.duplicate.validateOnly", () -> {
                get(admin.createTopics(List.of(new NewTopic(main, 3, (short) 1)),
                        new CreateTopicsOptions().validateOnly(true)).all());
                return null;
            });
            step("topic.create.partitions.zero", () -> {
                createTopic(t("p0"), 0, Map.of());
                return null;
            });
            step("topic.create.partitions.negative", () -> {
                createTopic(t("pneg"), -7, Map.of());
                return null;
            });
            step("topic.create.partitions.huge", () -> {
                createTopic(t("phuge"), 2_000_000, Map.of());
                return null;
            });
            step("topic.create.rf.three", () -> {
                get(admin.createTopics(List.of(new NewTopic(t("rf3"), 1, (short) 3))).all());
                return null;
            });
            step("topic.create.rf.zero", () -> {
                get(admin.createTopics(List.of(new NewTopic(t("rf0"), 1, (short) 0))).all());
                return null;
            });
            step("topic.create.name.invalidChars", () -> {
                createTopic(t("bad name!"), 1, Map.of());
                return null;
            });
            step("topic.create.name.tooLong", () -> {
                createTopic(t("x".repeat(250)), 1, Map.of());
                return null;
            });
            step("topic.create.name.dot", () -> {
                createTopic(".", 1, Map.of());
                return null;
            });
            step("topic.create.name.dotdot", () -> {
                createTopic("..", 1, Map.of());
                return null;
            });
            step("topic.create.collision.first", () -> {
                createTopic(t("coll.x"), 1, Map.of());
                return null;
            });
            step("topic.create.collision.second", () -> {
                createTopic(t("coll_x"), 1, Map.of());
                return null;
            });
            step("topic.create.config.unknownKey", () -> {
                createTopic(t("cfgunknown"), 1, Map.of("no.such.config", "1"));
                return null;
            });
            step("topic.create.config.badEnum", () -> {
                createTopic(t("cfgenum"), 1, Map.of("cleanup.policy", "bogus"));
                return null;
            });
            step("topic.create.config.badNumber", () -> {
                createTopic(t("cfgnum"), 1, Map.of("retention.ms", "abc"));
                return null;
            });
            step("topic.create.config.outOfRange", () -> {
                createTopic(t("cfgrange"), 1, Map.of("min.insync.replicas", "0"));
                return null;
            });
            step("topic.create.config.badCompression", () -> {
                createTopic(t("cfgcomp"), 1, Map.of("compression.type", "brotli"));
                return null;
            });
            step("topic.create.config.segmentTooSmall", () -> {
                createTopic(t("cfgseg"), 1, Map.of("segment.bytes", "10"));
                return null;
            });
            step("topic.create.config.removedMessageFormat", () -> {
                createTopic(t("cfgmfv"), 1, Map.of("message.format.version", "3.0"));
                // created: remove it again, so that later listings do not repeat this difference
                get(admin.deleteTopics(List.of(t("cfgmfv"))).all());
                until(10_000, () -> {
                    try {
                        return !get(admin.listTopics().names()).contains(t("cfgmfv"));
                    } catch (Exception e) {
                        return false;
                    }
                });
                return "created";
            });
            step("topic.create.validateOnly", () -> {
                get(admin.createTopics(List.of(new NewTopic(t("vonly"), 2, (short) 1)),
                        new CreateTopicsOptions().validateOnly(true)).all());
                return null;
            });
            step("topic.create.validateOnly.notCreated", () ->
                    get(admin.listTopics().names()).contains(t("vonly")));
            step("topic.create.defaults", () -> {
                String n = t("defaults");
                CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(n, Optional.empty(), Optional.empty())));
                get(r.all());
                awaitTopic(n);
                return "partitions=" + get(r.numPartitions(n)) + " rf=" + get(r.replicationFactor(n));
            });
            step("topic.create.assignment", () -> {
                String n = t("assigned");
                CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(n, Map.of(0, List.of(1), 1, List.of(1)))));
                get(r.all());
                awaitTopic(n);
                return "partitions=" + get(r.numPartitions(n)) + " rf=" + get(r.replicationFactor(n));
            });
            step("topic.create.assignment.unknownBroker", () -> {
                get(admin.createTopics(List.of(new NewTopic(t("assign99"), Map.of(0, List.of(99))))).all());
                return null;
            });
            step("topic.create.assignment.gap", () -> {
                get(admin.createTopics(List.of(new NewTopic(t("assigngap"), Map.of(0, List.of(1), 2, List.of(1))))).all());
                return null;
            });
            step("topic.create.batch.mixed", () -> {
                CreateTopicsResult r = admin.createTopics(List.of(new NewTopic(t("batch-ok"), 1, (short) 1),
                        new NewTopic(main, 1, (short) 1), new NewTopic(t("batch-bad"), 1, (short) 5)));
                awaitTopic(t("batch-ok"));
                Map<String, String> out = new TreeMap<>();
                for (var e : r.values().entrySet()) {
                    try {
                        get(e.getValue());
                        out.put(e.getKey(), "ok");
                    } catch (ExecutionException ex) {
                        out.put(e.getKey(), error(unwrap(ex)));
                    }
                }
                return out;
            });
            step("topic.list", () -> new TreeSet<>(get(admin.listTopics().names())).stream()
                    .filter(n -> n.contains(run)).collect(Collectors.toList()));
            step("topic.describe", () -> describe(main, false));
            step("topic.describe.elr", () -> {
                TopicDescription d = get(admin.describeTopics(List.of(main)).allTopicNames()).get(main);
                return d.partitions().stream().map(p -> "p" + p.partition() + "{elr=" + ids(p.elr()) + " lastKnownElr="
                        + ids(p.lastKnownElr()) + "}").collect(Collectors.joining(" "));
            });
            step("topic.describe.authorizedOperations", () -> {
                TopicDescription d = get(admin.describeTopics(List.of(main),
                        new DescribeTopicsOptions().includeAuthorizedOperations(true)).allTopicNames()).get(main);
                return d.authorizedOperations() == null ? "null" : new TreeSet<>(d.authorizedOperations()).toString();
            });
            step("topic.describe.unknown", () -> describe(t("nosuch"), false));
            step("topic.describe.invalidName", () -> describe("bad name!", false));
            step("topic.describe.byId", () -> {
                var m = get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(mainId))).allTopicIds());
                return "name=" + m.get(mainId).name() + " partitions=" + m.get(mainId).partitions().size();
            });
            step("topic.describe.byId.unknown", () -> {
                get(admin.describeTopics(TopicCollection.ofTopicIds(List.of(Uuid.randomUuid()))).allTopicIds());
                return null;
            });
            step("partitions.create.grow", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(5))).all());
                until(10_000, () -> {
                    try {
                        return get(admin.describeTopics(List.of(main)).allTopicNames()).get(main).partitions().size() == 5;
                    } catch (Exception e) {
                        return false;
                    }
                });
                return "partitions=" + get(admin.describeTopics(List.of(main)).allTopicNames()).get(main).partitions().size();
            });
            step("partitions.create.same", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(5))).all());
                return null;
            });
            step("partitions.create.shrink", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(2))).all());
                return null;
            });
            step("partitions.create.unknownTopic", () -> {
                get(admin.createPartitions(Map.of(t("nosuch"), NewPartitions.increaseTo(4))).all());
                return null;
            });
            step("partitions.create.validateOnly", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(8)),
                        new CreatePartitionsOptions().validateOnly(true)).all());
                return "partitions=" + get(admin.describeTopics(List.of(main)).allTopicNames()).get(main).partitions().size();
            });
            step("partitions.create.assignment.unknownBroker", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(6, List.of(List.of(99))))).all());
                return null;
            });
            step("partitions.create.assignment.wrongCount", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(7, List.of(List.of(1))))).all());
                return null;
            });
            step("partitions.create.tooMany", () -> {
                get(admin.createPartitions(Map.of(main, NewPartitions.increaseTo(2_000_000))).all());
                return null;
            });
            step("elect.preferred", () -> {
                var r = get(admin.electLeaders(ElectionType.PREFERRED, Set.of(tp(main, 0))).partitions());
                return r.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()
                        .map(t -> error(t)).orElse("elected")).collect(Collectors.toList());
            });
            step("elect.unclean.unknownTopic", () -> {
                var r = get(admin.electLeaders(ElectionType.UNCLEAN, Set.of(tp(t("nosuch"), 0))).partitions());
                return r.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()
                        .map(t -> error(t)).orElse("elected")).collect(Collectors.toList());
            });
            step("reassignments.list", () -> get(admin.listPartitionReassignments().reassignments()).size());
            step("reassignments.alter.unknownBroker", () -> {
                get(admin.alterPartitionReassignments(Map.of(tp(main, 0),
                        Optional.of(new NewPartitionReassignment(List.of(99))))).all());
                return null;
            });
            step("reassignments.cancel.none", () -> {
                get(admin.alterPartitionReassignments(Map.of(tp(main, 0), Optional.empty())).all());
                return null;
            });
            step("replicaLogDirs.describe", () -> {
                var m = get(admin.describeReplicaLogDirs(List.of(new TopicPartitionReplica(main, 0, 1))).all());
                var info = m.values().iterator().next();
                return "current=" + (info.getCurrentReplicaLogDir() == null ? "null" : "<dir>");
            });
            step("logDirs.describe.topic", () -> {
                // the topic's replicas in the broker's one log dir: each partition, whether it holds
                // data, its offset lag and whether it is a future replica
                var dirs = get(admin.describeLogDirs(List.of(1)).allDescriptions()).get(1);
                Map<String, String> out = new TreeMap<>();
                dirs.values().forEach(d -> d.replicaInfos().forEach((tp, r) -> {
                    if (tp.topic().equals(main)) {
                        out.put(tp.toString(), (r.size() > 0 ? "data" : "empty") + "/lag=" + r.offsetLag()
                                + (r.isFuture() ? "/future" : ""));
                    }
                }));
                return dirs.size() + " dir(s) " + out;
            });
            // delete and re-create
            String doomed = t("doomed");
            step("topic.delete.create", () -> {
                createTopic(doomed, 2, Map.of());
                return null;
            });
            step("topic.delete", () -> {
                get(admin.deleteTopics(List.of(doomed)).all());
                return null;
            });
            step("topic.delete.thenDescribe", () -> {
                until(10_000, () -> {
                    try {
                        get(admin.describeTopics(List.of(doomed)).allTopicNames());
                        return false;
                    } catch (Exception e) {
                        return true;
                    }
                });
                return describe(doomed, false);
            });
            step("topic.delete.recreate", () -> {
                createTopic(doomed, 1, Map.of());
                return describe(doomed, false);
            });
            step("topic.delete.unknown", () -> {
                get(admin.deleteTopics(List.of(t("nosuch"))).all());
                return null;
            });
            step("topic.delete.byId.unknown", () -> {
                get(admin.deleteTopics(TopicCollection.ofTopicIds(List.of(Uuid.randomUuid()))).all());
                return null;
            });
            step("topic.delete.byId", () -> {
                Uuid id = get(admin.describeTopics(List.of(doomed)).allTopicNames()).get(doomed).topicId();
                get(admin.deleteTopics(TopicCollection.ofTopicIds(List.of(id))).all());
                return null;
            });
            step("topic.delete.invalidName", () -> {
                get(admin.deleteTopics(List.of("bad name!")).all());
                return null;
            });
        }

        static String describe(String name, boolean withId) throws Exception {
            TopicDescription d = get(admin.describeTopics(List.of(name)).allTopicNames()).get(name);
            StringBuilder sb = new StringBuilder();
            sb.append("internal=").append(d.isInternal()).append(" id=")
                    .append(d.topicId() == null || Uuid.ZERO_UUID.equals(d.topicId()) ? "missing" : "<id>");
            for (TopicPartitionInfo p : d.partitions()) {
                sb.append(" p").append(p.partition()).append("{leader=").append(p.leader() == null ? "none" : p.leader().id())
                        .append(" replicas=").append(ids(p.replicas())).append(" isr=").append(ids(p.isr()))
                        .append("}");
            }
            return sb.toString();
        }
    }

    // ---------------------------------------------------------------- configs

    static final class Configs {
        static final List<String> TOPIC_KEYS = List.of("cleanup.policy", "compression.type", "delete.retention.ms",
                "file.delete.delay.ms", "flush.messages", "flush.ms", "index.interval.bytes", "max.compaction.lag.ms",
                "max.message.bytes", "message.timestamp.after.max.ms", "message.timestamp.before.max.ms",
                "message.timestamp.type", "min.cleanable.dirty.ratio", "min.compaction.lag.ms",
                "preallocate", "retention.bytes", "retention.ms", "segment.bytes", "segment.index.bytes",
                "segment.jitter.ms", "segment.ms", "unclean.leader.election.enable");
        static final List<String> BROKER_KEYS = List.of("auto.create.topics.enable", "broker.id", "node.id",
                "default.replication.factor", "delete.topic.enable", "group.initial.rebalance.delay.ms",
                "group.max.session.timeout.ms", "group.min.session.timeout.ms", "log.cleanup.policy",
                "log.retention.bytes", "log.retention.hours", "log.retention.ms", "log.segment.bytes",
                "message.max.bytes", "num.partitions", "offsets.retention.minutes",
                "offsets.topic.num.partitions", "offsets.topic.replication.factor", "transaction.max.timeout.ms",
                "transaction.state.log.num.partitions", "transactional.id.expiration.ms", "compression.type",
                "log.message.timestamp.type", "unclean.leader.election.enable", "group.consumer.session.timeout.ms",
                "group.consumer.heartbeat.interval.ms", "offset.metadata.max.bytes", "process.roles");

        static String entries(Config c, List<String> keys) {
            StringBuilder sb = new StringBuilder();
            for (String k : keys) {
                ConfigEntry e = c.get(k);
                sb.append(k).append('=');
                if (e == null) {
                    sb.append("<absent>");
                } else {
                    sb.append(e.value()).append('(').append(e.source()).append(e.isReadOnly() ? ",ro" : "")
                            .append(e.isSensitive() ? ",sensitive" : "").append(')');
                }
                sb.append(' ');
            }
            return sb.toString().trim();
        }

        /** Describes until {@code key} has {@code value} (null: any value that is not dynamic), at most 10 s. */
        static String awaitEntry(ConfigResource r, String key, String value) throws Exception {
            until(10_000, () -> {
                try {
                    ConfigEntry e = describe(r).get(key);
                    if (value == null) return e == null || !e.source().name().startsWith("DYNAMIC");
                    return e != null && value.equals(e.value());
                } catch (Exception ex) {
                    return false;
                }
            });
            return entries(describe(r), List.of(key));
        }

        static Config describe(ConfigResource r) throws Exception {
            return get(admin.describeConfigs(List.of(r)).all()).get(r);
        }

        /**
         * Alters, then waits (at most 10 s) until describeConfigs shows every change: Kafka answers
         * when the controller committed the change, and its broker applies it a moment later.
         */
        static void alter(ConfigResource r, AlterConfigOp... ops) throws Exception {
            get(admin.incrementalAlterConfigs(Map.of(r, List.of(ops))).all());
            until(10_000, () -> {
                try {
                    Config c = describe(r);
                    for (AlterConfigOp op : ops) {
                        ConfigEntry e = c.get(op.configEntry().name());
                        String v = e == null ? null : e.value();
                        List<String> items = v == null ? List.of() : Arrays.asList(v.split(","));
                        boolean done;
                        switch (op.opType()) {
                            case SET: done = op.configEntry().value().equals(v); break;
                            case DELETE: done = e == null || !e.source().name().startsWith("DYNAMIC_TOPIC")
                                    && !e.source().name().equals("DYNAMIC_BROKER_CONFIG")
                                    && !(r.name().isEmpty() && e.source().name().equals("DYNAMIC_DEFAULT_BROKER_CONFIG")); break;
                            case APPEND: done = items.contains(op.configEntry().value()); break;
                            default: done = !items.contains(op.configEntry().value()); break;
                        }
                        if (!done) return false;
                    }
                    return true;
                } catch (Exception ex) {
                    return false;
                }
            });
        }

        static AlterConfigOp set(String k, String v) {
            return new AlterConfigOp(new ConfigEntry(k, v), AlterConfigOp.OpType.SET);
        }

        static AlterConfigOp del(String k) {
            return new AlterConfigOp(new ConfigEntry(k, null), AlterConfigOp.OpType.DELETE);
        }

        static void run() {
            String topic = t("cfg");
            ConfigResource tr = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            ConfigResource br = new ConfigResource(ConfigResource.Type.BROKER, "1");
            ConfigResource cluster = new ConfigResource(ConfigResource.Type.BROKER, "");
            step("config.setup.topic", () -> {
                createTopic(topic, 1, Map.of());
                return null;
            });
            step("config.topic.describe.defaults", () -> entries(describe(tr), TOPIC_KEYS));
            step("config.minInsyncReplicas.source", () -> entries(describe(tr), List.of("min.insync.replicas")) + " / broker "
                    + entries(describe(br), List.of("min.insync.replicas")));
            step("config.topic.describe.names", () -> new TreeSet<>(describe(tr).entries().stream()
                    .map(ConfigEntry::name).collect(Collectors.toList())));
            step("config.topic.describe.unknownTopic", () -> describe(new ConfigResource(ConfigResource.Type.TOPIC, t("nosuch"))));
            step("config.topic.describe.synonyms", () -> {
                Config c = get(admin.describeConfigs(List.of(tr), new DescribeConfigsOptions().includeSynonyms(true)).all()).get(tr);
                List<String> out = new ArrayList<>();
                for (String k : List.of("retention.ms", "cleanup.policy", "max.message.bytes", "segment.bytes")) {
                    out.add(k + "->" + c.get(k).synonyms().stream().map(s -> s.name() + "(" + s.source() + ")")
                            .collect(Collectors.toList()));
                }
                return out;
            });
            step("config.topic.describe.documentation", () -> {
                Config c = get(admin.describeConfigs(List.of(tr), new DescribeConfigsOptions().includeDocumentation(true)).all()).get(tr);
                ConfigEntry e = c.get("retention.ms");
                return "type=" + e.type() + " documented=" + (e.documentation() != null && !e.documentation().isEmpty());
            });
            step("config.topic.describe.types", () -> {
                Config c = describe(tr);
                return TOPIC_KEYS.stream().filter(k -> c.get(k) != null).map(k -> k + ":" + c.get(k).type())
                        .collect(Collectors.toList());
            });
            step("config.broker.describe", () -> entries(describe(br), BROKER_KEYS));
            step("config.broker.describe.defaultResource", () -> describe(cluster).entries().size());
            step("config.brokerLogger.describe", () -> {
                Config c = describe(new ConfigResource(ConfigResource.Type.BROKER_LOGGER, "1"));
                return "hasRoot=" + (c.get("root") != null) + " nonEmpty=" + !c.entries().isEmpty();
            });
            step("config.topic.alter.set", () -> {
                alter(tr, set("retention.ms", "3600000"), set("max.message.bytes", "2000"));
                return entries(describe(tr), List.of("retention.ms", "max.message.bytes"));
            });
            step("config.topic.alter.badNumber", () -> {
                alter(tr, set("retention.ms", "abc"));
                return null;
            });
            step("config.topic.alter.belowMinimum", () -> {
                alter(tr, set("segment.bytes", "100"));
                return null;
            });
            step("config.topic.alter.badEnum", () -> {
                alter(tr, set("message.timestamp.type", "WallClock"));
                return null;
            });
            step("config.topic.alter.unknownKey", () -> {
                alter(tr, set("no.such.config", "1"));
                return null;
            });
            step("config.topic.alter.removedMessageFormat", () -> {
                alter(tr, set("message.format.version", "3.0"));
                return null;
            });
            step("config.topic.alter.deleteUnknownKey", () -> {
                alter(tr, del("no.such.config"));
                return null;
            });
            step("config.topic.alter.unchangedAfterErrors", () -> entries(describe(tr), List.of("retention.ms", "segment.bytes")));
            step("config.topic.alter.delete", () -> {
                alter(tr, del("retention.ms"));
                return entries(describe(tr), List.of("retention.ms"));
            });
            step("config.topic.alter.append", () -> {
                alter(tr, new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND));
                return entries(describe(tr), List.of("cleanup.policy"));
            });
            step("config.topic.alter.subtract", () -> {
                alter(tr, new AlterConfigOp(new ConfigEntry("cleanup.policy", "delete"), AlterConfigOp.OpType.SUBTRACT));
                return entries(describe(tr), List.of("cleanup.policy"));
            });
            step("config.topic.alter.appendNonList", () -> {
                alter(tr, new AlterConfigOp(new ConfigEntry("retention.ms", "5"), AlterConfigOp.OpType.APPEND));
                return null;
            });
            step("config.topic.alter.duplicateKey", () -> {
                alter(tr, set("retention.ms", "1000"), set("retention.ms", "2000"));
                return null;
            });
            step("config.topic.alter.unknownTopic", () -> {
                alter(new ConfigResource(ConfigResource.Type.TOPIC, t("nosuch")), set("retention.ms", "1000"));
                return null;
            });
            step("config.topic.alter.validateOnly", () -> {
                get(admin.incrementalAlterConfigs(Map.of(tr, List.of(set("retention.ms", "7777"))),
                        new AlterConfigsOptions().validateOnly(true)).all());
                return entries(describe(tr), List.of("retention.ms"));
            });
            step("config.topic.alter.minIsrAboveRf", () -> {
                alter(tr, set("min.insync.replicas", "2"));
                return entries(describe(tr), List.of("min.insync.replicas"));
            });
            step("config.topic.alter.batch.mixed", () -> {
                ConfigResource other = new ConfigResource(ConfigResource.Type.TOPIC, t("nosuch2"));
                var r = admin.incrementalAlterConfigs(Map.of(tr, List.of(set("flush.ms", "5000")),
                        other, List.of(set("flush.ms", "5000"))));
                Map<String, String> out = new TreeMap<>();
                for (var e : r.values().entrySet()) {
                    try {
                        get(e.getValue());
                        out.put(e.getKey().name(), "ok");
                    } catch (ExecutionException ex) {
                        out.put(e.getKey().name(), error(unwrap(ex)));
                    }
                }
                return out;
            });
            step("config.broker.alter.perBroker", () -> {
                alter(br, set("log.cleaner.threads", "2"));
                return awaitEntry(br, "log.cleaner.threads", "2");
            });
            step("config.broker.alter.perBroker.delete", () -> {
                alter(br, del("log.cleaner.threads"));
                return awaitEntry(br, "log.cleaner.threads", "1");
            });
            step("config.broker.alter.clusterDefault", () -> {
                alter(cluster, set("log.retention.ms", "604800001"));
                return awaitEntry(cluster, "log.retention.ms", "604800001");
            });
            step("config.broker.alter.clusterDefault.seenOnBroker", () ->
                    awaitEntry(br, "log.retention.ms", "604800001"));
            step("config.broker.alter.clusterDefault.delete", () -> {
                alter(cluster, del("log.retention.ms"));
                return awaitEntry(br, "log.retention.ms", null);
            });
            step("config.broker.alter.kerberosRelogin", () -> {
                alter(br, set("sasl.kerberos.min.time.before.relogin", "61000"));
                return awaitEntry(br, "sasl.kerberos.min.time.before.relogin", "61000");
            });
            step("config.broker.alter.kerberosRelogin.delete", () -> {
                alter(br, del("sasl.kerberos.min.time.before.relogin"));
                return null;
            });
            step("config.broker.alter.readOnly", () -> {
                alter(br, set("node.id", "5"));
                return null;
            });
            step("config.broker.alter.readOnlyLogDirs", () -> {
                alter(br, set("log.dirs", "/tmp/elsewhere"));
                return null;
            });
            step("config.broker.alter.unknownKey", () -> {
                alter(br, set("no.such.broker.config", "1"));
                return awaitEntry(br, "no.such.broker.config", "1");
            });
            step("config.broker.alter.badValue", () -> {
                alter(cluster, set("message.max.bytes", "abc"));
                return null;
            });
            step("config.broker.alter.unknownBroker", () -> {
                get(admin.incrementalAlterConfigs(Map.of(new ConfigResource(ConfigResource.Type.BROKER, "99"),
                        List.of(set("log.cleaner.threads", "2"))), new AlterConfigsOptions().timeoutMs(5000)).all());
                return null;
            });
            step("config.group.describe", () -> {
                Config c = describe(new ConfigResource(ConfigResource.Type.GROUP, g("cfg")));
                return entries(c, List.of("consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"));
            });
            step("config.group.alter", () -> {
                ConfigResource gr = new ConfigResource(ConfigResource.Type.GROUP, g("cfg"));
                alter(gr, set("consumer.session.timeout.ms", "50000"));
                return entries(describe(gr), List.of("consumer.session.timeout.ms"));
            });
            step("config.group.alter.outOfRange", () -> {
                alter(new ConfigResource(ConfigResource.Type.GROUP, g("cfg")), set("consumer.session.timeout.ms", "1"));
                return null;
            });
            // every group config of Kafka 4.4, with its default, source and flags
            step("config.group.describe.all", () -> {
                Config c = describe(new ConfigResource(ConfigResource.Type.GROUP, g("cfgall")));
                return entries(c, new ArrayList<>(new TreeSet<>(c.entries().stream().map(ConfigEntry::name)
                        .collect(Collectors.toList()))));
            });
            step("config.group.delete", () -> {
                ConfigResource gr = new ConfigResource(ConfigResource.Type.GROUP, g("cfg"));
                alter(gr, del("consumer.session.timeout.ms"));
                return entries(describe(gr), List.of("consumer.session.timeout.ms"));
            });
            stepMsg("config.group.alter.unknownName", () -> {
                alter(new ConfigResource(ConfigResource.Type.GROUP, g("cfg")), set("no.such.config", "1"));
                return null;
            });
            // Kafka's GroupConfig rules: each refused value (INVALID_CONFIG), on its own group
            String[][] refused = {
                {"notANumber", "consumer.session.timeout.ms", "abc"},
                {"heartbeatOutOfRange", "consumer.heartbeat.interval.ms", "15001"},
                {"assignmentIntervalOutOfRange", "consumer.assignment.interval.ms", "15001"},
                {"shareAssignmentIntervalOutOfRange", "share.assignment.interval.ms", "15001"},
                {"streamsAssignmentIntervalOutOfRange", "streams.assignment.interval.ms", "15001"},
                {"dlqInternalTopic", "errors.deadletterqueue.topic.name", "__dlq"},
                {"shareAutoOffsetResetInvalid", "share.auto.offset.reset", "bogus"},
                {"shareDeliveryCountOutOfRange", "share.delivery.count.limit", "11"},
                {"shareIsolationLevelInvalid", "share.isolation.level", "bogus"},
                {"shareRecordLocksOutOfRange", "share.partition.max.record.locks", "4001"},
                {"shareRecordLockDurationOutOfRange", "share.record.lock.duration.ms", "14999"},
                {"shareSessionTimeoutOutOfRange", "share.session.timeout.ms", "60001"},
                {"streamsAssignorUnknown", "streams.assignor.name", "bogus"},
                {"streamsStandbyReplicasTooMany", "streams.num.standby.replicas", "3"},
                {"streamsSessionTimeoutOutOfRange", "streams.session.timeout.ms", "44999"},
            };
            for (String[] r : refused) {
                stepMsg("config.group.alter." + r[0], () -> {
                    alter(new ConfigResource(ConfigResource.Type.GROUP, g("cfg-" + r[0])), set(r[1], r[2]));
                    return null;
                });
            }
            // and values Kafka accepts
            step("config.group.alter.accepted", () -> {
                ConfigResource gr = new ConfigResource(ConfigResource.Type.GROUP, g("cfgok"));
                alter(gr, set("share.auto.offset.reset", "by_duration:PT1H"), set("share.delivery.count.limit", "10"),
                        set("streams.num.standby.replicas", "2"), set("share.record.lock.duration.ms", "15000"),
                        set("errors.deadletterqueue.topic.name", "dlq-" + run), set("streams.assignor.name", "sticky"));
                return entries(describe(gr), List.of("share.auto.offset.reset", "share.delivery.count.limit",
                        "streams.num.standby.replicas", "share.record.lock.duration.ms", "streams.assignor.name"));
            });
        }
    }

    // ---------------------------------------------------------------- producing

    static final class Produce {
        static void run() {
            String data = t("data");
            String keyed = t("keyed");
            String comp = t("comp");
            step("produce.setup", () -> {
                createTopic(data, 1, Map.of());
                createTopic(keyed, 3, Map.of());
                createTopic(comp, 1, Map.of());
                createTopic(t("small"), 1, Map.of("max.message.bytes", "1024"));
                createTopic(t("compact"), 1, Map.of("cleanup.policy", "compact"));
                createTopic(t("ts"), 1, Map.of("message.timestamp.before.max.ms", "60000"));
                createTopic(t("lat"), 1, Map.of("message.timestamp.type", "LogAppendTime"));
                createTopic(t("seq"), 1, Map.of());
                createTopic(t("future"), 1, Map.of());
                return null;
            });
            step("produce.basic", () -> {
                try (var p = producer()) {
                    List<Long> offsets = new ArrayList<>();
                    for (int i = 0; i < 10; i++) {
                        RecordMetadata m = get(p.send(new ProducerRecord<>(data, 0, BASE_TS + i * 1000L, "k" + i, "v" + i)));
                        offsets.add(m.offset());
                        if (m.timestamp() != BASE_TS + i * 1000L) return "timestamp changed: " + m.timestamp();
                    }
                    return offsets;
                }
            });
            step("produce.keyed.partitions", () -> {
                try (var p = producer()) {
                    Map<String, String> out = new TreeMap<>();
                    for (int i = 0; i < 8; i++) {
                        RecordMetadata m = get(p.send(new ProducerRecord<>(keyed, "key-" + i, "v")));
                        out.put("key-" + i, m.partition() + "@" + m.offset());
                    }
                    return out;
                }
            });
            step("produce.headersAndNulls", () -> {
                try (var p = producer()) {
                    List<Header> hs = List.of(new RecordHeader("h1", "a".getBytes(StandardCharsets.UTF_8)),
                            new RecordHeader("h1", "b".getBytes(StandardCharsets.UTF_8)), new RecordHeader("empty", null));
                    get(p.send(new ProducerRecord<>(t("hdr"), null, BASE_TS, "hk", "hv", hs)));
                    get(p.send(new ProducerRecord<String, String>(t("hdr"), null, (Long) BASE_TS, (String) null, (String) null)));
                    return get(p.send(new ProducerRecord<>(t("hdr"), null, BASE_TS, "", ""))).offset();
                }
            });
            for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
                step("produce.compression." + codec, () -> {
                    try (var p = producer(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, 50)) {
                        List<Future<RecordMetadata>> fs = new ArrayList<>();
                        for (int i = 0; i < 5; i++) fs.add(p.send(new ProducerRecord<>(comp, codec + i, codec + "-value-" + i)));
                        p.flush();
                        List<Long> offs = new ArrayList<>();
                        for (var f : fs) offs.add(get(f).offset());
                        return offs;
                    }
                });
            }
            step("produce.acks0", () -> {
                try (var p = producer(ProducerConfig.ACKS_CONFIG, "0", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false")) {
                    RecordMetadata m = get(p.send(new ProducerRecord<>(t("acks"), "a0")));
                    return "offset=" + m.offset();
                }
            });
            step("produce.acks1", () -> {
                try (var p = producer(ProducerConfig.ACKS_CONFIG, "1", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false")) {
                    get(p.send(new ProducerRecord<>(t("acks"), "a1")));
                    return "offset=" + get(p.send(new ProducerRecord<>(t("acks"), "a1b"))).offset();
                }
            });
            step("produce.unknownPartition", () -> {
                try (var p = producer(ProducerConfig.MAX_BLOCK_MS_CONFIG, 3000)) {
                    return get(p.send(new ProducerRecord<>(data, 7, "k", "v"))).offset();
                }
            });
            step("produce.tooLarge", () -> {
                try (var p = producer(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 10_000_000)) {
                    return get(p.send(new ProducerRecord<>(t("small"), "k", "x".repeat(4000)))).offset();
                }
            });
            step("produce.tooLarge.brokerLimit", () -> {
                try (var p = producer(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 10_000_000,
                        ProducerConfig.BUFFER_MEMORY_CONFIG, 20_000_000L)) {
                    return get(p.send(new ProducerRecord<>(data, 0, "k", "x".repeat(1_100_000)))).offset();
                }
            });
            stepMsg("produce.compacted.nullKey", () -> {
                try (var p = producer()) {
                    return get(p.send(new ProducerRecord<>(t("compact"), null, "no-key"))).offset();
                }
            });
            step("produce.compacted.withKey", () -> {
                try (var p = producer()) {
                    return get(p.send(new ProducerRecord<>(t("compact"), "k", "v"))).offset();
                }
            });
            step("produce.timestamp.tooOld", () -> {
                try (var p = producer()) {
                    return get(p.send(new ProducerRecord<>(t("ts"), null, System.currentTimeMillis() - 86_400_000L, "k", "v"))).offset();
                }
            });
            step("produce.timestamp.recentOk", () -> {
                try (var p = producer()) {
                    return get(p.send(new ProducerRecord<>(t("ts"), null, System.currentTimeMillis(), "k", "v"))).offset();
                }
            });
            step("produce.timestamp.farFuture", () -> {
                try (var p = producer()) {
                    return get(p.send(new ProducerRecord<>(t("future"), 0, System.currentTimeMillis() + 2 * 86_400_000L, "k", "future"))).offset();
                }
            });
            step("produce.logAppendTime", () -> {
                try (var p = producer()) {
                    long before = System.currentTimeMillis();
                    RecordMetadata m = get(p.send(new ProducerRecord<>(t("lat"), null, BASE_TS, "k", "v")));
                    long after = System.currentTimeMillis();
                    return "offset=" + m.offset() + " brokerTime=" + (m.timestamp() >= before - 60_000 && m.timestamp() <= after + 60_000);
                }
            });
            step("produce.autoCreate", () -> {
                try (var p = producer()) {
                    RecordMetadata m = get(p.send(new ProducerRecord<>(t("auto"), "k", "v")));
                    return "partition=" + m.partition() + " offset=" + m.offset() + " partitions="
                            + get(admin.describeTopics(List.of(t("auto"))).allTopicNames()).get(t("auto")).partitions().size();
                }
            });
            step("produce.invalidTopicName", () -> {
                try (var p = producer(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5000)) {
                    return get(p.send(new ProducerRecord<>("bad name!", "k", "v"))).offset();
                }
            });
            step("produce.idempotent.ordered", () -> {
                try (var p = producer(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true",
                        "max.in.flight.requests.per.connection", 5, ProducerConfig.BATCH_SIZE_CONFIG, 200)) {
                    List<Future<RecordMetadata>> fs = new ArrayList<>();
                    for (int i = 0; i < 200; i++) fs.add(p.send(new ProducerRecord<>(t("idem"), 0, "k", "v" + i)));
                    p.flush();
                    long prev = -1;
                    for (var f : fs) {
                        long o = get(f).offset();
                        if (o != prev + 1) return "gap at " + o;
                        prev = o;
                    }
                    return "last=" + prev;
                }
            });
            step("produce.partitionsFor", () -> {
                try (var p = producer()) {
                    return p.partitionsFor(keyed).stream().map(i -> i.partition() + ":leader=" + i.leader().id()
                            + ":replicas=" + i.replicas().length + ":isr=" + i.inSyncReplicas().length)
                            .sorted().collect(Collectors.toList());
                }
            });
            step("raw.produce.acks2", () -> rawProduce(data, 0, (short) 2, MemoryRecords.withRecords(Compression.NONE,
                    new SimpleRecord("v".getBytes(StandardCharsets.UTF_8)))));
            step("raw.produce.unknownTopic", () -> rawProduce(t("nosuch-raw"), 0, (short) -1, MemoryRecords.withRecords(Compression.NONE,
                    new SimpleRecord("v".getBytes(StandardCharsets.UTF_8)))));
            step("raw.produce.unknownPartition", () -> rawProduce(data, 9, (short) -1, MemoryRecords.withRecords(Compression.NONE,
                    new SimpleRecord("v".getBytes(StandardCharsets.UTF_8)))));
            step("raw.produce.idempotent.firstSequenceNotZero", () -> {
                long[] pe = rawInitPid(null, 0);
                return rawProduce(t("seq"), 0, (short) -1, MemoryRecords.withIdempotentRecords(Compression.NONE, pe[0],
                        (short) pe[1], 5, new SimpleRecord("v".getBytes(StandardCharsets.UTF_8))));
            });
            step("raw.produce.idempotent.duplicate", () -> {
                long[] pe = rawInitPid(null, 0);
                String a = rawProduce(t("seq"), 0, (short) -1, MemoryRecords.withIdempotentRecords(Compression.NONE, pe[0],
                        (short) pe[1], 0, new SimpleRecord("v".getBytes(StandardCharsets.UTF_8))));
                String b = rawProduce(t("seq"), 0, (short) -1, MemoryRecords.withIdempotentRecords(Compression.NONE, pe[0],
                        (short) pe[1], 0, new SimpleRecord("v".getBytes(StandardCharsets.UTF_8))));
                String c = rawProduce(t("seq"), 0, (short) -1, MemoryRecords.withIdempotentRecords(Compression.NONE, pe[0],
                        (short) pe[1], 3, new SimpleRecord("v".getBytes(StandardCharsets.UTF_8))));
                return "first=" + a + " again=" + b + " gap=" + c;
            });
            step("raw.produce.idempotent.unknownProducerId", () ->
                    rawProduce(t("seq"), 0, (short) -1, MemoryRecords.withIdempotentRecords(Compression.NONE, 987_654_321L,
                            (short) 0, 0, new SimpleRecord("v".getBytes(StandardCharsets.UTF_8)))));
            step("raw.produce.transactional.notInTransaction", () -> {
                long[] pe = rawInitPid(x("rawprod"), 60000);
                return rawProduce(t("seq"), 0, (short) -1, MemoryRecords.withTransactionalRecords(Compression.NONE, pe[0],
                        (short) pe[1], 0, new SimpleRecord("v".getBytes(StandardCharsets.UTF_8))), x("rawprod"));
            });
        }

        static String rawProduce(String topic, int partition, short acks, MemoryRecords records) throws Exception {
            return rawProduce(topic, partition, acks, records, null);
        }

        static String rawProduce(String topic, int partition, short acks, MemoryRecords records, String txid) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                ProduceRequestData.TopicProduceDataCollection topics = new ProduceRequestData.TopicProduceDataCollection();
                topics.add(new ProduceRequestData.TopicProduceData().setName(topic).setPartitionData(List.of(
                        new ProduceRequestData.PartitionProduceData().setIndex(partition).setRecords(records))));
                var r = (ProduceResponseData) raw.send(new ProduceRequestData().setTransactionalId(txid).setAcks(acks).setTimeoutMs(10000)
                        .setTopicData(topics), 9);
                var pr = r.responses().iterator().next().partitionResponses().get(0);
                return err(pr.errorCode()) + (pr.errorCode() == 0 ? "@" + pr.baseOffset() : "");
            }
        }
    }

    /** InitProducerId through a raw request: {producerId, epoch}. */
    static long[] rawInitPid(String txid, int timeoutMs) throws Exception {
        try (Raw raw = new Raw(bootstrap)) {
            if (txid != null) {
                // as a client does: find the coordinator first (Kafka creates __transaction_state then)
                long until = System.currentTimeMillis() + 30_000;
                while (true) {
                    var fc = (org.apache.kafka.common.message.FindCoordinatorResponseData) raw.send(
                            new org.apache.kafka.common.message.FindCoordinatorRequestData().setKeyType((byte) 1)
                                    .setCoordinatorKeys(List.of(txid)), 4);
                    if (fc.coordinators().get(0).errorCode() == 0 || System.currentTimeMillis() > until) break;
                    Thread.sleep(200);
                }
            }
            long deadline = System.currentTimeMillis() + 30_000;
            while (true) {
                var r = (InitProducerIdResponseData) raw.send(new InitProducerIdRequestData().setTransactionalId(txid)
                        .setTransactionTimeoutMs(timeoutMs).setProducerId(-1).setProducerEpoch((short) -1), 4);
                Errors e = Errors.forCode(r.errorCode());
                if (e == Errors.NONE) return new long[] {r.producerId(), r.producerEpoch()};
                if (!(e == Errors.COORDINATOR_LOAD_IN_PROGRESS || e == Errors.CONCURRENT_TRANSACTIONS
                        || e == Errors.COORDINATOR_NOT_AVAILABLE || e == Errors.NOT_COORDINATOR)
                        || System.currentTimeMillis() > deadline) {
                    throw e.exception();
                }
                Thread.sleep(200);
            }
        }
    }

    // ---------------------------------------------------------------- list offsets, delete records

    static final class Offsets {
        static String shortLo(String topic, int p) throws Exception {
            ListOffsetsOptions o = new ListOffsetsOptions();
            o.timeoutMs(5000);
            return "offset=" + get(admin.listOffsets(Map.of(tp(topic, p), OffsetSpec.latest()), o)
                    .partitionResult(tp(topic, p))).offset();
        }

        static String lo(String topic, int p, OffsetSpec spec) throws Exception {
            return lo(topic, p, spec, IsolationLevel.READ_UNCOMMITTED);
        }

        static String lo(String topic, int p, OffsetSpec spec, IsolationLevel iso) throws Exception {
            ListOffsetsResult.ListOffsetsResultInfo i = get(admin.listOffsets(Map.of(tp(topic, p), spec),
                    new ListOffsetsOptions(iso)).partitionResult(tp(topic, p)));
            long ts = i.timestamp();
            String tss = ts == -1 ? "-1" : ts >= BASE_TS && ts < BASE_TS + 100_000 ? "base+" + (ts - BASE_TS) : "<time>";
            return "offset=" + i.offset() + " ts=" + tss + " epoch=" + i.leaderEpoch().map(String::valueOf).orElse("none");
        }

        static long shortDelete(String topic, int p) throws Exception {
            return get(admin.deleteRecords(Map.of(tp(topic, p), RecordsToDelete.beforeOffset(1)),
                    new org.apache.kafka.clients.admin.DeleteRecordsOptions().timeoutMs(5000)).lowWatermarks()
                    .get(tp(topic, p))).lowWatermark();
        }

        static long lowWatermark(String topic, int p, RecordsToDelete r) throws Exception {
            return get(admin.deleteRecords(Map.of(tp(topic, p), r)).lowWatermarks().get(tp(topic, p))).lowWatermark();
        }

        static void run() {
            String data = t("data");
            String data2 = t("data2");
            step("offsets.earliest", () -> lo(data, 0, OffsetSpec.earliest()));
            step("offsets.latest", () -> lo(data, 0, OffsetSpec.latest()));
            step("offsets.maxTimestamp", () -> lo(data, 0, OffsetSpec.maxTimestamp()));
            step("offsets.forTimestamp.between", () -> lo(data, 0, OffsetSpec.forTimestamp(BASE_TS + 3500)));
            step("offsets.forTimestamp.exact", () -> lo(data, 0, OffsetSpec.forTimestamp(BASE_TS + 3000)));
            step("offsets.forTimestamp.beforeAll", () -> lo(data, 0, OffsetSpec.forTimestamp(0)));
            step("offsets.forTimestamp.afterAll", () -> lo(data, 0, OffsetSpec.forTimestamp(Long.MAX_VALUE - 1)));
            step("offsets.earliestLocal", () -> lo(data, 0, OffsetSpec.earliestLocal()));
            step("offsets.latestTiered", () -> lo(data, 0, OffsetSpec.latestTiered()));
            step("offsets.earliestPendingUpload", () -> lo(data, 0, OffsetSpec.earliestPendingUpload()));
            step("offsets.emptyTopic.latest", () -> lo(t("cfg"), 0, OffsetSpec.latest()));
            step("offsets.emptyTopic.maxTimestamp", () -> lo(t("cfg"), 0, OffsetSpec.maxTimestamp()));
            step("offsets.unknownTopic", () -> shortLo(t("nosuch"), 0));
            step("offsets.unknownPartition", () -> shortLo(data, 5));
            step("offsets.multiPartition", () -> {
                Map<TopicPartition, OffsetSpec> req = new HashMap<>();
                for (int p = 0; p < 3; p++) req.put(tp(t("keyed"), p), OffsetSpec.latest());
                var all = get(admin.listOffsets(req).all());
                return new TreeMap<>(all.entrySet().stream().collect(Collectors.toMap(e -> e.getKey().toString(),
                        e -> e.getValue().offset())));
            });
            step("raw.listOffsets.unknownLeaderEpoch", () -> rawListOffsets(data, 99));
            step("raw.listOffsets.fencedLeaderEpoch", () -> rawListOffsets(data, -1));
            step("raw.offsetForLeaderEpoch", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var topics = new OffsetForLeaderEpochRequestData.OffsetForLeaderTopicCollection();
                    topics.add(new OffsetForLeaderEpochRequestData.OffsetForLeaderTopic().setTopic(data).setPartitions(List.of(
                            new OffsetForLeaderEpochRequestData.OffsetForLeaderPartition().setPartition(0)
                                    .setCurrentLeaderEpoch(-1).setLeaderEpoch(0),
                            new OffsetForLeaderEpochRequestData.OffsetForLeaderPartition().setPartition(4)
                                    .setCurrentLeaderEpoch(-1).setLeaderEpoch(0))));
                    var r = (OffsetForLeaderEpochResponseData) raw.send(new OffsetForLeaderEpochRequestData()
                            .setReplicaId(-1).setTopics(topics), 4);
                    return r.topics().iterator().next().partitions().stream().map(p -> "p" + p.partition() + "="
                            + err(p.errorCode()) + "/epoch=" + p.leaderEpoch() + "/end=" + p.endOffset())
                            .collect(Collectors.toList());
                }
            });
            step("records.setup", () -> {
                createTopic(data2, 1, Map.of());
                try (var p = producer()) {
                    for (int i = 0; i < 10; i++) get(p.send(new ProducerRecord<>(data2, 0, BASE_TS + i, "k", "w" + i)));
                }
                return null;
            });
            step("records.delete", () -> lowWatermark(data2, 0, RecordsToDelete.beforeOffset(3)));
            step("records.delete.lower", () -> lowWatermark(data2, 0, RecordsToDelete.beforeOffset(1)));
            step("records.delete.beyondHighWatermark", () -> lowWatermark(data2, 0, RecordsToDelete.beforeOffset(100)));
            step("records.delete.atHighWatermark", () -> lowWatermark(t("keyed"), 2, RecordsToDelete.beforeOffset(4)));
            step("records.delete.unknownTopic", () -> shortDelete(t("nosuch"), 0));
            step("records.delete.unknownPartition", () -> shortDelete(data2, 3));
            step("records.delete.compactedTopic", () -> lowWatermark(t("compact"), 0, RecordsToDelete.beforeOffset(1)));
            step("records.delete.partial", () -> lowWatermark(t("keyed"), 0, RecordsToDelete.beforeOffset(1)));
            step("records.delete.toHighWatermarkMarker", () -> lowWatermark(t("idem"), 0, RecordsToDelete.beforeOffset(-1)));
            step("offsets.afterDelete.earliest", () -> lo(data2, 0, OffsetSpec.earliest()));
            step("offsets.afterDelete.latest", () -> lo(data2, 0, OffsetSpec.latest()));
            step("offsets.afterDelete.forTimestamp", () -> lo(t("keyed"), 0, OffsetSpec.forTimestamp(0)));
            step("offsets.afterDelete.earliestLocal", () -> lo(data2, 0, OffsetSpec.earliestLocal()));
        }

        static String rawListOffsets(String topic, int currentLeaderEpoch) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var r = (ListOffsetsResponseData) raw.send(new ListOffsetsRequestData().setReplicaId(-1).setTopics(List.of(
                        new ListOffsetsRequestData.ListOffsetsTopic().setName(topic).setPartitions(List.of(
                                new ListOffsetsRequestData.ListOffsetsPartition().setPartitionIndex(0)
                                        .setCurrentLeaderEpoch(currentLeaderEpoch).setTimestamp(-1))))), 7);
                var p = r.topics().get(0).partitions().get(0);
                return err(p.errorCode()) + " offset=" + p.offset() + " epoch=" + p.leaderEpoch();
            }
        }
    }

    // ---------------------------------------------------------------- consuming (assigned partitions)

    static final class Consume {
        static void run() {
            String data = t("data");
            String data2 = t("data2");
            step("consume.assign.seek", () -> {
                try (var c = consumer()) {
                    c.assign(List.of(tp(data, 0)));
                    c.seek(tp(data, 0), 5);
                    var rs = pollN(c, 5);
                    return values(rs.subList(0, Math.min(5, rs.size()))) + " ts0=" + (rs.isEmpty() ? "-" : rs.get(0).timestamp() - BASE_TS)
                            + " type=" + (rs.isEmpty() ? "-" : rs.get(0).timestampType());
                }
            });
            step("consume.beginningEndOffsets", () -> {
                try (var c = consumer()) {
                    return "begin=" + c.beginningOffsets(List.of(tp(data2, 0))).values() + " end="
                            + c.endOffsets(List.of(tp(data2, 0))).values();
                }
            });
            step("consume.offsetsForTimes", () -> {
                try (var c = consumer()) {
                    Map<TopicPartition, OffsetAndTimestamp> m = c.offsetsForTimes(Map.of(tp(data, 0), BASE_TS + 3500,
                            tp(data2, 0), 0L));
                    Map<String, String> out = new TreeMap<>();
                    m.forEach((k, v) -> out.put(k.toString(), v == null ? "null" : v.offset() + "@base+" + (v.timestamp() - BASE_TS)));
                    return out;
                }
            });
            step("consume.offsetsForTimes.future", () -> {
                try (var c = consumer()) {
                    return String.valueOf(c.offsetsForTimes(Map.of(tp(data2, 0), Long.MAX_VALUE - 1)).get(tp(data2, 0)));
                }
            });
            step("consume.outOfRange.beyondEnd.resetNone", () -> {
                try (var c = consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none")) {
                    c.assign(List.of(tp(data2, 0)));
                    c.seek(tp(data2, 0), 100);
                    return values(pollFor(c, 3000));
                }
            });
            step("consume.outOfRange.beforeStart.resetNone", () -> {
                try (var c = consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none")) {
                    c.assign(List.of(tp(data2, 0)));
                    c.seek(tp(data2, 0), 1);
                    return values(pollFor(c, 3000));
                }
            });
            step("consume.outOfRange.beforeStart.resetEarliest", () -> {
                try (var c = consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest")) {
                    c.assign(List.of(tp(data2, 0)));
                    c.seek(tp(data2, 0), 1);
                    var rs = pollN(c, 7);
                    return values(rs) + " position=" + c.position(tp(data2, 0));
                }
            });
            step("consume.outOfRange.beyondEnd.resetLatest", () -> {
                try (var c = consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest")) {
                    c.assign(List.of(tp(data2, 0)));
                    c.seek(tp(data2, 0), 1000);
                    var rs = pollFor(c, 2000);
                    return values(rs) + " position=" + c.position(tp(data2, 0));
                }
            });
            step("consume.resetByDuration", () -> {
                try (var c = consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "by_duration:PT1H")) {
                    c.assign(List.of(tp(t("ts"), 0)));
                    return "position=" + c.position(tp(t("ts"), 0), Duration.ofSeconds(30));
                }
            });
            step("consume.noCommittedOffset.resetNone", () -> {
                try (var c = consumer(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none", ConsumerConfig.GROUP_ID_CONFIG, g("none"))) {
                    c.assign(List.of(tp(data, 0)));
                    return "position=" + c.position(tp(data, 0), Duration.ofSeconds(30));
                }
            });
            step("consume.headersAndNulls", () -> {
                try (var c = consumer()) {
                    c.assign(List.of(tp(t("hdr"), 0)));
                    var rs = pollN(c, 3);
                    return rs.stream().map(r -> "key=" + r.key() + " value=" + r.value() + " headers="
                            + Arrays.stream(r.headers().toArray()).map(h -> h.key() + ":"
                                    + (h.value() == null ? "null" : new String(h.value(), StandardCharsets.UTF_8)))
                                    .collect(Collectors.toList())).collect(Collectors.toList());
                }
            });
            step("consume.compressed", () -> {
                try (var c = consumer()) {
                    c.assign(List.of(tp(t("comp"), 0)));
                    var rs = pollN(c, 20);
                    return rs.size() + " " + rs.stream().map(r -> r.offset() + "=" + r.value()).collect(Collectors.joining(","));
                }
            });
            step("consume.logAppendTime", () -> {
                try (var c = consumer()) {
                    c.assign(List.of(tp(t("lat"), 0)));
                    var rs = pollN(c, 1);
                    return rs.isEmpty() ? "none" : rs.get(0).timestampType() + " brokerTime=" + (rs.get(0).timestamp() != BASE_TS);
                }
            });
            step("consume.partitionsFor.unknown.noAutoCreate", () -> {
                try (var c = consumer(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false")) {
                    return c.partitionsFor(t("nosuch-consumer"), Duration.ofSeconds(10));
                }
            });
            step("consume.listTopics", () -> {
                try (var c = consumer()) {
                    var m = c.listTopics(Duration.ofSeconds(20));
                    return m.keySet().stream().filter(n -> n.contains(run)).sorted().collect(Collectors.toList()).size()
                            + " data.partitions=" + m.get(data).size();
                }
            });
            step("consume.maxBytesSmall", () -> {
                try (var c = consumer(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 1, ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 1)) {
                    c.assign(List.of(tp(data, 0)));
                    c.seek(tp(data, 0), 0);
                    var rs = pollN(c, 3);
                    return values(rs.subList(0, Math.min(3, rs.size())));
                }
            });
            step("consume.deletedRecordsGone", () -> {
                try (var c = consumer()) {
                    c.assign(List.of(tp(data2, 0)));
                    c.seekToBeginning(List.of(tp(data2, 0)));
                    return "position=" + c.position(tp(data2, 0)) + " " + values(pollN(c, 7));
                }
            });
        }
    }

    // ---------------------------------------------------------------- classic consumer groups

    static final class ClassicGroups {
        static void run() {
            String topic = t("grp");
            String group = g("classic");
            step("group.setup", () -> {
                createTopic(topic, 3, Map.of());
                try (var p = producer()) {
                    for (int part = 0; part < 3; part++) {
                        for (int i = 0; i < 6; i++) get(p.send(new ProducerRecord<>(topic, part, "k", "g" + part + "-" + i)));
                    }
                }
                return null;
            });
            KafkaConsumer<String, String> c1 = consumer(ConsumerConfig.GROUP_ID_CONFIG, group,
                    ConsumerConfig.CLIENT_ID_CONFIG, "c1-" + run, ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            KafkaConsumer<String, String> c2 = null;
            try {
                step("group.classic.join", () -> {
                    c1.subscribe(List.of(topic));
                    awaitAssignment(3, 60_000, c1);
                    return tps(c1.assignment());
                });
                step("group.classic.commitSync", () -> {
                    c1.commitSync(Map.of(tp(topic, 0), new OffsetAndMetadata(2, "meta-a"), tp(topic, 1), new OffsetAndMetadata(1)));
                    return null;
                });
                step("group.classic.committed", () -> {
                    var m = c1.committed(Set.of(tp(topic, 0), tp(topic, 1), tp(topic, 2)));
                    Map<String, String> out = new TreeMap<>();
                    m.forEach((k, v) -> out.put(k.toString(), v == null ? "null" : v.offset() + "/" + v.metadata()
                            + "/epoch=" + v.leaderEpoch().map(String::valueOf).orElse("none")));
                    return out;
                });
                step("group.classic.commit.beyondEnd", () -> {
                    c1.commitSync(Map.of(tp(topic, 2), new OffsetAndMetadata(1000)));
                    return c1.committed(Set.of(tp(topic, 2))).get(tp(topic, 2)).offset();
                });
                step("group.classic.commit.metadataTooLarge", () -> {
                    c1.commitSync(Map.of(tp(topic, 2), new OffsetAndMetadata(3, "m".repeat(5000))));
                    return null;
                });
                step("group.classic.commit.unknownTopic", () -> {
                    c1.commitSync(Map.of(tp(t("nosuch"), 0), new OffsetAndMetadata(3)), Duration.ofSeconds(5));
                    return null;
                });
                step("group.describe.classic", () -> describeGroup(group));
                step("group.classicApi.describe", () -> {
                    var d = get(admin.describeClassicGroups(List.of(group)).all()).get(group);
                    return "state=" + d.state() + " protocol=" + d.protocol() + " members=" + d.members().size();
                });
                step("group.list", () -> listGroups(new ListGroupsOptions()));
                step("group.list.stable", () -> listGroups(new ListGroupsOptions().inGroupStates(Set.of(GroupState.STABLE))));
                step("group.list.consumerType", () -> listGroups(ListGroupsOptions.forConsumerGroups()));
                step("group.list.shareType", () -> listGroups(ListGroupsOptions.forShareGroups()));
                step("group.offsets.list", () -> groupOffsets(group));
                step("group.offsets.list.unknownGroup", () -> groupOffsets(g("nosuch")));
                step("group.delete.active", () -> {
                    get(admin.deleteConsumerGroups(List.of(group)).all());
                    return null;
                });
                step("group.offsets.delete.subscribed", () -> {
                    get(admin.deleteConsumerGroupOffsets(group, Set.of(tp(topic, 0))).all());
                    return null;
                });
                step("group.offsets.alter.active", () -> {
                    get(admin.alterConsumerGroupOffsets(group, Map.of(tp(topic, 0), new OffsetAndMetadata(1))).all());
                    return null;
                });
                step("group.removeMembers.unknownInstance", () -> {
                    get(admin.removeMembersFromConsumerGroup(group, new RemoveMembersFromConsumerGroupOptions(
                            List.of(new MemberToRemove("no-such-instance")))).all());
                    return null;
                });
                ConsumerGroupMetadata md = c1.groupMetadata();
                step("raw.offsetCommit.staleGeneration", () -> rawCommit(group, md.generationId() + 5, md.memberId(), topic));
                step("raw.offsetCommit.unknownMember", () -> rawCommit(group, md.generationId(), "no-such-member", topic));
                step("raw.offsetCommit.simpleOnActiveGroup", () -> rawCommit(group, -1, "", topic));
                step("raw.offsetCommit.unknownGroup.withGeneration", () -> rawCommit(g("rawnone"), 3, "someone", topic));
                step("raw.offsetCommit.current", () -> rawCommit(group, md.generationId(), md.memberId(), topic));
                step("raw.heartbeat.current", () -> rawHeartbeat(group, md.generationId(), md.memberId()));
                step("raw.heartbeat.staleGeneration", () -> rawHeartbeat(group, md.generationId() + 5, md.memberId()));
                step("raw.heartbeat.unknownMember", () -> rawHeartbeat(group, md.generationId(), "no-such-member"));
                step("raw.heartbeat.unknownGroup", () -> rawHeartbeat(g("nosuch"), 1, "no-such-member"));
                step("raw.syncGroup.staleGeneration", () -> {
                    try (Raw raw = new Raw(bootstrap)) {
                        var r = (SyncGroupResponseData) raw.send(new SyncGroupRequestData().setGroupId(group)
                                .setGenerationId(md.generationId() + 5).setMemberId(md.memberId())
                                .setProtocolType("consumer").setProtocolName("range").setAssignments(List.of()), 5);
                        return err(r.errorCode());
                    }
                });
                step("raw.joinGroup.unknownMember", () -> rawJoin(group, "no-such-member", "consumer", 45000));
                step("raw.joinGroup.protocolTypeMismatch", () -> rawJoin(group, "", "connect", 45000));
                step("raw.joinGroup.sessionTimeoutTooSmall", () -> rawJoin(g("raw-st"), "", "consumer", 1));
                step("raw.joinGroup.sessionTimeoutTooLarge", () -> rawJoin(g("raw-st2"), "", "consumer", 100_000_000));
                step("raw.joinGroup.memberIdRequired", () -> rawJoin(g("raw-new"), "", "consumer", 45000));
                step("raw.leaveGroup.unknownMember", () -> {
                    try (Raw raw = new Raw(bootstrap)) {
                        var r = (LeaveGroupResponseData) raw.send(new LeaveGroupRequestData().setGroupId(group).setMembers(List.of(
                                new LeaveGroupRequestData.MemberIdentity().setMemberId("no-such-member"))), 5);
                        return err(r.errorCode()) + " members=" + r.members().stream().map(m -> m.memberId() + ":" + err(m.errorCode()))
                                .collect(Collectors.toList());
                    }
                });
                step("raw.leaveGroup.unknownGroup", () -> {
                    try (Raw raw = new Raw(bootstrap)) {
                        var r = (LeaveGroupResponseData) raw.send(new LeaveGroupRequestData().setGroupId(g("nosuch")).setMembers(List.of(
                                new LeaveGroupRequestData.MemberIdentity().setMemberId("no-such-member"))), 5);
                        return err(r.errorCode()) + " members=" + r.members().stream().map(m -> m.memberId() + ":" + err(m.errorCode()))
                                .collect(Collectors.toList());
                    }
                });
                step("raw.offsetFetch.unknownGroup", () -> {
                    try (Raw raw = new Raw(bootstrap)) {
                        var r = (OffsetFetchResponseData) raw.send(new OffsetFetchRequestData().setGroupId(g("nosuch"))
                                .setTopics(List.of(new OffsetFetchRequestData.OffsetFetchRequestTopic().setName(topic)
                                        .setPartitionIndexes(List.of(0)))), 7);
                        var p = r.topics().get(0).partitions().get(0);
                        return err(r.errorCode()) + " p0=" + p.committedOffset() + "/" + err(p.errorCode()) + "/meta=" + p.metadata();
                    }
                });
                step("raw.describeGroups.unknown.v5", () -> rawDescribeGroups(g("nosuch"), 5));
                step("raw.describeGroups.unknown.v6", () -> rawDescribeGroups(g("nosuch"), 6));
                step("group.describe.unknown", () -> describeGroup(g("nosuch")));
                step("group.classicApi.describe.unknown", () -> {
                    var d = get(admin.describeClassicGroups(List.of(g("nosuch"))).all()).get(g("nosuch"));
                    return "state=" + d.state();
                });
                // a second member: the group rebalances to two members
                final KafkaConsumer<String, String> c2f = consumer(ConsumerConfig.GROUP_ID_CONFIG, group,
                        ConsumerConfig.CLIENT_ID_CONFIG, "c2-" + run, ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
                c2 = c2f;
                step("group.classic.rebalance.twoMembers", () -> {
                    c2f.subscribe(List.of(topic));
                    boolean ok = awaitAssignment(3, 60_000, c1, c2f);
                    List<Integer> sizes = new ArrayList<>(List.of(c1.assignment().size(), c2f.assignment().size()));
                    Collections.sort(sizes);
                    return "balanced=" + ok + " sizes=" + sizes;
                });
                step("group.describe.twoMembers", () -> describeGroup(group));
                step("raw.offsetCommit.previousGeneration", () -> rawCommit(group, md.generationId(), md.memberId(), topic));
                step("group.classic.leave", () -> {
                    c2f.close(Duration.ofSeconds(10));
                    boolean ok = awaitAssignment(3, 60_000, c1);
                    return "rebalanced=" + ok + " c1=" + tps(c1.assignment());
                });
                step("group.classic.close", () -> {
                    c1.close(Duration.ofSeconds(10));
                    until(20_000, () -> {
                        try {
                            return get(admin.describeConsumerGroups(List.of(group)).all()).get(group).members().isEmpty();
                        } catch (Exception e) {
                            return false;
                        }
                    });
                    return describeGroup(group);
                });
            } finally {
                close(c1);
                close(c2);
            }
            step("group.offsets.alter.empty", () -> {
                get(admin.alterConsumerGroupOffsets(group, Map.of(tp(topic, 0), new OffsetAndMetadata(4, "admin"))).all());
                return groupOffsets(group);
            });
            step("group.offsets.alter.newGroup", () -> {
                get(admin.alterConsumerGroupOffsets(g("simple"), Map.of(tp(topic, 1), new OffsetAndMetadata(2))).all());
                return groupOffsets(g("simple")) + " " + listGroups(new ListGroupsOptions());
            });
            step("group.describe.simple", () -> describeGroup(g("simple")));
            step("group.offsets.alter.unknownTopic", () -> {
                get(admin.alterConsumerGroupOffsets(group, Map.of(tp(t("nosuch"), 0), new OffsetAndMetadata(2))).all());
                return null;
            });
            step("group.offsets.delete.empty", () -> {
                get(admin.deleteConsumerGroupOffsets(group, Set.of(tp(topic, 0))).all());
                return groupOffsets(group);
            });
            step("group.offsets.delete.unknownGroup", () -> {
                get(admin.deleteConsumerGroupOffsets(g("nosuch"), Set.of(tp(topic, 0))).all());
                return null;
            });
            step("group.offsets.delete.notCommittedPartition", () -> {
                get(admin.deleteConsumerGroupOffsets(group, Set.of(tp(t("data"), 0))).all());
                return null;
            });
            step("group.delete.empty", () -> {
                get(admin.deleteConsumerGroups(List.of(group)).all());
                return null;
            });
            step("group.delete.unknown", () -> {
                get(admin.deleteConsumerGroups(List.of(g("nosuch"))).all());
                return null;
            });
            step("group.describe.afterDelete", () -> describeGroup(group));
            step("group.offsets.list.afterDelete", () -> groupOffsets(group));
            // static membership: a second consumer with the same group.instance.id fences the first
            String sgroup = g("static");
            KafkaConsumer<String, String> s1 = consumer(ConsumerConfig.GROUP_ID_CONFIG, sgroup,
                    ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "inst-1", ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            KafkaConsumer<String, String> s2 = consumer(ConsumerConfig.GROUP_ID_CONFIG, sgroup,
                    ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "inst-1", ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
            try {
                step("group.static.join", () -> {
                    s1.subscribe(List.of(topic));
                    awaitAssignment(3, 60_000, s1);
                    ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(sgroup)).all()).get(sgroup);
                    return "assigned=" + s1.assignment().size() + " instances="
                            + d.members().stream().map(m -> m.groupInstanceId().orElse("none")).collect(Collectors.toList());
                });
                step("group.static.duplicateInstance", () -> {
                    s2.subscribe(List.of(topic));
                    awaitAssignment(3, 60_000, s2);
                    long deadline = System.currentTimeMillis() + 30_000;
                    while (System.currentTimeMillis() < deadline) s1.poll(POLL);
                    return "s1 not fenced";
                });
                step("group.static.removeMember", () -> {
                    get(admin.removeMembersFromConsumerGroup(sgroup, new RemoveMembersFromConsumerGroupOptions(
                            List.of(new MemberToRemove("inst-1")))).all());
                    return null;
                });
            } finally {
                close(s1);
                close(s2);
            }
        }

        static String describeGroup(String group) throws Exception {
            ConsumerGroupDescription d = get(admin.describeConsumerGroups(List.of(group)).all()).get(group);
            StringBuilder sb = new StringBuilder();
            sb.append("state=").append(d.groupState()).append(" type=").append(d.type()).append(" simple=")
                    .append(d.isSimpleConsumerGroup()).append(" assignor=").append(d.partitionAssignor())
                    .append(" coordinator=").append(d.coordinator() == null ? "none" : d.coordinator().id())
                    .append(" groupEpoch=").append(d.groupEpoch().map(x -> "present").orElse("none"))
                    .append(" targetEpoch=").append(d.targetAssignmentEpoch().map(x -> "present").orElse("none"))
                    .append(" members=[");
            List<String> ms = new ArrayList<>();
            for (MemberDescription m : d.members()) {
                ms.add("{client=" + m.clientId() + " host=" + m.host() + " instance=" + m.groupInstanceId().orElse("none")
                        + " assigned=" + m.assignment().topicPartitions().size()
                        + " target=" + m.targetAssignment().map(a -> String.valueOf(a.topicPartitions().size())).orElse("none")
                        + " epoch=" + m.memberEpoch().map(x -> "present").orElse("none")
                        + " upgraded=" + m.upgraded().map(String::valueOf).orElse("none") + "}");
            }
            Collections.sort(ms);
            sb.append(String.join(",", ms)).append("]");
            return sb.toString();
        }

        static String listGroups(ListGroupsOptions o) throws Exception {
            Collection<GroupListing> all = get(admin.listGroups(o).all());
            return all.stream().filter(l -> l.groupId().contains(run))
                    .map(l -> l.groupId() + "/" + l.type().map(String::valueOf).orElse("?") + "/" + l.protocol() + "/"
                            + l.groupState().map(String::valueOf).orElse("?"))
                    .sorted().collect(Collectors.toList()).toString();
        }

        static String groupOffsets(String group) throws Exception {
            // requireStable: offsets of a transaction being committed are waited for, not left out
            Map<TopicPartition, OffsetAndMetadata> m = get(admin.listConsumerGroupOffsets(group,
                    new org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions().requireStable(true))
                    .partitionsToOffsetAndMetadata());
            Map<String, String> out = new TreeMap<>();
            m.forEach((k, v) -> out.put(k.toString(), v == null ? "null" : v.offset() + "/" + v.metadata()));
            return out.toString();
        }

        /**
         * The offsets of a group that had none before a transaction committed some, once they show
         * (at most 10 s): a busy Kafka shows them a moment after commitTransaction returns, even
         * with requireStable.
         */
        static String groupOffsetsAfterTxn(String group) throws Exception {
            until(10_000, () -> {
                try {
                    return !groupOffsets(group).equals("{}");
                } catch (Exception e) {
                    return false;
                }
            });
            return groupOffsets(group);
        }

        static String rawCommit(String group, int generation, String member, String topic) throws Exception {
            return rawCommit(group, generation, member, topic, 8);
        }

        static String rawCommit(String group, int generation, String member, String topic, int version) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var r = (OffsetCommitResponseData) raw.send(new OffsetCommitRequestData().setGroupId(group)
                        .setGenerationIdOrMemberEpoch(generation).setMemberId(member).setTopics(List.of(
                                new OffsetCommitRequestData.OffsetCommitRequestTopic().setName(topic).setPartitions(List.of(
                                        new OffsetCommitRequestData.OffsetCommitRequestPartition().setPartitionIndex(0)
                                                .setCommittedOffset(1).setCommittedMetadata("raw"))))), version);
                return err(r.topics().get(0).partitions().get(0).errorCode());
            }
        }

        static String rawHeartbeat(String group, int generation, String member) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var r = (HeartbeatResponseData) raw.send(new HeartbeatRequestData().setGroupId(group)
                        .setGenerationId(generation).setMemberId(member), 4);
                return err(r.errorCode());
            }
        }

        static String rawJoin(String group, String member, String protocolType, int sessionTimeout) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var protocols = new JoinGroupRequestData.JoinGroupRequestProtocolCollection();
                protocols.add(new JoinGroupRequestData.JoinGroupRequestProtocol().setName("range").setMetadata(new byte[0]));
                var r = (JoinGroupResponseData) raw.send(new JoinGroupRequestData().setGroupId(group)
                        .setSessionTimeoutMs(sessionTimeout).setRebalanceTimeoutMs(10000).setMemberId(member)
                        .setProtocolType(protocolType).setProtocols(protocols), 9);
                return err(r.errorCode()) + " memberId=" + (r.memberId() == null || r.memberId().isEmpty() ? "empty" : "<set>")
                        + " generation=" + r.generationId();
            }
        }

        static String rawDescribeGroups(String group, int version) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var r = (DescribeGroupsResponseData) raw.send(new DescribeGroupsRequestData().setGroups(List.of(group)), version);
                var d = r.groups().get(0);
                return err(d.errorCode()) + " state=" + d.groupState() + " protocolType=" + d.protocolType()
                        + " members=" + d.members().size();
            }
        }
    }

    // ---------------------------------------------------------------- KIP-848 consumer groups

    static final class ConsumerGroups {
        static void run() {
            String topic = t("grp848");
            String group = g("kip848");
            step("group848.setup", () -> {
                createTopic(topic, 2, Map.of());
                return null;
            });
            KafkaConsumer<String, String> c = consumer(ConsumerConfig.GROUP_ID_CONFIG, group,
                    ConsumerConfig.CLIENT_ID_CONFIG, "k1-" + run, ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
            try {
                step("group848.join", () -> {
                    c.subscribe(List.of(topic));
                    awaitAssignment(2, 90_000, c);
                    return tps(c.assignment());
                });
                step("group848.commitSync", () -> {
                    c.commitSync(Map.of(tp(topic, 0), new OffsetAndMetadata(0, "m848")));
                    return ClassicGroups.groupOffsets(group);
                });
                step("group848.describe", () -> ClassicGroups.describeGroup(group));
                step("group848.list", () -> ClassicGroups.listGroups(ListGroupsOptions.forConsumerGroups()));
                step("group848.classicApi.describe", () -> {
                    var d = get(admin.describeClassicGroups(List.of(group)).all()).get(group);
                    return "state=" + d.state();
                });
                step("raw.describeGroups.consumerGroup.v5", () -> ClassicGroups.rawDescribeGroups(group, 5));
                step("raw.describeGroups.consumerGroup.v6", () -> ClassicGroups.rawDescribeGroups(group, 6));
                step("group848.delete.active", () -> {
                    get(admin.deleteConsumerGroups(List.of(group)).all());
                    return null;
                });
                step("group848.offsets.alter.active", () -> {
                    get(admin.alterConsumerGroupOffsets(group, Map.of(tp(topic, 0), new OffsetAndMetadata(1))).all());
                    return null;
                });
                step("group848.offsets.delete.subscribed", () -> {
                    get(admin.deleteConsumerGroupOffsets(group, Set.of(tp(topic, 0))).all());
                    return null;
                });
                String member = c.groupMetadata().memberId();
                int epoch = c.groupMetadata().generationId();
                step("raw.cgHeartbeat.unknownMember", () -> rawCgHeartbeat(group, Uuid.randomUuid().toString(), 5, null, null));
                step("raw.cgHeartbeat.fencedEpoch", () -> rawCgHeartbeat(group, member, epoch + 10, null, null));
                step("raw.cgHeartbeat.unsupportedAssignor", () ->
                        rawCgHeartbeat(g("raw848"), Uuid.randomUuid().toString(), 0, List.of(topic), "no-such-assignor"));
                step("raw.cgHeartbeat.joinWithoutSubscription", () ->
                        rawCgHeartbeat(g("raw848b"), Uuid.randomUuid().toString(), 0, null, null));
                step("raw.cgHeartbeat.emptyMemberId", () -> rawCgHeartbeat(g("raw848c"), "", 0, List.of(topic), null));
                step("raw.cgHeartbeat.joinAndLeave", () -> {
                    String id = Uuid.randomUuid().toString();
                    String a = rawCgHeartbeat(g("raw848d"), id, 0, List.of(topic), null);
                    String b = rawCgHeartbeat(g("raw848d"), id, -1, null, null);
                    return "join=" + a + " leave=" + b;
                });
                step("raw.offsetCommit848.staleEpoch", () ->
                        ClassicGroups.rawCommit(group, Math.max(0, epoch - 1), member, topic, 9));
                step("raw.offsetCommit848.unknownMember", () ->
                        ClassicGroups.rawCommit(group, epoch, Uuid.randomUuid().toString(), topic, 9));
                step("raw.offsetCommit848.futureEpoch", () -> ClassicGroups.rawCommit(group, epoch + 10, member, topic, 9));
                step("raw.offsetCommit848.current", () -> ClassicGroups.rawCommit(group, epoch, member, topic, 9));
                step("raw.offsetCommit848.v8", () -> ClassicGroups.rawCommit(group, epoch, member, topic, 8));
                step("raw.joinGroup.classicIntoConsumerGroup.otherProtocolType", () ->
                        ClassicGroups.rawJoin(group, "", "connect", 45000));
                step("group848.close", () -> {
                    c.close(Duration.ofSeconds(10));
                    until(20_000, () -> {
                        try {
                            return get(admin.describeConsumerGroups(List.of(group)).all()).get(group).members().isEmpty();
                        } catch (Exception e) {
                            return false;
                        }
                    });
                    return ClassicGroups.describeGroup(group);
                });
            } finally {
                close(c);
            }
            step("group848.delete.empty", () -> {
                get(admin.deleteConsumerGroups(List.of(group)).all());
                return null;
            });
            step("shareGroup.describe.unknown", () -> {
                var d = get(admin.describeShareGroups(List.of(g("share"))).all()).get(g("share"));
                return "state=" + d.groupState();
            });
            step("streamsGroup.describe.unknown", () -> {
                var d = get(admin.describeStreamsGroups(List.of(g("streams"))).all()).get(g("streams"));
                return "state=" + d.groupState();
            });
        }

        static String rawCgHeartbeat(String group, String member, int epoch, List<String> topics, String assignor) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var req = new ConsumerGroupHeartbeatRequestData().setGroupId(group).setMemberId(member).setMemberEpoch(epoch)
                        .setRebalanceTimeoutMs(epoch == 0 ? 30000 : -1).setSubscribedTopicNames(topics).setServerAssignor(assignor)
                        .setTopicPartitions(epoch == 0 ? List.of() : null);
                var r = (ConsumerGroupHeartbeatResponseData) raw.send(req, 1);
                // the epoch's value is the coordinator's business; that it is positive is not
                return err(r.errorCode()) + (r.errorCode() == 0 ? " epoch=" + (r.memberEpoch() > 0 ? "positive" : r.memberEpoch()) : "");
            }
        }
    }

    // ---------------------------------------------------------------- transactions (producer + admin)

    static final class Transactions {
        static KafkaProducer<String, String> txProducer(String id, Object... extra) {
            List<Object> kv = new ArrayList<>(List.of(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id));
            kv.addAll(Arrays.asList(extra));
            return producer(kv.toArray());
        }

        static String describeTxn(String id) throws Exception {
            // PrepareCommit/PrepareAbort last until the markers are written: wait for the end state
            until(10_000, () -> {
                try {
                    TransactionState s = get(admin.describeTransactions(List.of(id)).description(id)).state();
                    return s != TransactionState.PREPARE_COMMIT && s != TransactionState.PREPARE_ABORT;
                } catch (Exception e) {
                    return true;
                }
            });
            TransactionDescription d = get(admin.describeTransactions(List.of(id)).description(id));
            return "state=" + d.state() + " timeout=" + d.transactionTimeoutMs() + " coordinator=" + d.coordinatorId()
                    + " partitions=" + tps(d.topicPartitions()) + " started=" + (d.transactionStartTimeMs().isPresent() ? "yes" : "no");
        }

        static List<String> readAll(String topic, String isolation) {
            try (var c = consumer(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation)) {
                c.assign(List.of(tp(topic, 0)));
                c.seekToBeginning(List.of(tp(topic, 0)));
                long end = c.endOffsets(List.of(tp(topic, 0))).get(tp(topic, 0));
                List<String> out = new ArrayList<>();
                long deadline = System.currentTimeMillis() + 20_000;
                while (c.position(tp(topic, 0)) < end && System.currentTimeMillis() < deadline) {
                    for (var r : c.poll(POLL)) out.add(r.offset() + ":" + r.value());
                }
                return out;
            }
        }

        static void run() {
            String topic = t("txn");
            String id = x("main");
            step("txn.setup", () -> {
                createTopic(topic, 1, Map.of());
                return null;
            });
            KafkaProducer<String, String> p1 = txProducer(id);
            KafkaProducer<String, String> p2 = null;
            try {
                step("txn.init", () -> {
                    p1.initTransactions();
                    return describeTxn(id);
                });
                step("txn.commit", () -> {
                    p1.beginTransaction();
                    for (int i = 0; i < 3; i++) p1.send(new ProducerRecord<>(topic, 0, "k", "c" + i));
                    p1.commitTransaction();
                    return describeTxn(id);
                });
                step("txn.abort", () -> {
                    p1.beginTransaction();
                    for (int i = 0; i < 2; i++) get(p1.send(new ProducerRecord<>(topic, 0, "k", "a" + i)));
                    p1.abortTransaction();
                    return describeTxn(id);
                });
                step("txn.readCommitted", () -> readAll(topic, "read_committed"));
                step("txn.readUncommitted", () -> readAll(topic, "read_uncommitted"));
                step("txn.endOffset", () -> Offsets.lo(topic, 0, OffsetSpec.latest()));
                step("txn.commitWithoutBegin", () -> {
                    p1.commitTransaction();
                    return null;
                });
                step("txn.ongoing", () -> {
                    p1.beginTransaction();
                    get(p1.send(new ProducerRecord<>(topic, 0, "k", "o1")));
                    return describeTxn(id);
                });
                step("txn.ongoing.lastStableOffset", () -> Offsets.lo(topic, 0, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED)
                        + " / uncommitted " + Offsets.lo(topic, 0, OffsetSpec.latest()));
                step("txn.ongoing.readCommittedStops", () -> {
                    try (var c = consumer(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")) {
                        c.assign(List.of(tp(topic, 0)));
                        c.seekToBeginning(List.of(tp(topic, 0)));
                        var rs = pollFor(c, 2000);
                        return values(rs) + " position=" + c.position(tp(topic, 0));
                    }
                });
                step("txn.list", () -> listTxns(new ListTransactionsOptions()));
                step("txn.list.stateOngoing", () -> listTxns(new ListTransactionsOptions().filterStates(List.of(TransactionState.ONGOING))));
                step("txn.list.stateEmpty", () -> listTxns(new ListTransactionsOptions().filterStates(List.of(TransactionState.EMPTY))));
                step("txn.list.unknownProducerId", () -> listTxns(new ListTransactionsOptions().filterProducerIds(List.of(987_654_321L))));
                step("txn.list.duration", () -> listTxns(new ListTransactionsOptions().filterOnDuration(0)));
                step("txn.list.durationLong", () -> listTxns(new ListTransactionsOptions().filterOnDuration(3_600_000L)));
                step("txn.list.pattern", () -> listTxns(new ListTransactionsOptions().filterOnTransactionalIdPattern("dx-" + run + "-m.*")));
                step("producers.describe", () -> describeProducers(topic));
                step("txn.epochAndSequence.afterThreeTransactions", () -> "epoch=" + get(admin.describeTransactions(List.of(id))
                        .description(id)).producerEpoch() + " lastSeq=" + get(admin.describeProducers(List.of(tp(topic, 0)))
                        .partitionResult(tp(topic, 0))).activeProducers().get(0).lastSequence());
                step("producers.describe.unknownTopic", () -> {
                get(admin.describeProducers(List.of(tp(t("nosuch"), 0)),
                        new org.apache.kafka.clients.admin.DescribeProducersOptions().timeoutMs(5000)).all());
                return null;
            });
                step("producers.describe.noProducers", () -> describeProducers(t("cfg")));
                step("txn.ongoing.commit", () -> {
                    p1.commitTransaction();
                    return readAll(topic, "read_committed");
                });
                // zombie fencing
                final KafkaProducer<String, String> p2f = txProducer(id);
                p2 = p2f;
                step("txn.zombie.newInstanceInit", () -> {
                    p2f.initTransactions();
                    return describeTxn(id);
                });
                step("txn.zombie.begin", () -> {
                    p1.beginTransaction();
                    return null;
                });
                step("txn.zombie.send", () -> get(p1.send(new ProducerRecord<>(topic, 0, "k", "zombie"))).offset());
                step("txn.zombie.commit", () -> {
                    p1.commitTransaction();
                    return null;
                });
                step("txn.newInstance.commit", () -> {
                    p2f.beginTransaction();
                    get(p2f.send(new ProducerRecord<>(topic, 0, "k", "n1")));
                    p2f.commitTransaction();
                    return readAll(topic, "read_committed");
                });
                step("txn.fenceProducers", () -> {
                    get(admin.fenceProducers(List.of(id)).all());
                    return describeTxn(id);
                });
                step("txn.fenced.afterFenceProducers", () -> {
                    p2f.beginTransaction();
                    get(p2f.send(new ProducerRecord<>(topic, 0, "k", "after-fence")));
                    p2f.commitTransaction();
                    return null;
                });
                step("txn.fenceProducers.unknownId", () -> {
                    get(admin.fenceProducers(List.of(x("never"))).all());
                    return describeTxn(x("never"));
                });
            } finally {
                close(p1);
                close(p2);
            }
            step("txn.describe.unknown", () -> describeTxn(x("nosuch")));
            step("txn.init.timeoutTooLarge", () -> {
                try (var p = txProducer(x("bigtimeout"), ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 1_000_000,
                        ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 1_100_000)) {
                    p.initTransactions();
                    return null;
                }
            });
            // sendOffsetsToTransaction with real and bogus consumer group metadata
            String group = g("eos");
            KafkaConsumer<String, String> c = consumer(ConsumerConfig.GROUP_ID_CONFIG, group,
                    ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic", ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            KafkaProducer<String, String> p3 = txProducer(x("eos"));
            try {
                step("txn.offsets.setup", () -> {
                    c.subscribe(List.of(t("grp")));
                    awaitAssignment(3, 60_000, c);
                    p3.initTransactions();
                    return tps(c.assignment());
                });
                step("txn.sendOffsets", () -> {
                    p3.beginTransaction();
                    get(p3.send(new ProducerRecord<>(topic, 0, "k", "eos")));
                    p3.sendOffsetsToTransaction(Map.of(tp(t("grp"), 0), new OffsetAndMetadata(5, "txn")), c.groupMetadata());
                    p3.commitTransaction();
                    return ClassicGroups.groupOffsetsAfterTxn(group);
                });
                step("txn.sendOffsets.unknownMember", () -> {
                    p3.beginTransaction();
                    try {
                        p3.sendOffsetsToTransaction(Map.of(tp(t("grp"), 0), new OffsetAndMetadata(6)),
                                new ConsumerGroupMetadata(group, c.groupMetadata().generationId(), "bogus-member", Optional.empty()));
                        p3.commitTransaction();
                        return ClassicGroups.groupOffsets(group);
                    } catch (Exception e) {
                        try {
                            p3.abortTransaction();
                        } catch (Exception ignored) {
                            // the error under test is the first one
                        }
                        throw e;
                    }
                });
                step("txn.sendOffsets.staleGeneration", () -> {
                    p3.beginTransaction();
                    try {
                        p3.sendOffsetsToTransaction(Map.of(tp(t("grp"), 0), new OffsetAndMetadata(7)),
                                new ConsumerGroupMetadata(group, c.groupMetadata().generationId() + 5,
                                        c.groupMetadata().memberId(), Optional.empty()));
                        p3.commitTransaction();
                        return ClassicGroups.groupOffsets(group);
                    } catch (Exception e) {
                        try {
                            p3.abortTransaction();
                        } catch (Exception ignored) {
                            // the error under test is the first one
                        }
                        throw e;
                    }
                });
                step("txn.sendOffsets.afterErrors", () -> ClassicGroups.groupOffsets(group));
                step("txn.sendOffsets.simpleGroup", () -> {
                    p3.beginTransaction();
                    p3.sendOffsetsToTransaction(Map.of(tp(t("grp"), 1), new OffsetAndMetadata(3)),
                            new ConsumerGroupMetadata(g("eos-simple")));
                    p3.commitTransaction();
                    return ClassicGroups.groupOffsetsAfterTxn(g("eos-simple"));
                });
            } finally {
                close(c);
                close(p3);
            }
            // admin abortTransaction on a hanging transaction
            KafkaProducer<String, String> p4 = txProducer(x("hang"));
            try {
                step("txn.adminAbort.setup", () -> {
                    p4.initTransactions();
                    p4.beginTransaction();
                    get(p4.send(new ProducerRecord<>(t("hang"), 0, "k", "hanging")));
                    return Offsets.lo(t("hang"), 0, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED);
                });
                step("txn.adminAbort", () -> {
                    ProducerState s = get(admin.describeProducers(List.of(tp(t("hang"), 0))).partitionResult(tp(t("hang"), 0)))
                            .activeProducers().get(0);
                    get(admin.abortTransaction(new AbortTransactionSpec(tp(t("hang"), 0), s.producerId(),
                            (short) s.producerEpoch(), s.coordinatorEpoch().orElse(0))).all());
                    return Offsets.lo(t("hang"), 0, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED);
                });
                step("txn.adminAbort.wrongProducer", () -> {
                    get(admin.abortTransaction(new AbortTransactionSpec(tp(t("hang"), 0), 987_654_321L, (short) 0, 0)).all());
                    return null;
                });
                step("txn.adminAbort.unknownTopic", () -> {
                    get(admin.abortTransaction(new AbortTransactionSpec(tp(t("nosuch"), 0), 987_654_321L, (short) 0, 0),
                            new org.apache.kafka.clients.admin.AbortTransactionOptions().timeoutMs(5000)).all());
                    return null;
                });
            } finally {
                close(p4);
            }
            // transaction.timeout.ms: the coordinator aborts, the producer learns it is fenced
            KafkaProducer<String, String> p5 = txProducer(x("timeout"), ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 2000);
            try {
                step("txn.timeout.setup", () -> {
                    p5.initTransactions();
                    p5.beginTransaction();
                    get(p5.send(new ProducerRecord<>(t("tmo"), 0, "k", "late")));
                    return describeTxn(x("timeout"));
                });
                step("txn.timeout.coordinatorAborts", () -> {
                    until(60_000, () -> {
                        try {
                            TransactionDescription d = get(admin.describeTransactions(List.of(x("timeout"))).description(x("timeout")));
                            return d.state() == TransactionState.COMPLETE_ABORT || d.state() == TransactionState.EMPTY;
                        } catch (Exception e) {
                            return false;
                        }
                    });
                    return describeTxn(x("timeout")) + " lso=" + Offsets.lo(t("tmo"), 0, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED);
                });
                step("txn.timeout.commitFails", () -> {
                    p5.commitTransaction();
                    return null;
                });
            } finally {
                close(p5);
            }
        }

        static String listTxns(ListTransactionsOptions o) throws Exception {
            Collection<TransactionListing> all = get(admin.listTransactions(o).all());
            return all.stream().filter(l -> l.transactionalId().contains(run))
                    .map(l -> l.transactionalId() + "/" + l.state()).sorted().collect(Collectors.toList()).toString();
        }

        static String describeProducers(String topic) throws Exception {
            var r = get(admin.describeProducers(List.of(tp(topic, 0))).partitionResult(tp(topic, 0)));
            return r.activeProducers().stream().map(s -> "{epoch=" + (s.producerEpoch() >= 0 ? "<epoch>" : "negative")
                    + " txnStart=" + (s.currentTransactionStartOffset().isPresent() ? s.currentTransactionStartOffset().getAsLong() : "none")
                    + " coordinatorEpoch=" + (s.coordinatorEpoch().isPresent() ? "present" : "none") + "}")
                    .collect(Collectors.toList()).toString();
        }
    }

    // ---------------------------------------------------------------- transactions in the wrong state (raw)

    static final class RawTxn {
        static void run() {
            String topic = t("txn");
            String id = x("raw");
            long[][] pe = new long[1][];
            step("raw.initProducerId.transactional", () -> {
                pe[0] = rawInitPid(id, 60000);
                return "epoch=" + pe[0][1];
            });
            step("raw.initProducerId.idempotent", () -> "epoch=" + rawInitPid(null, 0)[1]);
            step("raw.initProducerId.timeoutTooLarge", () -> "epoch=" + rawInitPid(x("raw-big"), 1_000_000)[1]);
            step("raw.initProducerId.timeoutZero", () -> "epoch=" + rawInitPid(x("raw-zero"), 0)[1]);
            step("raw.endTxn.noTransaction", () -> rawEndTxn(id, pe[0][0], (short) pe[0][1], true));
            step("raw.endTxn.abortNoTransaction", () -> rawEndTxn(id, pe[0][0], (short) pe[0][1], false));
            step("raw.endTxn.wrongEpoch", () -> rawEndTxn(id, pe[0][0], (short) (pe[0][1] + 3), true));
            step("raw.endTxn.wrongProducerId", () -> rawEndTxn(id, 987_654_321L, (short) pe[0][1], true));
            step("raw.endTxn.unknownTransactionalId", () -> rawEndTxn(x("raw-nosuch"), pe[0][0], (short) pe[0][1], true));
            step("raw.addPartitionsToTxn.unknownProducerId", () -> rawAddPartitions(id, 987_654_321L, (short) 0, topic));
            step("raw.addPartitionsToTxn.wrongEpoch", () -> rawAddPartitions(id, pe[0][0], (short) (pe[0][1] + 3), topic));
            step("raw.addPartitionsToTxn.unknownTopic", () -> rawAddPartitions(id, pe[0][0], (short) pe[0][1], t("nosuch")));
            step("raw.addOffsetsToTxn.unknownProducerId", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (AddOffsetsToTxnResponseData) raw.send(new AddOffsetsToTxnRequestData().setTransactionalId(id)
                            .setProducerId(987_654_321L).setProducerEpoch((short) 0).setGroupId(g("rawtxn")), 3);
                    return err(r.errorCode());
                }
            });
            step("raw.txnOffsetCommit.withoutAddOffsets", () -> {
                try (Raw raw = new Raw(bootstrap)) {
                    var r = (TxnOffsetCommitResponseData) raw.send(new TxnOffsetCommitRequestData().setTransactionalId(id)
                            .setGroupId(g("rawtxn")).setProducerId(pe[0][0]).setProducerEpoch((short) pe[0][1])
                            .setGenerationIdOrMemberEpoch(-1).setMemberId("").setTopics(List.of(
                                    new TxnOffsetCommitRequestData.TxnOffsetCommitRequestTopic().setName(topic).setPartitions(List.of(
                                            new TxnOffsetCommitRequestData.TxnOffsetCommitRequestPartition().setPartitionIndex(0)
                                                    .setCommittedOffset(1))))), 3);
                    return err(r.topics().get(0).partitions().get(0).errorCode());
                }
            });
            step("raw.addPartitionsToTxn.thenCommit", () -> {
                String a = rawAddPartitions(id, pe[0][0], (short) pe[0][1], topic);
                String p = Produce.rawProduce(topic, 0, (short) -1, MemoryRecords.withTransactionalRecords(Compression.NONE,
                        pe[0][0], (short) pe[0][1], 0, new SimpleRecord("raw-txn".getBytes(StandardCharsets.UTF_8))), id);
                String e = rawEndTxn(id, pe[0][0], (short) pe[0][1], true);
                return "add=" + a + " produce=" + p.replaceAll("@\\d+", "@<offset>") + " end=" + e;
            });
            step("raw.endTxn.twice", () -> {
                until(10_000, () -> {
                    try {
                        return get(admin.describeTransactions(List.of(id)).description(id)).state() == TransactionState.COMPLETE_COMMIT;
                    } catch (Exception e) {
                        return false;
                    }
                });
                return rawEndTxn(id, pe[0][0], (short) pe[0][1], true) + " / abort " + rawEndTxn(id, pe[0][0], (short) pe[0][1], false);
            });
        }

        static String rawEndTxn(String id, long pid, short epoch, boolean commit) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var r = (EndTxnResponseData) raw.send(new EndTxnRequestData().setTransactionalId(id).setProducerId(pid)
                        .setProducerEpoch(epoch).setCommitted(commit), 4);
                return err(r.errorCode());
            }
        }

        static String rawAddPartitions(String id, long pid, short epoch, String topic) throws Exception {
            try (Raw raw = new Raw(bootstrap)) {
                var topics = new AddPartitionsToTxnRequestData.AddPartitionsToTxnTopicCollection();
                topics.add(new AddPartitionsToTxnRequestData.AddPartitionsToTxnTopic().setName(topic).setPartitions(List.of(0)));
                var r = (AddPartitionsToTxnResponseData) raw.send(new AddPartitionsToTxnRequestData().setV3AndBelowTransactionalId(id)
                        .setV3AndBelowProducerId(pid).setV3AndBelowProducerEpoch(epoch).setV3AndBelowTopics(topics), 3);
                List<String> out = new ArrayList<>();
                r.resultsByTopicV3AndBelow().forEach(t -> t.resultsByPartition().forEach(p ->
                        out.add(t.name() + "-" + p.partitionIndex() + "=" + err(p.partitionErrorCode()))));
                return err(r.errorCode()) + " " + out;
            }
        }
    }

    // ---------------------------------------------------------------- internal topics (last: may be destructive)

    static final class Internal {
        static void run() {
            step("internal.list", () -> {
                Set<String> all = get(admin.listTopics(new ListTopicsOptions().listInternal(true)).names());
                Set<String> plain = get(admin.listTopics().names());
                return "listInternal has __consumer_offsets=" + all.contains("__consumer_offsets") + " __transaction_state="
                        + all.contains("__transaction_state") + "; default list has __consumer_offsets="
                        + plain.contains("__consumer_offsets");
            });
            step("internal.describe.consumerOffsets", () -> {
                TopicDescription d = get(admin.describeTopics(List.of("__consumer_offsets")).allTopicNames()).get("__consumer_offsets");
                return "internal=" + d.isInternal() + " partitions=" + d.partitions().size();
            });
            step("internal.describe.transactionState", () -> {
                TopicDescription d = get(admin.describeTopics(List.of("__transaction_state")).allTopicNames()).get("__transaction_state");
                return "internal=" + d.isInternal() + " partitions=" + d.partitions().size();
            });
            step("internal.config.consumerOffsets", () -> Configs.entries(Configs.describe(
                    new ConfigResource(ConfigResource.Type.TOPIC, "__consumer_offsets")), List.of("cleanup.policy", "segment.bytes")));
            step("internal.create.consumerOffsets", () -> {
                createTopic("__consumer_offsets", 1, Map.of());
                return null;
            });
            step("internal.createPartitions.consumerOffsets", () -> {
                get(admin.createPartitions(Map.of("__consumer_offsets", NewPartitions.increaseTo(1000)),
                        new CreatePartitionsOptions().validateOnly(true)).all());
                return null;
            });
            step("internal.produce.consumerOffsets", () -> {
                try (var p = producer(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5000)) {
                    return get(p.send(new ProducerRecord<>("__consumer_offsets", 0, "k", "v"))).offset();
                }
            });
            step("internal.deleteRecords.consumerOffsets", () ->
                    Offsets.lowWatermark("__consumer_offsets", 0, RecordsToDelete.beforeOffset(0)));
            step("internal.delete.consumerOffsets", () -> {
                get(admin.deleteTopics(List.of("__consumer_offsets")).all());
                return null;
            });
        }
    }
}
