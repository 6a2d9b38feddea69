package compat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMurmur2Reference checks the test's own murmur2 against Kafka's vectors (UtilsTest.testMurmur2):
// the placement checks below are only as good as this reference.
func TestMurmur2Reference(t *testing.T) {
	vectors := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for k, want := range vectors {
		if got := murmur2([]byte(k)); got != want {
			t.Errorf("murmur2(%q) = %d, Kafka says %d", k, got, want)
		}
	}
}

// checkIdempotentLog checks what an idempotent producer wrote: per partition the records sit at
// offsets 0..n-1 with no gap and no duplicate, in the order they were sent, at the offsets the
// producer was told, on the partition the Java client would choose for the key, headers intact.
func checkIdempotentLog(t *testing.T, got map[int32][]rec, n int, partitions int32, acked map[int]rec) {
	t.Helper()
	total := 0
	seen := map[int]bool{}
	for p, rs := range got {
		last := -1
		for i, r := range rs {
			total++
			if r.Offset != int64(i) {
				t.Errorf("partition %d: record %d at offset %d (offsets not contiguous from 0)", p, i, r.Offset)
				return
			}
			idx, err := strconv.Atoi(strings.TrimPrefix(r.Value, "value-"))
			if err != nil {
				t.Fatalf("unexpected record %v", r)
			}
			if seen[idx] {
				t.Errorf("record %d written twice (again at %v)", idx, r)
			}
			seen[idx] = true
			if idx <= last {
				t.Errorf("partition %d: record %d after record %d (out of order)", p, idx, last)
			}
			last = idx
			if want := javaPartition([]byte(r.Key), partitions); want != p {
				t.Errorf("key %q on partition %d, the Java client puts it on %d", r.Key, p, want)
			}
			if a, ok := acked[idx]; !ok || a.Partition != p || a.Offset != r.Offset {
				t.Errorf("record %d acknowledged at %v, found at p%d@%d", idx, a, p, r.Offset)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != "seq" || string(r.Headers[0].Value) != strconv.Itoa(idx) {
				t.Errorf("record %d headers %v", idx, r.Headers)
			}
		}
	}
	if total != n || len(seen) != n {
		t.Errorf("read %d records (%d distinct), wrote %d", total, len(seen), n)
	}
}

// checkProducerState checks DescribeProducers (through kadm): one producer per partition that got
// records, its last sequence = records on that partition - 1; if pid >= 0 it must be that producer.
func checkProducerState(t *testing.T, adm *kadm.Client, topic string, got map[int32][]rec, pid int64) {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: nil})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	for p, rs := range got {
		part, ok := dp[topic].Partitions[p]
		if !ok {
			t.Errorf("DescribeProducers: no partition %d in %+v", p, dp[topic])
			continue
		}
		if part.Err != nil {
			t.Errorf("DescribeProducers %s/%d: %v", topic, p, part.Err)
			continue
		}
		if len(part.ActiveProducers) != 1 {
			t.Errorf("DescribeProducers %s/%d: %d active producers, want 1: %+v", topic, p, len(part.ActiveProducers), part.ActiveProducers)
			continue
		}
		for _, ap := range part.ActiveProducers {
			if pid >= 0 && ap.ProducerID != pid {
				t.Errorf("%s/%d: producer id %d, the client has %d", topic, p, ap.ProducerID, pid)
			}
			if ap.LastSequence != int32(len(rs)-1) {
				t.Errorf("%s/%d: last sequence %d, want %d", topic, p, ap.LastSequence, len(rs)-1)
			}
			if ap.CurrentTxnStartOffset != -1 {
				t.Errorf("%s/%d: current txn start offset %d for a non-transactional producer", topic, p, ap.CurrentTxnStartOffset)
			}
		}
	}
}

// TestFranzIdempotentProduce: franz-go's default producer (idempotent, acks=all, up to 5 requests in
// flight per broker) writes 900 keyed records with a header through many small batches.
func TestFranzIdempotentProduce(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	topic := uniq("idem-franz")
	const parts, n = 3, 900
	createTopic(t, adm, topic, parts, nil)

	cl := newClient(t, kgo.ProducerLinger(2*time.Millisecond), kgo.ProducerBatchMaxBytes(2048))
	ctx := ctxFor(t, 60*time.Second)
	var mu sync.Mutex
	acked := map[int]rec{}
	var wg sync.WaitGroup
	var firstErr error
	for i := 0; i < n; i++ {
		i := i
		r := &kgo.Record{
			Topic:   topic,
			Key:     []byte(fmt.Sprintf("k-%d", i%50)),
			Value:   []byte(fmt.Sprintf("value-%d", i)),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}},
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			acked[i] = rec{Partition: r.Partition, Offset: r.Offset}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
	id, epoch, err := cl.ProducerID(ctx)
	if err != nil || id < 0 {
		t.Fatalf("the client has no producer id (%d, %d, %v): not idempotent", id, epoch, err)
	}
	got := readAll(t, adm, topic)
	checkIdempotentLog(t, got, n, parts, acked)
	checkProducerState(t, adm, topic, got, id)
}

