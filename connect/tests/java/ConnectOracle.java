// Runs Kafka Connect's own converters, header converters and single message transforms (with
// predicates) on given data: the oracle of the connect crate's differential tests, which run
// Tributary's implementations on the same cases and expect byte-identical results.
//
// Input (stdin, UTF-8): cases separated by lines "---"; fields on a line are separated by a
// single TAB. Empty lines and lines starting with "#" are ignored; a case without any other line
// is skipped (no output at all). Lines of a case (setup lines may come in any order, they all
// take effect before the first operation):
//   case ID                  first line; ID is only for humans
//   kind K                   converter | header_converter | transform
//   class FQCN               the plugin, made by reflection (public no-arg constructor), e.g.
//                            org.apache.kafka.connect.json.JsonConverter,
//                            org.apache.kafka.connect.transforms.InsertField$Value
//   key true|false           converters only: configure(map, isKey) as a key converter
//                            (default false)
//   config NAME VALUE        any number (the VALUE is the rest of the line, may be empty): the
//                            Map<String, String> given to configure(); a header converter gets
//                            "converter.type"="header" added, as the worker's Plugins does
//   predicate FQCN           transforms only: the transform applies only when
//   pconfig NAME VALUE         predicate.test(record) != negate, as the runtime's
//   negate true|false          TransformationStage does (default negate false); otherwise the
//                              record passes unchanged. The transform is configured first,
//                              then the predicate with the pconfig map.
//   defaults true|false      the envelope converter's replace.null.with.default (default true):
//                            with false a null under a schema with a default stays null when an
//                            envelope is read and is written as null, so that what a transform
//                            does with such nulls shows
//   operations, each printing exactly one line, in order:
//   from TOPIC ENVELOPE      converter: fromConnectData(TOPIC, schema, value); header_converter:
//                            fromConnectHeader(TOPIC, "h", schema, value)
//                            -> "bytes HEX" (lowercase hex, "" for no bytes, "-" for null)
//   to TOPIC HEX             HEX ("-": null) through toConnectData(TOPIC, bytes), resp.
//                            toConnectHeader(TOPIC, "h", bytes) -> "data ENVELOPE"
//   record TOPIC PARTITION KEY_ENVELOPE VALUE_ENVELOPE TIMESTAMP [NAME=ENVELOPE]...
//                            transform: builds new SinkRecord(TOPIC, PARTITION, keySchema, key,
//                            valueSchema, value, 42L, TIMESTAMP, TimestampType.CREATE_TIME,
//                            headers) (headers added in order with ConnectHeaders.add(NAME,
//                            schemaAndValue); NAME is up to the first "="), runs it through the
//                            (predicated) transform and prints the result in the same format,
//                            "record TOPIC PARTITION KEY_ENVELOPE VALUE_ENVELOPE TIMESTAMP
//                            [NAME=ENVELOPE]..." (headers in the record's order; a null topic
//                            prints "-"), or "dropped" when the result is null. TIMESTAMP "-" is
//                            null. PARTITION "-" (null) cannot be a SinkRecord (its partition is
//                            an int), so then the record is a SourceRecord(null, null, TOPIC,
//                            null, keySchema, key, valueSchema, value, TIMESTAMP, headers).
//   An exception (any Throwable) from an operation prints "error SIMPLE_CLASS_NAME MESSAGE" (the
//   message with CR, LF and TAB replaced by spaces, empty when null). When the setup fails
//   (unknown kind, class not found or of the wrong type, configure throws), every operation of
//   the case prints that same error line. An unknown line counts as an operation printing an
//   error.
// ENVELOPE: Connect data (schema and value) as text: the UTF-8 output of a JsonConverter
// configured with schemas.enable=true (all other settings default, isKey false), i.e.
// {"schema":...,"payload":...}, and "-" for SchemaAndValue.NULL (no schema, no value; the
// converter's null bytes). Input envelopes are parsed with that converter's toConnectData,
// output ones written with its fromConnectData.
// The JVM's default time zone is set to UTC and its default locale to Locale.ROOT first: Cast
// (Values.dateFormatFor) and InsertHeader (Values.parseString) use the defaults, so results would
// otherwise depend on the machine.
// Output: per case one line per operation, then "<<END>>". (Between the fields of every line
// above, input and output, stands a single TAB.)
// What the envelope cannot carry (JsonConverter's own limits): schemaless bytes (a schemaless
// "payload":"AQID" is a string), NaN/infinite doubles (written as strings, read back as 0.0 with a
// schema), -0.0 (floats are read as BigDecimal), a null value under a schema with a default (the
// default replaces it), a map schema without key schema (printing it throws); JSON objects are
// read into java.util.HashMaps, so map entries come out in HashMap iteration order.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.connect.connector.ConnectRecord;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.header.ConnectHeaders;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.Converter;
import org.apache.kafka.connect.storage.HeaderConverter;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;

