import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ClassicGroupDescription;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;

/**
 * Kafka Connect 4.x (connect-runtime, connect-file) as a broker workload: two distributed workers
 * (separate JVMs, one group), a FileStreamSource (file -> topic) and a FileStreamSink (topic ->
 * file) configured through the REST API; one worker is SIGKILLed while lines flow, its connectors
 * and tasks move to the other, and every line reaches the sink file.
 *
 *   java ConnectWorkload driver BOOTSTRAP WORKDIR
 */
public final class ConnectWorkload {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final int BEFORE = 300;   // lines before the kill
    static final int DURING = 300;   // lines appended while the victim is killed
    static final int AFTER = 200;    // lines appended once the survivor runs everything

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("driver")) {
            Harness.pidFile = Path.of(args[2], "pids");
            try {
                driver(args[1], Path.of(args[2]));
            } catch (Throwable t) {
                Harness.notOk("connect-driver", Harness.describe(t));
            } finally {
                Harness.stopAll(Duration.ofSeconds(20));
            }
            System.exit(Harness.failed == 0 ? 0 : 1);
        }
        System.err.println("usage: ConnectWorkload driver BOOTSTRAP WORKDIR");
        System.exit(2);
    }

    record Worker(String name, int port, Harness.Child child) {
        String url() {
            return "http://127.0.0.1:" + port;
        }

        String id() {
            return "127.0.0.1:" + port;
        }
    }

    static void driver(String bootstrap, Path work) throws Exception {
        String s = Harness.suffix();
        String group = "wl-connect-" + s;
        String configTopic = "wl-connect-configs-" + s;
        String offsetTopic = "wl-connect-offsets-" + s;
        String statusTopic = "wl-connect-status-" + s;
        String dataTopic = "wl-connect-data-" + s;
        String source = "wl-file-source-" + s;
        String sink = "wl-file-sink-" + s;
        Path in = work.resolve("source.txt");
        Path out = work.resolve("sink.txt");
        Files.createFile(in);
        List<String> expected = new ArrayList<>();
        for (int i = 1; i <= BEFORE + 2 * (DURING + AFTER); i++) expected.add(String.format("line %06d of %s: the quick brown fox", i, s));

        // Connect's own log lines at INFO into each worker's log file (shown on failure).
        Path log4j = work.resolve("connect-log4j2.yaml");
        Files.writeString(log4j, String.join("\n",
                "Configuration:",
                "  Appenders:",
                "    Console:",
                "      name: OUT",
                "      target: SYSTEM_OUT",
                "      PatternLayout:",
                "        pattern: \"[%d] %p %m (%c)%n\"",
                "  Loggers:",
                "    Root:",
                "      level: WARN",
                "      AppenderRef:",
                "        - ref: OUT",
                "    Logger:",
                "      - name: org.apache.kafka.connect.runtime.distributed",
                "        level: INFO",
                "        additivity: false",
                "        AppenderRef:",
                "          - ref: OUT",
                ""));

        // connect-file older than kafka-clients needs the AppInfoParser shim (shim/AppInfoParser.java)
        String cp = System.getProperty("java.class.path");
        String shim = System.getProperty("workloads.shim", "");
        try {
            Class.forName("org.apache.kafka.common.utils.AppInfoParser");
        } catch (ClassNotFoundException e) {
            if (!shim.isEmpty() && Files.isDirectory(Path.of(shim))) {
                cp = shim + java.io.File.pathSeparator + cp;
                Harness.log("connect: kafka-clients lacks o.a.k.common.utils.AppInfoParser, which connect-file calls: workers get the shim " + shim);
            }
        }
        String classpath = cp;

        try (Admin admin = Harness.admin(bootstrap)) {
            // One partition, so that the sink sees the lines in the source's order.
            admin.createTopics(List.of(new NewTopic(dataTopic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);

            WorkerStarter starter = name -> {
                int port = Harness.freePort();
                Path props = work.resolve(name + ".properties");
                Files.writeString(props, String.join("\n",
                        "bootstrap.servers=" + bootstrap,
                        "group.id=" + group,
                        "config.storage.topic=" + configTopic,
                        "offset.storage.topic=" + offsetTopic,
                        "status.storage.topic=" + statusTopic,
                        "config.storage.replication.factor=1",
                        "offset.storage.replication.factor=1",
                        "status.storage.replication.factor=1",
                        "key.converter=org.apache.kafka.connect.storage.StringConverter",
                        "value.converter=org.apache.kafka.connect.storage.StringConverter",
                        "listeners=http://127.0.0.1:" + port,
                        "rest.advertised.host.name=127.0.0.1",
                        "rest.advertised.port=" + port,
                        // source offsets go with the source's transactions (exactly-once); the sink task
                        // commits its consumer offsets every 2 s, so that a kill usually leaves
                        // written lines uncommitted, to be redelivered
                        "offset.flush.interval.ms=2000",
                        // plugins found through their ServiceLoader manifests, not by scanning every
                        // class of the classpath (seconds less per worker start)
                        "plugin.discovery=service_load",
                        // a dead worker's connectors and tasks are reassigned after 5 s (default 5 min)
                        "scheduled.rebalance.max.delay.ms=5000",
                        "session.timeout.ms=6000",
                        "heartbeat.interval.ms=1000",
                        // the sink task's consumer: a dead one leaves its group after 6 s (default 45 s);
                        // it reads only committed records
                        "consumer.session.timeout.ms=6000",
                        "consumer.heartbeat.interval.ms=1000",
                        "consumer.isolation.level=read_committed",
                        // KIP-618: source tasks write records and offsets in transactions, the
                        // leader writes the config topic transactionally and fences zombie tasks
                        "exactly.once.source.support=enabled",
                        ""));
                Harness.Child c = Harness.spawnWithClasspath(name, work, "384m", List.of("-Dlog4j2.configurationFile=" + log4j), classpath,
                        "org.apache.kafka.connect.cli.ConnectDistributed", props.toString());
                return new Worker(name, port, c);
            };
            List<Worker> workers = new ArrayList<>();
            workers.add(starter.start("connect-1"));
            workers.add(starter.start("connect-2"));

            // --- both workers up, in one group of protocol type "connect" ---------------------
            boolean up = false;
            try {
                awaitWorkers(admin, group, workers, 2);
                up = true;
                Harness.ok("connect-workers-startup");
            } catch (Throwable t) {
                Harness.notOk("connect-workers-startup", Harness.describe(t) + "\n" + workers.get(0).child().tail(30) + "\n" + workers.get(1).child().tail(30));
            }
            if (!up) return;

            Harness.check("connect-group-protocol", () -> {
                Collection<GroupListing> groups = admin.listGroups().all().get(30, TimeUnit.SECONDS);
                GroupListing g = groups.stream().filter(x -> x.groupId().equals(group)).findFirst()
                        .orElseThrow(() -> new AssertionError("ListGroups does not list " + group));
                List<String> problems = new ArrayList<>();
                if (!"connect".equals(g.protocol())) problems.add("ListGroups: protocol type " + g.protocol() + ", expected connect");
                if (!g.type().map(t -> t == org.apache.kafka.common.GroupType.CLASSIC).orElse(false)) problems.add("ListGroups: group type " + g.type() + ", expected Classic");
                ClassicGroupDescription d = admin.describeClassicGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
                if (!"connect".equals(d.protocol())) problems.add("DescribeGroups: protocol type " + d.protocol() + ", expected connect");
                // Connect 4.x workers offer "sessioned" (and "compatible", "default"); the group picks sessioned.
                if (!"sessioned".equals(d.protocolData())) problems.add("DescribeGroups: protocol " + d.protocolData() + ", expected sessioned");
                if (d.members().size() != 2) problems.add("DescribeGroups: " + d.members().size() + " members, expected 2");
                require(problems.isEmpty(), String.join("\n", problems));
            });

            Harness.check("connect-internal-topics", () -> {
                List<String> problems = new ArrayList<>();
                Map<String, Integer> partitions = new LinkedHashMap<>();
                // Connect's defaults: config.storage has one partition (it must), offset.storage.partitions=25, status.storage.partitions=5
                partitions.put(configTopic, 1);
                partitions.put(offsetTopic, 25);
                partitions.put(statusTopic, 5);
                Map<String, TopicDescription> d = Harness.describeTopics(admin, partitions.keySet());
                for (Map.Entry<String, Integer> e : partitions.entrySet()) {
                    TopicDescription td = d.get(e.getKey());
                    if (td == null) {
                        problems.add(e.getKey() + " missing");
                        continue;
                    }
                    if (td.partitions().size() != e.getValue()) problems.add(e.getKey() + ": " + td.partitions().size() + " partitions, expected " + e.getValue());
                    for (var p : td.partitions()) if (p.replicas().size() != 1) problems.add(e.getKey() + "-" + p.partition() + ": replicas " + p.replicas());
                }
                Map<String, Map<String, ConfigEntry>> cfg = Harness.topicConfigs(admin, partitions.keySet());
                Harness.logTopicOverrides("connect: ", cfg);
                for (String t : partitions.keySet()) Harness.expectConfig(problems, t, cfg.get(t), "cleanup.policy", "compact");
                require(problems.isEmpty(), String.join("\n", problems));
            });

            // --- the pipeline through the REST API --------------------------------------------
            boolean created = false;
            try {
                createConnector(workers.get(0), source, Map.of(
                        "connector.class", "org.apache.kafka.connect.file.FileStreamSourceConnector",
                        "tasks.max", "1", "file", in.toString(), "topic", dataTopic,
                        "exactly.once.support", "required"));
                createConnector(workers.get(1), sink, Map.of(
                        "connector.class", "org.apache.kafka.connect.file.FileStreamSinkConnector",
                        "tasks.max", "1", "file", out.toString(), "topics", dataTopic));
                Harness.await("both connectors and their tasks RUNNING", Duration.ofSeconds(60),
                        () -> running(workers.get(0), source, null) && running(workers.get(0), sink, null));
                created = true;
            } catch (Throwable t) {
                Harness.notOk("connect-pipeline", Harness.describe(t) + "\n" + workers.get(0).child().tail(30) + "\n" + workers.get(1).child().tail(30));
            }
            if (!created) return;

            append(in, expected.subList(0, BEFORE));
            String pipelineProblem = null;
            try {
                Harness.await("the first " + BEFORE + " lines in the sink file", Duration.ofSeconds(60), () -> sinkLines(out).size() >= BEFORE);
                List<String> got = sinkLines(out);
                if (!got.equals(expected.subList(0, BEFORE))) {
                    pipelineProblem = "sink file is not exactly the " + BEFORE + " source lines in order: " + diff(got, expected.subList(0, BEFORE));
                }
            } catch (Throwable t) {
                pipelineProblem = Harness.describe(t) + " (" + sinkLines(out).size() + " lines there)";
            }
            if (pipelineProblem == null) {
                Harness.ok("connect-pipeline");
            } else {
                Harness.notOk("connect-pipeline", pipelineProblem + "\n" + workers.get(0).child().tail(20) + "\n" + workers.get(1).child().tail(20));
            }

            // --- round 1: SIGKILL the worker running the source task while lines flow ---------
            Ctx ctx = new Ctx(bootstrap, admin, dataTopic, source, sink, in, out, expected);
            boolean round1 = killRound(ctx, "connect-failover-source-task", workers, "source", BEFORE);
            Harness.check("connect-group-after-kill", () -> {
                ClassicGroupDescription d = admin.describeClassicGroups(List.of(group)).all().get(30, TimeUnit.SECONDS).get(group);
                require(d.members().size() == 1, "members " + d.members() + ", expected only the survivor");
                require(d.state() == org.apache.kafka.common.ClassicGroupState.STABLE, "state " + d.state() + ", expected Stable");
            });
            if (!round1) return;

            // --- a third worker joins and gets a share of the work -----------------------------
            workers.add(starter.start("connect-3"));
            boolean joined = false;
            try {
                List<Worker> live = workers.stream().filter(w -> w.child().alive()).collect(Collectors.toList());
                awaitWorkers(admin, group, live, 2);
                Worker newcomer = workers.get(workers.size() - 1);
                // Incremental cooperative rebalancing spreads 2 connectors + 2 tasks over 2 workers.
                Harness.await("the new worker to run a share of the connectors and tasks", Duration.ofSeconds(60), () -> {
                    Resp a = get(newcomer, "/connectors/" + source + "/status");
                    Resp b = get(newcomer, "/connectors/" + sink + "/status");
                    if (!running(newcomer, source, null) || !running(newcomer, sink, null)) return false;
                    int mine = 0;
                    for (Resp r : List.of(a, b)) {
                        if (r.json.path("connector").path("worker_id").asText().equals(newcomer.id())) mine++;
                        for (JsonNode t : r.json.path("tasks")) if (t.path("worker_id").asText().equals(newcomer.id())) mine++;
                    }
                    return mine == 2;
                });
                joined = true;
                Harness.ok("connect-worker-join");
            } catch (Throwable t) {
                Harness.notOk("connect-worker-join", Harness.describe(t) + "\n" + workers.get(workers.size() - 1).child().tail(30));
            }
            if (!joined) return;

            // --- round 2: SIGKILL the worker running the sink task while lines flow -----------
            killRound(ctx, "connect-failover-sink-task", workers, "sink", BEFORE + DURING + AFTER);

            // The source task's position (the file's byte offset) is committed to the offsets
            // topic and read back through the REST API: the whole file, once flushed.
            Worker last = workers.stream().filter(w -> w.child().alive()).findFirst().orElseThrow();
            Harness.check("connect-source-offsets", () -> {
                long size = Files.size(in);
                AtomicReference<String> answer = new AtomicReference<>("");
                try {
                    Harness.await("GET /connectors/" + source + "/offsets to show position " + size, Duration.ofSeconds(30), () -> {
                        Resp r = get(last, "/connectors/" + source + "/offsets");
                        answer.set(r.status + " " + r.body);
                        if (r.status != 200) return false;
                        for (JsonNode o : r.json.path("offsets")) {
                            if (o.path("partition").path("filename").asText().equals(in.toString()) && o.path("offset").path("position").asLong(-1) == size) return true;
                        }
                        return false;
                    });
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError(e.getMessage() + "; last answer: " + answer.get());
                }
            });

            // Exactly-once source (KIP-618): across both kills, the data topic read with
            // read_committed holds every line exactly once, in the file's order.
            Harness.check("connect-exactly-once-source", () -> {
                List<String> topic = readCommitted(bootstrap, dataTopic);
                require(topic.equals(expected), "data topic (read_committed) is not the source lines exactly once in order: " + diff(topic, expected)
                        + "; " + (topic.size() - new HashSet<>(topic).size()) + " repeated");
            });

            Harness.stopAll(Duration.ofSeconds(20));
            try {
                Set<String> mine = Harness.listTopics(admin).stream().filter(t -> t.endsWith(s) && t.startsWith("wl-connect-")).collect(Collectors.toSet());
                admin.deleteTopics(mine).all().get(30, TimeUnit.SECONDS);
                admin.deleteConsumerGroups(List.of("connect-" + sink)).all().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                Harness.log("connect: deleting the topics or the sink's group failed: " + e);
            }
        }
    }

    interface WorkerStarter {
        Worker start(String name) throws Exception;
    }

    record Ctx(String bootstrap, Admin admin, String dataTopic, String source, String sink, Path in, Path out, List<String> expected) {}

    /** Waits until every worker answers REST calls and the group has exactly `members` members, Stable. */
    static void awaitWorkers(Admin admin, String group, List<Worker> workers, int members) throws Exception {
        Harness.await("the workers to answer GET /connectors", Duration.ofSeconds(120), () -> {
            for (Worker w : workers) {
                if (!w.child().alive()) throw new AssertionError(w.name() + " exited\n" + w.child().tail(40));
                if (get(w, "/connectors").status != 200) return false;
            }
            return true;
        });
        Harness.await("the Connect group to have " + members + " members, Stable", Duration.ofSeconds(60), () -> {
            try {
                ClassicGroupDescription d = admin.describeClassicGroups(List.of(group)).all().get(10, TimeUnit.SECONDS).get(group);
                return d.members().size() == members && d.state() == org.apache.kafka.common.ClassicGroupState.STABLE;
            } catch (Exception e) {
                return false;
            }
        });
    }

    /**
     * One failover round: the live worker running `which` task ("source" or "sink") is SIGKILLed
     * while DURING lines are appended; the other live worker must end up running both connectors
     * and both tasks; AFTER more lines are appended; every line so far must reach the sink file,
     * their first occurrences in the file's order. Returns whether the round passed.
     */
    static boolean killRound(Ctx c, String check, List<Worker> workers, String which, int done) throws Exception {
        List<Worker> live = workers.stream().filter(w -> w.child().alive()).collect(Collectors.toList());
        Worker any = live.get(0);
        JsonNode srcStatus = get(any, "/connectors/" + c.source() + "/status").json;
        JsonNode sinkStatus = get(any, "/connectors/" + c.sink() + "/status").json;
        String host = (which.equals("source") ? srcStatus : sinkStatus).path("tasks").path(0).path("worker_id").asText();
        Worker victim = live.stream().filter(w -> w.id().equals(host)).findFirst().orElse(live.get(0));
        Worker survivor = live.stream().filter(w -> w != victim).findFirst().orElseThrow();
        Harness.log("connect: placement: source connector on " + name(workers, srcStatus.path("connector").path("worker_id").asText())
                + ", source task on " + name(workers, srcStatus.path("tasks").path(0).path("worker_id").asText())
                + ", sink connector on " + name(workers, sinkStatus.path("connector").path("worker_id").asText())
                + ", sink task on " + name(workers, sinkStatus.path("tasks").path(0).path("worker_id").asText())
                + "; killing " + victim.name() + " (runs the " + which + " task)");
        List<String> expected = c.expected();
        int total = done + DURING + AFTER;
        int before = sinkLines(c.out()).size();
        String problem = null;
        long committedAtKill = -1;
        try {
            // DURING lines in chunks of 10 every 50 ms; the kill as soon as 50 lines of this round
            // reached the sink file (so the pipeline is busy end to end, and the sink usually has
            // lines written but not committed yet), at the latest once the last chunk is there.
            boolean killed = false;
            for (int i = done; i < done + DURING; i += 10) {
                append(c.in(), expected.subList(i, i + 10));
                if (!killed && i + 10 >= done + DURING) {
                    // all appended and the sink not yet busy: give it a little while
                    try {
                        Harness.await("50 lines of this round in the sink file", Duration.ofSeconds(20), () -> sinkLines(c.out()).size() >= before + 50);
                    } catch (java.util.concurrent.TimeoutException e) {
                        Harness.log("connect: " + e.getMessage() + "; killing anyway");
                    }
                }
                if (!killed && (sinkLines(c.out()).size() >= before + 50 || i + 10 >= done + DURING)) {
                    committedAtKill = sinkCommitted(c);
                    victim.child().kill();
                    killed = true;
                    Harness.log("connect: killed " + victim.name() + " after " + (i + 10 - done) + " of this round's " + DURING + " lines were appended, "
                            + (sinkLines(c.out()).size() - before) + " had reached the sink file");
                }
                Thread.sleep(50);
            }
            Harness.await(survivor.name() + " to run both connectors and both tasks", Duration.ofSeconds(90),
                    () -> running(survivor, c.source(), survivor.id()) && running(survivor, c.sink(), survivor.id()));
            Harness.log("connect: " + survivor.name() + " runs both connectors and tasks");
            append(c.in(), expected.subList(done + DURING, total));
            Set<String> want = new HashSet<>(expected.subList(0, total));
            Harness.await("every line so far in the sink file", Duration.ofSeconds(60), () -> new HashSet<>(sinkLines(c.out())).containsAll(want));
        } catch (Throwable t) {
            List<String> got = sinkLines(c.out());
            Set<String> missing = new TreeSet<>(expected.subList(0, total));
            missing.removeAll(got);
            problem = Harness.describe(t) + "\n" + missing.size() + " lines missing from the sink file, e.g. " + missing.stream().limit(3).collect(Collectors.toList())
                    + "\n" + survivor.child().tail(40);
        }
        if (problem == null) {
            // At-least-once allows repeats, but nothing foreign and first occurrences in order.
            List<String> got = sinkLines(c.out());
            List<String> firsts = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            for (String l : got) if (seen.add(l)) firsts.add(l);
            if (!firsts.equals(expected.subList(0, total))) problem = "first occurrences in the sink file not the source lines in order: " + diff(firsts, expected.subList(0, total));
            // The sink's consumer resumes at its committed offset: a line below the offset the sink
            // had committed before the kill is never written again after the round started.
            Map<String, Long> offsets = lineOffsets(c.bootstrap(), c.dataTopic());
            Set<String> seenBefore = new HashSet<>();
            List<String> redelivered = new ArrayList<>();
            int redeliveredCommitted = 0;
            for (int i = 0; i < got.size(); i++) {
                String l = got.get(i);
                boolean repeat = !seenBefore.add(l);
                if (i >= before && repeat) {
                    redelivered.add(l);
                    Long off = offsets.get(l);
                    if (off != null && off < committedAtKill) {
                        if (redeliveredCommitted++ < 3) problem = (problem == null ? "" : problem + "\n") + "'" + l + "' (offset " + off
                                + ") written again after the kill, below the sink's committed offset " + committedAtKill;
                    }
                }
            }
            if (redeliveredCommitted > 0) problem += "\n" + redeliveredCommitted + " lines below the committed offset redelivered";
            Harness.log("connect: the sink's committed offset before the kill: " + committedAtKill + "; " + redelivered.size()
                    + " lines written again this round" + (redelivered.isEmpty() ? "" : ", from '" + redelivered.get(0) + "'"));
            int dupsNow = (got.size() - firsts.size());
            Harness.log("connect: sink file has " + got.size() + " lines for " + total + " source lines: " + dupsNow
                    + " duplicates in all (" + (got.size() - before) + " lines written this round for " + (total - done) + " new ones)");
        }
        if (problem == null) {
            Harness.ok(check);
            return true;
        }
        Harness.notOk(check, problem);
        return false;
    }

    static String name(List<Worker> workers, String id) {
        return workers.stream().filter(w -> w.id().equals(id)).map(Worker::name).findFirst().orElse(id.isEmpty() ? "?" : id);
    }

    /** The committed offset of the sink connector's consumer group (connect-NAME) on partition 0, -1 if none. */
    static long sinkCommitted(Ctx c) {
        try {
            var m = c.admin().listConsumerGroupOffsets("connect-" + c.sink()).partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            var om = m.get(new org.apache.kafka.common.TopicPartition(c.dataTopic(), 0));
            return om == null ? -1 : om.offset();
        } catch (Exception e) {
            Harness.log("connect: reading the sink's committed offset failed: " + e);
            return -1;
        }
    }

    /** The offset of each line in the data topic (read_committed; the first if repeated). */
    static Map<String, Long> lineOffsets(String bootstrap, String topic) throws Exception {
        Map<String, Long> m = new java.util.HashMap<>();
        readCommitted(bootstrap, topic, (off, v) -> m.putIfAbsent(v, off));
        return m;
    }

    /** Every record value of partition 0 of the topic, read_committed, up to its end (the LSO). */
    static List<String> readCommitted(String bootstrap, String topic) throws Exception {
        List<String> out = new ArrayList<>();
        readCommitted(bootstrap, topic, (off, v) -> out.add(v));
        return out;
    }

    static void readCommitted(String bootstrap, String topic, java.util.function.BiConsumer<Long, String> each) throws Exception {
        java.util.Properties p = new java.util.Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("isolation.level", "read_committed");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        p.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        try (org.apache.kafka.clients.consumer.KafkaConsumer<String, String> c = new org.apache.kafka.clients.consumer.KafkaConsumer<>(p)) {
            org.apache.kafka.common.TopicPartition tp = new org.apache.kafka.common.TopicPartition(topic, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long end = c.endOffsets(List.of(tp), Duration.ofSeconds(10)).get(tp);
            Harness.await("reading " + topic + " to its end (" + end + ")", Duration.ofSeconds(30), () -> {
                for (var r : c.poll(Duration.ofMillis(200))) each.accept(r.offset(), r.value());
                return c.position(tp, Duration.ofSeconds(10)) >= end;
            });
        }
    }

    static void require(boolean cond, String message) {
        Harness.require(cond, message);
    }

    record Resp(int status, String body, JsonNode json) {}

    static Resp get(Worker w, String path) {
        return http(w, "GET", path, null);
    }

    static Resp http(Worker w, String method, String path, String body) {
        try {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(w.url() + path)).timeout(Duration.ofSeconds(20))
                    .header("Content-Type", "application/json").header("Accept", "application/json");
            b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
            JsonNode j = null;
            try {
                j = JSON.readTree(r.body());
            } catch (Exception e) {
                j = JSON.missingNode();
            }
            return new Resp(r.statusCode(), r.body(), j == null ? JSON.missingNode() : j);
        } catch (IOException e) {
            return new Resp(-1, e.toString(), JSON.missingNode());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Resp(-1, e.toString(), JSON.missingNode());
        }
    }

    /** POST /connectors, retried while the group rebalances (409) or the worker is still joining. */
    static void createConnector(Worker w, String name, Map<String, String> config) throws Exception {
        String body = JSON.writeValueAsString(Map.of("name", name, "config", config));
        AtomicReference<Resp> last = new AtomicReference<>();
        try {
            Harness.await("POST /connectors " + name + " to be accepted", Duration.ofSeconds(60), () -> {
                Resp r = http(w, "POST", "/connectors", body);
                last.set(r);
                if (r.status == 201) return true;
                if (r.status == 409 || r.status == -1 || r.status >= 500) return false;
                throw new AssertionError("POST /connectors " + name + ": " + r.status + " " + r.body);
            });
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError(e.getMessage() + "; last answer " + last.get().status + " " + last.get().body);
        }
    }

    /** The connector and all its tasks RUNNING (on the given worker, if not null), as GET .../status shows. */
    static boolean running(Worker via, String connector, String workerId) {
        Resp r = get(via, "/connectors/" + connector + "/status");
        if (r.status != 200) return false;
        JsonNode c = r.json.path("connector");
        if (!c.path("state").asText().equals("RUNNING")) return false;
        if (workerId != null && !c.path("worker_id").asText().equals(workerId)) return false;
        JsonNode tasks = r.json.path("tasks");
        if (tasks.size() == 0) return false;
        for (JsonNode t : tasks) {
            if (t.path("state").asText().equals("FAILED")) throw new AssertionError(connector + " task failed: " + t.path("trace").asText());
            if (!t.path("state").asText().equals("RUNNING")) return false;
            if (workerId != null && !t.path("worker_id").asText().equals(workerId)) return false;
        }
        return true;
    }

    static void append(Path file, List<String> lines) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String l : lines) sb.append(l).append('\n');
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** The complete lines of the sink file (a line still being written is not counted). */
    static List<String> sinkLines(Path file) {
        try {
            if (!Files.exists(file)) return List.of();
            String all = Files.readString(file, StandardCharsets.UTF_8);
            int end = all.lastIndexOf('\n');
            if (end < 0) return List.of();
            return List.of(all.substring(0, end).split("\n", -1));
        } catch (IOException e) {
            return List.of();
        }
    }

    static String diff(List<String> got, List<String> want) {
        int i = 0;
        while (i < got.size() && i < want.size() && got.get(i).equals(want.get(i))) i++;
        return got.size() + " lines, expected " + want.size() + "; first difference at line " + (i + 1) + ": got "
                + (i < got.size() ? "'" + got.get(i) + "'" : "nothing") + ", expected " + (i < want.size() ? "'" + want.get(i) + "'" : "nothing");
    }
}
