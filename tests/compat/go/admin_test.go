package compat

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicConfig returns a topic's config entry through kadm DescribeTopicConfigs.
func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) kadm.Config {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(ctxFor(t, 10*time.Second), topic)
	if err != nil {
		t.Fatalf("DescribeTopicConfigs %s: %v", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("DescribeTopicConfigs %s: %v %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c
		}
	}
	t.Fatalf("DescribeTopicConfigs %s: no %s", topic, key)
	return kadm.Config{}
}

// eventuallyTopicConfig waits up to 10 s for a topic config to satisfy ok: Kafka applies config
// changes asynchronously (through its metadata log), so a describe right after an alter may still
// show the old value there.
func eventuallyTopicConfig(t *testing.T, adm *kadm.Client, topic, key, what string, ok func(kadm.Config) bool) {
	t.Helper()
	waitFor(t, 10*time.Second, what, func() (bool, string) {
		c := topicConfig(t, adm, topic, key)
		return ok(c), fmt.Sprintf("%s=%q from %v", key, c.MaybeValue(), c.Source)
	})
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

// TestKadmTopics: topic administration through kadm: validate-only and real CreateTopics with
// configs, the errors Kafka gives (exists, 0 partitions, bad config), ListTopics/Metadata, describe
// and incremental alter of topic configs (set, delete, append, subtract, validate-only, invalid
// values), the legacy (non-incremental) AlterConfigs, create/validate partitions (and the refusal to
// shrink), ListOffsets (start, end, max timestamp, by time), DeleteRecords, DeleteTopics.
func TestKadmTopics(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	ctx := ctxFor(t, 60*time.Second)
	topic := uniq("kadm-topic")

	t.Run("create", func(t *testing.T) {
		v, err := adm.ValidateCreateTopics(ctx, 3, 1, map[string]*string{"retention.ms": strp("3600000")}, topic)
		if err != nil || v.Error() != nil {
			t.Fatalf("ValidateCreateTopics: %v %v", err, v.Error())
		}
		td, err := adm.ListTopics(ctx, topic)
		if err != nil {
			t.Fatalf("ListTopics: %v", err)
		}
		if d, ok := td[topic]; ok && d.Err == nil {
			t.Fatalf("validate-only create made the topic: %+v", d)
		}
		resp, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": strp("3600000"), "max.message.bytes": strp("200000")}, topic)
		if err != nil || resp.Err != nil {
			t.Fatalf("CreateTopic: %v %v %s", err, resp.Err, resp.ErrMessage)
		}
		if resp.NumPartitions != 3 || resp.ReplicationFactor != 1 || resp.ID == (kadm.TopicID{}) {
			t.Errorf("CreateTopic response: %d partitions, rf %d, id %v", resp.NumPartitions, resp.ReplicationFactor, resp.ID)
		}
		if c, ok := resp.Configs["retention.ms"]; !ok || c.MaybeValue() != "3600000" {
			t.Errorf("CreateTopic response configs: retention.ms %+v", c)
		}
		waitFor(t, 10*time.Second, "the new topic in metadata", func() (bool, string) {
			td, err := adm.ListTopics(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			return td[topic].Err == nil && len(td[topic].Partitions) == 3, fmt.Sprintf("%+v", td[topic])
		})
		again, _ := adm.CreateTopic(ctx, 3, 1, nil, topic) // the response's error is returned as err too
		wantErr(t, "create an existing topic", again.Err, kerr.TopicAlreadyExists)
		zero, _ := adm.CreateTopic(ctx, 0, 1, nil, uniq("kadm-zero")) // the response's error is returned as err too
		wantErr(t, "create with 0 partitions", zero.Err, kerr.InvalidPartitions)
		bad, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"retention.ms": strp("soon")}, uniq("kadm-bad")) // the response's error is returned as err too
		wantErr(t, "create with retention.ms=soon", bad.Err, kerr.InvalidConfig)
		unknown, _ := adm.CreateTopic(ctx, 1, 1, map[string]*string{"no.such.config": strp("1")}, uniq("kadm-bad")) // the response's error is returned as err too
		wantErr(t, "create with an unknown config", unknown.Err, kerr.InvalidConfig)
	})
	if t.Failed() {
		return
	}

	t.Run("list-and-metadata", func(t *testing.T) {
		all, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatalf("ListTopics: %v", err)
		}
		d, ok := all[topic]
		if !ok || d.Err != nil || len(d.Partitions) != 3 || d.IsInternal {
			t.Fatalf("ListTopics: %s is %+v", topic, d)
		}
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatalf("Metadata: %v", err)
		}
		if len(md.Brokers) != 1 || md.Cluster == "" || md.Controller != md.Brokers[0].NodeID {
			t.Errorf("Metadata: cluster %q controller %d brokers %+v", md.Cluster, md.Controller, md.Brokers)
		}
		for p, pd := range md.Topics[topic].Partitions {
			id := md.Brokers[0].NodeID
			if pd.Err != nil || pd.Leader != id || fmt.Sprint(pd.Replicas) != fmt.Sprint([]int32{id}) || fmt.Sprint(pd.ISR) != fmt.Sprint([]int32{id}) {
				t.Errorf("partition %d: %+v", p, pd)
			}
		}
		missing, err := adm.ListTopics(ctx, uniq("kadm-missing"))
		if err != nil {
			t.Fatalf("ListTopics unknown: %v", err)
		}
		for _, d := range missing {
			wantErr(t, "ListTopics of an unknown topic", d.Err, kerr.UnknownTopicOrPartition)
		}
	})

	t.Run("configs", func(t *testing.T) {
		c := topicConfig(t, adm, topic, "retention.ms")
		if c.MaybeValue() != "3600000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("retention.ms: %q from %v", c.MaybeValue(), c.Source)
		}
		c = topicConfig(t, adm, topic, "cleanup.policy")
		if c.MaybeValue() != "delete" || c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("cleanup.policy: %q from %v", c.MaybeValue(), c.Source)
		}
		alter := func(what string, validate bool, cs ...kadm.AlterConfig) error {
			f := adm.AlterTopicConfigs
			if validate {
				f = adm.ValidateAlterTopicConfigs
			}
			rs, err := f(ctx, cs, topic)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			r, err := rs.On(topic, nil)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return r.Err
		}
		if err := alter("set/delete/append", false,
			kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("7200000")},
			kadm.AlterConfig{Op: kadm.DeleteConfig, Name: "max.message.bytes"},
			kadm.AlterConfig{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: strp("compact")}); err != nil {
			t.Fatalf("IncrementalAlterConfigs: %v", err)
		}
		isDefault := func(c kadm.Config) bool { return c.Source == kmsg.ConfigSourceDefaultConfig }
		eventuallyTopicConfig(t, adm, topic, "retention.ms", "retention.ms set to 7200000", func(c kadm.Config) bool { return c.MaybeValue() == "7200000" })
		eventuallyTopicConfig(t, adm, topic, "max.message.bytes", "max.message.bytes back to its default", isDefault)
		eventuallyTopicConfig(t, adm, topic, "cleanup.policy", "compact appended to cleanup.policy", func(c kadm.Config) bool { return c.MaybeValue() == "delete,compact" })
		if err := alter("subtract", false, kadm.AlterConfig{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: strp("compact")}); err != nil {
			t.Fatalf("subtract: %v", err)
		}
		eventuallyTopicConfig(t, adm, topic, "cleanup.policy", "compact subtracted from cleanup.policy", func(c kadm.Config) bool { return c.MaybeValue() == "delete" })
		if err := alter("validate-only", true, kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("1000")}); err != nil {
			t.Fatalf("validate-only: %v", err)
		}
		if c := topicConfig(t, adm, topic, "retention.ms"); c.MaybeValue() != "7200000" {
			t.Errorf("validate-only IncrementalAlterConfigs changed retention.ms to %q", c.MaybeValue())
		}
		wantErr(t, "set retention.ms=soon", alter("invalid", false, kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: strp("soon")}), kerr.InvalidConfig)
		wantErr(t, "set an unknown config", alter("unknown", false, kadm.AlterConfig{Op: kadm.SetConfig, Name: "no.such.config", Value: strp("1")}), kerr.InvalidConfig)
		// Legacy AlterConfigs replaces the whole set of overrides.
		rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: strp("600000")}}, topic)
		if err != nil || rs[0].Err != nil {
			t.Fatalf("AlterConfigs: %v %+v", err, rs)
		}
		eventuallyTopicConfig(t, adm, topic, "segment.ms", "segment.ms set by AlterConfigs", func(c kadm.Config) bool {
			return c.MaybeValue() == "600000" && c.Source == kmsg.ConfigSourceDynamicTopicConfig
		})
		eventuallyTopicConfig(t, adm, topic, "retention.ms", "retention.ms (not in the AlterConfigs) back to its default", isDefault)
		rcs, err := adm.DescribeTopicConfigs(ctx, uniq("kadm-missing"))
		if err != nil {
			t.Fatalf("DescribeTopicConfigs unknown: %v", err)
		}
		if len(rcs) != 1 {
			t.Fatalf("DescribeTopicConfigs unknown: %+v", rcs)
		}
		wantErr(t, "DescribeTopicConfigs of an unknown topic", rcs[0].Err, kerr.UnknownTopicOrPartition)
	})

	t.Run("partitions", func(t *testing.T) {
		v, err := adm.ValidateCreatePartitions(ctx, 2, topic)
		if err != nil || v.Error() != nil {
			t.Fatalf("ValidateCreatePartitions: %v %v", err, v.Error())
		}
		if n := len(endOffsets(t, adm, topic)); n != 3 {
			t.Errorf("validate-only CreatePartitions: %d partitions", n)
		}
		r, err := adm.CreatePartitions(ctx, 2, topic)
		if err != nil || r.Error() != nil {
			t.Fatalf("CreatePartitions: %v %v", err, r.Error())
		}
		waitFor(t, 10*time.Second, "5 partitions in metadata", func() (bool, string) {
			md, err := adm.Metadata(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			return len(md.Topics[topic].Partitions) == 5, fmt.Sprint(len(md.Topics[topic].Partitions))
		})
		r, err = adm.UpdatePartitions(ctx, 4, topic)
		if err != nil {
			t.Fatalf("UpdatePartitions: %v", err)
		}
		wantErr(t, "shrink to 4 partitions", r[topic].Err, kerr.InvalidPartitions)
		r, err = adm.CreatePartitions(ctx, 1, uniq("kadm-missing"))
		if err != nil {
			t.Fatalf("CreatePartitions unknown: %v", err)
		}
		for _, x := range r {
			wantErr(t, "CreatePartitions of an unknown topic", x.Err, kerr.UnknownTopicOrPartition)
		}
	})

	t.Run("offsets-and-delete-records", func(t *testing.T) {
		// franz-go measures the delivery timeout from the record's timestamp: none for old timestamps.
		cl := newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordDeliveryTimeout(0))
		base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		var rs []*kgo.Record
		for i := 0; i < 10; i++ {
			ts := base.Add(time.Duration(i) * time.Second)
			if i == 5 {
				ts = base.Add(100 * time.Second)
			}
			rs = append(rs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(fmt.Sprint(i)), Timestamp: ts})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		look := func(what string, lo kadm.ListedOffsets, err error, p int32) kadm.ListedOffset {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			o, ok := lo.Lookup(topic, p)
			if !ok || o.Err != nil {
				t.Fatalf("%s: partition %d: %+v", what, p, o)
			}
			return o
		}
		lo, err := adm.ListStartOffsets(ctx, topic)
		if o := look("ListStartOffsets", lo, err, 0); o.Offset != 0 {
			t.Errorf("start offset %d", o.Offset)
		}
		lo, err = adm.ListEndOffsets(ctx, topic)
		if o := look("ListEndOffsets", lo, err, 0); o.Offset != 10 {
			t.Errorf("end offset %d", o.Offset)
		}
		if o := look("ListEndOffsets", lo, err, 4); o.Offset != 0 {
			t.Errorf("end offset of a new partition %d", o.Offset)
		}
		lo, err = adm.ListMaxTimestampOffsets(ctx, topic)
		if o := look("ListMaxTimestampOffsets", lo, err, 0); o.Offset != 5 || o.Timestamp != base.Add(100*time.Second).UnixMilli() {
			t.Errorf("max timestamp: offset %d timestamp %d, want 5 at %d", o.Offset, o.Timestamp, base.Add(100*time.Second).UnixMilli())
		}
		if o := look("ListMaxTimestampOffsets", lo, err, 1); o.Offset != -1 {
			t.Errorf("max timestamp of an empty partition: offset %d, want -1", o.Offset)
		}
		lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(3500*time.Millisecond).UnixMilli(), topic)
		if o := look("ListOffsetsAfterMilli", lo, err, 0); o.Offset != 4 || o.Timestamp != base.Add(4*time.Second).UnixMilli() {
			t.Errorf("by time: offset %d timestamp %d, want 4 at %d", o.Offset, o.Timestamp, base.Add(4*time.Second).UnixMilli())
		}
		lo, err = adm.ListOffsetsAfterMilli(ctx, base.Add(time.Hour).UnixMilli(), topic)
		if o := look("ListOffsetsAfterMilli (after every record)", lo, err, 0); o.Offset != 10 {
			t.Errorf("by time after every record: offset %d, want the end 10", o.Offset)
		}

		var del kadm.Offsets
		del.AddOffset(topic, 0, 3, -1)
		dr, err := adm.DeleteRecords(ctx, del)
		if err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		if r, ok := dr.Lookup(topic, 0); !ok || r.Err != nil || r.LowWatermark != 3 {
			t.Errorf("DeleteRecords: %+v", r)
		}
		lo, err = adm.ListStartOffsets(ctx, topic)
		if o := look("ListStartOffsets after DeleteRecords", lo, err, 0); o.Offset != 3 {
			t.Errorf("start offset after DeleteRecords %d, want 3", o.Offset)
		}
		got := readAll(t, adm, topic)
		if len(got[0]) != 7 || got[0][0].Offset != 3 || got[0][0].Value != "3" {
			t.Errorf("after DeleteRecords read %v", got[0])
		}
		var beyond kadm.Offsets
		beyond.AddOffset(topic, 0, 11, -1)
		dr, err = adm.DeleteRecords(ctx, beyond)
		if err != nil {
			t.Fatalf("DeleteRecords beyond: %v", err)
		}
		r, _ := dr.Lookup(topic, 0)
		wantErr(t, "DeleteRecords beyond the high watermark", r.Err, kerr.OffsetOutOfRange)
	})

	t.Run("delete", func(t *testing.T) {
		r, err := adm.DeleteTopic(ctx, topic)
		if err != nil || r.Err != nil {
			t.Fatalf("DeleteTopic: %v %v", err, r.Err)
		}
		waitFor(t, 10*time.Second, "the topic to be gone", func() (bool, string) {
			td, err := adm.ListTopics(ctx, topic)
			if err != nil {
				return false, err.Error()
			}
			d := td[topic]
			return errors.Is(d.Err, kerr.UnknownTopicOrPartition), fmt.Sprintf("%+v", d)
		})
		r, _ = adm.DeleteTopic(ctx, topic)
		wantErr(t, "delete a deleted topic", r.Err, kerr.UnknownTopicOrPartition)
	})
}

