import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TaskMetadata;
import org.apache.kafka.streams.ThreadMetadata;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.WindowStore;

/**
 * Kafka Streams 4.x as a broker workload: a word count and a windowed word count with
 * processing.guarantee=exactly_once_v2, run by two instances (separate JVMs, same application.id);
 * one is SIGKILLed mid-run, the survivor takes its tasks over, and the committed output must be
 * exact.
 *
 *   java StreamsWorkload driver BOOTSTRAP WORKDIR
 *   java StreamsWorkload instance BOOTSTRAP APP_ID INPUT WORDCOUNT_OUT WINDOWED_OUT STATE_DIR
 *
 * Record caches are off (statestore.cache.max.bytes=0), so every input word yields one update of
 * its count and one of its window's count. Under exactly-once, what a read_committed consumer sees
 * of the output is then, per key, exactly 1, 2, ..., n: an update lost would leave a gap, an update
 * of an aborted (zombie) transaction or a replay from a stale state would repeat a value.
 */
public final class StreamsWorkload {
    static final int PARTITIONS = 4;
    static final int LINES = 3000;
    static final long WINDOW_MS = 10_000;
    static final long GRACE_MS = 3_600_000;
    /** Kafka's default windowstore.changelog.additional.retention.ms (1 day). */
    static final long ADDITIONAL_RETENTION_MS = 86_400_000L;
    static final String[] VOCABULARY = {
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
        "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
        "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "river", "stream", "tributary", "delta2",
    };

    public static void main(String[] args) throws Exception {
        if (args.length == 7 && args[0].equals("instance")) {
            instance(args[1], args[2], args[3], args[4], args[5], args[6]);
        } else if (args.length == 3 && args[0].equals("driver")) {
            Harness.pidFile = Path.of(args[2], "pids");
            try {
                driver(args[1], Path.of(args[2]));
            } catch (Throwable t) {
                Harness.notOk("streams-driver", Harness.describe(t));
            } finally {
                Harness.stopAll(Duration.ofSeconds(25));
            }
            System.exit(Harness.failed == 0 ? 0 : 1);
        } else {
            System.err.println("usage: StreamsWorkload driver BOOTSTRAP WORKDIR | instance BOOTSTRAP APP_ID INPUT WC_OUT WW_OUT STATE_DIR");
            System.exit(2);
        }
    }

    // ------------------------------------------------------------------------------------------
    // The Streams application (one instance per JVM)

