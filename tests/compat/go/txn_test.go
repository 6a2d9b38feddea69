package compat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const eosWorkerEnv = "TRIBUTARY_GO_EOS_WORKER"

// runEOSWorker is the child process of TestGroupTransactSessionExactlyOnce: a GroupTransactSession
// that reads EOS_IN in group EOS_GROUP and, per polled batch of at most 25 records, writes each
// record transformed to the same partition of EOS_OUT in one transaction together with the group's
// offsets. It sleeps EOS_DELAY_MS per record so that the parent can kill it mid-run, prints
// "committed N" after every committed transaction, and exits on SIGTERM.
func runEOSWorker() int {
	env := func(k string) string { return os.Getenv(k) }
	delay, _ := strconv.Atoi(env("EOS_DELAY_MS"))
	in, out := env("EOS_IN"), env("EOS_OUT")
	opts := []kgo.Opt{
		kgo.SeedBrokers(env("EOS_BOOTSTRAP")),
		kgo.ClientID("eos-worker-" + env("EOS_NAME")),
		kgo.TransactionalID(env("EOS_TXNID")),
		kgo.TransactionTimeout(8 * time.Second),
		kgo.ConsumerGroup(env("EOS_GROUP")),
		kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RetryTimeout(30 * time.Second),
	}
	if env("EOS_848") != "" {
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		fmt.Println("error NewGroupTransactSession:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; cancel() }()
	committed := 0
	for {
		fs := sess.PollRecords(ctx, 25)
		if fs.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fs.EachError(func(t string, p int32, err error) { fmt.Printf("fetch error %s/%d: %v\n", t, p, err) })
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			fmt.Println("error Begin:", err)
			return 2
		}
		e := kgo.AbortingFirstErrPromise(sess.Client())
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			time.Sleep(time.Duration(delay) * time.Millisecond)
			n++
			sess.Produce(ctx, &kgo.Record{
				Topic:     out,
				Partition: r.Partition,
				Key:       r.Key,
				Value:     []byte("T(" + string(r.Value) + ")"),
				Headers:   []kgo.RecordHeader{{Key: "src", Value: []byte(fmt.Sprintf("%d/%d", r.Partition, r.Offset))}},
			}, e.Promise())
		})
		ok, err := sess.End(ctx, e.Err() == nil)
		if err != nil {
			fmt.Println("end error (retrying the batch):", err)
			continue
		}
		if ok {
			committed += n
			fmt.Printf("committed %d\n", committed)
		} else {
			fmt.Println("aborted (rebalance or produce error), records are read again")
		}
	}
	sess.Close()
	fmt.Println("closed")
	return 0
}

// syncBuffer collects a child's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startEOSWorker(t *testing.T, name string, env []string, out *syncBuffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), eosWorkerEnv+"=1", "EOS_NAME="+name), env...)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker %s: %v", name, err)
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintf(out, "[%s %s] %s\n", time.Now().Format("15:04:05.000"), name, sc.Text())
		}
		pr.Close()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}

