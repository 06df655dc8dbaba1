package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/streamid"
)

// writeForeign puts a report in partition p as another program would: a
// plain produce, not a transaction.
func writeForeign(t *testing.T, topic string, p int32, index int64, headers []kgo.RecordHeader) {
	t.Helper()
	r := generator.New(1).Report(index)
	v, err := codec.Encode(nil, r)
	if err != nil {
		t.Fatal(err)
	}
	w := newClient(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	rec := &kgo.Record{Partition: p, Key: []byte(r.StationId), Value: v, Headers: headers}
	if err := w.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// The producer trusts only its own stream. Another writer's valid report,
// dated a hundred years after the stream's head, at one partition's tail,
// and a copy of an old report (its stream marks and all) at the tail of the
// partition that holds the stream's last report: a restart continues right
// after the stream's own last report, with no gap and no duplicate.
func TestProducerResumesFromItsOwnStreamWhateverElseIsInTheTopic(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 1000)                 // the last report, 999, is StationJ: partition 1
	writeForeign(t, topic, 0, 365_251, nil) // StationB, 2100-01-01
	writeForeign(t, topic, 1, 499, streamid.ID{Producer: "weather-producer", Seed: 1}.Headers())

	p := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=0", "COUNT=2000"})
	if code := p.wait(time.Minute); code != 0 {
		t.Fatalf("producer exited %d:\n%s", code, tail(p.stderr.String(), 5))
	}
	if !strings.Contains(p.stderr.String(), "from_index=1000") {
		t.Errorf("producer did not resume at 1000:\n%s", tail(p.stderr.String(), 5))
	}
	if foreign := checkStream(t, brokers, topic, 2000, seedOne); foreign != 2 {
		t.Errorf("%d foreign records, want the 2 written outside a transaction", foreign)
	}
}

// One topic carries one stream. A second producer with another
// TRANSACTIONAL_ID fails clearly and writes nothing; told to take the stream
// over (STREAM_TAKEOVER), it fences the first and continues its stream.
func TestSecondProducerOfATopicFailsClearly(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 2000)
	before := endOffsets(t, topic)
	second := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=0", "COUNT=4000", "TRANSACTIONAL_ID=second-producer"})
	if code := second.wait(time.Minute); code != 1 {
		t.Fatalf("second producer exited %d, want 1", code)
	}
	for _, want := range []string{"written by TRANSACTIONAL_ID=weather-producer", "this producer is TRANSACTIONAL_ID=second-producer", "STREAM_TAKEOVER=true"} {
		if !strings.Contains(second.stderr.String(), want) {
			t.Errorf("error lacks %q:\n%s", want, tail(second.stderr.String(), 3))
		}
	}
	if after := endOffsets(t, topic); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the refused producer wrote: end offsets %v, were %v", after, before)
	}

	produce(t, topic, 4000, "TRANSACTIONAL_ID=second-producer", "STREAM_TAKEOVER=true")
	checkStream(t, brokers, topic, 4000, seedOne)
	// The first producer, started again, refuses the stream now the
	// second's.
	first := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=0", "COUNT=5000"})
	if code := first.wait(time.Minute); code != 1 || !strings.Contains(first.stderr.String(), "written by TRANSACTIONAL_ID=second-producer") {
		t.Errorf("first producer exited %d:\n%s", code, tail(first.stderr.String(), 3))
	}
}

// Two producers with different TRANSACTIONAL_IDs started together on an
// empty topic: at least one stops with a clear error, and the topic never
// holds a report twice.
func TestTwoProducersStartedTogetherNeverDuplicateTheStream(t *testing.T) {
	topic := newTopic(t)
	env := []string{"TOPIC=" + topic, "INTERVAL=50us", "COUNT=20000", "TXN_MAX_RECORDS=500"}
	a := start(t, "producer", append(env, "TRANSACTIONAL_ID=producer-a"))
	b := start(t, "producer", append(env, "TRANSACTIONAL_ID=producer-b"))
	codes := []int{a.wait(2 * time.Minute), b.wait(2 * time.Minute)}
	failed := 0
	for i, p := range []*proc{a, b} {
		if codes[i] == 0 {
			continue
		}
		failed++
		msg := p.stderr.String()
		if !strings.Contains(msg, "another producer writes this topic") && !strings.Contains(msg, "not this producer's") &&
			!strings.Contains(msg, "transaction open") {
			t.Errorf("%s exited %d without saying why:\n%s", []string{"a", "b"}[i], codes[i], tail(msg, 3))
		}
	}
	if failed == 0 {
		t.Fatal("both producers wrote the topic to the end")
	}
	// Whatever each committed, nothing twice: the surviving stream, taken
	// to the end, is exactly the stream.
	produce(t, topic, 20000, "TRANSACTIONAL_ID=producer-a", "STREAM_TAKEOVER=true")
	checkStream(t, brokers, topic, 20000, seedOne)
	t.Logf("exit codes a=%d b=%d", codes[0], codes[1])
}

// A producer whose SEED, or partition count, differs from the stream in the
// topic fails clearly and writes nothing, unless told to go on.
func TestProducerOfAnotherSeedOrPartitionCountFailsClearly(t *testing.T) {
	topic := newTopic(t)
	produce(t, topic, 1000)
	before := endOffsets(t, topic)
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{[]string{"SEED=2"}, "its SEED is 1, this producer's is 2"},
		{[]string{"TOPIC_PARTITIONS=8"}, "has 4 partitions, TOPIC_PARTITIONS is 8"},
	} {
		p := start(t, "producer", append([]string{"TOPIC=" + topic, "INTERVAL=0", "COUNT=2000"}, tt.env...))
		if code := p.wait(time.Minute); code != 1 || !strings.Contains(p.stderr.String(), tt.want) {
			t.Errorf("%v: exited %d, want 1 with %q:\n%s", tt.env, code, tt.want, tail(p.stderr.String(), 3))
		}
	}
	if after := endOffsets(t, topic); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused producer wrote: end offsets %v, were %v", after, before)
	}
	produce(t, topic, 2000, "SEED=2", "STREAM_TAKEOVER=true")
	checkStream(t, brokers, topic, 2000, func(i int64) uint64 {
		if i < 1000 {
			return 1
		}
		return 2
	})
}
