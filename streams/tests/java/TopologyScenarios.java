// Runs named topologies through Kafka Streams' own TopologyTestDriver and prints every record
// of their output topics: the oracle of streams/tests/differential.rs, which builds the same
// topologies with Tributary's DSL and feeds its TestDriver the same records.
//
// Input (stdin): cases separated by lines "---"; a case starts with "case SCENARIO CACHE_BYTES",
// then one record per line: "TOPIC KEY VALUE TIMESTAMP" with KEY and VALUE in hex ("-": null),
// or "wall - - MS": the wall clock moves on by MS.
// Output: per case, the records of each output topic the scenario lists, one per line
// "TOPIC KEY VALUE TIMESTAMP" (hex, "-" for null) followed by " NAME=VALUE" per header,
// topics in the listed order, then "<<END>>".
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.WindowedSerdes;
import org.apache.kafka.streams.test.TestRecord;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.Stores;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.Cancellable;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;

public class TopologyScenarios {
    // the foreign key of a left value: "a", "b", "c" or none, from its first byte and length
    static String fk(String v) {
        int i = ((v.charAt(0) & 0xff) + v.length()) % 4;
        return i == 3 ? null : new String[] {"a", "b", "c"}[i];
    }

    static String metadataText(ProcessorContext<String, String> ctx) {
        RecordMetadata m = ctx.recordMetadata().get();
        return m.topic() + ":" + m.partition() + ":" + m.offset() + ":" + ctx.currentStreamTimeMs();
    }

    // Counts records per key in store "counts" (a null value deletes the key), forwards records
    // without a key with their metadata, and forwards every count on punctuations: every 10 ms
    // of stream time, and every 7 ms of wall-clock time until stream time reaches 40, every 13 ms
    // after that.
    static class Counting implements Processor<String, String, String, String> {
        ProcessorContext<String, String> ctx;
        KeyValueStore<String, Long> store;
        Cancellable wall;
        boolean rescheduled;

        public void init(ProcessorContext<String, String> context) {
            ctx = context;
            store = context.getStateStore("counts");
            context.schedule(Duration.ofMillis(10), PunctuationType.STREAM_TIME, ts -> punctuate("stream", ts));
            wall = context.schedule(Duration.ofMillis(7), PunctuationType.WALL_CLOCK_TIME, ts -> punctuate("wall", ts));
        }

        void punctuate(String kind, long ts) {
            try (KeyValueIterator<String, Long> it = store.all()) {
                while (it.hasNext()) {
                    KeyValue<String, Long> kv = it.next();
                    ctx.forward(new Record<>(kv.key, kind + ":" + kv.value, ts,
                        new RecordHeaders().add("type", kind.getBytes())));
                }
            }
            if (kind.equals("stream") && ts >= 40 && !rescheduled) {
                wall.cancel();
                wall = ctx.schedule(Duration.ofMillis(13), PunctuationType.WALL_CLOCK_TIME, t -> punctuate("wall2", t));
                rescheduled = true;
            }
        }

        public void process(Record<String, String> r) {
            if (r.key() == null) {
                ctx.forward(r.withValue("meta:" + metadataText(ctx))
                    .withHeaders(new RecordHeaders().add("h", r.value() == null ? null : r.value().getBytes())));
                return;
            }
            if (r.value() == null) {
                store.delete(r.key());
                return;
            }
            Long c = store.get(r.key());
            store.put(r.key(), c == null ? 1L : c + 1);
        }
    }

    static class Swap implements Processor<String, String, String, String> {
        ProcessorContext<String, String> ctx;

        public void init(ProcessorContext<String, String> context) {
            ctx = context;
        }

        public void process(Record<String, String> r) {
            ctx.forward(r.withKey(r.value()).withValue(r.key()));
        }
    }

    static class Meta implements Processor<String, String, String, String> {
        ProcessorContext<String, String> ctx;

        public void init(ProcessorContext<String, String> context) {
            ctx = context;
        }