// (raw types: one oracle runs both SinkRecords and SourceRecords through the same plugin)
@SuppressWarnings({"rawtypes", "unchecked"})
public class ConnectOracle {
    static final HexFormat HEX = HexFormat.of();
    static final JsonConverter ENVELOPE = envelopeConverter(true);
    static final JsonConverter ENVELOPE_KEEPING_NULLS = envelopeConverter(false);
    // the envelope converter of the case being run
    static JsonConverter envelopeConverter = ENVELOPE;

    static JsonConverter envelopeConverter(boolean replaceNullWithDefault) {
        JsonConverter c = new JsonConverter();
        c.configure(Map.of("schemas.enable", "true", "replace.null.with.default", String.valueOf(replaceNullWithDefault)),
            false);
        return c;
    }

    static SchemaAndValue parseEnvelope(String topic, String text) {
        if (text.equals("-")) {
            return SchemaAndValue.NULL;
        }
        return envelopeConverter.toConnectData(topic, text.getBytes(StandardCharsets.UTF_8));
    }

    static String envelope(String topic, org.apache.kafka.connect.data.Schema schema, Object value) {
        byte[] bytes = envelopeConverter.fromConnectData(topic, schema, value);
        return bytes == null ? "-" : new String(bytes, StandardCharsets.UTF_8);
    }

    static String envelope(String topic, SchemaAndValue sv) {
        return sv == null ? "-" : envelope(topic, sv.schema(), sv.value());
    }

    static String hex(byte[] bytes) {
        return bytes == null ? "-" : HEX.formatHex(bytes);
    }

    static byte[] parseHex(String text) {
        return text.equals("-") ? null : HEX.parseHex(text);
    }

    static Throwable unwrap(Throwable t) {
        while (t instanceof InvocationTargetException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    static String errorLine(Throwable t) {
        t = unwrap(t);
        String msg = t.getMessage() == null ? "" : t.getMessage().replace('\r', ' ').replace('\n', ' ').replace('\t', ' ');
        return "error\t" + t.getClass().getSimpleName() + "\t" + msg;
    }

    static Object instantiate(String className) throws Exception {
        if (className == null) {
            throw new IllegalArgumentException("no class line");
        }
        return Class.forName(className).getDeclaredConstructor().newInstance();
    }

    // one case: its setup and its operations
    static final class Case {
        String kind;
        String className;
        boolean isKey;
        Map<String, String> config = new HashMap<>();
        String predicateClass;
        Map<String, String> predicateConfig = new HashMap<>();
        boolean negate;
        boolean envelopeDefaults = true;
        List<String> operations = new ArrayList<>();

        Converter converter;
        HeaderConverter headerConverter;
        Transformation transform;
        Predicate predicate;

        void line(String line) {
            String[] f = line.split("\t", 3);
            String arg = f.length > 1 ? f[1] : "";
            switch (f[0]) {
                case "case":
                    break;
                case "kind":
                    kind = arg;
                    break;
                case "class":
                    className = arg;
                    break;
                case "key":
                    isKey = Boolean.parseBoolean(arg);
                    break;
                case "config":
                    config.put(arg, f.length > 2 ? f[2] : "");
                    break;
                case "predicate":
                    predicateClass = arg;
                    break;
                case "pconfig":
                    predicateConfig.put(arg, f.length > 2 ? f[2] : "");
                    break;
                case "negate":
                    negate = Boolean.parseBoolean(arg);
                    break;
                case "defaults":
                    envelopeDefaults = Boolean.parseBoolean(arg);
                    break;
                default:
                    operations.add(line);
            }
        }

        void setUp() throws Exception {
            if (kind == null) {
                throw new IllegalArgumentException("no kind line");
            }
            switch (kind) {
                case "converter": {
                    converter = (Converter) instantiate(className);
                    converter.configure(new HashMap<>(config), isKey);
                    break;
                }
                case "header_converter": {
                    headerConverter = (HeaderConverter) instantiate(className);
                    Map<String, Object> conf = new HashMap<>(config);
                    conf.put("converter.type", "header");
                    headerConverter.configure(conf);
                    break;
                }
                case "transform": {
                    transform = (Transformation) instantiate(className);
                    transform.configure(new HashMap<>(config));
                    if (predicateClass != null) {
                        predicate = (Predicate) instantiate(predicateClass);
                        predicate.configure(new HashMap<>(predicateConfig));
                    }
                    break;
                }
                default:
                    throw new IllegalArgumentException("unknown kind " + kind);
            }
        }

        String run(String line) {
            String[] f = line.split("\t", -1);
            switch (f[0]) {
                case "from": {
                    need(f, 3);
                    SchemaAndValue sv = parseEnvelope(f[1], f[2]);
                    if (converter != null) {
                        return "bytes\t" + hex(converter.fromConnectData(f[1], sv.schema(), sv.value()));
                    }
                    if (headerConverter != null) {
                        return "bytes\t" + hex(headerConverter.fromConnectHeader(f[1], "h", sv.schema(), sv.value()));
                    }
                    throw new IllegalArgumentException("from needs a converter or header_converter");
                }
                case "to": {
                    need(f, 3);
                    byte[] bytes = parseHex(f[2]);
                    if (converter != null) {
                        return "data\t" + envelope(f[1], converter.toConnectData(f[1], bytes));
                    }
                    if (headerConverter != null) {
                        return "data\t" + envelope(f[1], headerConverter.toConnectHeader(f[1], "h", bytes));
                    }
                    throw new IllegalArgumentException("to needs a converter or header_converter");
                }
                case "record": {
                    if (f.length < 6) {
                        throw new IllegalArgumentException("record needs at least 6 fields, got " + f.length);
                    }
                    if (transform == null) {
                        throw new IllegalArgumentException("record needs a transform");
                    }
                    return format(applyStage(parseRecord(f)));
                }
                default:
                    throw new IllegalArgumentException("unknown line: " + f[0]);
            }
        }

        ConnectRecord applyStage(ConnectRecord record) {
            if (predicate == null || negate ^ predicate.test(record)) {
                return transform.apply(record);
            }
            return record;
        }

        void close() {
            for (AutoCloseable c : new AutoCloseable[] {converter, headerConverter, transform, predicate}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Throwable ignored) {
                        // as Utils.closeQuietly
                    }
                }
            }
        }
    }