// TestKadmGroups: group administration through kadm: standalone offset commits with metadata,
// FetchOffsets, Lag, ListGroups/DescribeGroups of an offsets-only group (Empty) and of a live
// franz-go member (Stable, member, assignment), DeleteGroups refused (NON_EMPTY_GROUP) and
// DeleteOffsets refused (GROUP_SUBSCRIBED_TO_TOPIC) while it is live, DeleteOffsets and DeleteGroups
// after it left, FindGroupCoordinators.
func TestKadmGroups(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	ctx := ctxFor(t, 60*time.Second)
	topic, group := uniq("kadm-gtopic"), uniq("kadm-group")
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 2; p++ {
		var rs []*kgo.Record
		for i := 0; i < 10; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("x")})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1, Metadata: "meta-0"})
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: 7, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
		t.Fatalf("CommitAllOffsets: %v", err)
	}
	fo, err := adm.FetchOffsets(ctx, group)
	if err != nil || fo.Error() != nil {
		t.Fatalf("FetchOffsets: %v %v", err, fo.Error())
	}
	if o, _ := fo.Lookup(topic, 0); o.At != 3 || o.Metadata != "meta-0" {
		t.Errorf("FetchOffsets p0: %+v", o)
	}
	if o, _ := fo.Lookup(topic, 1); o.At != 7 || o.Metadata != "" {
		t.Errorf("FetchOffsets p1: %+v", o)
	}
	lags, err := adm.Lag(ctx, group)
	if err != nil {
		t.Fatalf("Lag: %v", err)
	}
	if l, ok := lags[group].Lag.Lookup(topic, 0); !ok || l.Lag != 7 || l.End.Offset != 10 {
		t.Errorf("Lag p0: %+v", l)
	}
	lg, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("ListGroups: %v", err)
	}
	if g, ok := lg[group]; !ok || g.State != "Empty" {
		t.Errorf("ListGroups: %s is %+v", group, g)
	}
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatalf("DescribeGroups: %v", err)
	}
	if g := dg[group]; g.Err != nil || g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("DescribeGroups of an offsets-only group: %+v", g)
	}

	// A live member.
	member := newClient(t, kgo.ClientID("kadm-member"), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond), kgo.DisableAutoCommit())
	pollCtx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pollCtx.Err() == nil {
			member.PollFetches(pollCtx)
		}
	}()
	waitFor(t, 30*time.Second, "the member to join (Stable)", func() (bool, string) {
		dg, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		g := dg[group]
		return g.State == "Stable" && len(g.Members) == 1, fmt.Sprintf("%s %d members", g.State, len(g.Members))
	})
	dg, _ = adm.DescribeGroups(ctx, group)
	g := dg[group]
	m := g.Members[0]
	if g.ProtocolType != "consumer" || m.ClientID != "kadm-member" || m.MemberID == "" || m.ClientHost == "" {
		t.Errorf("DescribeGroups: type %q member %+v", g.ProtocolType, m)
	}
	if ca, ok := m.Assigned.AsConsumer(); !ok || len(ca.Topics) != 1 || ca.Topics[0].Topic != topic || len(ca.Topics[0].Partitions) != 2 {
		t.Errorf("DescribeGroups: assignment %+v", m.Assigned)
	}
	if jm, ok := m.Join.AsConsumer(); !ok || fmt.Sprint(jm.Topics) != fmt.Sprint([]string{topic}) {
		t.Errorf("DescribeGroups: subscription %+v", m.Join)
	}
	lg, err = adm.ListGroups(ctx, "Stable")
	if err != nil {
		t.Fatalf("ListGroups(Stable): %v", err)
	}
	if g, ok := lg[group]; !ok || g.ProtocolType != "consumer" {
		t.Errorf("ListGroups(Stable): %s is %+v", group, g)
	}
	del, _ := adm.DeleteGroup(ctx, group) // the response's error is returned as err too
	wantErr(t, "delete a live group", del.Err, kerr.NonEmptyGroup)
	dor, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DeleteOffsets live: %v", err)
	}
	e, _ := dor.Lookup(topic, 0)
	wantErr(t, "delete offsets of a subscribed topic", e, kerr.GroupSubscribedToTopic)

	stopPoll()
	<-polled
	member.Close()
	waitFor(t, 20*time.Second, "the group to be Empty after the member left", func() (bool, string) {
		dg, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false, err.Error()
		}
		return dg[group].State == "Empty", dg[group].State
	})
	dor, err = adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DeleteOffsets: %v", err)
	}
	if e, ok := dor.Lookup(topic, 0); !ok || e != nil {
		t.Errorf("DeleteOffsets p0: %v", e)
	}
	fo, err = adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	if o, ok := fo.Lookup(topic, 0); ok && o.At >= 0 {
		t.Errorf("offset of p0 still there after DeleteOffsets: %+v", o)
	}
	if o, _ := fo.Lookup(topic, 1); o.At != 7 {
		t.Errorf("offset of p1 after deleting p0's: %+v", o)
	}
	del, err = adm.DeleteGroup(ctx, group)
	if err != nil || del.Err != nil {
		t.Fatalf("DeleteGroup: %v %v", err, del.Err)
	}
	fo, err = adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("FetchOffsets after delete: %v", err)
	}
	fo.Each(func(o kadm.OffsetResponse) {
		if o.At >= 0 {
			t.Errorf("offset left after DeleteGroup: %+v", o)
		}
	})
	del, _ = adm.DeleteGroup(ctx, group)
	wantErr(t, "delete a deleted group", del.Err, kerr.GroupIDNotFound)
	co := adm.FindGroupCoordinators(ctx, group)
	md, _ := adm.BrokerMetadata(ctx)
	if c, ok := co[group]; !ok || c.Err != nil || c.NodeID != md.Brokers[0].NodeID {
		t.Errorf("FindGroupCoordinators: %+v", c)
	}
}

