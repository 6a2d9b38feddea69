// Go clients (franz-go and IBM/sarama) against a running Tributary broker.
//
// The broker's bootstrap address comes from COMPAT_BOOTSTRAP (HOST:PORT); run.sh sets it. Every test
// creates its own topics and groups with a random suffix, so the suite can share a broker with other
// suites, and every wait is bounded by a deadline.
package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestMain(m *testing.M) {
	// The consume-transform-produce test runs its GroupTransactSession loop in a child process
	// (this test binary re-executed) so that it can SIGKILL it mid-run.
	if os.Getenv(eosWorkerEnv) != "" {
		os.Exit(runEOSWorker())
	}
	os.Exit(m.Run())
}

// bootstrap is the broker under test.
func bootstrap(t testing.TB) string {
	t.Helper()
	b := os.Getenv("COMPAT_BOOTSTRAP")
	if b == "" {
		t.Fatal("COMPAT_BOOTSTRAP (HOST:PORT of the broker under test) is not set; use run.sh")
	}
	return b
}

// uniq returns prefix-<random hex>, a topic or group name no other run uses.
func uniq(prefix string) string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "go-" + prefix + "-" + hex.EncodeToString(b)
}

// ctxFor returns a context that ends after d, cancelled at the end of the test.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client for the broker under test, closed at the end of the test.
func newClient(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	all := append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap(t)),
		kgo.RetryTimeout(20 * time.Second),
		kgo.RecordDeliveryTimeout(30 * time.Second),
	}, opts...)
	cl, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client for the broker under test.
func newAdmin(t testing.TB) *kadm.Client {
	t.Helper()
	// kadm answers many calls from the client's cached metadata (5 s by default): keep it fresh, so
	// that a deleted or extended topic shows at once, as it does in the broker.
	adm := kadm.NewClient(newClient(t, kgo.MetadataMinAge(100*time.Millisecond)))
	adm.SetTimeoutMillis(15000)
	return adm
}

// createTopic creates a topic with the given partitions and configs and fails the test on any error.
func createTopic(t testing.TB, adm *kadm.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %s: %v (%s)", name, resp.Err, resp.ErrMessage)
	}
	// Metadata must list every partition before producers are started.
	waitFor(t, 15*time.Second, "topic "+name+" in metadata", func() (bool, string) {
		md, err := adm.Metadata(ctx, name)
		if err != nil {
			return false, err.Error()
		}
		td, ok := md.Topics[name]
		if !ok || td.Err != nil || int32(len(td.Partitions)) != partitions {
			return false, fmt.Sprintf("%+v", td)
		}
		return true, ""
	})
}

func strp(s string) *string { return &s }

