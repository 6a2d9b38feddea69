package compat

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// member is one group member of either client, as the scenario sees it.
type member interface {
	Name() string
	Assigned() []int32 // partitions it owns now (sorted)
	Close()            // commit, leave the group, stop
}

// assignmentState describes the members' partitions, for wait notes.
func assignmentState(ms []member) string {
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s=%v ", m.Name(), m.Assigned())
	}
	return b.String()
}

// balanced holds when the members' partitions are disjoint, cover 0..parts-1 and each member has
// between floor and ceil of parts/len(ms).
func balanced(ms []member, parts int32) (bool, string) {
	owner := map[int32]string{}
	lo, hi := int(parts)/len(ms), (int(parts)+len(ms)-1)/len(ms)
	for _, m := range ms {
		a := m.Assigned()
		if len(a) < lo || len(a) > hi {
			return false, assignmentState(ms)
		}
		for _, p := range a {
			if o, dup := owner[p]; dup {
				return false, fmt.Sprintf("partition %d owned by %s and %s: %s", p, o, m.Name(), assignmentState(ms))
			}
			owner[p] = m.Name()
		}
	}
	return len(owner) == int(parts), assignmentState(ms)
}

// franzMember runs a franz-go group consumer: poll (rebalances blocked while a batch is processed),
// record every record, commit synchronously, allow rebalancing; OnPartitionsRevoked commits too.
type franzMember struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	assigned   map[int32]bool
	revoked    [][]int32 // every non-empty revocation, in order
	lost       [][]int32
	commitErrs []string
}

func (m *franzMember) Name() string { return m.name }

func (m *franzMember) Assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *franzMember) revocations() [][]int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([][]int32(nil), m.revoked...)
}

func (m *franzMember) Close() {
	m.cancel()
	<-m.done
	m.cl.CloseAllowingRebalance()
}

func startFranzMember(t *testing.T, name, group, topic string, r *recorder, extra ...kgo.Opt) *franzMember {
	t.Helper()
	m := &franzMember{name: name, assigned: map[int32]bool{}, done: make(chan struct{})}
	parts := func(ps map[string][]int32) []int32 {
		out := append([]int32(nil), ps[topic]...)
		sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
		return out
	}
	opts := append([]kgo.Opt{
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(500 * time.Millisecond),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				m.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				m.mu.Lock()
				m.commitErrs = append(m.commitErrs, "on revoke: "+err.Error())
				m.mu.Unlock()
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			if ps := parts(ps); len(ps) > 0 {
				m.revoked = append(m.revoked, ps)
			}
			for _, p := range ps[topic] {
				delete(m.assigned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.lost = append(m.lost, parts(ps))
			for _, p := range ps[topic] {
				delete(m.assigned, p)
			}
		}),
	}, extra...)
	m.cl = newClient(t, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		for {
			fs := m.cl.PollRecords(ctx, 20)
			if ctx.Err() != nil || fs.IsClientClosed() {
				m.cl.AllowRebalance()
				return
			}
			fs.EachRecord(func(rc *kgo.Record) { r.add(m.name, rc.Partition, rc.Offset) })
			// Slow processing (2 ms a record), so that rebalances happen while records are pending.
			time.Sleep(time.Duration(fs.NumRecords()) * 2 * time.Millisecond)
			if fs.NumRecords() > 0 {
				if err := m.cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
					m.mu.Lock()
					m.commitErrs = append(m.commitErrs, err.Error())
					m.mu.Unlock()
				}
			}
			m.cl.AllowRebalance()
		}
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			m.Close()
		}
	})
	return m
}

// checkCommitted checks that the group's committed offsets are the topic's end offsets.
func checkCommitted(t *testing.T, adm *kadm.Client, group, topic string, ends map[int32]int64) {
	t.Helper()
	c, err := committedOffsets(ctxFor(t, 20*time.Second), adm, group, topic)
	if err != nil {
		t.Fatalf("OffsetFetch %s: %v", group, err)
	}
	for p, e := range ends {
		if c[p] != e {
			t.Errorf("group %s: committed offsets %v, end offsets %v", group, c, ends)
			return
		}
	}
}