// TestKadmTransactions: with a franz-go transaction open on two partitions, kadm DescribeTransactions
// (Ongoing, producer id and epoch, timeout, partitions), ListTransactions (with and without a state
// filter), DescribeProducers (current transaction start offset), ListCommittedOffsets (the LSO) vs
// ListEndOffsets; after the commit, CompleteCommit and no open transaction; an unknown
// transactional id gives TRANSACTIONAL_ID_NOT_FOUND.
func TestKadmTransactions(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	ctx := ctxFor(t, 60*time.Second)
	topic, txnID := uniq("kadm-txn"), uniq("kadm-txnid")
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, kgo.TransactionalID(txnID), kgo.TransactionTimeout(30*time.Second), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	var rs []*kgo.Record
	for i := 0; i < 6; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("t")})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		t.Fatalf("ProducerID: %v", err)
	}

	dt, err := adm.DescribeTransactions(ctx, txnID)
	if err != nil {
		t.Fatalf("DescribeTransactions: %v", err)
	}
	d := dt[txnID]
	if d.Err != nil || d.State != "Ongoing" || d.ProducerID != pid || d.ProducerEpoch != epoch || d.TimeoutMillis != 30000 || d.StartTimestamp <= 0 {
		t.Errorf("DescribeTransactions: %+v (client pid %d epoch %d)", d, pid, epoch)
	}
	if got := d.Topics.Sorted(); len(got) != 1 || got[0].Topic != topic || fmt.Sprint(got[0].Partitions) != "[0 1]" {
		t.Errorf("DescribeTransactions partitions: %+v", got)
	}
	lt, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		t.Fatalf("ListTransactions: %v", err)
	}
	if l, ok := lt[txnID]; !ok || l.State != "Ongoing" || l.ProducerID != pid {
		t.Errorf("ListTransactions: %+v", l)
	}
	lt, err = adm.ListTransactions(ctx, nil, []string{"CompleteCommit"})
	if err != nil {
		t.Fatalf("ListTransactions(CompleteCommit): %v", err)
	}
	if l, ok := lt[txnID]; ok {
		t.Errorf("ListTransactions(CompleteCommit) lists an ongoing transaction: %+v", l)
	}
	lt, err = adm.ListTransactions(ctx, []int64{pid}, nil)
	if err != nil {
		t.Fatalf("ListTransactions(pid): %v", err)
	}
	if _, ok := lt[txnID]; !ok || len(lt) != 1 {
		t.Errorf("ListTransactions(producer %d): %+v", pid, lt)
	}
	dp, err := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	if ap, ok := dp[topic].Partitions[0].ActiveProducers[pid]; !ok || ap.CurrentTxnStartOffset != 0 || ap.ProducerEpoch != epoch || ap.LastSequence != 2 {
		t.Errorf("DescribeProducers during the transaction: %+v", dp[topic].Partitions[0])
	}
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListCommittedOffsets: %v", err)
	}
	hw := endOffsets(t, adm, topic)
	if o, _ := lso.Lookup(topic, 0); o.Offset != 0 || hw[0] != 3 {
		t.Errorf("during the transaction: LSO %d (want 0), high watermark %d (want 3)", o.Offset, hw[0])
	}

	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit: %v", err)
	}
	waitFor(t, 10*time.Second, "CompleteCommit", func() (bool, string) {
		dt, err := adm.DescribeTransactions(ctx, txnID)
		if err != nil {
			return false, err.Error()
		}
		return dt[txnID].State == "CompleteCommit", dt[txnID].State
	})
	dp, err = adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DescribeProducers: %v", err)
	}
	if ap, ok := dp[topic].Partitions[0].ActiveProducers[pid]; !ok || ap.CurrentTxnStartOffset != -1 {
		t.Errorf("DescribeProducers after the commit: %+v", dp[topic].Partitions[0])
	}
	lso, err = adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListCommittedOffsets: %v", err)
	}
	hw = endOffsets(t, adm, topic)
	if o, _ := lso.Lookup(topic, 0); o.Offset != 4 || hw[0] != 4 {
		t.Errorf("after the commit: LSO %d, high watermark %d, want both 4 (3 records and the marker)", o.Offset, hw[0])
	}
	dt, err = adm.DescribeTransactions(ctx, uniq("no-such-txn"))
	if err != nil {
		t.Fatalf("DescribeTransactions unknown: %v", err)
	}
	for _, d := range dt {
		wantErr(t, "DescribeTransactions of an unknown id", d.Err, kerr.TransactionalIDNotFound)
	}
}