// waitFor polls cond every 100 ms until it holds or d passes (then the test fails with the last note).
func waitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for {
		ok, note := cond()
		if ok {
			return
		}
		last = note
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (last: %s)", d, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// murmur2 is org.apache.kafka.common.utils.Utils.murmur2 (checked against Kafka's own vectors in
// TestMurmur2Reference).
func murmur2(data []byte) int32 {
	const m = 0x5bd1e995
	length := len(data)
	h := uint32(0x9747b28c) ^ uint32(length)
	n4 := length / 4
	for i := 0; i < n4; i++ {
		i4 := i * 4
		k := uint32(data[i4]) | uint32(data[i4+1])<<8 | uint32(data[i4+2])<<16 | uint32(data[i4+3])<<24
		k *= m
		k ^= k >> 24
		k *= m
		h *= m
		h ^= k
	}
	tail := length &^ 3
	switch length % 4 {
	case 3:
		h ^= uint32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[tail])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// javaPartition is the Java producer's partition for a key: toPositive(murmur2(key)) % n.
func javaPartition(key []byte, n int32) int32 {
	return (murmur2(key) & 0x7fffffff) % n
}

// rec is one record as read back, reduced to what the tests compare.
type rec struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   []kgo.RecordHeader
	Timestamp time.Time
}

func (r rec) String() string {
	return fmt.Sprintf("p%d@%d %q=%q", r.Partition, r.Offset, r.Key, r.Value)
}

// endOffsets returns the high watermark of every partition of topic.
func endOffsets(t testing.TB, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	lo, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets %s: %v", topic, err)
	}
	if err := lo.Error(); err != nil {
		t.Fatalf("ListEndOffsets %s: %v", topic, err)
	}
	out := map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// readAll reads every partition of topic from the start up to the current high watermarks (without a
// group, read_uncommitted) and returns the records per partition in offset order.
func readAll(t testing.TB, adm *kadm.Client, topic string, opts ...kgo.Opt) map[int32][]rec {
	t.Helper()
	ends := endOffsets(t, adm, topic)
	want := map[string]map[int32]kgo.Offset{topic: {}}
	for p := range ends {
		want[topic][p] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, append([]kgo.Opt{kgo.ConsumePartitions(want)}, opts...)...)
	defer cl.Close()
	out := map[int32][]rec{}
	next := map[int32]int64{}
	done := func() bool {
		for p, e := range ends {
			if next[p] < e {
				return false
			}
		}
		return true
	}
	ctx := ctxFor(t, 30*time.Second)
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: timed out at %v of %v", topic, next, ends)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			out[r.Partition] = append(out[r.Partition], rec{r.Partition, r.Offset, string(r.Key), string(r.Value), r.Headers, r.Timestamp})
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// sentinel marks the end of what a read_committed reader has to see: a non-transactional record
// appended to each partition after the data; once a reader has seen it, it has seen everything before.
const sentinel = "__end__"

// readCommittedUntilSentinel appends a sentinel record to every partition of topic and reads the
// topic with read_committed until each partition's sentinel; it returns the records before them.
func readCommittedUntilSentinel(t testing.TB, adm *kadm.Client, topic string, partitions int32) map[int32][]rec {
	t.Helper()
	prod := newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := ctxFor(t, 60*time.Second)
	for p := int32(0); p < partitions; p++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte(sentinel)}).FirstErr(); err != nil {
			t.Fatalf("sentinel to %s/%d: %v", topic, p, err)
		}
	}
	want := map[string]map[int32]kgo.Offset{topic: {}}
	for p := int32(0); p < partitions; p++ {
		want[topic][p] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, kgo.ConsumePartitions(want), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	out := map[int32][]rec{}
	seen := map[int32]bool{}
	for len(seen) < int(partitions) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed %s: timed out; sentinels seen in %v (an open transaction holding the LSO?)", topic, seen)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if seen[r.Partition] {
				return
			}
			if string(r.Value) == sentinel && r.Key == nil {
				seen[r.Partition] = true
				return
			}
			out[r.Partition] = append(out[r.Partition], rec{r.Partition, r.Offset, string(r.Key), string(r.Value), r.Headers, r.Timestamp})
		})
	}
	return out
}

// tributaryBin is the tributary binary (for cross-checks with its own CLI), or "" when unknown.
func tributaryBin() string {
	if b := os.Getenv("TRIBUTARY_BIN"); b != "" {
		return b
	}
	if p, err := exec.LookPath("tributary"); err == nil {
		return p
	}
	return ""
}

// recorder collects records read by group members, safe for concurrent use.
type recorder struct {
	mu   sync.Mutex
	seen map[string][]string // "p/offset" -> members that read it
	byM  map[string]int
}

func newRecorder() *recorder {
	return &recorder{seen: map[string][]string{}, byM: map[string]int{}}
}

func (r *recorder) add(member string, partition int32, offset int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := fmt.Sprintf("%d/%d", partition, offset)
	r.seen[k] = append(r.seen[k], member)
	r.byM[member]++
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// check reports every offset below ends that was not read exactly once.
func (r *recorder) check(t testing.TB, ends map[int32]int64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var missing, dup []string
	for p, e := range ends {
		for o := int64(0); o < e; o++ {
			k := fmt.Sprintf("%d/%d", p, o)
			switch n := len(r.seen[k]); {
			case n == 0:
				missing = append(missing, k)
			case n > 1:
				dup = append(dup, k+" by "+strings.Join(r.seen[k], ","))
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(dup)
	if len(missing) > 0 || len(dup) > 0 {
		t.Errorf("not exactly once: %d missing %v, %d read more than once %v", len(missing), head(missing), len(dup), head(dup))
	}
	for k := range r.seen {
		var p int32
		var o int64
		fmt.Sscanf(k, "%d/%d", &p, &o)
		if o >= ends[p] {
			t.Errorf("read offset %s beyond the end %d", k, ends[p])
		}
	}
}

func head(s []string) []string {
	if len(s) > 10 {
		return append(s[:10:10], "...")
	}
	return s
}

// produceKeyed writes n records key-i/value-i (i from start) with a franz-go idempotent producer and
// returns when all are acknowledged.
func produceKeyed(t testing.TB, topic string, start, n int) {
	t.Helper()
	cl := newClient(t)
	ctx := ctxFor(t, 60*time.Second)
	rs := make([]*kgo.Record, 0, n)
	for i := start; i < start+n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("value-%d", i))})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	cl.Close()
}
