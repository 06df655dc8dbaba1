// Package snapshot keeps each partition's state in Kafka too: a compacted
// topic beside the reports topic, one snapshot partition per reports
// partition, each record the partition's state at an offset with the log it
// belongs to. The stats at offset N are a pure function of the partition's
// first N offsets, so a snapshot is valid forever, whoever made it, and the
// newest one wins: a consumer restores from it on any node, whatever its own
// disk holds, and the dashboard follows the topic instead of a volume.
//
// A record: key = the partition ("0"), value =
//
//	{"topic": "temperatures", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 0,
//	 "state": {"offset": 6816, "StationB": {"count": 2170, …}}}
//
// where "state" is exactly the partition file (stats.Partition.MarshalJSON).
package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/stats"
)

// Topic is the snapshot topic of the reports topic: one home for the name.
func Topic(reports string) string { return reports + "-snapshots" }

// MaxBytes bounds a snapshot record: a partition file may be up to 64 MiB
// (checkpoint.MaxFileBytes), and compresses about fivefold (zstd). The
// topic's max.message.bytes and the clients' batch and fetch limits follow.
const MaxBytes = 16 << 20

// Snapshot is one partition's state with the log it belongs to.
type Snapshot struct {
	Log   stats.Log
	State *stats.Partition // State.Log points at Log
	// Offset is the record's offset in the snapshot topic and Time its
	// timestamp (when it was published); set by Decode's callers that read
	// it from Kafka.
	Offset int64
	Time   time.Time
}

// Key is the record key of partition p's snapshots: compaction keeps the
// newest per partition.
func Key(p int32) []byte { return strconv.AppendInt(nil, int64(p), 10) }

// Encode is the record value of state (a partition file's bytes, as
// checkpoint.Take makes them) of log.
func Encode(log stats.Log, state []byte) []byte {
	b := make([]byte, 0, len(state)+128)
	b = append(b, `{"topic": `...)
	b = strconv.AppendQuote(b, log.Topic) // topic names and IDs are ASCII: Go's quoting is JSON's
	b = append(b, `, "topic_id": `...)
	b = strconv.AppendQuote(b, log.TopicID)
	b = append(b, `, "partition": `...)
	b = strconv.AppendInt(b, int64(log.Partition), 10)
	b = append(b, `, "state": `...)
	b = append(b, bytes.TrimSpace(state)...)
	return append(b, "}\n"...)
}

// Record is partition log.Partition's snapshot record for topic (the
// snapshot topic), partitioned by hand (kgo.ManualPartitioner).
func Record(topic string, log stats.Log, state []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: log.Partition, Key: Key(log.Partition), Value: Encode(log, state)}
}

// Decode reads a record value written by Encode, checking it as strictly as
// a partition file is checked (stats.Parse): a snapshot that does not load
// is an error, never an empty state.
func Decode(value []byte) (*Snapshot, error) {
	var v struct {
		Topic     *string        `json:"topic"`
		TopicID   *string        `json:"topic_id"`
		Partition *int32         `json:"partition"`
		State     jsontext.Value `json:"state"`
	}
	if err := jsonv2.Unmarshal(value, &v, jsonv2.RejectUnknownMembers(true), jsontext.AllowDuplicateNames(false)); err != nil {
		return nil, fmt.Errorf("not a snapshot: %w", err)
	}
	if v.Topic == nil || *v.Topic == "" || v.TopicID == nil || v.Partition == nil || *v.Partition < 0 || len(v.State) == 0 {
		return nil, errors.New("not a snapshot: want topic, topic_id, partition >= 0 and state")
	}
	state, err := stats.Parse(v.State)
	if err != nil {
		return nil, fmt.Errorf("snapshot of partition %d: %w", *v.Partition, err)
	}
	s := &Snapshot{Log: stats.Log{Topic: *v.Topic, TopicID: *v.TopicID, Partition: *v.Partition}, State: state}
	if state.Log != nil && !state.Log.Is(s.Log) {
		return nil, fmt.Errorf("snapshot of %s holds a state of %s", s.Log, state.Log)
	}
	state.Log = &s.Log
	return s, nil
}

// FromRecord decodes a snapshot record read from Kafka, with its offset and
// time.
func FromRecord(r *kgo.Record) (*Snapshot, error) {
	s, err := Decode(r.Value)
	if err != nil {
		return nil, fmt.Errorf("%s partition %d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
	}
	if s.Log.Partition != r.Partition {
		return nil, fmt.Errorf("%s partition %d offset %d holds the snapshot of partition %d", r.Topic, r.Partition, r.Offset, s.Log.Partition)
	}
	s.Offset, s.Time = r.Offset, r.Timestamp
	return s, nil
}