// TestKadmCluster: broker-level calls through kadm: ApiVersions, BrokerMetadata, DescribeBrokerConfigs
// (read-only node.id), a dynamic broker config set, described as DYNAMIC_BROKER_CONFIG and deleted
// again, and DescribeACLs answered as a Kafka broker without an authorizer does (SECURITY_DISABLED).
func TestKadmCluster(t *testing.T) {
	t.Parallel()
	adm := newAdmin(t)
	ctx := ctxFor(t, 30*time.Second)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil || len(md.Brokers) != 1 {
		t.Fatalf("BrokerMetadata: %v %+v", err, md)
	}
	node := md.Brokers[0].NodeID
	if md.Brokers[0].Host == "" || md.Brokers[0].Port <= 0 || md.Cluster == "" {
		t.Errorf("BrokerMetadata: %+v", md)
	}

	t.Run("api-versions", func(t *testing.T) {
		av, err := adm.ApiVersions(ctx)
		if err != nil {
			t.Fatalf("ApiVersions: %v", err)
		}
		b, ok := av[node]
		if !ok || b.Err != nil {
			t.Fatalf("ApiVersions: %+v", av)
		}
		for _, k := range []int16{0, 1, 2, 3, 8, 9, 11, 19, 22, 32, 44, 61, 65, 66, 68, 69} {
			if _, _, ok := b.KeyVersions(k); !ok {
				t.Errorf("ApiVersions: %s (%d) not advertised", kmsg.NameForKey(k), k)
			}
		}
	})

	t.Run("broker-configs", func(t *testing.T) {
		rcs, err := adm.DescribeBrokerConfigs(ctx, node)
		if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
			t.Fatalf("DescribeBrokerConfigs: %v %+v", err, rcs)
		}
		find := func(rc kadm.ResourceConfig, key string) (kadm.Config, bool) {
			for _, c := range rc.Configs {
				if c.Key == key {
					return c, true
				}
			}
			return kadm.Config{}, false
		}
		if c, ok := find(rcs[0], "node.id"); !ok || c.MaybeValue() != fmt.Sprint(node) {
			t.Errorf("node.id: %+v", c)
		}
		const key, val = "log.retention.ms", "604800001"
		r, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: strp(val)}}, node)
		if err != nil || r[0].Err != nil {
			t.Fatalf("AlterBrokerConfigs set: %v %+v", err, r)
		}
		defer func() {
			r, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.DeleteConfig, Name: key}}, node)
			if err != nil || r[0].Err != nil {
				t.Errorf("AlterBrokerConfigs delete: %v %+v", err, r)
			}
			waitFor(t, 10*time.Second, key+" no longer dynamic", func() (bool, string) {
				rcs, err := adm.DescribeBrokerConfigs(ctx, node)
				if err != nil || len(rcs) != 1 {
					return false, fmt.Sprint(err)
				}
				c, ok := find(rcs[0], key)
				return !ok || c.Source != kmsg.ConfigSourceDynamicBrokerConfig, fmt.Sprintf("%+v", c)
			})
		}()
		// Kafka applies it asynchronously (through its metadata log).
		waitFor(t, 10*time.Second, key+" set dynamically", func() (bool, string) {
			rcs, err := adm.DescribeBrokerConfigs(ctx, node)
			if err != nil || len(rcs) != 1 {
				return false, fmt.Sprint(err)
			}
			c, ok := find(rcs[0], key)
			return ok && c.MaybeValue() == val && c.Source == kmsg.ConfigSourceDynamicBrokerConfig, fmt.Sprintf("%+v", c)
		})
		r, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "node.id", Value: strp("7")}}, node)
		if err != nil {
			t.Fatalf("AlterBrokerConfigs node.id: %v", err)
		}
		if r[0].Err == nil {
			t.Errorf("AlterBrokerConfigs node.id=7 accepted")
		}
	})

	t.Run("acls-security-disabled", func(t *testing.T) {
		b := kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
		rs, err := adm.DescribeACLs(ctx, b)
		if err != nil {
			t.Fatalf("DescribeACLs: %v (Kafka without an authorizer answers SECURITY_DISABLED)", err)
		}
		for _, r := range rs {
			wantErr(t, "DescribeACLs", r.Err, kerr.SecurityDisabled)
		}
	})
}