func saramaConfig(version sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "tributary-compat-sarama"
	cfg.Net.DialTimeout = 10 * time.Second
	cfg.Net.ReadTimeout = 30 * time.Second
	cfg.Net.WriteTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 20
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

// saramaVersions: sarama's default protocol level (2.8, what most users run) and its newest (4.x).
var saramaVersions = []sarama.KafkaVersion{sarama.DefaultVersion, sarama.MaxVersion}

// TestSaramaIdempotentProduce: sarama's AsyncProducer with Producer.Idempotent, Net.MaxOpenRequests=1,
// acks=all and the murmur2 partitioner writes 600 keyed records with a header.
func TestSaramaIdempotentProduce(t *testing.T) {
	t.Parallel()
	for _, v := range saramaVersions {
		v := v
		t.Run("v"+v.String(), func(t *testing.T) {
			adm := newAdmin(t)
			topic := uniq("idem-sarama")
			const parts, n = 3, 600
			createTopic(t, adm, topic, parts, nil)

			cfg := saramaConfig(v)
			cfg.Producer.Idempotent = true
			cfg.Net.MaxOpenRequests = 1
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			cfg.Producer.Retry.Max = 10
			cfg.Producer.Return.Successes = true
			cfg.Producer.Partitioner = sarama.NewMurmur2Partitioner
			cfg.Producer.Flush.Messages = 20
			cfg.Producer.Flush.Frequency = 2 * time.Millisecond
			prod, err := sarama.NewAsyncProducer([]string{bootstrap(t)}, cfg)
			if err != nil {
				t.Fatalf("NewAsyncProducer: %v", err)
			}
			defer prod.Close()
			acked := map[int]rec{}
			done := make(chan error, 1)
			go func() {
				deadline := time.After(60 * time.Second)
				for len(acked) < n {
					select {
					case m := <-prod.Successes():
						acked[m.Metadata.(int)] = rec{Partition: m.Partition, Offset: m.Offset}
					case e := <-prod.Errors():
						done <- e
						return
					case <-deadline:
						done <- fmt.Errorf("timed out with %d of %d acknowledged", len(acked), n)
						return
					}
				}
				done <- nil
			}()
			for i := 0; i < n; i++ {
				prod.Input() <- &sarama.ProducerMessage{
					Topic:    topic,
					Key:      sarama.StringEncoder(fmt.Sprintf("k-%d", i%50)),
					Value:    sarama.StringEncoder(fmt.Sprintf("value-%d", i)),
					Headers:  []sarama.RecordHeader{{Key: []byte("seq"), Value: []byte(strconv.Itoa(i))}},
					Metadata: i,
				}
			}
			if err := <-done; err != nil {
				t.Fatalf("produce: %v", err)
			}
			got := readAll(t, adm, topic)
			checkIdempotentLog(t, got, n, parts, acked)
			checkProducerState(t, adm, topic, got, -1)
		})
	}
}

// placementKeys: Kafka's murmur2 vectors, short and long keys, UTF-8 and binary-looking ones.
func placementKeys() []string {
	keys := []string{"21", "foobar", "a-little-bit-long-string", "a-little-bit-longer-string",
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", "abc", "x", "ключ", "日本語キー", "k"}
	for i := 0; i < 190; i++ {
		keys = append(keys, fmt.Sprintf("user-%d-%s", i*7919, strings.Repeat("z", i%13)))
	}
	return keys
}

// TestKeyPlacementMatchesJava: 200 keys into a 7-partition topic through franz-go's default
// partitioner, franz-go's StickyKeyPartitioner(nil), sarama's NewMurmur2Partitioner and `tributary
// produce`: every record sits on toPositive(murmur2(key)) % 7, the Java client's choice, so the four
// agree.
func TestKeyPlacementMatchesJava(t *testing.T) {
	t.Parallel()
	const parts = 7
	keys := placementKeys()
	check := func(t *testing.T, adm *kadm.Client, topic string) {
		t.Helper()
		got := readAll(t, adm, topic)
		n := 0
		for p, rs := range got {
			for _, r := range rs {
				n++
				if want := javaPartition([]byte(r.Key), parts); want != p {
					t.Errorf("key %q on partition %d, the Java client puts it on %d", r.Key, p, want)
				}
				if r.Value != "v:"+r.Key {
					t.Errorf("key %q with value %q", r.Key, r.Value)
				}
			}
		}
		if n != len(keys) {
			t.Errorf("read %d records, wrote %d", n, len(keys))
		}
	}
	franz := func(opts ...kgo.Opt) func(t *testing.T) {
		return func(t *testing.T) {
			t.Parallel()
			adm := newAdmin(t)
			topic := uniq("keys-franz")
			createTopic(t, adm, topic, parts, nil)
			cl := newClient(t, opts...)
			var rs []*kgo.Record
			for _, k := range keys {
				rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte("v:" + k)})
			}
			if err := cl.ProduceSync(ctxFor(t, 60*time.Second), rs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			check(t, adm, topic)
		}
	}
	t.Run("franz-go-default", franz())
	t.Run("franz-go-StickyKeyPartitioner", franz(kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))))
	t.Run("sarama-Murmur2Partitioner", func(t *testing.T) {
		t.Parallel()
		adm := newAdmin(t)
		topic := uniq("keys-sarama")
		createTopic(t, adm, topic, parts, nil)
		cfg := saramaConfig(sarama.DefaultVersion)
		cfg.Producer.Partitioner = sarama.NewMurmur2Partitioner
		cfg.Producer.Return.Successes = true
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		prod, err := sarama.NewSyncProducer([]string{bootstrap(t)}, cfg)
		if err != nil {
			t.Fatalf("NewSyncProducer: %v", err)
		}
		defer prod.Close()
		var msgs []*sarama.ProducerMessage
		for _, k := range keys {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(k), Value: sarama.StringEncoder("v:" + k)})
		}
		if err := prod.SendMessages(msgs); err != nil {
			t.Fatalf("SendMessages: %v", err)
		}
		check(t, adm, topic)
	})
	t.Run("tributary-produce", func(t *testing.T) {
		t.Parallel()
		bin := tributaryBin()
		if bin == "" {
			t.Skip("TRIBUTARY_BIN not set and no tributary on PATH")
		}
		adm := newAdmin(t)
		topic := uniq("keys-cli")
		createTopic(t, adm, topic, parts, nil)
		var in bytes.Buffer
		for _, k := range keys {
			fmt.Fprintf(&in, "%s\tv:%s\n", k, k)
		}
		ctx := ctxFor(t, 60*time.Second)
		cmd := exec.CommandContext(ctx, bin, "produce", topic, "--key-separator", "\t", "-b", bootstrap(t))
		cmd.Stdin = &in
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tributary produce: %v\n%s", err, out)
		}
		check(t, adm, topic)
	})
}