    static void need(String[] f, int n) {
        if (f.length != n) {
            throw new IllegalArgumentException(f[0] + " needs " + n + " fields, got " + f.length);
        }
    }

    static ConnectRecord parseRecord(String[] f) {
        String topic = f[1];
        Integer partition = f[2].equals("-") ? null : Integer.valueOf(f[2]);
        SchemaAndValue key = parseEnvelope(topic, f[3]);
        SchemaAndValue value = parseEnvelope(topic, f[4]);
        Long timestamp = f[5].equals("-") ? null : Long.valueOf(f[5]);
        ConnectHeaders headers = new ConnectHeaders();
        for (int i = 6; i < f.length; i++) {
            int eq = f[i].indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("a header needs NAME=ENVELOPE: " + f[i]);
            }
            headers.add(f[i].substring(0, eq), parseEnvelope(topic, f[i].substring(eq + 1)));
        }
        if (partition == null) {
            return new SourceRecord(null, null, topic, null, key.schema(), key.value(), value.schema(), value.value(),
                timestamp, headers);
        }
        return new SinkRecord(topic, partition, key.schema(), key.value(), value.schema(), value.value(), 42L, timestamp,
            TimestampType.CREATE_TIME, headers);
    }

    static String format(ConnectRecord r) {
        if (r == null) {
            return "dropped";
        }
        String topic = r.topic();
        StringBuilder sb = new StringBuilder("record\t");
        sb.append(topic == null ? "-" : topic).append('\t');
        sb.append(r.kafkaPartition() == null ? "-" : r.kafkaPartition().toString()).append('\t');
        sb.append(envelope(topic, r.keySchema(), r.key())).append('\t');
        sb.append(envelope(topic, r.valueSchema(), r.value())).append('\t');
        sb.append(r.timestamp() == null ? "-" : r.timestamp().toString());
        for (Header h : r.headers()) {
            sb.append('\t').append(h.key()).append('=').append(envelope(topic, h.schema(), h.value()));
        }
        return sb.toString();
    }

    static void runCase(List<String> lines, Writer out) throws IOException {
        Case c = new Case();
        for (String line : lines) {
            c.line(line);
        }
        envelopeConverter = c.envelopeDefaults ? ENVELOPE : ENVELOPE_KEEPING_NULLS;
        Throwable setupError = null;
        try {
            c.setUp();
        } catch (Throwable t) {
            setupError = t;
        }
        for (String op : c.operations) {
            String result;
            if (setupError != null) {
                result = errorLine(setupError);
            } else {
                try {
                    result = c.run(op);
                } catch (Throwable t) {
                    result = errorLine(t);
                }
            }
            out.write(result);
            out.write('\n');
        }
        out.write("<<END>>\n");
        c.close();
    }

    public static void main(String[] args) throws IOException {
        TimeZone.setDefault(TimeZone.getTimeZone("UTC"));
        Locale.setDefault(Locale.ROOT);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        Writer out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.equals("---")) {
                if (!lines.isEmpty()) {
                    runCase(lines, out);
                }
                lines.clear();
            } else if (!line.isEmpty() && !line.startsWith("#")) {
                lines.add(line);
            }
        }
        if (!lines.isEmpty()) {
            runCase(lines, out);
        }
        out.flush();
    }
}
