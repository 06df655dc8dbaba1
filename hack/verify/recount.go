package verify

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/generator"
)

// Recount is what the topic holds below each file's offset.
type Recount struct {
	Stations map[int32]map[string]Station
	Records  map[int32]int64 // committed reports counted
	Skipped  map[int32]int64 // committed records that are not valid reports
	Controls map[int32]int64 // transaction markers
	Aborted  map[int32]int64 // records of aborted transactions (not counted)
	// At[p][n] are partition p's stats below offset n, for the offsets
	// asked for besides the files' (Stations[p] is At[p][upTo[p]]).
	At map[int32]map[int64]map[string]Station
	// Where the topic differs from the generated stream (first few).
	StreamErrors []string
}

// Report decodes a record as a consumer must accept it, by the documented
// rules and with the protobuf library itself: the value is a Report, the
// key is its station id, the date a real calendar date (YYYY-MM-DD), the
// degrees finite. Anything else is not a report and is not counted.
func Report(key, value []byte) (*reportpb.Report, error) {
	var r reportpb.Report
	if len(key) == 0 {
		return nil, fmt.Errorf("no key")
	}
	if err := proto.Unmarshal(value, &r); err != nil {
		return nil, err
	}
	if r.StationId != string(key) {
		return nil, fmt.Errorf("key %q, station_id %q", key, r.StationId)
	}
	if _, err := time.Parse(time.DateOnly, r.Date); err != nil || len(r.Date) != len(time.DateOnly) {
		return nil, fmt.Errorf("date %q is not YYYY-MM-DD", r.Date)
	}
	if math.IsNaN(r.Degrees) || math.IsInf(r.Degrees, 0) {
		return nil, fmt.Errorf("degrees %v", r.Degrees)
	}
	return &r, nil
}

// streamCheck holds a topic to the producer's stream: it notes in
// rc.StreamErrors (the first 10) each report that is not the next day of its
// station, or not the generator's report of that day.
type streamCheck struct {
	rc   *Recount
	gen  *generator.Generator
	want reportpb.Report
}

// check: report r at offset of partition p is its station's count-th.
func (c *streamCheck) check(p int32, r *reportpb.Report, offset int64, count int64) {
	if len(c.rc.StreamErrors) >= 10 {
		return
	}
	idx, err := generator.Index(r.Date, r.StationId)
	if err == nil {
		expected := (count-1)*generator.NumStations + idx%generator.NumStations // its day count-1
		if idx != expected {
			err = fmt.Errorf("report %d of %s is for %s, expected day %d (a gap or a duplicate)",
				count, r.StationId, r.Date, expected/generator.NumStations)
		} else if c.gen.Fill(idx, &c.want); c.want.Degrees != r.Degrees {
			err = fmt.Errorf("%s on %s: %v degrees, the stream has %v", r.StationId, r.Date, r.Degrees, c.want.Degrees)
		}
	}
	if err != nil {
		c.rc.StreamErrors = append(c.rc.StreamErrors, fmt.Sprintf("partition %d offset %d: %v", p, offset, err))
	}
}

