// Package follow follows the snapshot topic as a goka view follows its
// table: a consumer without a group reads every partition of
// <topic>-snapshots (services/common/snapshot) from a few records before
// its end, then follows it, and keeps each partition's newest snapshot —
// the highest state offset, of each log it meets. The stats consumers
// publish their written states there, so the dashboard needs no volume: it
// runs on any node, with replicas.
//
// Run is a goroutine of its own, feeding a map behind a mutex that the
// dashboard's refresh loop copies (Newest). A poll owned by the loop would
// cost freshness: franz-go fetches a partition again only once its buffered
// fetch is taken, so a snapshot published just after a refresh would wait
// in Kafka until one refresh took the fetch before it, and be shown one
// refresh later still. Taken as they come, snapshots are in the map within
// a fetch's round trip of their publication, and the next refresh shows
// them.
package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/dashboard/internal/view"
)

// Window is how many records before each partition's end the follower
// starts at: the newest snapshot is normally the last record, but a
// consumer that gave the partition up late may have written an older one
// after its successor's (snapshot.Latest reads as many).
const Window = 8

// maxLogs bounds the logs a partition's snapshots are kept of: the topic's
// current one, and the few met besides (a log the dashboard does not know
// yet — the topic just recreated — or a stray writer's).
const maxLogs = 4

// ClientOpts are what the follower's client needs: room in a fetch for the
// largest snapshot record (snapshot.MaxBytes; Kafka returns a partition's
// first batch whole even when larger, so these bound memory, never
// progress); a long poll of a second, not five, so that partitions added
// join the next fetch soon (a fetch in flight is not cut short for them);
// and a position no longer in the log (records deleted under it) moved to
// the log's start. The client must be the follower's own: its fetches
// long-poll on the connection raw fetches would take (the dashboard's
// logread).
func ClientOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.FetchMaxBytes(snapshot.MaxBytes),
		kgo.FetchMaxPartitionBytes(snapshot.MaxBytes),
		kgo.FetchMaxWait(time.Second),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

// Follower follows one reports topic's snapshot topic.
type Follower struct {
	client  *kgo.Client
	adm     *kadm.Client
	topic   string        // the snapshot topic
	every   time.Duration // how often the topic is looked at: it appears, grows, is recreated
	log     *slog.Logger
	records prometheus.Counter

	// Run's own.
	id         kadm.TopicID // the snapshot topic's, while consuming
	partitions int32        // partitions consumed: 0 … partitions-1
	lookSoon   bool         // a fetch said the topic is gone or recreated
	lookErr    bool         // the last look failed (logged once)

	mu       sync.Mutex
	changed  chan struct{}   // closed (and replaced) when held, catchUp or looked change
	looked   bool            // the topic was looked at once, or a refresh stopped waiting for it
	catchUp  map[int32]int64 // partitions still reading up to the end they had when added
	held     map[int32]*partition
	retired  map[string]bool // topic IDs of logs forgotten (the reports topic recreated since)
	failed   error           // a refusal (an ACL): retrying cannot change it
	finished bool            // Run has returned
}

// partition is what is held of one snapshot partition.
type partition struct {
	newest map[logKey]*snapshot.Snapshot // per log, the snapshot of the highest state offset
	bad    *badRecord                    // the partition's newest record, when it does not load
}

type logKey struct{ topic, id string }

// badRecord is a record that does not load as a snapshot.
type badRecord struct {
	Time time.Time // its timestamp
	Err  error     // why, naming the record (topic, partition, offset)
}

// New returns a follower of reports' snapshot topic through client (made
// with ClientOpts, used by no one else), looking at the topic every every;
// records counts the records read. Run runs it.
func New(client *kgo.Client, reports string, every time.Duration, log *slog.Logger, records prometheus.Counter) *Follower {
	return &Follower{
		client: client, adm: kadm.NewClient(client), topic: snapshot.Topic(reports), every: every, log: log, records: records,
		changed: make(chan struct{}), catchUp: map[int32]int64{}, held: map[int32]*partition{}, retired: map[string]bool{},
	}
}

// Topic is the snapshot topic followed.
func (f *Follower) Topic() string { return f.topic }

