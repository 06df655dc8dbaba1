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
	rc := &Recount{
		Stations: map[int32]map[string]Station{},
		Records:  map[int32]int64{}, Skipped: map[int32]int64{}, Controls: map[int32]int64{}, Aborted: map[int32]int64{},
		At: map[int32]map[int64]map[string]Station{},
	}
	stream := streamCheck{rc: rc, gen: generator.New(seed)}
	// cuts[p]: the offsets below which partition p's stats are kept, in
	// order; a partition is read until the last one is passed.
	cuts := map[int32][]int64{}
	for _, m := range append([]map[int32]int64{upTo}, also...) {
		for p, n := range m {
			cuts[p] = append(cuts[p], n)
		}
	}
	current := map[int32]map[string]Station{}
	// cut keeps the stats of every pending cut at or below offset: all
	// that was read so far is below it.
	cut := func(p int32, offset int64) {
		for len(cuts[p]) > 0 && cuts[p][0] <= offset {
			rc.At[p][cuts[p][0]] = maps.Clone(current[p])
			cuts[p] = cuts[p][1:]
		}
	}
	from := map[int32]kgo.Offset{}
	for p := range cuts {
		cuts[p] = slices.Compact(slices.Sorted(slices.Values(cuts[p])))
		current[p], rc.At[p] = map[string]Station{}, map[int64]map[string]Station{}
		if cut(p, 0); len(cuts[p]) > 0 {
			from[p] = kgo.NewOffset().At(0)
		}
	}
	defer func() {
		for p, n := range upTo {
			rc.Stations[p] = rc.At[p][n]
		}
	}()
	if len(from) == 0 {
		return rc, nil
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

	// fold applies one decided record, in offset order.
	fold := func(p int32, r *kgo.Record, committed bool) {
		cut(p, r.Offset)
		counted := r.Offset < upTo[p]
		switch {
		case r.Attrs.IsControl():
			if counted {
				rc.Controls[p]++
			}
		case !committed:
			if counted {
				rc.Aborted[p]++
			}
		default:
			report, err := Report(r.Key, r.Value)
			if err != nil {
				if counted {
					rc.Skipped[p]++
				}
				break
			}
			if counted {
				rc.Records[p]++
			}
			m := current[p]
			s, ok := m[report.StationId]
			if !ok {
				s.Start = report.Date
			}
			s.Count++
			s.Sum += report.Degrees
			s.End = report.Date
			m[report.StationId] = s
			stream.check(p, report, r.Offset, s.Count)
		}
		cut(p, r.Offset+1)
	}
	txns := map[int32]*transactions{}
	for p := range from {
		txns[p] = &transactions{open: map[int64][]int{}}
	}
	// A file's offset is one past a record its consumer received (a report
	// or a marker), so reading is done for partition p once its highest
	// cut is passed: every record below it read and decided.
	pending := len(from)
	for pending > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			var stuck []string
			for p, t := range txns {
				if len(cuts[p]) > 0 {
					stuck = append(stuck, t.why(p, cuts[p][len(cuts[p])-1]))
				}
			}
			slices.Sort(stuck)
			return nil, fmt.Errorf("recount: %d partition(s) not read up to the files' offsets (%s): %w", pending, strings.Join(stuck, "; "), err)
		}
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("partition %d: %w", p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if len(cuts[p]) == 0 {
				return // read far enough
			}
			t := txns[p]
			t.add(r)
			for _, d := range t.decided() {
				fold(p, d.rec, d.committed)
			}
			if len(cuts[p]) == 0 {
				pending--
			}
		})
	}
	return rc, nil
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
