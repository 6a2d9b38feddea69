// Builds each topology script read from stdin with Kafka Streams' own StreamsBuilder and prints
// its describe() text: the oracle of streams/tests/describe_vs_kafka.rs. Scripts are separated
// by lines "---"; each output is followed by a line "<<END>>". One operation per line:
//   stream ID TOPIC[,TOPIC...]   filter|filternot|map|mapvalues|flatmap|flatmapvalues|
//   selectkey|peek ID SRC        foreach SRC        merge ID A B    repartition ID SRC NAME|-
//   split SRC N DEFAULT(0|1) ID...   (branch streams, the default one last)   to SRC TOPIC
// Stateful ones (T* are tables; a STORE of "-" means none given, "+" an unnamed Materialized):
//   gtable G TOPIC STORE   gjoin ID SRC G LEFT(0|1)   (global table, joined on the stream's key)
//   tgroupcount T T0 GROUPNAME STORE   (groupBy((k, v) -> (k, v)).count())
//   stjoin ID SRC T LEFT(0|1)   ttjoin T A B inner|left|outer STORE   ssjoin ID A B inner|left|outer NAME|-
//   wcount ID SRC time|sliding|session STORE SUPPRESS   (windowed count of 10 ms windows, then
//   suppress untilWindowCloses when SUPPRESS is "+" (unnamed) or a name, toStream, map to the key)
//   count T SRC STORE   groupcount T SRC GROUPNAME STORE   reduce T SRC STORE
//   table T TOPIC STORE   totable T SRC STORE   tfilter T T0   tmapvalues T T0
//   tostream ID T   (toStream().mapValues(v -> v))
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.BranchedKStream;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.kstream.KGroupedStream;
import org.apache.kafka.streams.kstream.SessionWindowedKStream;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.SlidingWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindowedKStream;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.Stores;