// codecs: franz-go codec, sarama codec, the id in a record batch's attributes.
var codecs = []struct {
	name   string
	franz  kgo.CompressionCodec
	sarama sarama.CompressionCodec
	id     int16
}{
	{"none", kgo.NoCompression(), sarama.CompressionNone, 0},
	{"gzip", kgo.GzipCompression(), sarama.CompressionGZIP, 1},
	{"snappy", kgo.SnappyCompression(), sarama.CompressionSnappy, 2},
	{"lz4", kgo.Lz4Compression(), sarama.CompressionLZ4, 3},
	{"zstd", kgo.ZstdCompression(), sarama.CompressionZSTD, 4},
}

// codecValue is record i's value: some small, some 8 KiB of compressible text, some binary.
func codecValue(i int) []byte {
	switch i % 4 {
	case 0:
		return []byte(strings.Repeat(fmt.Sprintf("line %d, the same words again; ", i), 250))
	case 1:
		b := make([]byte, 300)
		for j := range b {
			b[j] = byte((i*131 + j*7) % 256)
		}
		return b
	case 2:
		return []byte(fmt.Sprintf("small-%d \t\"quoted\" \\ ünïcødé", i))
	default:
		return []byte{}
	}
}

// batchCodecs fetches partition p of topic with a raw Fetch and returns the compression id of every
// record batch in it (attributes & 7) and how many batches there were.
func batchCodecs(t *testing.T, cl *kgo.Client, adm *kadm.Client, topic string, p int32) map[int16]int {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	out := map[int16]int{}
	offset := int64(0)
	end := endOffsets(t, adm, topic)[p]
	for offset < end {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 100
		req.MaxBytes = 50 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rt.TopicID = md.Topics[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = 50 << 20
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatalf("raw fetch: %v", err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("raw fetch: unexpected response %+v", resp)
		}
		rpart := resp.Topics[0].Partitions[0]
		if rpart.ErrorCode != 0 {
			t.Fatalf("raw fetch: error %d", rpart.ErrorCode)
		}
		b := rpart.RecordBatches
		progressed := false
		for len(b) >= 61 {
			base := int64(binary.BigEndian.Uint64(b[0:8]))
			length := int(binary.BigEndian.Uint32(b[8:12]))
			if len(b) < 12+length {
				break // partial batch at the end of the response
			}
			var batch kmsg.RecordBatch
			if err := batch.ReadFrom(b[:12+length]); err != nil {
				t.Fatalf("decode batch at %d: %v", base, err)
			}
			out[batch.Attributes&7]++
			offset = base + int64(batch.LastOffsetDelta) + 1
			progressed = true
			b = b[12+length:]
		}
		if !progressed {
			t.Fatalf("raw fetch at %d returned no whole batch (%d bytes)", offset, len(rpart.RecordBatches))
		}
	}
	return out
}

// saramaReadAll reads every partition of topic from the oldest offset up to ends with sarama's consumer.
func saramaReadAll(t *testing.T, topic string, ends map[int32]int64) map[int32][]rec {
	t.Helper()
	c, err := sarama.NewConsumer([]string{bootstrap(t)}, saramaConfig(sarama.DefaultVersion))
	if err != nil {
		t.Fatalf("sarama.NewConsumer: %v", err)
	}
	defer c.Close()
	out := map[int32][]rec{}
	for p, e := range ends {
		if e == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("ConsumePartition %d: %v", p, err)
		}
		timeout := time.After(30 * time.Second)
		for int64(len(out[p])) < e {
			select {
			case m := <-pc.Messages():
				var hs []kgo.RecordHeader
				for _, h := range m.Headers {
					hs = append(hs, kgo.RecordHeader{Key: string(h.Key), Value: h.Value})
				}
				out[p] = append(out[p], rec{m.Partition, m.Offset, string(m.Key), string(m.Value), hs, m.Timestamp})
			case e := <-pc.Errors():
				t.Fatalf("sarama consume %s/%d: %v", topic, p, e)
			case <-timeout:
				t.Fatalf("sarama consume %s/%d: timed out after %d of %d", topic, p, len(out[p]), e)
			}
		}
		pc.Close()
	}
	return out
}

