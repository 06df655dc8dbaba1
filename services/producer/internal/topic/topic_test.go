package topic

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/testkit"
)

func TestEnsure(t *testing.T) {
	adm := kadm.NewClient(testkit.Client(t, testkit.Cluster(t)))
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	describe := func() kafkaadmin.Topic {
		t.Helper()
		d, err := kafkaadmin.Describe(ctx, adm, "temperatures")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	spec := func(partitions int32) Spec {
		return Spec{Name: "temperatures", Partitions: partitions, ReplicationFactor: 1, RetentionMs: -1}
	}
	if err := Ensure(ctx, log, adm, spec(4), false); err != nil {
		t.Fatalf("create: %v", err)
	}
	first := describe()
	if first.Partitions != 4 {
		t.Fatalf("created %+v, want 4 partitions", first)
	}
	if err := Ensure(ctx, log, adm, spec(4), false); err != nil || describe().ID() != first.ID() {
		t.Errorf("an existing topic of the same count: %v, ID %s → %s; want it kept", err, first.ID(), describe().ID())
	}
	err := Ensure(ctx, log, adm, spec(8), false)
	if err == nil || !strings.Contains(err.Error(), "has 4 partitions, TOPIC_PARTITIONS is 8") || !strings.Contains(err.Error(), "TOPIC_PARTITIONS=4") {
		t.Errorf("another partition count: %v, want an error saying what to set", err)
	}
	if err := Ensure(ctx, log, adm, spec(8), true); err != nil {
		t.Fatalf("recreate: %v", err)
	}
	// The client's metadata may be a moment old.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d := describe()
		if d.ID() != first.ID() && d.Partitions == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreated %+v, want a new topic ID and 8 partitions", d)
		}
	}
}

// The topic is created keeping the whole stream unless told otherwise; an
// existing topic's retention is left as it is, a finite one warned about
// once, and a producer that may not describe the topic's configs skips the
// check with a debug line.
func TestEnsureRetention(t *testing.T) {
	const warning = "are deleted: the stats can no longer be rebuilt from the topic after that"
	tests := []struct {
		name     string
		existing map[string]*string // the topic made beforehand with these configs; nil: missing
		denied   bool               // DescribeConfigs answers TOPIC_AUTHORIZATION_FAILED
		spec     int64              // TOPIC_RETENTION_MS
		want     string             // the topic's retention.ms afterwards
		warn     string             // in the warning; "": no warning
	}{
		{name: "created keeping every record", spec: -1, want: "-1"},
		{name: "created with the given retention", spec: 3_600_000, want: "3600000", warn: "records older than 1h0m0s " + warning},
		{name: "existing, the broker's default kept", existing: map[string]*string{}, spec: -1, want: "604800000",
			warn: "records older than 168h0m0s " + warning},
		{name: "existing, its own finite retention kept", existing: map[string]*string{"retention.ms": kadm.StringPtr("60000")}, spec: -1,
			want: "60000", warn: "records older than 1m0s " + warning},
		{name: "existing, keeping every record", existing: map[string]*string{"retention.ms": kadm.StringPtr("-1")}, spec: 3_600_000, want: "-1"},
		{name: "existing, configs not to be described", existing: map[string]*string{}, denied: true, spec: -1, want: "604800000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := testkit.Cluster(t)
			adm := kadm.NewClient(testkit.Client(t, cluster))
			ctx := context.Background()
			if tt.existing != nil {
				if _, err := adm.CreateTopic(ctx, 4, 1, tt.existing, "temperatures"); err != nil {
					t.Fatal(err)
				}
			}
			denials := 0
			if tt.denied {
				cluster.ControlKey(kmsg.DescribeConfigs.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
					denials++
					resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
					for _, r := range req.(*kmsg.DescribeConfigsRequest).Resources {
						rr := kmsg.NewDescribeConfigsResponseResource()
						rr.ResourceType, rr.ResourceName, rr.ErrorCode = r.ResourceType, r.ResourceName, kerr.TopicAuthorizationFailed.Code
						resp.Resources = append(resp.Resources, rr)
					}
					return resp, nil, true
				})
			}
			logs := new(testkit.Buffer)
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			if err := Ensure(ctx, log, adm, Spec{Name: "temperatures", Partitions: 4, ReplicationFactor: 1, RetentionMs: tt.spec}, false); err != nil {
				t.Fatalf("Ensure: %v; log:\n%s", err, logs)
			}
			rcs, err := adm.DescribeTopicConfigs(ctx, "temperatures")
			if err != nil {
				t.Fatal(err)
			}
			rc, err := rcs.On("temperatures", nil)
			if err != nil || rc.Err != nil {
				t.Fatalf("describe: %v %v", err, rc.Err)
			}
			got := "none"
			for _, c := range rc.Configs {
				if c.Key == "retention.ms" && c.Value != nil {
					got = *c.Value
				}
			}
			if got != tt.want {
				t.Errorf("retention.ms = %s, want %s", got, tt.want)
			}
			warnings := strings.Count(logs.String(), "level=WARN")
			switch {
			case tt.warn == "" && warnings > 0:
				t.Errorf("warned:\n%s", logs)
			case tt.warn != "" && (warnings != 1 || !strings.Contains(logs.String(), tt.warn)):
				t.Errorf("%d warnings, want one with %q:\n%s", warnings, tt.warn, logs)
			}
			if tt.denied && (denials != 1 || !strings.Contains(logs.String(), "level=DEBUG msg=\"retention not checked: no DescribeConfigs right on the topic\"")) {
				t.Errorf("%d denials, want 1 and a debug line saying the check was skipped:\n%s", denials, logs)
			}
		})
	}
}

// TestEnsureWaitsForTheBrokersOfItsReplicationFactor: a cluster still
// starting (fewer brokers registered than the replication factor) answers
// INVALID_REPLICATION_FACTOR; the producer waits for the rest rather than
// exiting, and creates the topic once they are there.
func TestEnsureWaitsForTheBrokersOfItsReplicationFactor(t *testing.T) {
	cluster := testkit.Cluster(t)
	adm := kadm.NewClient(testkit.Client(t, cluster))
	refusals := 0
	cluster.ControlKey(kmsg.CreateTopics.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if refusals == 2 {
			return nil, nil, false // the brokers are up: kfake creates it
		}
		refusals++
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		for _, rt := range req.(*kmsg.CreateTopicsRequest).Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic, st.ErrorCode = rt.Topic, kerr.InvalidReplicationFactor.Code
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	logs := new(testkit.Buffer)
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Ensure(ctx, log, adm, Spec{Name: "temperatures", Partitions: 4, ReplicationFactor: 1, RetentionMs: -1}, false); err != nil {
		t.Fatalf("Ensure: %v; log:\n%s", err, logs)
	}
	if refusals != 2 || !strings.Contains(logs.String(), "INVALID_REPLICATION_FACTOR") {
		t.Errorf("%d refusals, log:\n%s", refusals, logs)
	}
}