// groupScenario is the membership story every group client goes through on a 6-partition topic:
// 300 records before anyone joins; A alone (6 partitions); B joins (3/3); 300 more records; C joins
// (2/2/2); B leaves (3/3); 300 more records; everything read, A and C leave; then a new member D of
// the same group reads exactly the 60 records written after that (it resumes at the commits).
// Every record is read exactly once across all members, and the committed offsets end at the end
// offsets. afterJoin is called with A and B once they are balanced (for client-specific checks).
func groupScenario(t *testing.T, start func(name string, r *recorder) member, adm *kadm.Client, group, topic string,
	afterJoin func(a, b member)) {
	const parts = 6
	r := newRecorder()
	produceKeyed(t, topic, 0, 300)
	a := start("A", r)
	waitFor(t, 30*time.Second, "A to own all 6 partitions", func() (bool, string) { return balanced([]member{a}, parts) })
	b := start("B", r)
	waitFor(t, 30*time.Second, "A and B to split the partitions 3/3", func() (bool, string) { return balanced([]member{a, b}, parts) })
	if afterJoin != nil {
		afterJoin(a, b)
	}
	produceKeyed(t, topic, 300, 300)
	c := start("C", r)
	waitFor(t, 30*time.Second, "A, B, C to own 2 partitions each", func() (bool, string) { return balanced([]member{a, b, c}, parts) })
	b.Close()
	waitFor(t, 30*time.Second, "A and C to take B's partitions over (3/3)", func() (bool, string) { return balanced([]member{a, c}, parts) })
	produceKeyed(t, topic, 600, 300)
	waitFor(t, 60*time.Second, "all 900 records to be read", func() (bool, string) {
		return r.count() >= 900, fmt.Sprintf("%d distinct read; %s", r.count(), assignmentState([]member{a, c}))
	})
	a.Close()
	c.Close()
	ends := endOffsets(t, adm, topic)
	r.check(t, ends)
	checkCommitted(t, adm, group, topic, ends)
	if t.Failed() {
		return
	}
	t.Logf("read by member: %v", r.byM)

	produceKeyed(t, topic, 900, 60)
	d := start("D", r)
	waitFor(t, 45*time.Second, "D to read the 60 new records", func() (bool, string) {
		return r.count() >= 960, fmt.Sprintf("%d distinct read", r.count())
	})
	d.Close()
	ends = endOffsets(t, adm, topic)
	r.check(t, ends)
	checkCommitted(t, adm, group, topic, ends)
	if n := r.byM["D"]; n != 60 {
		t.Errorf("D read %d records, want the 60 written after the others left", n)
	}
}

// checkIncremental checks that A, which owned all partitions, gave up only the partitions B got
// when B joined (an incremental, cooperative rebalance), and that no member saw a commit fail.
func checkIncremental(t *testing.T, a, b member) {
	t.Helper()
	fa := a.(*franzMember)
	rev := fa.revocations()
	var revoked []int32
	for _, r := range rev {
		revoked = append(revoked, r...)
	}
	sort.Slice(revoked, func(i, j int) bool { return revoked[i] < revoked[j] })
	if fmt.Sprint(revoked) != fmt.Sprint(b.Assigned()) {
		t.Errorf("when B joined, A had %v revoked (in %v) and B got %v: a cooperative rebalance revokes only what moves", revoked, rev, b.Assigned())
	}
}

func franzCommitErrors(ms ...*franzMember) []string {
	var out []string
	for _, m := range ms {
		m.mu.Lock()
		for _, e := range m.commitErrs {
			out = append(out, m.name+": "+e)
		}
		m.mu.Unlock()
	}
	return out
}

// TestFranzCooperativeStickyGroup: franz-go members with the cooperative-sticky balancer (classic
// group protocol) through groupScenario; A's revocation when B joins is incremental; kadm
// DescribeGroups shows the group Stable with protocol cooperative-sticky and both members'
// assignments; no commit fails.
func TestFranzCooperativeStickyGroup(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	topic, group := uniq("coop-topic"), uniq("coop-group")
	createTopic(t, adm, topic, 6, nil)
	var all []*franzMember
	var mu sync.Mutex
	start := func(name string, r *recorder) member {
		m := startFranzMember(t, name, group, topic, r, kgo.Balancers(kgo.CooperativeStickyBalancer()))
		mu.Lock()
		all = append(all, m)
		mu.Unlock()
		return m
	}
	groupScenario(t, start, adm, group, topic, func(a, b member) {
		checkIncremental(t, a, b)
		dg, err := adm.DescribeGroups(ctxFor(t, 10*time.Second), group)
		if err != nil {
			t.Fatalf("DescribeGroups: %v", err)
		}
		g := dg[group]
		if g.Err != nil || g.State != "Stable" || g.Protocol != "cooperative-sticky" || g.ProtocolType != "consumer" || len(g.Members) != 2 {
			t.Errorf("DescribeGroups: err %v state %q protocol %q type %q %d members", g.Err, g.State, g.Protocol, g.ProtocolType, len(g.Members))
		}
		for _, dm := range g.Members {
			ca, ok := dm.Assigned.AsConsumer()
			if !ok {
				t.Errorf("member %s: assignment not a consumer assignment", dm.ClientID)
				continue
			}
			var got []int32
			for _, tp := range ca.Topics {
				got = append(got, tp.Partitions...)
			}
			sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
			want := map[string]member{"A": a, "B": b}[dm.ClientID]
			if want == nil || fmt.Sprint(got) != fmt.Sprint(want.Assigned()) {
				t.Errorf("DescribeGroups: member %s assigned %v", dm.ClientID, got)
			}
		}
	})
	if errs := franzCommitErrors(all...); len(errs) > 0 {
		t.Errorf("commits failed: %v", errs)
	}
}