    static void instance(String bootstrap, String appId, String input, String wcOut, String wwOut, String stateDir) throws Exception {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        // WL_STREAMS_GUARANTEE=at_least_once shows the exactness checks failing (README.md)
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, System.getenv().getOrDefault("WL_STREAMS_GUARANTEE", StreamsConfig.EXACTLY_ONCE_V2));
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
        // Streams deletes consumed repartition records (DeleteRecords) after commits; every second
        // instead of every 30 s, so that the run sees it.
        p.put(StreamsConfig.REPARTITION_PURGE_INTERVAL_MS_CONFIG, 1000);
        // Failover within seconds: a 6 s session (Kafka's default 45 s) and a 5 s transaction
        // timeout (Streams' EOS default 10 s) for the killed instance's open transaction.
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 6000);
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), 1000);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG), 5000);

        AtomicLong processed = new AtomicLong();
        StreamsBuilder b = new StreamsBuilder();
        KStream<String, String> words = b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                .peek((k, v) -> processed.incrementAndGet())
                .flatMapValues(v -> Arrays.asList(v.split(" ")));
        words.groupBy((k, w) -> w, Grouped.with("words", Serdes.String(), Serdes.String()))
                .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("word-counts"))
                .toStream()
                .to(wcOut, Produced.with(Serdes.String(), Serdes.Long()));
        words.groupBy((k, w) -> w, Grouped.with("window-words", Serdes.String(), Serdes.String()))
                .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(WINDOW_MS), Duration.ofMillis(GRACE_MS)))
                .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("windowed-counts"))
                .toStream((wk, v) -> wk.key() + "@" + wk.window().start())
                .to(wwOut, Produced.with(Serdes.String(), Serdes.Long()));

        KafkaStreams streams = new KafkaStreams(b.build(), p);
        AtomicReference<String> error = new AtomicReference<>("");
        streams.setStateListener((n, o) -> System.out.println("STATE " + o + " -> " + n));
        streams.setUncaughtExceptionHandler(e -> {
            System.out.println("UNCAUGHT " + e);
            e.printStackTrace(System.out);
            error.set(e.getClass().getSimpleName());
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(20));
            done.countDown();
        }));
        streams.start();
        String last = "";
        while (!done.await(250, TimeUnit.MILLISECONDS)) {
            List<String> active = new ArrayList<>();
            String txnId = "";
            for (ThreadMetadata t : streams.metadataForLocalThreads()) {
                for (TaskMetadata tm : t.activeTasks()) active.add(tm.taskId().toString());
                // EOS v2: transactional.id = <application.id>-<process id>-<thread index>, the
                // producer's client.id = <application.id>-<process id>-StreamThread-<index>-producer
                for (String pc : t.producerClientIds()) {
                    int i = pc.indexOf("-StreamThread-");
                    if (i > 0 && pc.endsWith("-producer")) txnId = pc.substring(0, i) + "-" + pc.substring(i + 14, pc.length() - 9);
                }
            }
            active.sort(null);
            String line = "STATUS state=" + streams.state() + " processed=" + processed.get()
                    + " active=" + String.join(",", active) + " txn=" + txnId + " error=" + error.get();
            if (!line.equals(last)) {
                System.out.println(line);
                System.out.flush();
                last = line;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // The driver

    record Line(String key, String value, long timestamp, int partition) {}

    static void driver(String bootstrap, Path work) throws Exception {
        String s = Harness.suffix();
        String appId = "wl-streams-" + s;
        String input = "wl-lines-" + s;
        String wcOut = "wl-wordcount-" + s;
        String wwOut = "wl-windowed-" + s;

        // Deterministic input: LINES lines of 1-4 words, timestamps 97 ms apart from a base 20
        // minutes ago (recent enough for every retention), line i in partition i % PARTITIONS.
        Random rnd = new Random(20240612L);
        long base = (System.currentTimeMillis() - 20 * 60_000L) / WINDOW_MS * WINDOW_MS;
        List<Line> lines = new ArrayList<>();
        Map<String, Long> expectedCounts = new TreeMap<>();
        Map<String, Long> expectedWindowed = new TreeMap<>();
        long occurrences = 0;
        for (int i = 0; i < LINES; i++) {
            int n = 1 + rnd.nextInt(4);
            List<String> ws = new ArrayList<>();
            long ts = base + i * 97L;
            for (int j = 0; j < n; j++) {
                String w = VOCABULARY[rnd.nextInt(VOCABULARY.length)];
                ws.add(w);
                expectedCounts.merge(w, 1L, Long::sum);
                expectedWindowed.merge(w + "@" + (ts / WINDOW_MS * WINDOW_MS), 1L, Long::sum);
                occurrences++;
            }
            lines.add(new Line("line-" + i, String.join(" ", ws), ts, i % PARTITIONS));
        }
        Harness.log("streams: application.id " + appId + ", " + LINES + " lines, " + occurrences + " words, "
                + expectedCounts.size() + " distinct words, " + expectedWindowed.size() + " word windows");

        try (Admin admin = Harness.admin(bootstrap)) {
            admin.createTopics(List.of(new NewTopic(input, PARTITIONS, (short) 1), new NewTopic(wcOut, PARTITIONS, (short) 1),
                    new NewTopic(wwOut, PARTITIONS, (short) 1))).all().get(30, TimeUnit.SECONDS);

            Harness.Child a = null;
            Harness.Child b = null;
            boolean started = false;
            long finalWc = 0;
            try {
                a = startInstance(bootstrap, appId, input, wcOut, wwOut, work, "streams-a");
                b = startInstance(bootstrap, appId, input, wcOut, wwOut, work, "streams-b");
                Harness.Child fa = a;
                Harness.Child fb = b;
                // Both instances in the group and owning tasks (12 = 3 sub-topologies x 4 partitions).
                Harness.await("both Streams instances RUNNING with active tasks covering all 12", Duration.ofSeconds(90), () -> {
                    failFastOnError(fa, fb);
                    Set<String> all = new HashSet<>();
                    all.addAll(tasks(fa));
                    all.addAll(tasks(fb));
                    return fa.status("state").equals("RUNNING") && fb.status("state").equals("RUNNING")
                            && !tasks(fa).isEmpty() && !tasks(fb).isEmpty() && all.size() == 3 * PARTITIONS;
                });
                started = true;
                Harness.log("streams: a active " + tasks(a) + ", b active " + tasks(b));
            } catch (Exception e) {
                Harness.notOk("streams-startup", Harness.describe(e) + "\n" + (a != null ? a.tail(30) : "") + "\n" + (b != null ? b.tail(30) : ""));
            }
            if (!started) {
                Harness.stopAll(Duration.ofSeconds(20));
                return;
            }
            Harness.ok("streams-startup");

            // Feed the first half at ~500 lines/s; SIGKILL b once it has processed 150 lines, while
            // records still flow (b is then inside an open transaction, commit.interval.ms=100).
            String failover = null;
            KafkaProducer<String, String> producer = producer(bootstrap);
            try {
                AtomicInteger fed = new AtomicInteger();
                AtomicBoolean feedFailed = new AtomicBoolean();
                Harness.Child fb = b;
                Thread feeder = new Thread(() -> {
                    try {
                        feed(producer, input, lines.subList(0, LINES / 2), fed);
                    } catch (Exception e) {
                        feedFailed.set(true);
                        e.printStackTrace(System.out);
                    }
                }, "feeder");
                feeder.start();
                Harness.await("instance b to process 150 lines", Duration.ofSeconds(60),
                        () -> Long.parseLong(fb.status.getOrDefault("processed", "0")) >= 150 || !fb.alive());
                int fedAtKill = fed.get();
                Set<String> bTasks = tasks(b);
                b.kill();
                Harness.log("streams: killed b after it processed " + b.status("processed") + " lines; " + fedAtKill
                        + " of " + LINES + " lines fed at that point; b owned " + bTasks);
                feeder.join(60_000);
                require(!feedFailed.get() && fed.get() == LINES / 2, "feeding the first half failed");
                // The killed instance's transaction: aborted by the coordinator once its timeout
                // (5 s) passes, if the kill caught it open (the usual case), never left Ongoing.
                String bTxn = b.status("txn");
                AtomicReference<String> bState = new AtomicReference<>("");
                if (System.getenv().getOrDefault("WL_STREAMS_GUARANTEE", StreamsConfig.EXACTLY_ONCE_V2).equals(StreamsConfig.EXACTLY_ONCE_V2)) {
                require(!bTxn.isEmpty(), "instance b did not report its transactional.id");
                Harness.await("b's transaction " + bTxn + " to be completed by the coordinator", Duration.ofSeconds(45), () -> {
                    try {
                        var d = admin.describeTransactions(List.of(bTxn)).all().get(10, TimeUnit.SECONDS).get(bTxn);
                        bState.set(d.state() + " (producer epoch " + d.producerEpoch() + ")");
                        return d.state() != org.apache.kafka.clients.admin.TransactionState.ONGOING
                                && d.state() != org.apache.kafka.clients.admin.TransactionState.PREPARE_ABORT
                                && d.state() != org.apache.kafka.clients.admin.TransactionState.PREPARE_COMMIT;
                    } catch (Exception e) {
                        bState.set(e.toString());
                        return false;
                    }
                });
                Harness.log("streams: b's transaction " + bTxn + " ended " + bState.get());
                }

                // The survivor takes all 12 tasks over (after b's session expires) and goes on.
                Harness.Child fa = a;
                long t0 = System.nanoTime();
                feed(producer, input, lines.subList(LINES / 2, LINES), fed);
                Harness.await("survivor a RUNNING with all 12 tasks active", Duration.ofSeconds(90), () -> {
                    failFastOnError(fa);
                    return fa.status("state").equals("RUNNING") && tasks(fa).size() == 3 * PARTITIONS;
                });
                Harness.log("streams: a owns all tasks " + String.format("%.1f", (System.nanoTime() - t0) / 1e9) + " s after the rest was fed");
            } catch (Exception e) {
                failover = Harness.describe(e) + "\n" + a.tail(40) + "\n" + b.tail(20);
            } finally {
                producer.close(Duration.ofSeconds(10));
            }
            if (failover != null) {
                Harness.notOk("streams-failover", failover);
            } else {
                Harness.ok("streams-failover");
            }

            // Read the committed output until every word reached its true count (or time is up).
            Map<String, List<Long>> wc = new LinkedHashMap<>();
            Map<String, List<Long>> ww = new LinkedHashMap<>();
            String readProblem = null;
            try (OutputReader wcReader = new OutputReader(bootstrap, wcOut); OutputReader wwReader = new OutputReader(bootstrap, wwOut)) {
                Harness.Child fa = a;
                try {
                    Harness.await("the committed output to reach every word's true count", Duration.ofSeconds(120), () -> {
                        failFastOnError(fa);
                        wcReader.poll(wc);
                        wwReader.poll(ww);
                        return reached(wc, expectedCounts) && reached(ww, expectedWindowed);
                    });
                    // Then read up to the end (read_committed: the last stable offset) once more.
                    wcReader.drain(wc);
                    wwReader.drain(ww);
                } catch (Exception e) {
                    readProblem = Harness.describe(e) + "\n" + a.tail(30);
                }
            }
            finalWc = wc.values().stream().mapToLong(List::size).sum();
            Harness.log("streams: read " + finalWc + " committed word-count updates and "
                    + ww.values().stream().mapToLong(List::size).sum() + " windowed updates (" + occurrences + " words fed)");

            String rp = readProblem;
            Harness.check("streams-eos-wordcount", () -> verifyExact("word count", wc, expectedCounts, rp));
            Harness.check("streams-eos-windowed-count", () -> verifyExact("windowed count", ww, expectedWindowed, rp));

            // Offsets committed inside the transactions: the group's committed input offsets
            // reach the end of every input partition (end offsets count the commit markers).
            Harness.check("streams-committed-offsets", () -> {
                Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
                for (int i = 0; i < PARTITIONS; i++) specs.put(new TopicPartition(input, i), OffsetSpec.latest());
                Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(specs).all().get(30, TimeUnit.SECONDS);
                AtomicReference<String> last = new AtomicReference<>("");
                try {
                    Harness.await("committed offsets of " + appId + " = end offsets of " + input, Duration.ofSeconds(30), () -> {
                        try {
                            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(appId)
                                    .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
                            StringBuilder sb = new StringBuilder();
                            boolean all = true;
                            for (TopicPartition tp : specs.keySet()) {
                                OffsetAndMetadata om = committed.get(tp);
                                long end = ends.get(tp).offset();
                                sb.append(tp).append(" committed ").append(om == null ? "none" : om.offset()).append(" end ").append(end).append("; ");
                                if (om == null || om.offset() != end) all = false;
                            }
                            last.set(sb.toString());
                            return all;
                        } catch (Exception e) {
                            last.set(e.toString());
                            return false;
                        }
                    });
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError(e.getMessage() + ": " + last.get());
                }
            });

            // Internal topics, created by Streams with its configs.
            Harness.check("streams-internal-topics", () -> verifyInternalTopics(admin, appId));

            // Streams purges consumed repartition records with DeleteRecords: every repartition
            // partition that got records ends with a log start offset above 0.
            Harness.check("streams-repartition-purge", () -> {
                List<String> reps = List.of(appId + "-words-repartition", appId + "-window-words-repartition");
                AtomicReference<String> last = new AtomicReference<>("");
                try {
                    Harness.await("log start offsets of the repartition topics to move", Duration.ofSeconds(30), () -> {
                        try {
                            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
                            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                            for (String r : reps) {
                                for (int i = 0; i < PARTITIONS; i++) {
                                    earliest.put(new TopicPartition(r, i), OffsetSpec.earliest());
                                    latest.put(new TopicPartition(r, i), OffsetSpec.latest());
                                }
                            }
                            var e = admin.listOffsets(earliest).all().get(30, TimeUnit.SECONDS);
                            var l = admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS);
                            boolean all = true;
                            StringBuilder sb = new StringBuilder();
                            for (TopicPartition tp : earliest.keySet().stream().sorted((x, y) -> x.toString().compareTo(y.toString())).collect(Collectors.toList())) {
                                long lo = e.get(tp).offset();
                                long hi = l.get(tp).offset();
                                sb.append(tp.topic().substring(appId.length() + 1)).append('-').append(tp.partition()).append(" [").append(lo).append(',').append(hi).append(") ");
                                if (hi > 0 && lo == 0) all = false;
                            }
                            last.set(sb.toString());
                            return all;
                        } catch (Exception ex) {
                            last.set(ex.toString());
                            return false;
                        }
                    });
                } catch (java.util.concurrent.TimeoutException e) {
                    throw new AssertionError(e.getMessage() + ": " + last.get());
                }
            });

            Harness.stopAll(Duration.ofSeconds(25));
            Harness.Child fa2 = a;
            Harness.check("streams-clean-shutdown", () -> {
                int code = fa2.process.exitValue();
                require(code == 0 || code == 143, "instance a exited with status " + code + "\n" + fa2.tail(30));
                require(fa2.status("error").isEmpty(), "instance a reported an uncaught exception: " + fa2.status("error") + "\n" + fa2.tail(30));
            });

            // Leave the broker tidy: the workload's topics go (best effort).
            try {
                Set<String> mine = Harness.listTopics(admin).stream().filter(t -> t.startsWith(appId) || t.equals(input) || t.equals(wcOut) || t.equals(wwOut))
                        .collect(Collectors.toSet());
                admin.deleteTopics(mine).all().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                Harness.log("streams: deleting the topics failed: " + e);
            }
        }
    }

    static Harness.Child startInstance(String bootstrap, String appId, String input, String wcOut, String wwOut, Path work, String name) throws Exception {
        Path state = work.resolve(name + "-state");
        Files.createDirectories(state);
        return Harness.spawn(name, work, "384m", List.of(), "StreamsWorkload", "instance", bootstrap, appId, input, wcOut, wwOut, state.toString());
    }

    static Set<String> tasks(Harness.Child c) {
        String a = c.status("active");
        return a.isEmpty() ? Set.of() : new TreeSet<>(Arrays.asList(a.split(",")));
    }

    static void failFastOnError(Harness.Child... cs) {
        for (Harness.Child c : cs) {
            String st = c.status("state");
            if (!c.status("error").isEmpty() || st.equals("ERROR") || st.equals("PENDING_ERROR")) {
                throw new AssertionError(c.name + " failed: state " + st + ", uncaught " + c.status("error") + "\n" + c.tail(40));
            }
        }
    }

    static void require(boolean cond, String message) {
        Harness.require(cond, message);
    }

    static KafkaProducer<String, String> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        return new KafkaProducer<>(p);
    }

    /** Sends the lines in chunks of 25 every 50 ms, each acknowledged before the next chunk. */
    static void feed(KafkaProducer<String, String> producer, String topic, List<Line> part, AtomicInteger fed) throws Exception {
        for (int i = 0; i < part.size(); i += 25) {
            List<java.util.concurrent.Future<?>> fs = new ArrayList<>();
            for (Line l : part.subList(i, Math.min(part.size(), i + 25))) {
                fs.add(producer.send(new ProducerRecord<>(topic, l.partition(), l.timestamp(), l.key(), l.value())));
            }
            for (var f : fs) f.get(30, TimeUnit.SECONDS);
            fed.addAndGet(fs.size());
            Thread.sleep(50);
        }
    }

    static boolean reached(Map<String, List<Long>> seen, Map<String, Long> expected) {
        for (Map.Entry<String, Long> e : expected.entrySet()) {
            List<Long> l = seen.get(e.getKey());
            if (l == null || l.isEmpty() || l.get(l.size() - 1) < e.getValue()) return false;
        }
        return true;
    }

    /**
     * Exactly-once: every key's committed updates are 1, 2, ..., its true count, in this order: no
     * update lost, none twice, none from an aborted transaction, no key that was never fed.
     */
    static void verifyExact(String what, Map<String, List<Long>> seen, Map<String, Long> expected, String readProblem) {
        List<String> problems = new ArrayList<>();
        if (readProblem != null) problems.add(readProblem);
        int wrongFinal = 0;
        int badSequences = 0;
        for (Map.Entry<String, Long> e : expected.entrySet()) {
            List<Long> l = seen.getOrDefault(e.getKey(), List.of());
            long last = l.isEmpty() ? 0 : l.get(l.size() - 1);
            if (last != e.getValue()) {
                if (wrongFinal++ < 5) problems.add(e.getKey() + ": final count " + last + ", true count " + e.getValue());
            }
            boolean seq = l.size() == e.getValue();
            for (int i = 0; seq && i < l.size(); i++) seq = l.get(i) == i + 1;
            if (!seq) {
                if (badSequences++ < 5) problems.add(e.getKey() + ": committed updates " + abbreviate(l) + ", expected 1.." + e.getValue() + " each once");
            }
        }
        Set<String> extra = new TreeSet<>(seen.keySet());
        extra.removeAll(expected.keySet());
        if (!extra.isEmpty()) problems.add("keys never fed: " + extra.stream().limit(5).collect(Collectors.toList()));
        if (wrongFinal > 0 || badSequences > 0) problems.add(0, what + ": " + wrongFinal + " of " + expected.size() + " keys with a wrong final count, "
                + badSequences + " with updates other than 1..n");
        if (!problems.isEmpty()) throw new AssertionError(String.join("\n", problems));
    }

    static String abbreviate(List<Long> l) {
        if (l.size() <= 40) return l.toString();
        // show where it goes wrong
        int i = 0;
        while (i < l.size() && l.get(i) == i + 1) i++;
        int from = Math.max(0, i - 5);
        return "[" + (from > 0 ? "..., " : "") + l.subList(from, Math.min(l.size(), i + 15)).stream().map(String::valueOf).collect(Collectors.joining(", "))
                + (i + 15 < l.size() ? ", ..." : "") + "] (" + l.size() + " updates, first deviation at index " + i + ")";
    }

    static void verifyInternalTopics(Admin admin, String appId) throws Exception {
        String wordsRep = appId + "-words-repartition";
        String windowRep = appId + "-window-words-repartition";
        String wcLog = appId + "-word-counts-changelog";
        String wwLog = appId + "-windowed-counts-changelog";
        Set<String> internal = Harness.listTopics(admin).stream().filter(t -> t.startsWith(appId + "-")).collect(Collectors.toCollection(TreeSet::new));
        List<String> problems = new ArrayList<>();
        Set<String> expected = new TreeSet<>(List.of(wordsRep, windowRep, wcLog, wwLog));
        if (!internal.equals(expected)) problems.add("internal topics " + internal + ", expected " + expected);
        internal.retainAll(expected);
        Map<String, TopicDescription> d = Harness.describeTopics(admin, internal);
        for (TopicDescription td : d.values()) {
            if (td.partitions().size() != PARTITIONS) problems.add(td.name() + ": " + td.partitions().size() + " partitions, expected " + PARTITIONS);
        }
        Map<String, Map<String, ConfigEntry>> cfg = Harness.topicConfigs(admin, internal);
        Harness.logTopicOverrides("streams: ", cfg);
        // as Kafka Streams creates them: RepartitionTopicConfig, UnwindowedUnversionedChangelogTopicConfig,
        // WindowedChangelogTopicConfig (InternalTopicManager), each with message.timestamp.type=CreateTime
        for (String rep : List.of(wordsRep, windowRep)) {
            if (!cfg.containsKey(rep)) continue;
            Harness.expectConfig(problems, rep, cfg.get(rep), "cleanup.policy", "delete");
            Harness.expectConfig(problems, rep, cfg.get(rep), "retention.ms", "-1");
            Harness.expectConfig(problems, rep, cfg.get(rep), "segment.bytes", "52428800");
            Harness.expectConfig(problems, rep, cfg.get(rep), "message.timestamp.type", "CreateTime");
        }
        if (cfg.containsKey(wcLog)) {
            Harness.expectConfig(problems, wcLog, cfg.get(wcLog), "cleanup.policy", "compact");
            Harness.expectConfig(problems, wcLog, cfg.get(wcLog), "message.timestamp.type", "CreateTime");
        }
        if (cfg.containsKey(wwLog)) {
            Harness.expectConfig(problems, wwLog, cfg.get(wwLog), "cleanup.policy", "compact,delete");
            Harness.expectConfig(problems, wwLog, cfg.get(wwLog), "retention.ms", String.valueOf(WINDOW_MS + GRACE_MS + ADDITIONAL_RETENTION_MS));
            Harness.expectConfig(problems, wwLog, cfg.get(wwLog), "message.timestamp.type", "CreateTime");
        }
        if (!problems.isEmpty()) throw new AssertionError(String.join("\n", problems));
    }

    /** A read_committed consumer of every partition of one output topic, from the beginning. */
    static final class OutputReader implements AutoCloseable {
        final KafkaConsumer<String, Long> consumer;
        final List<TopicPartition> parts = new ArrayList<>();

        OutputReader(String bootstrap, String topic) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
            p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class);
            consumer = new KafkaConsumer<>(p);
            for (int i = 0; i < PARTITIONS; i++) parts.add(new TopicPartition(topic, i));
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
        }

        void poll(Map<String, List<Long>> into) {
            for (ConsumerRecord<String, Long> r : consumer.poll(Duration.ofMillis(200))) {
                into.computeIfAbsent(r.key(), k -> new ArrayList<>()).add(r.value());
            }
        }

        /** Reads until the position of every partition is its end offset (the LSO here). */
        void drain(Map<String, List<Long>> into) throws Exception {
            Harness.await("reading " + parts.get(0).topic() + " to its end", Duration.ofSeconds(30), () -> {
                poll(into);
                Map<TopicPartition, Long> end = consumer.endOffsets(parts, Duration.ofSeconds(10));
                for (TopicPartition tp : parts) if (consumer.position(tp, Duration.ofSeconds(10)) < end.get(tp)) return false;
                return true;
            });
        }

        @Override
        public void close() {
            consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }
}