// TestCompressionCodecs: for every codec, franz-go and sarama each write 120 records (compressible,
// binary, UTF-8 and empty values, two headers) in batches of 20 to a 2-partition topic. The broker
// keeps the producer's codec (raw Fetch: every batch carries it), and franz-go and sarama consumers
// both read back exactly what was written, in order, at contiguous offsets.
func TestCompressionCodecs(t *testing.T) {
	t.Parallel()
	const n = 120
	verify := func(t *testing.T, cl *kgo.Client, adm *kadm.Client, topic string, codecID int16) {
		got := readAll(t, adm, topic)
		ends := endOffsets(t, adm, topic)
		sgot := saramaReadAll(t, topic, ends)
		total := 0
		for p := int32(0); p < 2; p++ {
			total += len(got[p])
			last := -1
			for i, r := range got[p] {
				idx, err := strconv.Atoi(strings.TrimPrefix(r.Key, "key-"))
				if err != nil || r.Offset != int64(i) || idx <= last {
					t.Fatalf("p%d record %d: %v (after key %d)", p, i, r, last)
				}
				last = idx
				if !bytes.Equal([]byte(r.Value), codecValue(idx)) {
					t.Errorf("p%d@%d: value differs from what was written (%d bytes, want %d)", p, r.Offset, len(r.Value), len(codecValue(idx)))
				}
				if len(r.Headers) != 2 || r.Headers[0].Key != "h1" || string(r.Headers[0].Value) != r.Key || r.Headers[1].Key != "h2" || len(r.Headers[1].Value) != 0 {
					t.Errorf("p%d@%d: headers %v", p, r.Offset, r.Headers)
				}
				if i < len(sgot[p]) {
					s := sgot[p][i]
					if s.Offset != r.Offset || s.Key != r.Key || s.Value != r.Value || len(s.Headers) != 2 || !s.Timestamp.Equal(r.Timestamp) {
						t.Errorf("p%d@%d: sarama read %v, franz-go %v", p, r.Offset, s, r)
					}
				}
			}
			if len(sgot[p]) != len(got[p]) {
				t.Errorf("p%d: sarama read %d records, franz-go %d", p, len(sgot[p]), len(got[p]))
			}
			bc := batchCodecs(t, cl, adm, topic, p)
			if len(bc) != 1 || bc[codecID] == 0 {
				t.Errorf("p%d: batch codecs %v, want all %d", p, bc, codecID)
			}
		}
		if total != n {
			t.Errorf("read %d records, wrote %d", total, n)
		}
	}
	headers := func(i int) []kgo.RecordHeader {
		return []kgo.RecordHeader{{Key: "h1", Value: []byte(fmt.Sprintf("key-%d", i))}, {Key: "h2", Value: nil}}
	}
	for _, c := range codecs {
		c := c
		t.Run("franz-go-"+c.name, func(t *testing.T) {
			t.Parallel()
			adm := newAdmin(t)
			topic := uniq("codec-franz-" + c.name)
			createTopic(t, adm, topic, 2, nil)
			cl := newClient(t, kgo.ProducerBatchCompression(c.franz), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			ctx := ctxFor(t, 60*time.Second)
			for b := 0; b < n; b += 20 {
				var rs []*kgo.Record
				for i := b; i < b+20; i++ {
					rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i / 20 % 2), Key: []byte(fmt.Sprintf("key-%d", i)), Value: codecValue(i), Headers: headers(i)})
				}
				if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
					t.Fatalf("produce: %v", err)
				}
			}
			verify(t, cl, adm, topic, c.id)
		})
		t.Run("sarama-"+c.name, func(t *testing.T) {
			t.Parallel()
			adm := newAdmin(t)
			topic := uniq("codec-sarama-" + c.name)
			createTopic(t, adm, topic, 2, nil)
			cfg := saramaConfig(sarama.DefaultVersion)
			cfg.Producer.Compression = c.sarama
			cfg.Producer.Partitioner = sarama.NewManualPartitioner
			cfg.Producer.Return.Successes = true
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			prod, err := sarama.NewSyncProducer([]string{bootstrap(t)}, cfg)
			if err != nil {
				t.Fatalf("NewSyncProducer: %v", err)
			}
			defer prod.Close()
			for b := 0; b < n; b += 20 {
				var msgs []*sarama.ProducerMessage
				for i := b; i < b+20; i++ {
					var hs []sarama.RecordHeader
					for _, h := range headers(i) {
						hs = append(hs, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
					}
					msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: int32(i / 20 % 2), Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i)), Value: sarama.ByteEncoder(codecValue(i)), Headers: hs})
				}
				if err := prod.SendMessages(msgs); err != nil {
					t.Fatalf("SendMessages: %v", err)
				}
			}
			verify(t, newClient(t), adm, topic, c.id)
		})
	}
}