// Count reads each partition of topic from offset 0 up to (not including)
// upTo[p] and folds every committed valid report into per-station stats in
// offset order: what a correct consumer that never lost or repeated a record
// must have stored. The counts (Records, Skipped, Controls, Aborted) are of
// the records below upTo[p]. opts are the client's connection options (seed
// brokers, dialer, TLS).
//
// Which records are committed it decides itself, from the log: it reads
// uncommitted, holds each transactional record until its producer's next
// marker, and counts it if that marker is a commit. The broker's read
// committed path (its aborted-transactions index, the fetch limits) is not
// trusted: an embedded broker once handed aborted records to read committed
// readers (services/common/embeddedkafka), and a check that read the same
// way would have agreed with them.
//
// For every map in also (offsets of the same kind as a file's: one past a
// record a read-committed reader receives, e.g. what the dashboard shows),
// it keeps the stats below those offsets too, in At; the partitions are read
// as far as the highest of them.
//
// It also checks the topic itself against the producer's stream (seed):
// each station's reports, in offset order, must be the generator's reports
// of that station for day 0, 1, 2, ... with nothing missing or repeated,
// across every producer and broker restart.
func Count(ctx context.Context, opts []kgo.Opt, topic string, upTo map[int32]int64, seed uint64, also ...map[int32]int64) (*Recount, error) {
	c := newRecounter(upTo, seed, also)
	from := c.start()
	if len(from) == 0 {
		return c.result(), nil
	}
	cl, err := kgo.NewClient(append(slices.Clip(opts),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	if err := c.read(ctx, cl, from); err != nil {
		return nil, err
	}
	return c.result(), nil
}

// recounter is one Count in progress.
type recounter struct {
	rc     *Recount
	upTo   map[int32]int64
	stream streamCheck
	// cuts[p]: the offsets below which partition p's stats are kept, in
	// order; a partition is read until the last one is passed.
	cuts map[int32][]int64
	// current[p]: partition p's stats below the last record folded.
	current map[int32]map[string]Station
}

func newRecounter(upTo map[int32]int64, seed uint64, also []map[int32]int64) *recounter {
	rc := &Recount{
		Stations: map[int32]map[string]Station{},
		Records:  map[int32]int64{}, Skipped: map[int32]int64{}, Controls: map[int32]int64{}, Aborted: map[int32]int64{},
		At: map[int32]map[int64]map[string]Station{},
	}
	cuts := map[int32][]int64{}
	for _, m := range append([]map[int32]int64{upTo}, also...) {
		for p, n := range m {
			cuts[p] = append(cuts[p], n)
		}
	}
	for p := range cuts {
		cuts[p] = slices.Compact(slices.Sorted(slices.Values(cuts[p])))
	}
	return &recounter{rc: rc, upTo: upTo, stream: streamCheck{rc: rc, gen: generator.New(seed)}, cuts: cuts, current: map[int32]map[string]Station{}}
}

// start keeps the cuts at offset 0 (nothing read is below them) and
// returns where to read the partitions that have cuts left: from offset 0.
func (c *recounter) start() map[int32]kgo.Offset {
	from := map[int32]kgo.Offset{}
	for p := range c.cuts {
		c.current[p], c.rc.At[p] = map[string]Station{}, map[int64]map[string]Station{}
		if c.cut(p, 0); len(c.cuts[p]) > 0 {
			from[p] = kgo.NewOffset().At(0)
		}
	}
	return from
}

// result is the recount, with each partition's stats below upTo.
func (c *recounter) result() *Recount {
	for p, n := range c.upTo {
		c.rc.Stations[p] = c.rc.At[p][n]
	}
	return c.rc
}

// cut keeps the stats of every pending cut of partition p at or below
// offset: all that was read so far is below it.
func (c *recounter) cut(p int32, offset int64) {
	for len(c.cuts[p]) > 0 && c.cuts[p][0] <= offset {
		c.rc.At[p][c.cuts[p][0]] = maps.Clone(c.current[p])
		c.cuts[p] = c.cuts[p][1:]
	}
}

// read polls the partitions in from until each one's last cut is passed.
// A file's offset is one past a record its consumer received (a report or
// a marker), so reading is done for partition p once its highest cut is
// passed: every record below it read and decided.
func (c *recounter) read(ctx context.Context, cl *kgo.Client, from map[int32]kgo.Offset) error {
	txns := map[int32]*transactions{}
	for p := range from {
		txns[p] = &transactions{open: map[int64][]int{}}
	}
	pending := len(from)
	for pending > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("recount: %d partition(s) not read up to the files' offsets (%s): %w", pending, c.stuck(txns), err)
		}
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("partition %d: %w", p, err) })
		if ferr != nil {
			return ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if c.take(txns[r.Partition], r) {
				pending--
			}
		})
	}
	return nil
}

// stuck says, sorted by partition, what each partition not read far enough
// waits for.
func (c *recounter) stuck(txns map[int32]*transactions) string {
	var stuck []string
	for p, t := range txns {
		if len(c.cuts[p]) > 0 {
			stuck = append(stuck, t.why(p, c.cuts[p][len(c.cuts[p])-1]))
		}
	}
	slices.Sort(stuck)
	return strings.Join(stuck, "; ")
}

