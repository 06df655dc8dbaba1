package consume

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/snapshot"
	"github.com/weatherstream/weather/services/common/stats"
)

// folder is a consumer of partition 0 reduced to its fold (apply): no
// broker, no disk.
func folder(state *stats.Partition) *Consumer {
	m := NewMetrics(prometheus.NewRegistry())
	return &Consumer{log: slog.New(slog.NewTextHandler(io.Discard, nil)), metrics: m,
		parts: map[int32]*stats.Partition{0: state}, pm: map[int32]partitionMetrics{0: m.partition(0)}}
}

// logOf makes a partition's log from data, a record per byte: mostly
// reports of the stream, some transaction markers, some bad records (no
// key, another station's key, not a protobuf, 1e308 degrees twice).
func logOf(data []byte) []*kgo.Record {
	gen := generator.New(7)
	var recs []*kgo.Record
	for i, b := range data {
		rec := &kgo.Record{Offset: int64(i), Partition: 0}
		switch b % 16 {
		case 0:
			rec.Key, rec.Value = []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 0} // a commit marker's shape
			recs = append(recs, markerOf(rec))
			continue
		case 1:
			rec.Value = []byte("no key")
		case 2:
			r := gen.Report(int64(i))
			rec.Key, rec.Value = []byte("StationX"), mustEncode(r) // key != station
		case 3:
			rec.Key, rec.Value = []byte("StationA"), []byte{0xff, 0xff}
		case 4:
			rec.Key, rec.Value = []byte("StationZ"), mustEncode(&reportpb.Report{Date: "2000-01-01", Degrees: 1e308, StationId: "StationZ"})
		default:
			r := gen.Report(int64(b) * 3 / 2)
			rec.Key, rec.Value = []byte(r.StationId), mustEncode(r)
		}
		recs = append(recs, rec)
	}
	return recs
}

// markerOf is rec as a transaction marker the consumer is handed
// (KeepControlRecords).
func markerOf(rec *kgo.Record) *kgo.Record {
	marker := *rec
	marker.Attrs = kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Transactional: true, Control: true})
	return &marker
}

func mustEncode(r *reportpb.Report) []byte {
	v, err := codec.Encode(nil, r)
	if err != nil {
		panic(err)
	}
	return v
}

// The stats at offset N are a pure function of the partition's first N
// offsets: folded a record at a time by one process, or in batches of any
// sizes by processes that each start from the last one's file or snapshot
// (written, read back), the state at every offset where a batch ends is the
// same bytes. So a snapshot is valid forever, whoever made it.
func FuzzFoldIsAPureFunctionOfTheLog(f *testing.F) {
	f.Add([]byte{5, 6, 7, 0, 8, 9, 1, 10, 2, 11, 0}, []byte{3, 1, 4, 1, 5})
	f.Add([]byte{4, 4, 4, 0, 5, 3, 0}, []byte{1, 1, 1, 1, 1, 1, 1})
	f.Add(make([]byte, 40), []byte{40})
	f.Fuzz(func(t *testing.T, logData, splits []byte) {
		recs := logOf(logData)
		// One record at a time, by one process: the state at every offset.
		one := folder(stats.New(0))
		at := map[int64]string{0: marshal(t, one.parts[0])}
		for _, rec := range recs {
			one.apply(0, []*kgo.Record{rec})
			at[rec.Offset+1] = marshal(t, one.parts[0])
		}
		// In batches, a new process after each, from the file or the
		// snapshot the last one left.
		state, pos := stats.New(0), 0
		for i := 0; pos < len(recs); i++ {
			n := 1 + len(recs)
			if len(splits) > 0 {
				n = 1 + int(splits[i%len(splits)])%8
			}
			batch := recs[pos:min(pos+n, len(recs))]
			pos += len(batch)
			c := folder(state)
			c.apply(0, batch)
			got := marshal(t, c.parts[0])
			if want := at[c.parts[0].Offset]; got != want {
				t.Fatalf("at offset %d, after batches: %s\none record at a time: %s", c.parts[0].Offset, got, want)
			}
			if i%2 == 0 {
				state = mustParse(t, got) // from its file
			} else {
				log := stats.Log{Topic: "t", TopicID: "x", Partition: 0}
				snap, err := snapshot.Decode(snapshot.Encode(log, []byte(got))) // from its snapshot
				if err != nil {
					t.Fatal(err)
				}
				state = snap.State
			}
		}
	})
}

func marshal(t *testing.T, p *stats.Partition) string {
	t.Helper()
	b, err := p.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t *testing.T, data string) *stats.Partition {
	t.Helper()
	p, err := stats.Parse([]byte(data))
	if err != nil {
		t.Fatalf("the consumer's own file does not load: %v\n%s", err, data)
	}
	return p
}