// Run follows the topic until ctx ends or Kafka refuses the dashboard a
// right it needs (Newest then returns the refusal). A topic that does not
// exist yet is looked for again every interval, quietly: until a consumer
// creates it, every partition is unread.
func (f *Follower) Run(ctx context.Context) {
	defer func() {
		f.mu.Lock()
		f.finished = true
		f.signal()
		f.mu.Unlock()
	}()
	for ctx.Err() == nil {
		if err := f.look(ctx); err != nil {
			f.fail(err)
			return
		}
		next := time.Now().Add(f.every)
		for f.lookSoon = false; !f.lookSoon && time.Now().Before(next); {
			poll, cancel := context.WithDeadline(ctx, next)
			fetches := f.client.PollFetches(poll)
			cancel()
			if fetches.IsClientClosed() || ctx.Err() != nil {
				return
			}
			if err := f.take(fetches); err != nil {
				f.fail(err)
				return
			}
		}
	}
}

// look describes the topic and consumes what is new of it: every partition
// when it first appears (or reappears, recreated), the partitions it gained.
// It returns a refusal only; other failures are logged once and looked at
// again next time.
func (f *Follower) look(ctx context.Context) error {
	t, err := kafkaadmin.Lookup(ctx, f.adm, f.topic)
	switch {
	case errors.Is(err, kafkaadmin.ErrNoTopic):
		if f.partitions > 0 {
			f.log.Warn("the snapshot topic was deleted: its snapshots are forgotten", "topic", f.topic)
			f.forgetTopic()
		}
		f.lookedOnce()
		return nil
	case kafkaconfig.Permanent(err):
		return fmt.Errorf("follow the snapshot topic %s: %w", f.topic, err)
	case err != nil:
		if !f.lookErr && ctx.Err() == nil {
			f.log.Warn("cannot look at the snapshot topic; trying again", "topic", f.topic, "err", err)
			f.lookErr = true
		}
		return nil
	}
	if f.lookErr {
		f.log.Info("the snapshot topic can be looked at again", "topic", f.topic)
		f.lookErr = false
	}
	if f.partitions > 0 && t.RawID != f.id {
		f.log.Warn("the snapshot topic was recreated: the old topic's snapshots are forgotten", "topic", f.topic,
			"topic_id", t.ID(), "was", kafkaadmin.TopicID(f.id))
		f.forgetTopic()
	}
	if int32(t.Partitions) > f.partitions {
		if err := f.consume(ctx, t); err != nil {
			if kafkaconfig.Permanent(err) {
				return fmt.Errorf("follow the snapshot topic %s: %w", f.topic, err)
			}
			if ctx.Err() == nil {
				f.log.Warn("cannot start following the snapshot topic's partitions; trying again", "topic", f.topic, "err", err)
			}
			return nil
		}
	}
	f.lookedOnce()
	return nil
}

// consume starts consuming t's partitions from f.partitions on, each from
// Window records before its end, and notes the end each must be read up to
// before the dashboard's view catches up with it.
func (f *Follower) consume(ctx context.Context, t kafkaadmin.Topic) error {
	starts, err := kafkaadmin.StartOffsets(ctx, f.adm, f.topic)
	if err != nil {
		return err
	}
	ends, err := kafkaadmin.EndOffsets(ctx, f.adm, f.topic)
	if err != nil {
		return err
	}
	from := map[int32]kgo.Offset{}
	f.mu.Lock()
	for p := f.partitions; p < int32(t.Partitions); p++ {
		at := max(starts[p], ends[p]-Window)
		from[p] = kgo.NewOffset().At(at)
		if ends[p] > at {
			f.catchUp[p] = ends[p]
		}
	}
	f.signal()
	f.mu.Unlock()
	f.client.AddConsumePartitions(map[string]map[int32]kgo.Offset{f.topic: from})
	f.log.Info("following the snapshot topic", "topic", f.topic, "partitions", slices.Sorted(maps.Keys(from)), "topic_id", t.ID())
	f.id, f.partitions = t.RawID, int32(t.Partitions)
	return nil
}

// forgetTopic stops consuming the topic and forgets what was read of it:
// the topic is gone, or another topic of its name replaced it.
func (f *Follower) forgetTopic() {
	f.client.PurgeTopicsFromClient(f.topic)
	f.id, f.partitions = kadm.TopicID{}, 0
	f.mu.Lock()
	f.held, f.catchUp = map[int32]*partition{}, map[int32]int64{}
	f.signal()
	f.mu.Unlock()
}

