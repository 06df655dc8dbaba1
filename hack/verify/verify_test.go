package verify

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/embeddedkafka"
	"github.com/weatherstream/weather/services/common/generator"
)

func TestParseFileAndCompare(t *testing.T) {
	f, err := ParseFile([]byte(`{
  "offset": 6816,
  "StationB": {"count": 2, "sum": 66.25, "avg": 33.125, "start": "2000-01-01", "end": "2000-01-02"}
}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Station{Count: 2, Sum: 66.25, Start: "2000-01-01", End: "2000-01-02"}
	if f.Offset != 6816 || f.Stations["StationB"] != want || len(f.Stations) != 1 {
		t.Fatalf("got %+v", f)
	}
	// The original's readers take every key but "offset" for a station:
	// the previous release's "log" is not one.
	if _, err := ParseFile([]byte(`{"offset": 1, "log": {"topic": "t", "topic_id": "", "partition": 0}}`)); err == nil || !strings.Contains(err.Error(), "log is not a station") {
		t.Errorf(`a file with "log" = %v, want it refused`, err)
	}
	if d := DaysMismatch(map[int32]File{0: f}); len(d) != 0 {
		t.Errorf("2 reports from 2000-01-01 to 2000-01-02: %v", d)
	}
	if d := DaysMismatch(map[int32]File{0: {Stations: map[string]Station{"StationB": {Count: 3, Start: "2000-01-01", End: "2000-01-02"}}}}); len(d) != 1 {
		t.Errorf("3 reports in 2 days: %v, want one mismatch", d)
	}
	files := map[int32]File{0: f}
	rc := &Recount{Stations: map[int32]map[string]Station{0: {"StationB": want}}}
	if d := Compare(files, rc); len(d) != 0 {
		t.Errorf("equal stats differ: %v", d)
	}
	rc.Stations[0]["StationB"] = Station{Count: 3, Sum: 66.25, Start: "2000-01-01", End: "2000-01-02"}
	rc.Stations[0]["StationD"] = want
	if d := Compare(files, rc); len(d) != 2 {
		t.Errorf("want 2 differences, got %v", d)
	}
	if _, err := ParseFile([]byte(`{"offset": 1, "StationB": {"count": 2, "sum": 4, "avg": 3, "start": "x", "end": "y"}}`)); err == nil {
		t.Error("avg != sum/count accepted")
	}
}

// TestRecountCuts: the recount keeps the stats below every offset asked for
// (the files' and the dashboard's), counts only the records below the
// files', and checks the stream, on a broker of transactions with markers.
func TestRecountCuts(t *testing.T) {
	const topic = "temperatures"
	c, err := embeddedkafka.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("recount-test"),
		kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	gen := generator.New(1)
	// Three transactions of a day each: stations with an even index to
	// partition 0, odd to 1; 5 reports and a commit marker per partition
	// and day, so day d is offsets 6d..6d+4, its marker 6d+5.
	const days = 3
	for i := range days * generator.NumStations {
		if i%generator.NumStations == 0 {
			if err := cl.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
		}
		r := gen.Report(i)
		v, err := codec.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v, Partition: int32(i % 2)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if i%generator.NumStations == generator.NumStations-1 {
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	// fold: the stats of partition p's stations over the first n days.
	fold := func(p int32, n int64) map[string]Station {
		m := map[string]Station{}
		for i := range n * generator.NumStations {
			if int32(i%2) != p {
				continue
			}
			r := gen.Report(i)
			s, ok := m[r.StationId]
			if !ok {
				s.Start = r.Date
			}
			s.Count++
			s.Sum += r.Degrees
			s.End = r.Date
			m[r.StationId] = s
		}
		return m
	}

	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	files := map[int32]int64{0: 6, 1: 12} // after day 0's marker; after day 1's
	rc, err := Count(ctx, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, topic, files, 1, map[int32]int64{0: 18, 1: 12}, map[int32]int64{0: 11}, map[int32]int64{0: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.StreamErrors) > 0 {
		t.Errorf("stream errors: %v", rc.StreamErrors)
	}
	for _, w := range []struct {
		p          int32
		below      int64
		days       int64
		inStations bool
	}{
		{0, 6, 1, true}, {0, 18, 3, false}, {0, 11, 2, false}, {0, 0, 0, false}, {1, 12, 2, true},
	} {
		if got, want := rc.At[w.p][w.below], fold(w.p, w.days); !maps.Equal(got, want) {
			t.Errorf("partition %d below %d: %v, want %v", w.p, w.below, got, want)
		}
		if w.inStations && !maps.Equal(rc.Stations[w.p], fold(w.p, w.days)) {
			t.Errorf("partition %d: Stations %v, want the stats below the file's offset %d", w.p, rc.Stations[w.p], w.below)
		}
	}
	if want := (map[int32]int64{0: 5, 1: 10}); !maps.Equal(rc.Records, want) {
		t.Errorf("records %v, want %v (below the files' offsets only)", rc.Records, want)
	}
	if want := (map[int32]int64{0: 1, 1: 2}); !maps.Equal(rc.Controls, want) {
		t.Errorf("transaction markers %v, want %v", rc.Controls, want)
	}
}

// TestRecountDecidesTransactionsFromTheLog: the recount counts a
// transaction's records only once its producer's marker says commit, folds
// them in offset order whenever the marker comes, and takes no cut before
// every record below it is decided — on plain kfake, read with one batch per
// fetch, where the broker's own read committed path hands out aborted
// records (embeddedkafka's package comment).
func TestRecountDecidesTransactionsFromTheLog(t *testing.T) {
	const topic = "temperatures"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	producer := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID(id),
			kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	gen := generator.New(1)
	write := func(cl *kgo.Client, i int64) {
		t.Helper()
		r := gen.Report(i)
		v, err := codec.Encode(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(r.StationId), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	end := func(cl *kgo.Client, commit kgo.TransactionEndTry) {
		t.Helper()
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	a, b := producer("a"), producer("b")
	for _, cl := range []*kgo.Client{a, b} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	write(a, 0)           // 0: aborted below
	write(b, 1)           // 1: committed at 3, before 0 is decided
	write(a, 2)           // 2: aborted below
	end(b, kgo.TryCommit) // 3
	end(a, kgo.TryAbort)  // 4
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	write(a, 0)           // 5
	write(a, 2)           // 6
	end(a, kgo.TryCommit) // 7
	if err := a.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	write(a, 3) // 8: its producer vanishes; the next instance fences it (abort marker 9)
	_ = producer("a").BeginTransaction()
	if err := producer("a").Flush(ctx); err != nil { // InitProducerID fences the old instance
		t.Fatal(err)
	}

	station := func(is ...int64) map[string]Station {
		m := map[string]Station{}
		for _, i := range is {
			r := gen.Report(i)
			m[r.StationId] = Station{Count: 1, Sum: r.Degrees, Start: r.Date, End: r.Date}
		}
		return m
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.FetchMaxBytes(1)}
	rc, err := Count(ctx, opts, topic, map[int32]int64{0: 10}, 1, map[int32]int64{0: 2}, map[int32]int64{0: 4}, map[int32]int64{0: 7})
	if err != nil {
		t.Fatal(err)
	}
	for below, want := range map[int64]map[string]Station{
		2: station(1), 4: station(1), 7: station(1, 0, 2), 10: station(1, 0, 2),
	} {
		if got := rc.At[0][below]; !maps.Equal(got, want) {
			t.Errorf("below offset %d: %v, want %v", below, got, want)
		}
	}
	if rc.Records[0] != 3 || rc.Aborted[0] != 3 || rc.Controls[0] != 4 {
		t.Errorf("records %d, aborted %d, markers %d; want 3, 3, 4", rc.Records[0], rc.Aborted[0], rc.Controls[0])
	}
}