// TestSaramaClusterAdmin: the common sarama ClusterAdmin calls: CreateTopic (and its errors),
// ListTopics, DescribeTopics, CreatePartitions, DescribeConfig, AlterConfig, IncrementalAlterConfig,
// ListOffsets, DeleteRecords, DescribeCluster, AlterConsumerGroupOffsets, ListConsumerGroups,
// DescribeConsumerGroups and ListConsumerGroupOffsets of a live sarama group, DeleteConsumerGroupOffset,
// DeleteConsumerGroup, DeleteTopic.
func TestSaramaClusterAdmin(t *testing.T) {
	t.Parallel()
	for _, v := range saramaVersions {
		v := v
		t.Run("v"+v.String(), func(t *testing.T) {
			t.Parallel()
			saramaAdminScenario(t, v)
		})
	}
}

func saramaAdminScenario(t *testing.T, v sarama.KafkaVersion) {
	ca, err := sarama.NewClusterAdmin([]string{bootstrap(t)}, saramaConfig(v))
	if err != nil {
		t.Fatalf("NewClusterAdmin: %v", err)
	}
	defer ca.Close()
	adm := newAdmin(t)
	topic, group := uniq("sarama-admin"), uniq("sarama-admin-group")
	ret := "3600000"
	if err := ca.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &ret}}, true); err != nil {
		t.Fatalf("CreateTopic validate-only: %v", err)
	}
	if err := ca.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &ret}}, false); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	err = ca.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	if !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Errorf("CreateTopic again: %v, want %v", err, sarama.ErrTopicAlreadyExists)
	}
	err = ca.CreateTopic(uniq("sarama-bad"), &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 3}, false)
	if !errors.Is(err, sarama.ErrInvalidReplicationFactor) {
		t.Errorf("CreateTopic with replication factor 3 on one broker: %v, want %v", err, sarama.ErrInvalidReplicationFactor)
	}

	waitFor(t, 10*time.Second, "ListTopics to show the topic", func() (bool, string) {
		ts, err := ca.ListTopics()
		if err != nil {
			return false, err.Error()
		}
		d, ok := ts[topic]
		return ok && d.NumPartitions == 3 && d.ReplicationFactor == 1 && d.ConfigEntries["retention.ms"] != nil && *d.ConfigEntries["retention.ms"] == ret,
			fmt.Sprintf("%+v", d)
	})
	tm, err := ca.DescribeTopics([]string{topic})
	if err != nil || len(tm) != 1 || !errors.Is(tm[0].Err, sarama.ErrNoError) || len(tm[0].Partitions) != 3 {
		t.Fatalf("DescribeTopics: %v %+v", err, tm)
	}
	brokers, controller, err := ca.DescribeCluster()
	if err != nil || len(brokers) != 1 || controller != brokers[0].ID() {
		t.Fatalf("DescribeCluster: %v %d brokers, controller %d", err, len(brokers), controller)
	}
	for _, p := range tm[0].Partitions {
		if p.Leader != brokers[0].ID() || len(p.Replicas) != 1 || len(p.Isr) != 1 {
			t.Errorf("DescribeTopics partition %+v", p)
		}
	}
	if err := ca.CreatePartitions(topic, 4, nil, false); err != nil {
		t.Fatalf("CreatePartitions: %v", err)
	}
	if err := ca.CreatePartitions(topic, 2, nil, false); !errors.Is(err, sarama.ErrInvalidPartitions) {
		t.Errorf("CreatePartitions to fewer: %v, want %v", err, sarama.ErrInvalidPartitions)
	}

	describe := func(key string) sarama.ConfigEntry {
		t.Helper()
		es, err := ca.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			t.Fatalf("DescribeConfig: %v", err)
		}
		for _, e := range es {
			if e.Name == key {
				return e
			}
		}
		t.Fatalf("DescribeConfig: no %s", key)
		return sarama.ConfigEntry{}
	}
	waitFor(t, 10*time.Second, "DescribeConfig retention.ms as created", func() (bool, string) {
		e := describe("retention.ms")
		return !(e.Value != ret || e.Default || e.Source != sarama.SourceTopic), fmt.Sprintf("%+v", e)
	})
	seg := "600000"
	if err := ca.AlterConfig(sarama.TopicResource, topic, map[string]*string{"segment.ms": &seg}, false); err != nil {
		t.Fatalf("AlterConfig: %v", err)
	}
	waitFor(t, 10*time.Second, "segment.ms set by AlterConfig", func() (bool, string) {
		e := describe("segment.ms")
		return !(e.Value != seg || e.Source != sarama.SourceTopic), fmt.Sprintf("%+v", e)
	})
	waitFor(t, 10*time.Second, "retention.ms (not in the AlterConfig) back to its default", func() (bool, string) {
		e := describe("retention.ms")
		return !(e.Source != sarama.SourceDefault), fmt.Sprintf("%+v", e)
	})
	mmb := "300000"
	if err := ca.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"max.message.bytes": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &mmb},
		"segment.ms":        {Operation: sarama.IncrementalAlterConfigsOperationDelete},
	}, false); err != nil {
		t.Fatalf("IncrementalAlterConfig: %v", err)
	}
	waitFor(t, 10*time.Second, "max.message.bytes set by IncrementalAlterConfig", func() (bool, string) {
		e := describe("max.message.bytes")
		return !(e.Value != mmb || e.Source != sarama.SourceTopic), fmt.Sprintf("%+v", e)
	})
	waitFor(t, 10*time.Second, "segment.ms deleted by IncrementalAlterConfig", func() (bool, string) {
		e := describe("segment.ms")
		return !(e.Source != sarama.SourceDefault), fmt.Sprintf("%+v", e)
	})
	bad := "soon"
	if err := ca.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &bad}}, false); !errors.Is(err, sarama.ErrInvalidConfig) {
		t.Errorf("IncrementalAlterConfig retention.ms=soon: %v, want %v", err, sarama.ErrInvalidConfig)
	}

	produceKeyed(t, topic, 0, 40)
	ends := endOffsets(t, adm, topic)
	req := map[string]map[int32]int64{topic: {}}
	for p := range ends {
		req[topic][p] = sarama.OffsetNewest
	}
	lo, err := ca.ListOffsets(req, nil)
	if err != nil {
		t.Fatalf("ListOffsets: %v", err)
	}
	for p, e := range ends {
		if r := lo[topic][p]; r == nil || !errors.Is(r.Err, sarama.ErrNoError) || r.Offset != e {
			t.Errorf("ListOffsets newest p%d: %+v, want %d", p, r, e)
		}
	}
	var full int32 = -1
	for p, e := range ends {
		if e >= 2 {
			full = p
			break
		}
	}
	if full < 0 {
		t.Fatalf("no partition with 2 records: %v", ends)
	}
	if err := ca.DeleteRecords(topic, map[int32]int64{full: 2}); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	lo, err = ca.ListOffsets(map[string]map[int32]int64{topic: {full: sarama.OffsetOldest}}, nil)
	if err != nil || lo[topic][full] == nil || lo[topic][full].Offset != 2 {
		t.Errorf("ListOffsets oldest after DeleteRecords: %v %+v", err, lo[topic][full])
	}

	// Offsets through the admin, then a live member.
	if _, err := ca.AlterConsumerGroupOffsets(group, map[string]map[int32]sarama.OffsetAndMetadata{topic: {full: {Offset: 1, Metadata: "m", LeaderEpoch: -1}}}, nil); err != nil {
		t.Fatalf("AlterConsumerGroupOffsets: %v", err)
	}
	of, err := ca.ListConsumerGroupOffsets(group, map[string][]int32{topic: {full}})
	if err != nil {
		t.Fatalf("ListConsumerGroupOffsets: %v", err)
	}
	if b := of.GetBlock(topic, full); b == nil || b.Offset != 1 || b.Metadata != "m" {
		t.Errorf("ListConsumerGroupOffsets: %+v", b)
	}
	if err := ca.DeleteConsumerGroupOffset(group, topic, full); err != nil {
		t.Errorf("DeleteConsumerGroupOffset of an empty group: %v", err)
	}
	r := newRecorder()
	m := startSaramaMember(t, v, "sarama-admin-member", group, topic, r)
	waitFor(t, 30*time.Second, "the member to read every record", func() (bool, string) {
		return r.count() == 40-2, fmt.Sprint(r.count())
	})
	gs, err := ca.ListConsumerGroups()
	if err != nil {
		t.Fatalf("ListConsumerGroups: %v", err)
	}
	if gs[group] != "consumer" {
		t.Errorf("ListConsumerGroups: %s is %q", group, gs[group])
	}
	gd, err := ca.DescribeConsumerGroups([]string{group})
	if err != nil || len(gd) != 1 {
		t.Fatalf("DescribeConsumerGroups: %v %+v", err, gd)
	}
	if gd[0].State != "Stable" || gd[0].Protocol != "range" || len(gd[0].Members) != 1 {
		t.Errorf("DescribeConsumerGroups: %+v", gd[0])
	}
	for _, md := range gd[0].Members {
		a, err := md.GetMemberAssignment()
		if err != nil || a == nil || len(a.Topics[topic]) != 4 || md.ClientId != "sarama-admin-member" {
			t.Errorf("member %+v assignment %+v %v", md, a, err)
		}
	}
	if err := ca.DeleteConsumerGroup(group); !errors.Is(err, sarama.ErrNonEmptyGroup) {
		t.Errorf("DeleteConsumerGroup of a live group: %v, want %v", err, sarama.ErrNonEmptyGroup)
	}
	m.Close()
	waitFor(t, 10*time.Second, "the committed offsets to reach the end", func() (bool, string) {
		of, err := ca.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2, 3}})
		if err != nil {
			return false, err.Error()
		}
		var got []string
		ok := true
		for p, e := range ends {
			b := of.GetBlock(topic, p)
			if b == nil || b.Offset != e {
				ok = false
			}
			if b != nil {
				got = append(got, fmt.Sprintf("%d:%d", p, b.Offset))
			}
		}
		sort.Strings(got)
		return ok, strings.Join(got, " ")
	})
	if err := ca.DeleteConsumerGroup(group); err != nil {
		t.Errorf("DeleteConsumerGroup: %v", err)
	}
	gs, err = ca.ListConsumerGroups()
	if err != nil {
		t.Fatalf("ListConsumerGroups: %v", err)
	}
	if _, ok := gs[group]; ok {
		t.Errorf("ListConsumerGroups still lists the deleted group")
	}
	if err := ca.DeleteTopic(topic); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	waitFor(t, 10*time.Second, "the topic to be gone", func() (bool, string) {
		err := ca.DeleteTopic(topic)
		return errors.Is(err, sarama.ErrUnknownTopicOrPartition), fmt.Sprint(err)
	})
}