        public void process(Record<String, String> r) {
            ctx.forward(r.withValue(metadataText(ctx)));
        }
    }

    static final HexFormat HEX = HexFormat.of();
    static final Serde<String> S = Serdes.String();
    static final Serde<Long> L = Serdes.Long();
    static final java.nio.file.Path STATE_DIR = stateDir();

    static java.nio.file.Path stateDir() {
        try {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("tributary-tts-");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try (var paths = java.nio.file.Files.walk(dir)) {
                    paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                } catch (java.io.IOException ignored) {
                    // (a temp dir left behind)
                }
            }));
            return dir;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        List<String> lines = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("---")) {
                run(lines);
                lines.clear();
            } else if (!line.isBlank()) {
                lines.add(line);
            }
        }
        if (!lines.isEmpty()) run(lines);
    }

    static Serde<Windowed<String>> timeWindowed(long size) {
        return WindowedSerdes.timeWindowedSerdeFrom(String.class, size);
    }

    static Serde<Windowed<String>> sessionWindowed() {
        return WindowedSerdes.sessionWindowedSerdeFrom(String.class);
    }

    /** Builds the scenario's topology; returns the topics to print. */
    static List<String> build(String scenario, StreamsBuilder b) {
        // (table scenarios read "in" as a table: no stream of it)
        switch (scenario) {
        case "table_table_joins": {
            KTable<String, String> t1 = b.table("in", Consumed.with(S, S));
            KTable<String, String> t2 = b.table("tbl", Consumed.with(S, S));
            t1.join(t2, (x, y) -> x + "*" + y).toStream().to("out", Produced.with(S, S));
            t1.leftJoin(t2, (x, y) -> x + "*" + y).toStream().to("out2", Produced.with(S, S));
            t1.outerJoin(t2, (x, y) -> x + "*" + y).toStream().to("out3", Produced.with(S, S));
            return List.of("out", "out2", "out3");
        }
        case "fk_join":
        case "fk_left_join":
        case "fk_join_named": {
            KTable<String, String> left = b.table("in", Consumed.with(S, S));
            KTable<String, String> right = b.table("tbl", Consumed.with(S, S));
            KTable<String, String> joined;
            if (scenario.equals("fk_join")) {
                joined = left.join(right, TopologyScenarios::fk, (x, y) -> x + "*" + y);
            } else if (scenario.equals("fk_left_join")) {
                joined = left.leftJoin(right, TopologyScenarios::fk, (x, y) -> x + "*" + y,
                    Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("fkres").withKeySerde(S).withValueSerde(S));
            } else {
                joined = left.join(right, TopologyScenarios::fk, (x, y) -> x + "*" + y, TableJoined.as("fkj"));
            }
            joined.toStream().to("out", Produced.with(S, S));
            if (scenario.equals("fk_join"))
                return List.of("out", "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog");
            if (scenario.equals("fk_left_join"))
                return List.of("out", "app-fkres-changelog", "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
                    "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic");
            return List.of("out", "app-fkj-subscription-registration-topic", "app-fkj-subscription-response-topic",
                "app-fkj-subscription-store-changelog");
        }
        case "table_join_materialized": {
            KTable<String, String> t1 = b.table("in", Consumed.with(S, S));
            KTable<String, String> t2 = b.table("tbl", Consumed.with(S, S));
            t1.filter((k, v) -> !v.startsWith("x")).join(t2, (x, y) -> x + "*" + y, Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("joined").withKeySerde(S).withValueSerde(S))
                .toStream().to("out", Produced.with(S, S));
            return List.of("out", "app-joined-changelog");
        }
        case "table_join_of_join": {
            KTable<String, String> t1 = b.table("in", Consumed.with(S, S));
            KTable<String, String> t2 = b.table("tbl", Consumed.with(S, S));
            KTable<String, String> j = t1.outerJoin(t2, (x, y) -> x + "*" + y);
            t2.leftJoin(j, (x, y) -> x + "/" + y).toStream().to("out", Produced.with(S, S));
            return List.of("out");
        }
        case "table_group_count": {
            b.table("in", Consumed.with(S, S)).groupBy((k, v) -> KeyValue.pair(v, k), Grouped.with(S, S))
                .count().toStream().to("out", Produced.with(S, L));
            return List.of("out", "app-KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition",
                "app-KTABLE-AGGREGATE-STATE-STORE-0000000004-changelog");
        }
        case "table_group_reduce": {
            b.table("in", Consumed.with(S, S)).groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), k), Grouped.with(S, S))
                .reduce((a, v) -> a + v, (a, v) -> a.replaceFirst(v, ""))
                .toStream().to("out", Produced.with(S, S));
            return List.of("out", "app-KTABLE-AGGREGATE-STATE-STORE-0000000004-changelog");
        }
        case "table_group_aggregate": {
            KTable<String, String> t = b.table("in", Consumed.with(S, S));
            t.filter((k, v) -> !v.startsWith("q"))
                .groupBy((k, v) -> KeyValue.pair(v.substring(0, 1), v), Grouped.<String, String>as("g").withKeySerde(S).withValueSerde(S))
                .aggregate(() -> 0L, (k, v, a) -> a + v.length(), (k, v, a) -> a - v.length(),
                    Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as("lengths").withKeySerde(S).withValueSerde(L))
                .toStream().to("out", Produced.with(S, L));
            return List.of("out", "app-g-repartition", "app-lengths-changelog");
        }
        case "table_sources": {
            b.table("in", Consumed.with(S, S), Materialized.<String, String, KeyValueStore<Bytes, byte[]>>as("s").withKeySerde(S).withValueSerde(S))
                .toStream().to("out", Produced.with(S, S));
            b.table("tbl", Consumed.with(S, S)).toStream().to("out2", Produced.with(S, S));
            return List.of("out", "out2", "app-s-changelog");
        }
        default:
            break;
        }
        KStream<String, String> in = b.stream("in", Consumed.with(S, S));
        KGroupedStream<String, String> byKey = in.groupByKey(Grouped.with(S, S));
        switch (scenario) {
            case "processor_punctuate": {
                b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore("counts"), S, L));
                in.process(Counting::new, "counts").to("out", Produced.with(S, S));
                return List.of("out", "app-counts-changelog");
            }
            case "processor_repartition": {
                KStream<String, String> swapped = in.process(Swap::new);
                swapped.repartition(Repartitioned.with(S, S)).process(Meta::new).to("out", Produced.with(S, S));
                swapped.groupByKey(Grouped.with(S, S)).count().toStream().to("out2", Produced.with(S, L));
                return List.of("out", "out2", "app-KSTREAM-REPARTITION-0000000002-repartition",
                    "app-KSTREAM-AGGREGATE-STATE-STORE-0000000008-repartition",
                    "app-KSTREAM-AGGREGATE-STATE-STORE-0000000008-changelog");
            }
            // (a store of Kafka's default kind, RocksDB: the persistent store of Tributary's twin)
            case "word_count_persistent":
            case "word_count": {
                in.flatMapValues(v -> v == null ? List.of() : Arrays.asList(v.toLowerCase(Locale.ROOT).split("\\W+")))
                    .filter((k, w) -> !w.isEmpty())
                    .groupBy((k, w) -> w, Grouped.with(S, S))
                    .count(Materialized.as("counts"))
                    .toStream()
                    .to("out", Produced.with(S, L));
                return List.of("out", "app-counts-changelog", "app-counts-repartition");
            }
            case "tumbling_count_suppress_persistent":
            case "tumbling_count_suppress": {
                var counts = byKey.windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(5)))
                    .count(Materialized.as("counts"));
                counts.toStream().to("out", Produced.with(timeWindowed(10), L));
                counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream().to("final", Produced.with(timeWindowed(10), L));
                return List.of("out", "final", "app-counts-changelog");
            }
            case "hopping_reduce": {
                byKey.windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMillis(10), Duration.ofMillis(3)).advanceBy(Duration.ofMillis(4)))
                    .reduce((a, v) -> a + "+" + v)
                    .toStream().to("out", Produced.with(timeWindowed(10), S));
                return List.of("out", "app-KSTREAM-REDUCE-STATE-STORE-0000000001-changelog");
            }
            case "hopping_aggregate_suppress": {
                byKey.windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofMillis(8)).advanceBy(Duration.ofMillis(2)))
                    .aggregate(() -> "", (k, v, a) -> a + (v == null ? "~" : v.substring(0, 1)), Materialized.with(S, S))
                    .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream().to("final", Produced.with(timeWindowed(8), S));
                return List.of("final", "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog");
            }
            case "sliding_count": {
                var counts = byKey.windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(5), Duration.ofMillis(2)))
                    .count();
                counts.toStream().to("out", Produced.with(timeWindowed(5), L));
                counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream().to("final", Produced.with(timeWindowed(5), L));
                return List.of("out", "final", "app-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog");
            }
            case "sliding_reduce": {
                in.filter((k, v) -> v != null).groupByKey(Grouped.with(S, S))
                    .windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(Duration.ofMillis(7)))
                    .reduce((a, v) -> a + "+" + v)
                    .toStream().to("out", Produced.with(timeWindowed(7), S));
                return List.of("out");
            }
            case "session_count_persistent":
            case "session_count": {
                var counts = byKey.windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMillis(5), Duration.ofMillis(3)))
                    .count(Materialized.as("sessions"));
                counts.toStream().to("out", Produced.with(sessionWindowed(), L));
                counts.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
                    .toStream().to("final", Produced.with(sessionWindowed(), L));
                return List.of("out", "final", "app-sessions-changelog");
            }
            case "session_aggregate": {
                in.filter((k, v) -> v != null).groupByKey(Grouped.with(S, S))
                    .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(Duration.ofMillis(4)))
                    .aggregate(() -> "", (k, v, a) -> a + v.substring(0, 1), (k, a, c) -> a + "|" + c, Materialized.with(S, S))
                    .toStream().to("out", Produced.with(sessionWindowed(), S));
                return List.of("out", "app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog");
            }
            case "count_time_limit": {
                byKey.count()
                    .suppress(Suppressed.untilTimeLimit(Duration.ofMillis(7), Suppressed.BufferConfig.maxRecords(2)))
                    .toStream().to("out", Produced.with(S, L));
                return List.of("out");
            }
            case "stream_global_join": {
                GlobalKTable<String, String> g = b.globalTable("tbl", Consumed.with(S, S));
                in.join(g, (k, v) -> k, (v, w) -> v + "*" + w).to("out", Produced.with(S, S));
                in.leftJoin(g, (k, v) -> v == null ? null : v.substring(0, 1), (v, w) -> v + "*" + w)
                    .to("out2", Produced.with(S, S));
                return List.of("out", "out2");
            }
            case "stream_table_join": {
                KTable<String, String> t = b.table("tbl", Consumed.with(S, S));
                in.join(t, (v, w) -> v + "*" + w).to("out", Produced.with(S, S));
                in.leftJoin(t, (v, w) -> v + "*" + w).to("out2", Produced.with(S, S));
                return List.of("out", "out2");
            }
            case "stream_stream_inner":
            case "stream_stream_left":
            case "stream_stream_outer":
            case "stream_stream_left_legacy":
            case "stream_stream_outer_legacy": {
                KStream<String, String> other = b.stream("tbl", Consumed.with(S, S));
                boolean legacy = scenario.endsWith("_legacy");
                if (legacy) scenario = scenario.substring(0, scenario.length() - "_legacy".length());
                // (legacy: the deprecated windows without the spurious-result fix, as ksqlDB uses them)
                @SuppressWarnings("deprecation")
                JoinWindows w = legacy ? JoinWindows.of(Duration.ofMillis(5))
                    : JoinWindows.ofTimeDifferenceAndGrace(Duration.ofMillis(5), Duration.ofMillis(2));
                StreamJoined<String, String, String> sj = StreamJoined.with(S, S, S);
                KStream<String, String> joined;
                if (scenario.endsWith("inner")) joined = in.join(other, (x, y) -> x + "*" + y, w, sj);
                else if (scenario.endsWith("left")) joined = in.leftJoin(other, (x, y) -> x + "*" + y, w, sj);
                else joined = in.outerJoin(other, (x, y) -> x + "*" + y, w, sj);
                joined.to("out", Produced.with(S, S));
                String app = "app-KSTREAM-";
                if (scenario.endsWith("inner"))
                    return List.of("out", app + "JOINTHIS-0000000004-store-changelog", app + "JOINOTHER-0000000005-store-changelog");
                if (legacy && scenario.endsWith("left"))
                    return List.of("out", app + "JOINTHIS-0000000004-store-changelog", app + "OUTEROTHER-0000000005-store-changelog");
                if (legacy)
                    return List.of("out", app + "OUTERTHIS-0000000004-store-changelog", app + "OUTEROTHER-0000000005-store-changelog");
                if (scenario.endsWith("left"))
                    return List.of("out", app + "JOINTHIS-0000000004-store-changelog", app + "OUTEROTHER-0000000005-store-changelog",
                        app + "OUTERSHARED-0000000004-store-changelog");
                return List.of("out", app + "OUTERTHIS-0000000004-store-changelog", app + "OUTEROTHER-0000000005-store-changelog",
                    app + "OUTERSHARED-0000000004-store-changelog");
            }
            default:
                throw new IllegalArgumentException("unknown scenario " + scenario);
        }
    }

    static byte[] field(String hex) {
        return hex.equals("-") ? null : HEX.parseHex(hex);
    }

    static String hex(byte[] b) {
        return b == null ? "-" : (b.length == 0 ? "" : HEX.formatHex(b));
    }

    static void run(List<String> lines) {
        String[] head = lines.get(0).split(" ");
        StreamsBuilder b = new StreamsBuilder();
        List<String> topics = build(head[1], b);
        Topology topology = b.build();
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "app");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, head[2]);
        // (a state directory of this run's own: runs side by side must not share one)
        props.put(StreamsConfig.STATE_DIR_CONFIG, STATE_DIR.toString());
        StringBuilder out = new StringBuilder();
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, props, Instant.EPOCH)) {
            java.util.Map<String, TestInputTopic<byte[], byte[]>> inputs = new java.util.HashMap<>();
            for (String r : lines.subList(1, lines.size())) {
                String[] f = r.split(" ", -1);
                if (f[0].equals("wall")) {
                    driver.advanceWallClockTime(Duration.ofMillis(Long.parseLong(f[3])));
                    continue;
                }
                TestInputTopic<byte[], byte[]> input = inputs.computeIfAbsent(f[0],
                    t -> driver.createInputTopic(t, new ByteArraySerializer(), new ByteArraySerializer()));
                String k = f[1].isEmpty() ? "" : f[1];
                String v = f[2].isEmpty() ? "" : f[2];
                input.pipeInput(new TestRecord<>(k.equals("-") ? null : HEX.parseHex(k),
                    v.equals("-") ? null : HEX.parseHex(v), null, Long.parseLong(f[3])));
            }
            for (String t : topics) {
                TestOutputTopic<byte[], byte[]> o =
                    driver.createOutputTopic(t, new ByteArrayDeserializer(), new ByteArrayDeserializer());
                for (TestRecord<byte[], byte[]> r : o.readRecordsToList()) {
                    out.append(t).append(' ').append(hex(r.key())).append(' ').append(hex(r.value()))
                        .append(' ').append(r.timestamp());
                    for (Header h : r.headers()) {
                        out.append(' ').append(h.key()).append('=').append(hex(h.value()));
                    }
                    out.append('\n');
                }
            }
        } catch (RuntimeException e) {
            out.append("ERROR ").append(e.getClass().getSimpleName()).append('\n');
        }
        System.out.print(out);
        System.out.println("<<END>>");
    }
}