// TestFutureTimestampRefused: Kafka 4.x refuses a CreateTime record more than
// message.timestamp.after.max.ms (default 1 hour since Kafka 4.0, KIP-1030) ahead of the broker's
// clock with INVALID_TIMESTAMP, and takes one 30 minutes ahead or 30 days behind
// (message.timestamp.before.max.ms stays unbounded). Checked through franz-go and sarama.
func TestFutureTimestampRefused(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	topic := uniq("future-ts")
	createTopic(t, adm, topic, 1, nil)
	// franz-go measures the delivery timeout from the record's timestamp: none here.
	cl := newClient(t, kgo.RecordDeliveryTimeout(0), kgo.RecordRetries(3))
	ctx := ctxFor(t, 60*time.Second)
	produce := func(d time.Duration) error {
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(d.String()), Timestamp: time.Now().Add(d)}).FirstErr()
	}
	if err := produce(30 * time.Minute); err != nil {
		t.Errorf("franz-go, 30 minutes ahead: %v", err)
	}
	if err := produce(-30 * 24 * time.Hour); err != nil {
		t.Errorf("franz-go, 30 days behind: %v", err)
	}
	wantErr(t, "franz-go, a record 2 hours ahead", produce(2*time.Hour), kerr.InvalidTimestamp)

	cfg := saramaConfig(sarama.DefaultVersion)
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Retry.Max = 1
	prod, err := sarama.NewSyncProducer([]string{bootstrap(t)}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer prod.Close()
	_, _, err = prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("sarama +2h"), Timestamp: time.Now().Add(2 * time.Hour)})
	if !errors.Is(err, sarama.ErrInvalidTimestamp) {
		t.Errorf("sarama, a record 2 hours ahead: %v, want %v", err, sarama.ErrInvalidTimestamp)
	}
	got := readAll(t, adm, topic)
	if len(got[0]) != 2 {
		t.Errorf("the partition holds %v, want only the 2 accepted records", got[0])
	}
}