// committedOffsets is the group's committed offset per partition of topic (plain OffsetFetch).
func committedOffsets(ctx context.Context, adm *kadm.Client, group, topic string) (map[int32]int64, error) {
	resps, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := resps.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	resps.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

func sumOffsets(m map[int32]int64) int64 {
	var s int64
	for _, v := range m {
		s += v
	}
	return s
}

// TestGroupTransactSessionExactlyOnce: a franz-go GroupTransactSession consume-transform-produce loop
// (child process) over 600 input records in 3 partitions is SIGKILLed after it committed some
// transactions and while it is still working; a new process with the same transactional id takes
// over (fencing the old producer, its open transaction aborted) and finishes. Read with
// read_committed, the output holds every input record transformed exactly once, each output
// partition in input order, and the group's committed offsets are the input's end offsets. Run with
// the classic group protocol (cooperative-sticky, the default balancers) and with KIP-848.
func TestGroupTransactSessionExactlyOnce(t *testing.T) {
	t.Parallel()
	t.Run("classic", func(t *testing.T) { t.Parallel(); eosScenario(t, false) })
	t.Run("kip848", func(t *testing.T) { t.Parallel(); eosScenario(t, true) })
}

func eosScenario(t *testing.T, kip848 bool) {
	adm := newAdmin(t)
	in, out, group := uniq("eos-in"), uniq("eos-out"), uniq("eos-group")
	const parts, perPart = 3, 200
	createTopic(t, adm, in, parts, nil)
	createTopic(t, adm, out, parts, nil)
	prod := newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := ctxFor(t, 150*time.Second)
	var rs []*kgo.Record
	for i := 0; i < parts*perPart; i++ {
		rs = append(rs, &kgo.Record{Topic: in, Partition: int32(i % parts), Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("in-%d", i))})
	}
	if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}
	total := int64(parts * perPart)

	env := []string{"EOS_BOOTSTRAP=" + bootstrap(t), "EOS_IN=" + in, "EOS_OUT=" + out, "EOS_GROUP=" + group,
		"EOS_TXNID=" + group + "-txn", "EOS_DELAY_MS=10"}
	if kip848 {
		env = append(env, "EOS_848=1")
	}
	logs := &syncBuffer{}
	defer func() {
		if t.Failed() {
			t.Logf("worker output:\n%s", logs.String())
		}
	}()

	first := startEOSWorker(t, "first", env, logs)
	var atKill map[int32]int64
	waitFor(t, 60*time.Second, "the first worker to commit 150 records", func() (bool, string) {
		c, err := committedOffsets(ctx, adm, group, in)
		if err != nil {
			return false, err.Error()
		}
		atKill = c
		return sumOffsets(c) >= 150, fmt.Sprint(c)
	})
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
	first.Wait()
	after, err := committedOffsets(ctx, adm, group, in)
	if err != nil {
		t.Fatalf("committed offsets after the kill: %v", err)
	}
	if sumOffsets(after) >= total {
		t.Fatalf("the first worker had finished (%v) before it was killed: the test proves nothing", after)
	}
	t.Logf("first worker killed with %d of %d input records committed (%v when the kill was decided)", sumOffsets(after), total, atKill)

	second := startEOSWorker(t, "second", env, logs)
	ends := endOffsets(t, adm, in)
	waitFor(t, 90*time.Second, "the second worker to commit every input offset", func() (bool, string) {
		c, err := committedOffsets(ctx, adm, group, in)
		if err != nil {
			return false, err.Error()
		}
		for p, e := range ends {
			if c[p] != e {
				return false, fmt.Sprint(c)
			}
		}
		return true, ""
	})
	second.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- second.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("second worker exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("second worker did not exit within 20 s of SIGTERM")
		second.Process.Kill()
		<-exited
	}

	got := readCommittedUntilSentinel(t, adm, out, parts)
	n := 0
	for p := int32(0); p < parts; p++ {
		rs := got[p]
		n += len(rs)
		for i, r := range rs {
			wantSrc := fmt.Sprintf("%d/%d", p, i)
			wantVal := fmt.Sprintf("T(in-%d)", i*parts+int(p))
			if len(r.Headers) != 1 || string(r.Headers[0].Value) != wantSrc || r.Value != wantVal {
				t.Fatalf("output p%d, record %d: %v src %v, want src %s value %s (duplicate, gap or reordering)", p, i, r, r.Headers, wantSrc, wantVal)
			}
		}
		if len(rs) != perPart {
			t.Errorf("output partition %d holds %d committed records, want %d", p, len(rs), perPart)
		}
	}
	if n != int(total) {
		t.Errorf("output holds %d committed records, want %d", n, total)
	}
	// Records of the killed worker's open transaction stay in the log (aborted), visible only to
	// read_uncommitted readers.
	all := readAll(t, adm, out)
	raw := 0
	for _, rs := range all {
		for _, r := range rs {
			if r.Value != sentinel {
				raw++
			}
		}
	}
	if raw < n {
		t.Errorf("read_uncommitted sees %d records, fewer than the %d committed", raw, n)
	}
	t.Logf("read_uncommitted: %d data records (%d from aborted transactions)", raw, raw-n)
	if strings.Contains(logs.String(), "error ") {
		t.Logf("worker output:\n%s", logs.String())
	}
}
