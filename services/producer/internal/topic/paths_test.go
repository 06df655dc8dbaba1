package topic

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/testkit"
)

// refuseMetadataOf makes c answer every Metadata request that names topic
// with TOPIC_AUTHORIZATION_FAILED for it (its ACLs do not let this client
// describe it); other Metadata requests are answered as usual. It returns
// the count of refusals.
func refuseMetadataOf(c *kfake.Cluster, topic string) *atomic.Int32 {
	refused := new(atomic.Int32)
	c.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.MetadataRequest)
		if !slices.ContainsFunc(r.Topics, func(t kmsg.MetadataRequestTopic) bool { return t.Topic != nil && *t.Topic == topic }) {
			return nil, nil, false
		}
		refused.Add(1)
		resp := r.ResponseKind().(*kmsg.MetadataResponse)
		for _, addr := range c.ListenAddrs() {
			host, port, _ := net.SplitHostPort(addr)
			n, _ := strconv.Atoi(port)
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = 0, host, int32(n)
			resp.Brokers = append(resp.Brokers, b)
		}
		st := kmsg.NewMetadataResponseTopic()
		st.Topic, st.ErrorCode = kmsg.StringPtr(topic), kerr.TopicAuthorizationFailed.Code
		resp.Topics = append(resp.Topics, st)
		return resp, nil, true
	})
	return refused
}

// The topic exists, but cannot be described: Ensure fails with the
// broker's answer, not with a partition count it never learnt.
func TestEnsureFailsWhenTheExistingTopicCannotBeDescribed(t *testing.T) {
	cluster := testkit.Cluster(t, kfake.SeedTopics(4, "temperatures"))
	adm := kadm.NewClient(testkit.Client(t, cluster))
	refused := refuseMetadataOf(cluster, "temperatures")
	logs := new(testkit.Buffer)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Ensure(ctx, slog.New(slog.NewTextHandler(logs, nil)), adm, Spec{Name: "temperatures", Partitions: 4, ReplicationFactor: 1, RetentionMs: -1}, false)
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.HasPrefix(err.Error(), "describe topic temperatures: TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("Ensure: %v, want describe topic temperatures: TOPIC_AUTHORIZATION_FAILED; log:\n%s", err, logs)
	}
	if refused.Load() == 0 || strings.Contains(logs.String(), "topic exists") {
		t.Errorf("%d refusals; log:\n%s", refused.Load(), logs)
	}
}

// RECREATE_TOPIC, and the broker refuses the delete: Ensure fails saying so,
// and the topic is the one it was (same ID), not deleted nor said to be.
func TestEnsureFailsWhenTheTopicCannotBeDeleted(t *testing.T) {
	cluster := testkit.Cluster(t, kfake.SeedTopics(4, "temperatures"))
	adm := kadm.NewClient(testkit.Client(t, cluster))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before, err := kafkaadmin.Describe(ctx, adm, "temperatures")
	if err != nil {
		t.Fatal(err)
	}
	var refused atomic.Int32
	cluster.ControlKey(kmsg.DeleteTopics.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		refused.Add(1)
		r := req.(*kmsg.DeleteTopicsRequest)
		resp := r.ResponseKind().(*kmsg.DeleteTopicsResponse)
		names := slices.Clone(r.TopicNames)
		for _, rt := range r.Topics {
			if rt.Topic != nil {
				names = append(names, *rt.Topic)
			}
		}
		for _, name := range names {
			st := kmsg.NewDeleteTopicsResponseTopic()
			st.Topic, st.ErrorCode = kmsg.StringPtr(name), kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	logs := new(testkit.Buffer)
	err = Ensure(ctx, slog.New(slog.NewTextHandler(logs, nil)), adm, Spec{Name: "temperatures", Partitions: 4, ReplicationFactor: 1, RetentionMs: -1}, true)
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.HasPrefix(err.Error(), "delete topic temperatures: TOPIC_AUTHORIZATION_FAILED") {
		t.Fatalf("Ensure: %v, want delete topic temperatures: TOPIC_AUTHORIZATION_FAILED; log:\n%s", err, logs)
	}
	if refused.Load() != 1 || strings.Contains(logs.String(), "deleted topic") {
		t.Errorf("%d refusals, want 1 and no word of a deletion; log:\n%s", refused.Load(), logs)
	}
	after, err := kafkaadmin.Describe(ctx, adm, "temperatures")
	if err != nil || after.ID() != before.ID() {
		t.Errorf("the topic after: %+v, %v; want it as it was, ID %s", after, err, before.ID())
	}
}
