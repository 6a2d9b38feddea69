// One run of the streams benchmark in Java Kafka Streams, the twin of
// examples/examples/streams_bench.rs: the same apps (stateless, count, windowed), the same
// measurement (records read by the source, from the first to the last) and the same output
// line. Run by scripts/bench-streams.sh on the jars of scripts/kafka-jars.sh.
//
// Usage: java StreamsBench APP INPUT OUTPUT APPLICATION_ID RECORDS BOOTSTRAP at_least_once|exactly_once_v2
import java.nio.file.Files;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;

public class StreamsBench {
    public static void main(String[] args) throws Exception {
        String app = args[0], input = args[1], output = args[2], appId = args[3];
        long records = Long.parseLong(args[4]);
        Serde<byte[]> bytes = Serdes.ByteArray();
        AtomicLong seen = new AtomicLong();
        StreamsBuilder b = new StreamsBuilder();
        KStream<byte[], byte[]> source = b.stream(input, Consumed.with(bytes, bytes))
            .peek((k, v) -> seen.incrementAndGet());
        switch (app) {
            case "stateless":
                source.filter((k, v) -> v != null && v.length > 0)
                    .mapValues(v -> (long) v.length)
                    .to(output, Produced.with(bytes, Serdes.Long()));
                break;
            case "count":
                source.groupByKey(Grouped.with(bytes, bytes)).count().toStream()
                    .to(output, Produced.with(bytes, Serdes.Long()));
                break;
            default:
                source.groupByKey(Grouped.with(bytes, bytes))
                    .windowedBy(TimeWindows.ofSizeWithNoGrace(Duration.ofSeconds(1)))
                    .count().toStream()
                    .map((k, v) -> KeyValue.pair(k.key(), v))
                    .to(output, Produced.with(bytes, Serdes.Long()));
        }
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[5]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args[6]);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, args[6].equals("exactly_once_v2") ? 100 : 1000);
        props.put(StreamsConfig.STATE_DIR_CONFIG, Files.createTempDirectory("streams-bench-").toString());
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        KafkaStreams streams = new KafkaStreams(b.build(), props);
        streams.start();
        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        long first = 0;
        while (seen.get() < records && System.nanoTime() < deadline) {
            if (first == 0 && seen.get() > 0) first = System.nanoTime();
            if (streams.state() == KafkaStreams.State.ERROR) throw new IllegalStateException("the app failed");
            Thread.sleep(1);
        }
        double seconds = (System.nanoTime() - first) / 1e9;
        long n = seen.get();
        streams.close(Duration.ofSeconds(30));
        String hwm = Files.readAllLines(java.nio.file.Path.of("/proc/self/status")).stream()
            .filter(l -> l.startsWith("VmHWM:")).map(l -> l.replaceAll("[^0-9]", "")).findFirst().orElse("0");
        System.out.printf("RESULT impl=kafka-streams app=%s records=%d seconds=%.3f records_per_sec=%.0f peak_rss_kib=%s%n",
            app, n, seconds, n / seconds, hwm);
        System.exit(0);
    }
}
