// Package view is what the dashboard shows: each partition's newest snapshot
// (its state as its consumer last published it), next to what Kafka says of
// the partition, and the stations merged over them. It is built from facts
// gathered elsewhere (the snapshot topic, the log) and knows no I/O, so
// every rule of what is shown is tested on plain values.
package view

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/weatherstream/weather/services/common/stats"
)

// Snapshot is one partition's newest snapshot, as the dashboard follows the
// snapshot topic: the state its consumer wrote to partition-N.json and then
// published.
type Snapshot struct {
	Partition int32
	State     *stats.Partition // with its log (State.Log); nil when Err is set
	Time      time.Time        // when it was published: the record's timestamp
	Err       error            // the partition's newest snapshot record does not load
}

// Log is what Kafka says of the topic at the time of a view. Err set means
// Kafka did not answer: the rest is empty.
type Log struct {
	Topic      string
	TopicID    string
	Partitions int
	// StableOffsets are the partitions' last stable offsets: where a read
	// committed reader's log ends.
	StableOffsets map[int32]int64
	// StartOffsets are where the partitions' logs start (retention).
	StartOffsets map[int32]int64
	// NewestReport is, per partition, the Kafka timestamp of the newest
	// record before the snapshot's offset (the newest report it counts).
	NewestReport map[int32]time.Time
	// Latest are the latest reports of each station, oldest first.
	Latest map[string][]Reading
	Err    error
}

// Reading is one daily maximum.
type Reading struct {
	Date    string  `json:"date"`
	Degrees float64 `json:"degrees"`
}

// View is one consistent picture, as the API serves it.
type View struct {
	Time       time.Time            `json:"time"`
	Topic      string               `json:"topic"`
	TopicID    string               `json:"topic_id"`
	KafkaError string               `json:"kafka_error,omitempty"`
	Complete   bool                 `json:"complete"`
	Stations   []Station            `json:"stations"`
	Partitions []Partition          `json:"partitions"`
	Unread     []int32              `json:"unread"`
	Latest     map[string][]Reading `json:"latest"`
}

// Station is one station merged over the partitions whose snapshots load.
// Count, Sum and Avg are null, with Error saying why, when its partitions'
// stats add up to more than an int64 or a float64 holds (two snapshots,
// each valid, of a station written to two partitions on purpose): a view always
// encodes, and never shows a wrapped count or an infinite sum as a number.
type Station struct {
	Station    string   `json:"station"`
	Count      *int64   `json:"count"`
	Sum        *float64 `json:"sum"`
	Avg        *float64 `json:"avg"`
	Start      string   `json:"start"`
	End        string   `json:"end"`
	Partitions []int32  `json:"partitions"`
	Error      string   `json:"error,omitempty"`
}

// The states of a partition row.
const (
	StateOK     = "ok"     // its snapshot loads and fits the topic's log
	StateError  = "error"  // its newest snapshot does not load, or does not fit the log
	StateUnread = "unread" // a partition of the topic without a snapshot of its log
)

// Partition is one row of the partitions table. CheckpointAgeSeconds is
// the age of its snapshot (the time since it was published).
type Partition struct {
	Partition              int32      `json:"partition"`
	State                  string     `json:"state"`
	Error                  string     `json:"error,omitempty"`
	Offset                 *int64     `json:"offset"`
	LogEnd                 *int64     `json:"log_end"`
	Lag                    *int64     `json:"lag"`
	CheckpointAgeSeconds   *float64   `json:"checkpoint_age_seconds"`
	NewestReportAgeSeconds *float64   `json:"newest_report_age_seconds"`
	Log                    *stats.Log `json:"log"`
	Stations               int        `json:"stations"`
}

// Build makes the view at now of topic's snapshots and log. The snapshots
// must have been taken before the log was asked, so that none is newer than
// the offsets it is compared with (a lag is never below zero).
func Build(now time.Time, topic string, snaps []Snapshot, log Log) View {
	v := View{Time: now.UTC(), Topic: topic, TopicID: log.TopicID, Complete: true, Latest: log.Latest, Unread: []int32{}}
	if v.Latest == nil {
		v.Latest = map[string][]Reading{}
	}
	if log.Err != nil {
		v.KafkaError = log.Err.Error()
	}
	byPartition := map[int32]Snapshot{}
	for _, s := range snaps {
		byPartition[s.Partition] = s
	}
	for p := range int32(log.Partitions) {
		if _, ok := byPartition[p]; !ok {
			v.Unread = append(v.Unread, p)
			byPartition[p] = Snapshot{Partition: p}
		}
	}
	merged := map[string]*merging{}
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		f := byPartition[p]
		row := partitionRow(now, f, log)
		v.Partitions = append(v.Partitions, row)
		if row.State != StateOK {
			v.Complete = false
			continue
		}
		for name, s := range f.State.Stations {
			merge(merged, name, p, s)
		}
	}
	v.Stations = make([]Station, 0, len(merged))
	for _, name := range slices.Sorted(maps.Keys(merged)) {
		s := merged[name].station()
		if s.Error != "" {
			v.Complete = false
		}
		v.Stations = append(v.Stations, s)
	}
	return v
}