// TestFranzKIP848Group: franz-go members with ServerSideBalancer (KIP-848, the broker assigns; the
// cooperative-sticky balancer asks for the "uniform" server assignor) through groupScenario; the
// revocation when B joins is incremental; kadm DescribeConsumerGroups shows the group as a consumer
// group with both members, and ListGroupsByType("consumer") lists it.
func TestFranzKIP848Group(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	topic, group := uniq("848-topic"), uniq("848-group")
	createTopic(t, adm, topic, 6, nil)
	var all []*franzMember
	var mu sync.Mutex
	start := func(name string, r *recorder) member {
		m := startFranzMember(t, name, group, topic, r, kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.ServerSideBalancer())
		mu.Lock()
		all = append(all, m)
		mu.Unlock()
		return m
	}
	groupScenario(t, start, adm, group, topic, func(a, b member) {
		checkIncremental(t, a, b)
		ctx := ctxFor(t, 10*time.Second)
		dg, err := adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			t.Fatalf("DescribeConsumerGroups: %v", err)
		}
		g := dg[group]
		if g.Err != nil || g.State != "Stable" || len(g.Members) != 2 || g.AssignorName != "uniform" {
			t.Errorf("DescribeConsumerGroups: err %v state %q assignor %q %d members", g.Err, g.State, g.AssignorName, len(g.Members))
		}
		for _, dm := range g.Members {
			var got []int32
			for p := range dm.Assignment[topic] {
				got = append(got, p)
			}
			sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
			want := map[string]member{"A": a, "B": b}[dm.ClientID]
			if want == nil || fmt.Sprint(got) != fmt.Sprint(want.Assigned()) {
				t.Errorf("DescribeConsumerGroups: member %s assigned %v", dm.ClientID, got)
			}
		}
		lg, err := adm.ListGroupsByType(ctx, []string{"consumer"})
		if err != nil {
			t.Fatalf("ListGroupsByType: %v", err)
		}
		if l, ok := lg[group]; !ok || l.ProtocolType != "consumer" {
			t.Errorf("ListGroupsByType(consumer) does not list %s: %+v", group, l)
		}
	})
	if errs := franzCommitErrors(all...); len(errs) > 0 {
		t.Errorf("commits failed: %v", errs)
	}
}

// saramaMember runs a sarama ConsumerGroup: every message is recorded and marked; offsets are
// auto-committed every 100 ms and at the end of every session (before a rebalance and on Close).
type saramaMember struct {
	name   string
	cg     sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
	r      *recorder

	mu       sync.Mutex
	assigned []int32
	errs     []string
}

func (m *saramaMember) Name() string { return m.name }

func (m *saramaMember) Assigned() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int32(nil), m.assigned...)
}

func (m *saramaMember) Close() {
	m.cancel()
	<-m.done
	if err := m.cg.Close(); err != nil {
		m.mu.Lock()
		m.errs = append(m.errs, "close: "+err.Error())
		m.mu.Unlock()
	}
}

func (m *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = nil
	for _, ps := range s.Claims() {
		m.assigned = append(m.assigned, ps...)
	}
	sort.Slice(m.assigned, func(i, j int) bool { return m.assigned[i] < m.assigned[j] })
	return nil
}

func (m *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.assigned = nil
	return nil
}