// take reads record r (t: its partition's transactions) and folds the
// records that decides; it reports whether that read the partition far
// enough: its last cut passed.
func (c *recounter) take(t *transactions, r *kgo.Record) bool {
	p := r.Partition
	if len(c.cuts[p]) == 0 {
		return false // read far enough
	}
	t.add(r)
	for _, d := range t.decided() {
		c.fold(p, d.rec, d.committed)
	}
	return len(c.cuts[p]) == 0
}

// fold applies one decided record of partition p, in offset order.
func (c *recounter) fold(p int32, r *kgo.Record, committed bool) {
	c.cut(p, r.Offset)
	counted := r.Offset < c.upTo[p]
	switch {
	case r.Attrs.IsControl():
		if counted {
			c.rc.Controls[p]++
		}
	case !committed:
		if counted {
			c.rc.Aborted[p]++
		}
	default:
		c.foldCommitted(p, r, counted)
	}
	c.cut(p, r.Offset+1)
}

// foldCommitted adds committed record r to its station's stats if it is a
// report (counted: it is below upTo), and holds it to the stream.
func (c *recounter) foldCommitted(p int32, r *kgo.Record, counted bool) {
	report, err := Report(r.Key, r.Value)
	if err != nil {
		if counted {
			c.rc.Skipped[p]++
		}
		return
	}
	if counted {
		c.rc.Records[p]++
	}
	m := c.current[p]
	s, ok := m[report.StationId]
	if !ok {
		s.Start = report.Date
	}
	s.Count++
	s.Sum += report.Degrees
	s.End = report.Date
	m[report.StationId] = s
	c.stream.check(p, report, r.Offset, s.Count)
}

// transactions are one partition's records read uncommitted, held in
// offset order until it is known whether they are committed.
type transactions struct {
	queue []held
	open  map[int64][]int // producer id -> its undecided records' indexes in queue
	read  int64           // one past the last record read
}

type held struct {
	rec                *kgo.Record
	decided, committed bool
}

// add takes the next record of the partition. A transactional record waits
// for its producer's marker; a marker decides them all (commit or abort);
// anything else is committed as it comes.
func (t *transactions) add(r *kgo.Record) {
	t.read = r.Offset + 1
	switch {
	case r.Attrs.IsControl():
		// The key is version (int16) and type (int16): 0 abort, 1 commit.
		commit := len(r.Key) >= 4 && r.Key[3] == 1
		for _, i := range t.open[r.ProducerID] {
			t.queue[i].decided, t.queue[i].committed = true, commit
		}
		delete(t.open, r.ProducerID)
		t.queue = append(t.queue, held{rec: r, decided: true})
	case r.Attrs.IsTransactional():
		t.open[r.ProducerID] = append(t.open[r.ProducerID], len(t.queue))
		t.queue = append(t.queue, held{rec: r})
	default:
		t.queue = append(t.queue, held{rec: r, decided: true, committed: true})
	}
}

// decided removes and returns the records at the head of the queue whose
// fate is known, in offset order.
func (t *transactions) decided() []held {
	n := 0
	for n < len(t.queue) && t.queue[n].decided {
		n++
	}
	if n == 0 {
		return nil
	}
	out := slices.Clone(t.queue[:n])
	t.queue = slices.Delete(t.queue, 0, n)
	for pid, idx := range t.open {
		for i := range idx {
			idx[i] -= n
		}
		t.open[pid] = idx
	}
	return out
}

// why says what partition p waits for to be read up to offset want.
func (t *transactions) why(p int32, want int64) string {
	if len(t.queue) > 0 {
		r := t.queue[0].rec
		return fmt.Sprintf("partition %d: the transaction of producer %d from offset %d has no marker up to offset %d", p, r.ProducerID, r.Offset, t.read)
	}
	return fmt.Sprintf("partition %d: read up to offset %d of %d", p, t.read, want)
}