// take keeps what fetches bring, and returns a refusal among their errors.
func (f *Follower) take(fetches kgo.Fetches) error {
	var refused error
	fetches.EachError(func(topic string, p int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		case kafkaconfig.Permanent(err):
			refused = fmt.Errorf("follow the snapshot topic %s partition %d: %w", topic, p, err)
		case errors.Is(err, kerr.UnknownTopicID), errors.Is(err, kerr.UnknownTopicOrPartition):
			f.lookSoon = true // deleted, or recreated: look
		default:
			f.log.Debug("fetch error; the client retries", "topic", topic, "partition", p, "err", err)
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		if r.Topic == f.topic {
			f.add(r)
		}
	})
	return refused
}

// add keeps record r if it is its log's newest snapshot so far, or notes
// that it does not load.
func (f *Follower) add(r *kgo.Record) {
	if f.records != nil {
		f.records.Inc()
	}
	s, err := snapshot.FromRecord(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.signal()
	if end, ok := f.catchUp[r.Partition]; ok && r.Offset+1 >= end {
		delete(f.catchUp, r.Partition)
	}
	part := f.held[r.Partition]
	if part == nil {
		part = &partition{newest: map[logKey]*snapshot.Snapshot{}}
		f.held[r.Partition] = part
	}
	if err != nil {
		part.bad = &badRecord{Time: r.Timestamp, Err: err}
		return
	}
	part.bad = nil // the partition's newest record loads again
	if f.retired[s.Log.TopicID] {
		return // of a log the reports topic no longer is
	}
	key := logKey{s.Log.Topic, s.Log.TopicID}
	// The newest wins; of two at one offset (equal, unless forged), the later.
	if held := part.newest[key]; held != nil && s.State.Offset < held.State.Offset {
		return
	}
	part.newest[key] = s
	for len(part.newest) > maxLogs { // the log written to longest ago goes
		oldest := key
		for k, s := range part.newest {
			if s.Offset < part.newest[oldest].Offset {
				oldest = k
			}
		}
		delete(part.newest, oldest)
	}
}

// Forget drops the snapshots of the reports topic's log topicID, and every
// one of it read from now on: the topic was recreated.
func (f *Follower) Forget(topicID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.retired[topicID] = true
	for _, part := range f.held {
		for k := range part.newest {
			if k.id == topicID {
				delete(part.newest, k)
			}
		}
	}
}

// Newest is what the follower holds now. At its start, and when it starts
// on new partitions, it waits — until ctx ends at the latest — for them to
// be read up to the end they had: the view is then never one of partitions
// "unread" for a moment only because their snapshots were still on their
// way. The error is a refusal: the follower stopped.
func (f *Follower) Newest(ctx context.Context) (Held, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.finished && (!f.looked || len(f.catchUp) > 0) {
		changed := f.changed
		f.mu.Unlock()
		select {
		case <-changed:
			f.mu.Lock()
		case <-ctx.Done():
			f.mu.Lock()
			// Not again at the next refresh: what has not come by now
			// shows as it comes.
			f.looked, f.catchUp = true, map[int32]int64{}
		}
	}
	h := Held{}
	for p, part := range f.held {
		h[p] = partition{newest: maps.Clone(part.newest), bad: part.bad}
	}
	return h, f.failed
}

func (f *Follower) lookedOnce() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.looked {
		f.looked = true
		f.signal()
	}
}

func (f *Follower) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = err
	f.signal()
}

// signal wakes whoever waits for a change; f.mu held.
func (f *Follower) signal() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Held is the follower's snapshots at one moment: per snapshot partition,
// the newest of each log, or that its newest record does not load.
type Held map[int32]partition

// Of is, per partition, the newest snapshot of the reports topic's log
// (topic, topicID), or the error of a newest record that does not load. A
// partition with neither (nothing read, or only snapshots of other logs)
// is left out: unread.
func (h Held) Of(topic, topicID string) []view.Snapshot {
	var out []view.Snapshot
	for _, p := range slices.Sorted(maps.Keys(h)) {
		part := h[p]
		if part.bad != nil {
			out = append(out, view.Snapshot{Partition: p, Time: part.bad.Time, Err: part.bad.Err})
			continue
		}
		if s := part.newest[logKey{topic, topicID}]; s != nil {
			out = append(out, view.Snapshot{Partition: p, State: s.State, Time: s.Time})
		}
	}
	return out
}

// Offsets are the state offsets of Of's snapshots.
func (h Held) Offsets(topic, topicID string) map[int32]int64 {
	m := map[int32]int64{}
	for _, s := range h.Of(topic, topicID) {
		if s.State != nil {
			m[s.Partition] = s.State.Offset
		}
	}
	return m
}