// partitionRow is snapshot f's row: its state and how far it is behind the log.
func partitionRow(now time.Time, f Snapshot, log Log) Partition {
	row := Partition{Partition: f.Partition}
	if !f.Time.IsZero() {
		row.CheckpointAgeSeconds = ptr(now.Sub(f.Time).Seconds())
	}
	end, known := log.StableOffsets[f.Partition]
	if known && log.Err == nil {
		row.LogEnd = ptr(end)
	}
	switch {
	case f.Err != nil:
		row.State, row.Error = StateError, f.Err.Error()
		return row
	case f.State == nil:
		row.State = StateUnread
		return row
	}
	row.Log = f.State.Log
	if err := belongs(f, log); err != nil {
		row.State, row.Error = StateError, err.Error()
		return row
	}
	if err := inLog(f, log); err != nil {
		row.State, row.Error = StateError, err.Error()
		return row
	}
	row.State = StateOK
	row.Offset = ptr(f.State.Offset)
	row.Stations = len(f.State.Stations)
	if row.LogEnd != nil {
		row.Lag = ptr(*row.LogEnd - f.State.Offset)
	}
	if t, ok := log.NewestReport[f.Partition]; ok {
		row.NewestReportAgeSeconds = ptr(now.Sub(t).Seconds())
	}
	return row
}

// belongs tells why snapshot f is not a state of the topic's log: of a
// partition the topic does not have, of another topic or partition, or of
// the topic before it was recreated. A state that does not say is taken as
// the topic's.
func belongs(f Snapshot, log Log) error {
	if log.Err == nil && log.Partitions > 0 && f.Partition >= int32(log.Partitions) {
		return fmt.Errorf("topic %s has %d partitions: there is no partition %d", log.Topic, log.Partitions, f.Partition)
	}
	l := f.State.Log
	if l == nil {
		return nil
	}
	want := stats.Log{Topic: l.Topic, TopicID: l.TopicID, Partition: f.Partition}
	if log.Err == nil {
		want.Topic, want.TopicID = cmp.Or(log.Topic, l.Topic), log.TopicID
	}
	if !l.Is(want) {
		return fmt.Errorf("the snapshot is of another log: %s, not %s", l, want)
	}
	return nil
}

// inLog tells why snapshot f's offset cannot be one of the log's: past its
// end (the broker lost records, or the snapshot is of another log), or
// below its start (retention deleted records it has not counted). Where
// Kafka did not say, nothing is told.
func inLog(f Snapshot, log Log) error {
	if log.Err != nil {
		return nil
	}
	if end, ok := log.StableOffsets[f.Partition]; ok && f.State.Offset > end {
		return fmt.Errorf("the snapshot's offset %d is past the log's end %d: the broker lost records, or the snapshot is of another log", f.State.Offset, end)
	}
	if start, ok := log.StartOffsets[f.Partition]; ok && f.State.Offset < start {
		return fmt.Errorf("the snapshot's offset %d is below the log's start %d: records it has not counted are deleted (retention)", f.State.Offset, start)
	}
	return nil
}

// merging is a station being merged over partitions.
type merging struct {
	Station
	count    int64
	sum      float64
	overflow bool
}

// merge adds partition p's stats of station name. A station is normally in
// one partition (the records are keyed by station); after the topic gained
// partitions it can be in two, and then its counts add up, its start is the
// earliest and its end the latest of its partitions'.
func merge(merged map[string]*merging, name string, p int32, s *stats.Station) {
	m, ok := merged[name]
	if !ok {
		merged[name] = &merging{Station: Station{Station: name, Start: s.Start.String(), End: s.End.String(), Partitions: []int32{p}}, count: s.Count, sum: s.Sum}
		return
	}
	m.overflow = m.overflow || s.Count > math.MaxInt64-m.count
	m.count += s.Count
	m.sum += s.Sum
	m.Start = min(m.Start, s.Start.String())
	m.End = max(m.End, s.End.String())
	m.Partitions = append(m.Partitions, p)
}

// station is the merged station, its numbers only where they hold.
func (m *merging) station() Station {
	s := m.Station
	if m.overflow || math.IsInf(m.sum, 0) || math.IsNaN(m.sum) {
		s.Error = fmt.Sprintf("its partitions' stats %v add up to more than a number holds: count, sum and avg are not shown", m.Partitions)
		return s
	}
	s.Count, s.Sum, s.Avg = ptr(m.count), ptr(m.sum), ptr(m.sum/float64(m.count))
	return s
}

func ptr[T any](v T) *T { return &v }