public class DescribeScripts {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        List<String> script = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("---")) {
                run(script);
                script.clear();
            } else if (!line.isBlank()) {
                script.add(line);
            }
        }
        if (!script.isEmpty()) run(script);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static KTable<Object, Object> cast(KTable<Object, Long> c) {
        return (KTable) c;
    }

    static void run(List<String> script) {
        StreamsBuilder b = new StreamsBuilder();
        Map<String, KStream<Object, Object>> s = new HashMap<>();
        Map<String, KTable<Object, Object>> t = new HashMap<>();
        Map<String, GlobalKTable<Object, Object>> gts = new HashMap<>();
        try {
            for (String op : script) {
                String[] f = op.split(" ");
                switch (f[0]) {
                    case "stream": s.put(f[1], b.stream(Arrays.asList(f[2].split(",")))); break;
                    case "filter": s.put(f[1], s.get(f[2]).filter((k, v) -> true)); break;
                    case "filternot": s.put(f[1], s.get(f[2]).filterNot((k, v) -> false)); break;
                    case "map": s.put(f[1], s.get(f[2]).map((k, v) -> KeyValue.pair(k, v))); break;
                    case "mapvalues": s.put(f[1], s.get(f[2]).mapValues(v -> v)); break;
                    case "flatmap": s.put(f[1], s.get(f[2]).flatMap((k, v) -> List.of(KeyValue.pair(k, v)))); break;
                    case "flatmapvalues": s.put(f[1], s.get(f[2]).flatMapValues(v -> List.of(v))); break;
                    case "selectkey": s.put(f[1], s.get(f[2]).selectKey((k, v) -> k)); break;
                    case "peek": s.put(f[1], s.get(f[2]).peek((k, v) -> {})); break;
                    case "foreach": s.get(f[1]).foreach((k, v) -> {}); break;
                    case "processvalues": {
                        String[] stores = f[3].equals("-") ? new String[0] : new String[] {f[3]};
                        if (!f[3].equals("-"))
                            b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(f[3]), null, null));
                        org.apache.kafka.streams.processor.api.FixedKeyProcessorSupplier<Object, Object, Object> supplier =
                            () -> new org.apache.kafka.streams.processor.api.ContextualFixedKeyProcessor<Object, Object, Object>() {
                                public void process(org.apache.kafka.streams.processor.api.FixedKeyRecord<Object, Object> r) { context().forward(r); }
                            };
                        s.put(f[1], f[4].equals("-") ? s.get(f[2]).processValues(supplier, stores)
                            : s.get(f[2]).processValues(supplier, Named.as(f[4]), stores));
                        break;
                    }
                    case "process": {
                        String[] stores = f[3].equals("-") ? new String[0] : new String[] {f[3]};
                        if (!f[3].equals("-"))
                            b.addStateStore(Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(f[3]), null, null));
                        var supplier = (org.apache.kafka.streams.processor.api.ProcessorSupplier<Object, Object, Object, Object>)
                            () -> new ContextualProcessor<Object, Object, Object, Object>() {
                                public void process(Record<Object, Object> r) { context().forward(r); }
                            };
                        s.put(f[1], f[4].equals("-") ? s.get(f[2]).process(supplier, stores)
                            : s.get(f[2]).process(supplier, Named.as(f[4]), stores));
                        break;
                    }
                    case "repartition": s.put(f[1], f[3].equals("-") ? s.get(f[2]).repartition()
                        : s.get(f[2]).repartition(Repartitioned.as(f[3]))); break;
                    case "merge": s.put(f[1], s.get(f[2]).merge(s.get(f[3]))); break;
                    case "to": s.get(f[1]).to(f[2]); break;
                    case "split": {
                        int n = Integer.parseInt(f[2]);
                        boolean dflt = f[3].equals("1");
                        BranchedKStream<Object, Object> br = s.get(f[1]).split();
                        for (int i = 0; i < n; i++) br = br.branch((k, v) -> true);
                        Map<String, KStream<Object, Object>> m = dflt ? br.defaultBranch() : br.noDefaultBranch();
                        Map<Integer, KStream<Object, Object>> byPosition = new HashMap<>();
                        // keys are KSTREAM-BRANCH-<10 digits><position>
                        for (Map.Entry<String, KStream<Object, Object>> e : m.entrySet())
                            byPosition.put(Integer.parseInt(e.getKey().substring(25)), e.getValue());
                        for (int i = 0; i < n; i++) s.put(f[4 + i], byPosition.get(i + 1));
                        if (dflt) s.put(f[4 + n], byPosition.get(0));
                        break;
                    }
                    case "count": {
                        KTable<Object, Long> c = f[3].equals("-") ? s.get(f[2]).groupByKey().count()
                            : s.get(f[2]).groupByKey().count(Materialized.as(f[3]));
                        t.put(f[1], cast(c));
                        break;
                    }
                    case "groupcount": {
                        Grouped<Object, Object> g = f[3].equals("-") ? Grouped.with(null, null) : Grouped.as(f[3]);
                        KTable<Object, Long> c = f[4].equals("-") ? s.get(f[2]).groupBy((k, v) -> v, g).count()
                            : s.get(f[2]).groupBy((k, v) -> v, g).count(Materialized.as(f[4]));
                        t.put(f[1], cast(c));
                        break;
                    }
                    case "reduce":
                        t.put(f[1], f[3].equals("-") ? s.get(f[2]).groupByKey().reduce((x, y) -> y)
                            : s.get(f[2]).groupByKey().reduce((x, y) -> y, Materialized.as(f[3])));
                        break;
                    case "table":
                        t.put(f[1], f[3].equals("-") ? b.table(f[2]) : b.table(f[2], Materialized.as(f[3])));
                        break;
                    case "totable":
                        t.put(f[1], f[3].equals("-") ? s.get(f[2]).toTable() : s.get(f[2]).toTable(Materialized.as(f[3])));
                        break;
                    case "tfilter": t.put(f[1], t.get(f[2]).filter((k, v) -> true)); break;
                    case "tmapvalues": t.put(f[1], t.get(f[2]).mapValues(v -> v)); break;
                    case "tostream": s.put(f[1], t.get(f[2]).toStream().mapValues(v -> v)); break;
                    case "tgroupcount": {
                        var grouped = t.get(f[2]).groupBy((k, v) -> KeyValue.pair(k, v),
                            f[3].equals("-") ? Grouped.with(null, null) : Grouped.as(f[3]));
                        t.put(f[1], cast(f[4].equals("-") ? grouped.count() : grouped.count(Materialized.as(f[4]))));
                        break;
                    }
                    case "gtable":
                        gts.put(f[1], f[3].equals("-") ? b.globalTable(f[2]) : b.globalTable(f[2], Materialized.as(f[3])));
                        break;
                    case "gjoin":
                        s.put(f[1], f[4].equals("1") ? s.get(f[2]).leftJoin(gts.get(f[3]), (k, v) -> k, (v, w) -> v)
                            : s.get(f[2]).join(gts.get(f[3]), (k, v) -> k, (v, w) -> v));
                        break;
                    case "stjoin":
                        s.put(f[1], f[4].equals("1") ? s.get(f[2]).leftJoin(t.get(f[3]), (v, w) -> v)
                            : s.get(f[2]).join(t.get(f[3]), (v, w) -> v));
                        break;
                    case "fkjoin": {
                        KTable<Object, Object> a = t.get(f[2]), o = t.get(f[3]);
                        boolean left = f[4].equals("left");
                        TableJoined<Object, Object> tj = f[5].equals("-") ? TableJoined.with(null, null) : TableJoined.as(f[5]);
                        Materialized<Object, Object, KeyValueStore<Bytes, byte[]>> m = f[6].equals("-") ? Materialized.with(null, null) : Materialized.as(f[6]);
                        java.util.function.BiFunction<Object, Object, Object> fk = (k, v) -> k;
                        t.put(f[1], left ? a.leftJoin(o, fk, (x, y) -> x, tj, m) : a.join(o, fk, (x, y) -> x, tj, m));
                        break;
                    }
                    case "ttjoin": {
                        KTable<Object, Object> a = t.get(f[2]), o = t.get(f[3]);
                        boolean kept = !f[5].equals("-");
                        KTable<Object, Object> r;
                        switch (f[4]) {
                            case "inner": r = kept ? a.join(o, (x, y) -> x, Materialized.as(f[5])) : a.join(o, (x, y) -> x); break;
                            case "left": r = kept ? a.leftJoin(o, (x, y) -> x, Materialized.as(f[5])) : a.leftJoin(o, (x, y) -> x); break;
                            default: r = kept ? a.outerJoin(o, (x, y) -> x, Materialized.as(f[5])) : a.outerJoin(o, (x, y) -> x); break;
                        }
                        t.put(f[1], r);
                        break;
                    }
                    case "ssjoin": {
                        JoinWindows w = JoinWindows.ofTimeDifferenceWithNoGrace(Duration.ofMillis(10));
                        StreamJoined<Object, Object, Object> sj = f[5].equals("-") ? StreamJoined.with(null, null, null)
                            : StreamJoined.<Object, Object, Object>with(null, null, null).withName(f[5]);
                        KStream<Object, Object> a = s.get(f[2]), o = s.get(f[3]);
                        switch (f[4]) {
                            case "inner": s.put(f[1], a.join(o, (x, y) -> x, w, sj)); break;
                            case "left": s.put(f[1], a.leftJoin(o, (x, y) -> x, w, sj)); break;
                            default: s.put(f[1], a.outerJoin(o, (x, y) -> x, w, sj)); break;
                        }
                        break;
                    }
                    case "wcount": {
                        KGroupedStream<Object, Object> g = s.get(f[2]).groupByKey();
                        Duration d = Duration.ofMillis(10);
                        KTable<Windowed<Object>, Long> c;
                        if (f[3].equals("session")) {
                            SessionWindowedKStream<Object, Object> w = g.windowedBy(SessionWindows.ofInactivityGapWithNoGrace(d));
                            c = f[4].equals("-") ? w.count() : f[4].equals("+") ? w.count(Materialized.with(null, null)) : w.count(Materialized.as(f[4]));
                        } else {
                            TimeWindowedKStream<Object, Object> w = f[3].equals("time")
                                ? g.windowedBy(TimeWindows.ofSizeWithNoGrace(d))
                                : g.windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(d));
                            c = f[4].equals("-") ? w.count() : f[4].equals("+") ? w.count(Materialized.with(null, null)) : w.count(Materialized.as(f[4]));
                        }
                        if (f[5].equals("+")) c = c.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()));
                        else if (!f[5].equals("-")) c = c.suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()).withName(f[5]));
                        s.put(f[1], c.toStream().map((k, v) -> KeyValue.pair(k.key(), v)));
                        break;
                    }
                    default: throw new IllegalArgumentException("unknown operation " + op);
                }
            }
            System.out.print(b.build().describe());
        } catch (RuntimeException e) {
            // (a topology Kafka refuses: the Rust side must refuse it too)
            System.out.println("ERROR " + e.getMessage());
        }
        System.out.println("<<END>>");
    }
}
