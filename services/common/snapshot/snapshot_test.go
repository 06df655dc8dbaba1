package snapshot

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/common/stats"
	"github.com/weatherstream/weather/services/common/testkit"
)

var log0 = stats.Log{Topic: "temperatures", TopicID: "3cTCaKIJSUe4hC7pAuO_bA", Partition: 0}

func state(t *testing.T, offset int64) []byte {
	t.Helper()
	p := stats.New(offset)
	if offset > 0 {
		if err := p.Add([]byte("StationB"), []byte("2000-01-01"), 1.5); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeDecode(t *testing.T) {
	value := Encode(log0, state(t, 7))
	want := `{"topic": "temperatures", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 0, "state": {
  "offset": 7,
  "StationB": {"count": 1, "sum": 1.5, "avg": 1.5, "start": "2000-01-01", "end": "2000-01-01"}
}}
`
	if string(value) != want {
		t.Fatalf("Encode =\n%s\nwant\n%s", value, want)
	}
	s, err := Decode(value)
	if err != nil || s.Log != log0 || s.State.Offset != 7 || s.State.Log == nil || *s.State.Log != log0 || s.State.Stations["StationB"].Count != 1 {
		t.Fatalf("Decode = %+v, %v", s, err)
	}
	for _, tc := range []struct{ name, value, err string }{
		{"not JSON", `{`, "not a snapshot"},
		{"no state", `{"topic": "t", "topic_id": "", "partition": 0}`, "want topic, topic_id, partition >= 0 and state"},
		{"a field twice", `{"topic": "t", "topic": "u", "topic_id": "", "partition": 0, "state": {"offset": 0}}`, "not a snapshot"},
		{"an unknown field", `{"topic": "t", "topic_id": "", "partition": 0, "state": {"offset": 0}, "x": 1}`, "not a snapshot"},
		{"a state that does not load", `{"topic": "t", "topic_id": "", "partition": 0, "state": {"offset": -1}}`, `"offset" is -1`},
		{"a state of another log", `{"topic": "t", "topic_id": "", "partition": 0, "state": {"offset": 0, "log": {"topic": "u", "topic_id": "", "partition": 0}}}`, "holds a state of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Decode([]byte(tc.value)); err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Decode = %+v, %v; want %q", s, err, tc.err)
			}
		})
	}
}

// Ensure makes the compacted topic with the reports topic's partitions, and
// adds the partitions the reports topic gained.
func TestEnsureMakesACompactedTopicOfAsManyPartitions(t *testing.T) {
	c := testkit.Cluster(t)
	adm := kadm.NewClient(testkit.Client(t, c))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	for _, partitions := range []int{4, 4, 6} { // made, kept, grown
		if err := Ensure(ctx, log, adm, kafkaadmin.Topic{Name: "temperatures", Partitions: partitions, ReplicationFactor: 1}); err != nil {
			t.Fatal(err)
		}
		got, err := kafkaadmin.Describe(ctx, adm, Topic("temperatures"))
		if err != nil || got.Partitions != partitions {
			t.Fatalf("snapshot topic: %+v, %v; want %d partitions", got, err, partitions)
		}
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, Topic("temperatures"))
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := rcs.On(Topic("temperatures"), nil)
	for _, cfg := range rc.Configs {
		if cfg.Key == "cleanup.policy" && (cfg.Value == nil || *cfg.Value != "compact") {
			t.Errorf("cleanup.policy %v, want compact", cfg.MaybeValue())
		}
	}
}

// Latest is the newest snapshot of the log among the partition's last
// records: an older one written after it (a late predecessor) and one of
// another log (the topic before it was recreated) are passed over.
func TestLatestIsTheNewestOfTheLog(t *testing.T) {
	c := testkit.Cluster(t, kfake.SeedTopics(2, Topic("temperatures")))
	cl := testkit.Client(t, c, ClientOpts()...)
	ctx := context.Background()
	reader, err := logread.New(ctx, cl, Topic("temperatures"))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	if s, err := Latest(ctx, adm, reader, log0); s != nil || err != nil {
		t.Fatalf("Latest of nothing = %v, %v", s, err)
	}
	other := log0
	other.TopicID = "AAAAAAAAAAAAAAAAAAAAAg"
	for _, r := range []*kgo.Record{
		Record(Topic("temperatures"), log0, state(t, 10)),
		Record(Topic("temperatures"), log0, state(t, 30)),
		Record(Topic("temperatures"), log0, state(t, 20)), // late: older, written after
		Record(Topic("temperatures"), other, state(t, 99)),
	} {
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Latest(ctx, adm, reader, log0)
	if err != nil || s == nil || s.State.Offset != 30 || s.Offset != 1 {
		t.Fatalf("Latest = %+v, %v; want the state at 30 (record 1)", s, err)
	}
	log1 := log0
	log1.Partition = 1
	if s, err := Latest(ctx, adm, reader, log1); s != nil || err != nil {
		t.Fatalf("Latest of partition 1 = %v, %v; want none", s, err)
	}
}