// TestSaramaTransactions: sarama's transactional SyncProducer (Producer.Transaction.ID, idempotent,
// one request in flight) commits 10 records, aborts 10, then commits 5 together with a group offset
// (AddOffsetsToTxn). sarama's read_committed consumer and franz-go's see exactly the 15 committed
// records; read_uncommitted sees all 25 data records; the group offset exists only after the commit.
func TestSaramaTransactions(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	topic, group := uniq("sarama-txn"), uniq("sarama-txn-group")
	createTopic(t, adm, topic, 1, nil)
	cfg := saramaConfig(sarama.MaxVersion)
	cfg.Producer.Idempotent = true
	cfg.Producer.Transaction.ID = uniq("sarama-txnid")
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Retry.Max = 5
	cfg.Net.MaxOpenRequests = 1
	prod, err := sarama.NewSyncProducer([]string{bootstrap(t)}, cfg)
	if err != nil {
		t.Fatalf("NewSyncProducer: %v", err)
	}
	defer prod.Close()
	send := func(from, n int) {
		t.Helper()
		var msgs []*sarama.ProducerMessage
		for i := from; i < from+n; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("value-%d", i))})
		}
		if err := prod.SendMessages(msgs); err != nil {
			t.Fatalf("SendMessages: %v", err)
		}
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	step("BeginTxn", prod.BeginTxn())
	send(0, 10)
	step("CommitTxn", prod.CommitTxn())
	step("BeginTxn", prod.BeginTxn())
	send(100, 10)
	step("AbortTxn", prod.AbortTxn())
	step("BeginTxn", prod.BeginTxn())
	send(10, 5)
	step("AddOffsetsToTxn", prod.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{topic: {{Partition: 0, Offset: 42, LeaderEpoch: -1}}}, group))
	ctx := ctxFor(t, 30*time.Second)
	if c, err := committedOffsets(ctx, adm, group, topic); err != nil || len(c) != 0 {
		// A plain OffsetFetch (require_stable off) does not see offsets of an open transaction.
		t.Errorf("group offsets before the commit: %v %v", c, err)
	}
	step("CommitTxn", prod.CommitTxn())
	waitFor(t, 10*time.Second, "the transactional offset commit", func() (bool, string) {
		c, err := committedOffsets(ctx, adm, group, topic)
		return err == nil && c[0] == 42, fmt.Sprint(c, err)
	})

	want := func(rs []rec) {
		t.Helper()
		var vals []string
		for _, r := range rs {
			vals = append(vals, r.Value)
		}
		var exp []string
		for i := 0; i < 15; i++ {
			exp = append(exp, fmt.Sprintf("value-%d", i))
		}
		if fmt.Sprint(vals) != fmt.Sprint(exp) {
			t.Errorf("read_committed: %v, want %v", vals, exp)
		}
	}
	got := readCommittedUntilSentinel(t, adm, topic, 1)
	want(got[0])

	scfg := saramaConfig(sarama.MaxVersion)
	scfg.Consumer.IsolationLevel = sarama.ReadCommitted
	c, err := sarama.NewConsumer([]string{bootstrap(t)}, scfg)
	if err != nil {
		t.Fatalf("sarama.NewConsumer: %v", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("ConsumePartition: %v", err)
	}
	defer pc.Close()
	var srs []rec
	timeout := time.After(30 * time.Second)
	for done := false; !done; {
		select {
		case m := <-pc.Messages():
			if string(m.Value) == sentinel {
				done = true
				break
			}
			srs = append(srs, rec{Offset: m.Offset, Value: string(m.Value)})
		case e := <-pc.Errors():
			t.Fatalf("sarama read_committed: %v", e)
		case <-timeout:
			t.Fatalf("sarama read_committed: timed out after %d records", len(srs))
		}
	}
	want(srs)
	all := readAll(t, adm, topic)
	n := 0
	for _, r := range all[0] {
		if r.Value != sentinel {
			n++
		}
	}
	if n != 25 {
		t.Errorf("read_uncommitted: %d data records, want 25 (committed and aborted)", n)
	}
}