func (m *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-c.Messages():
			if !ok {
				return nil
			}
			m.r.add(m.name, msg.Partition, msg.Offset)
			time.Sleep(2 * time.Millisecond) // slow processing: rebalances happen while records are pending
			s.MarkMessage(msg, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func startSaramaMember(t *testing.T, version sarama.KafkaVersion, name, group, topic string, r *recorder) *saramaMember {
	t.Helper()
	cfg := saramaConfig(version)
	cfg.ClientID = name
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 500 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cg, err := sarama.NewConsumerGroup([]string{bootstrap(t)}, group, cfg)
	if err != nil {
		t.Fatalf("NewConsumerGroup: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{name: name, cg: cg, cancel: cancel, done: make(chan struct{}), r: r}
	go func() {
		for e := range cg.Errors() {
			m.mu.Lock()
			m.errs = append(m.errs, e.Error())
			m.mu.Unlock()
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, m); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				m.mu.Lock()
				m.errs = append(m.errs, "consume: "+err.Error())
				m.mu.Unlock()
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			m.Close()
		}
	})
	return m
}

// TestSaramaConsumerGroup: sarama ConsumerGroup members (range strategy, eager, offsets
// auto-committed) through groupScenario, at sarama's default protocol level and its newest; kadm
// DescribeGroups shows the range protocol; no consumer error.
func TestSaramaConsumerGroup(t *testing.T) {
	t.Parallel()
	for _, v := range saramaVersions {
		v := v
		t.Run("v"+v.String(), func(t *testing.T) {
			t.Parallel()
			adm := newAdmin(t)
			topic, group := uniq("sarama-topic"), uniq("sarama-group")
			createTopic(t, adm, topic, 6, nil)
			var all []*saramaMember
			var mu sync.Mutex
			start := func(name string, r *recorder) member {
				m := startSaramaMember(t, v, name, group, topic, r)
				mu.Lock()
				all = append(all, m)
				mu.Unlock()
				return m
			}
			groupScenario(t, start, adm, group, topic, func(a, b member) {
				dg, err := adm.DescribeGroups(ctxFor(t, 10*time.Second), group)
				if err != nil {
					t.Fatalf("DescribeGroups: %v", err)
				}
				g := dg[group]
				if g.Err != nil || g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 2 {
					t.Errorf("DescribeGroups: err %v state %q protocol %q %d members", g.Err, g.State, g.Protocol, len(g.Members))
				}
			})
			for _, m := range all {
				m.mu.Lock()
				if len(m.errs) > 0 {
					t.Errorf("member %s: errors %v", m.name, m.errs)
				}
				m.mu.Unlock()
			}
		})
	}
}

// TestFranzKIP848RegexSubscription: a franz-go KIP-848 member with ConsumeRegex sends the regex to
// the broker (SubscribedTopicRegex), which resolves it: the member reads the two matching topics
// that exist, a matching topic created while it runs, and nothing from a topic that does not match;
// DescribeConsumerGroups reports the regex as the client sent it (franz-go wraps it in .*(?:(?:...)).*).
func TestFranzKIP848RegexSubscription(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	base := uniq("rx")
	createTopic(t, adm, base+"-a", 2, nil)
	createTopic(t, adm, base+"-b", 1, nil)
	createTopic(t, adm, base+"x", 1, nil) // does not match ^base-
	produceKeyed(t, base+"-a", 0, 10)
	produceKeyed(t, base+"-b", 0, 10)
	produceKeyed(t, base+"x", 0, 10)
	group := uniq("rx-group")
	regex := "^" + base + "-.*"
	cl := newClient(t, kgo.ConsumerGroup(group), kgo.ConsumeRegex(), kgo.ConsumeTopics(regex),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.ServerSideBalancer(), kgo.MetadataMinAge(500*time.Millisecond), kgo.MetadataMaxAge(2*time.Second))
	ctx := ctxFor(t, 60*time.Second)
	n := map[string]int{}
	created := false
	for n[base+"-c"] < 10 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("timed out; read %v", n)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Errorf("fetch %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) { n[r.Topic]++ })
		if !created && n[base+"-a"] == 10 && n[base+"-b"] == 10 {
			dg, err := adm.DescribeConsumerGroups(ctx, group)
			if err != nil {
				t.Fatalf("DescribeConsumerGroups: %v", err)
			}
			if ms := dg[group].Members; len(ms) != 1 || ms[0].SubscribedTopicRegex == nil || !strings.Contains(*ms[0].SubscribedTopicRegex, regex) {
				var got []string
				for _, m := range ms {
					if m.SubscribedTopicRegex != nil {
						got = append(got, *m.SubscribedTopicRegex)
					}
				}
				t.Errorf("DescribeConsumerGroups: %d members with regexes %q, want one with %q (franz-go wraps it in .*(?:(?:...)).*)", len(ms), got, regex)
			}
			createTopic(t, adm, base+"-c", 1, nil)
			produceKeyed(t, base+"-c", 0, 10)
			created = true
		}
	}
	if n[base+"-a"] != 10 || n[base+"-b"] != 10 || n[base+"x"] != 0 || len(n) != 3 {
		t.Errorf("read %v: want 10 from each of %s-a, -b, -c and nothing else", n, base)
	}
}
