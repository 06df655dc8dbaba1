// Package kafkalog asks Kafka what the dashboard shows next to the
// snapshots: the topic's identity, each partition's last stable offset, the
// time of the newest report a snapshot counts, and the latest reports of every station from
// a bounded window at each partition's end — all read committed, all
// through exact reads (logread), so no consumer group and no unbounded
// buffer is involved.
package kafkalog

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

// newestWindow is how far back from a snapshot's offset the newest counted
// report is looked for: the offsets just before it are often transaction
// markers.
const newestWindow = 16

// Reader reads one topic's facts. Not safe for concurrent use: one refresh
// loop owns it.
type Reader struct {
	client     *kgo.Client
	adm        *kadm.Client
	topic      string
	tail       int64 // records read at each partition's end; 0: none
	perStation int   // latest reports kept per station

	logs    *logread.Reader // of the topic as last described; nil until it exists
	newest  map[int32]newest
	windows map[int32]window
}

type newest struct {
	offset int64 // the snapshot's offset it was looked up for
	at     time.Time
	found  bool
}

type window struct {
	end    int64 // the stable offset it was read up to
	latest map[string][]view.Reading
}

// New returns a reader of topic through client; tail and perStation size
// the window of latest reports (tail 0: none).
func New(client *kgo.Client, topic string, tail, perStation int) *Reader {
	return &Reader{
		client: client, adm: kadm.NewClient(client), topic: topic, tail: int64(tail), perStation: perStation,
		newest: map[int32]newest{}, windows: map[int32]window{},
	}
}

// Read returns what Kafka says now. offsets gives, for the topic's ID as
// Kafka says it now, the offsets of the states shown of that log (taken
// just before), for which the newest counted report is looked up. Any
// failure is the Log's Err, with nothing else filled in: a view shows Kafka
// as unreachable rather than half of its facts.
func (r *Reader) Read(ctx context.Context, offsets func(topicID string) map[int32]int64) view.Log {
	log := view.Log{Topic: r.topic}
	if err := r.read(ctx, offsets, &log); err != nil {
		return view.Log{Topic: r.topic, Err: err}
	}
	return log
}

func (r *Reader) read(ctx context.Context, offsetsOf func(string) map[int32]int64, log *view.Log) error {
	t, err := kafkaadmin.Lookup(ctx, r.adm, r.topic)
	if err != nil {
		return err
	}
	if r.logs == nil || r.logs.Topic().RawID != t.RawID {
		// First sight of the topic, or it was recreated: forget the old log.
		if r.logs, err = logread.New(ctx, r.client, r.topic); err != nil {
			return err
		}
		r.newest, r.windows = map[int32]newest{}, map[int32]window{}
	}
	log.TopicID, log.Partitions = t.ID(), t.Partitions
	offsets := offsetsOf(log.TopicID)
	if log.StableOffsets, err = kafkaadmin.StableOffsets(ctx, r.adm, r.topic); err != nil {
		return err
	}
	starts, err := kafkaadmin.StartOffsets(ctx, r.adm, r.topic)
	if err != nil {
		return err
	}
	log.StartOffsets = starts
	log.NewestReport = map[int32]time.Time{}
	for p, off := range offsets {
		if end, ok := log.StableOffsets[p]; !ok || off > end || off < starts[p] {
			// Not a partition of this topic, or an offset not in its log
			// (a state of another log): the view says so on that row, and
			// the other partitions keep their facts.
			continue
		}
		n, err := r.newestBefore(ctx, p, max(starts[p], off-newestWindow), off)
		if err != nil {
			return err
		}
		if n.found {
			log.NewestReport[p] = n.at
		}
	}
	if r.tail == 0 {
		return nil
	}
	log.Latest = map[string][]view.Reading{}
	for _, p := range slices.Sorted(maps.Keys(log.StableOffsets)) {
		w, err := r.window(ctx, p, starts[p], log.StableOffsets[p])
		if err != nil {
			return err
		}
		for station, rs := range w.latest {
			log.Latest[station] = append(log.Latest[station], rs...)
		}
	}
	return nil
}

// newestBefore is the timestamp of the last committed record in [from, to),
// looked up once per offset.
func (r *Reader) newestBefore(ctx context.Context, p int32, from, to int64) (newest, error) {
	if n, ok := r.newest[p]; ok && n.offset == to {
		return n, nil
	}
	n := newest{offset: to}
	err := r.logs.Read(ctx, p, from, to, true, func(rec *kgo.Record) {
		if rec.Attrs.IsControl() {
			return
		}
		n.at, n.found = rec.Timestamp, true
	})
	if err != nil {
		return newest{}, err
	}
	r.newest[p] = n
	return n, nil
}

// window is partition p's latest reports per station among its last tail
// committed records before end, read again only when end moved.
func (r *Reader) window(ctx context.Context, p int32, start, end int64) (window, error) {
	if w, ok := r.windows[p]; ok && w.end == end {
		return w, nil
	}
	w := window{end: end, latest: map[string][]view.Reading{}}
	var parser codec.Parser
	err := r.logs.Read(ctx, p, max(start, end-r.tail), end, true, func(rec *kgo.Record) {
		if rec.Attrs.IsControl() {
			return
		}
		f, err := parser.Parse(rec.Key, rec.Value)
		if err != nil {
			return // not a report: the consumers count it as skipped
		}
		rs := append(w.latest[string(f.StationID)], view.Reading{Date: string(f.Date), Degrees: f.Degrees})
		if len(rs) > r.perStation {
			rs = rs[len(rs)-r.perStation:]
		}
		w.latest[string(f.StationID)] = rs
	})
	if err != nil {
		return window{}, err
	}
	r.windows[p] = w
	return w, nil
}
