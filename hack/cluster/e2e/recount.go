// Package e2e tests the Helm chart on a real single-node Kubernetes cluster
// (hack/cluster/up.sh): see e2e_test.go. This file is the independent
// recount: the stats files on the consumers' volume against the topic,
// read again from offset 0.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
)

// Station is one station's stats as partition-N.json stores them.
type Station struct {
	Count int64
	Sum   float64
	Start string
	End   string
}

// File is one partition-N.json: the stats of every record before Offset,
// and the log they come from.
type File struct {
	Offset   int64
	Log      Log
	Stations map[string]Station
}

// Log is the file's "log": which topic (by name and ID) and partition.
type Log struct {
	Topic     string `json:"topic"`
	TopicID   string `json:"topic_id"`
	Partition int32  `json:"partition"`
}

// ReadFiles reads partition-0.json … partition-(n-1).json in dir. A missing
// file is absent from the map, not an error.
func ReadFiles(dir string, n int32) (map[int32]File, error) {
	files := make(map[int32]File, n)
	for p := range n {
		data, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("partition-%d.json", p)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		f, err := parseFile(data)
		if err != nil {
			return nil, fmt.Errorf("partition-%d.json: %w", p, err)
		}
		files[p] = f
	}
	return files, nil
}

// parseFile reads the documented format with plain encoding/json (not the
// consumer's own parser: this is the independent side of the comparison).
func parseFile(data []byte) (File, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return File{}, err
	}
	f := File{Stations: map[string]Station{}}
	off, ok := raw["offset"]
	if !ok {
		return File{}, errors.New(`no "offset"`)
	}
	var err error
	if f.Offset, err = strconv.ParseInt(string(off), 10, 64); err != nil {
		return File{}, fmt.Errorf("offset: %w", err)
	}
	if l, ok := raw["log"]; ok {
		if err := json.Unmarshal(l, &f.Log); err != nil {
			return File{}, fmt.Errorf("log: %w", err)
		}
	}
	for name, v := range raw {
		if name == "offset" || name == "log" {
			continue
		}
		var s struct {
			Count int64   `json:"count"`
			Sum   float64 `json:"sum"`
			Avg   float64 `json:"avg"`
			Start string  `json:"start"`
			End   string  `json:"end"`
		}
		if err := json.Unmarshal(v, &s); err != nil {
			return File{}, fmt.Errorf("%s: %w", name, err)
		}
		if s.Count > 0 && math.Abs(s.Avg-s.Sum/float64(s.Count)) > 1e-9*math.Max(1, math.Abs(s.Avg)) {
			return File{}, fmt.Errorf("%s: avg %v is not sum/count %v", name, s.Avg, s.Sum/float64(s.Count))
		}
		f.Stations[name] = Station{Count: s.Count, Sum: s.Sum, Start: s.Start, End: s.End}
	}
	return f, nil
}

// Offsets are the files' offsets.
func Offsets(files map[int32]File) map[int32]int64 {
	m := make(map[int32]int64, len(files))
	for p, f := range files {
		m[p] = f.Offset
	}
	return m
}

// Kafka reaches the chart's broker from the host. The broker advertises its
// pod's DNS name, which only the cluster's DNS knows, so every name is
// resolved by CoreDNS (its Service IP, through kube-proxy's rules); the pod
// and Service addresses themselves are routed to from the host.
type Kafka struct {
	Bootstrap string // host:port, e.g. the chart's Kafka Service name
	DNS       string // CoreDNS address, ip:53
	Topic     string
}

func (k Kafka) opts(extra ...kgo.Opt) []kgo.Opt {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	dialer.Resolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, k.DNS)
		},
	}
	return append([]kgo.Opt{
		kgo.SeedBrokers(k.Bootstrap),
		kgo.Dialer(dialer.DialContext),
		kgo.RetryTimeout(30 * time.Second),
	}, extra...)
}

// Offsets returns the topic's log start and end offsets per partition.
func (k Kafka) Offsets(ctx context.Context) (start, end map[int32]int64, err error) {
	cl, err := kgo.NewClient(k.opts()...)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	conv := func(l kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err != nil {
			return nil, err
		}
		if err := l.Error(); err != nil {
			return nil, err
		}
		m := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		if len(m) == 0 {
			return nil, fmt.Errorf("topic %q has no partitions", k.Topic)
		}
		return m, nil
	}
	if start, err = conv(adm.ListStartOffsets(ctx, k.Topic)); err != nil {
		return nil, nil, err
	}
	end, err = conv(adm.ListEndOffsets(ctx, k.Topic))
	return start, end, err
}

// Recount is what the topic holds below each file's offset.
type Recount struct {
	Stations map[int32]map[string]Station
	Records  map[int32]int64 // committed reports counted
	Skipped  map[int32]int64 // committed records that are not valid reports
	Controls map[int32]int64 // transaction markers
	// Where the topic differs from the generated stream (first few).
	StreamErrors []string
}

// Recount reads each partition from offset 0 up to (not including)
// upTo[p], read committed and with the transaction markers, and folds every
// valid report into per-station stats in offset order: what a correct
// consumer that never lost or repeated a record must have stored.
//
// It also checks the topic itself against the producer's stream (seed):
// each station's reports, in offset order, must be the generator's reports
// of that station for day 0, 1, 2, ... with nothing missing or repeated,
// across every producer and broker restart.
func (k Kafka) Recount(ctx context.Context, upTo map[int32]int64, seed uint64) (*Recount, error) {
	rc := &Recount{
		Stations: map[int32]map[string]Station{},
		Records:  map[int32]int64{}, Skipped: map[int32]int64{}, Controls: map[int32]int64{},
	}
	gen := generator.New(seed)
	var want reportpb.Report
	// checkStream: report r of partition p is the next one of its station.
	checkStream := func(p int32, r *reportpb.Report, offset int64, count int64) {
		if len(rc.StreamErrors) >= 10 {
			return
		}
		idx, err := generator.Index(r.Date, r.StationId)
		if err == nil {
			expected := (count-1)*generator.NumStations + idx%generator.NumStations // its day count-1
			if idx != expected {
				err = fmt.Errorf("report %d of %s is for %s, expected day %d (a gap or a duplicate)",
					count, r.StationId, r.Date, expected/generator.NumStations)
			} else if gen.Fill(idx, &want); want.Degrees != r.Degrees {
				err = fmt.Errorf("%s on %s: %v degrees, the stream has %v", r.StationId, r.Date, r.Degrees, want.Degrees)
			}
		}
		if err != nil {
			rc.StreamErrors = append(rc.StreamErrors, fmt.Sprintf("partition %d offset %d: %v", p, offset, err))
		}
	}
	from := map[int32]kgo.Offset{}
	for p, n := range upTo {
		rc.Stations[p] = map[string]Station{}
		if n > 0 {
			from[p] = kgo.NewOffset().At(0)
		}
	}
	if len(from) == 0 {
		return rc, nil
	}
	cl, err := kgo.NewClient(k.opts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.Topic: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
	)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	// A file's offset is one past a record its consumer received (a report
	// or a marker), and read committed returns both, so reading is done for
	// partition p once offset upTo[p]-1 has come by.
	pending := len(from)
	var report reportpb.Report
	for pending > 0 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("recount: %d partition(s) not read up to the files' offsets: %w", pending, err)
		}
		var ferr error
		fetches.EachError(func(_ string, p int32, err error) { ferr = fmt.Errorf("partition %d: %w", p, err) })
		if ferr != nil {
			return nil, ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			n := upTo[r.Partition]
			if r.Offset >= n {
				return
			}
			if r.Attrs.IsControl() {
				rc.Controls[r.Partition]++
			} else if err := codec.Decode(r.Key, r.Value, &report); err != nil {
				rc.Skipped[r.Partition]++
			} else {
				rc.Records[r.Partition]++
				m := rc.Stations[r.Partition]
				s, ok := m[report.StationId]
				if !ok {
					s.Start = report.Date
				}
				s.Count++
				s.Sum += report.Degrees
				s.End = report.Date
				m[report.StationId] = s
				checkStream(r.Partition, &report, r.Offset, s.Count)
			}
			if r.Offset == n-1 {
				pending--
			}
		})
	}
	return rc, nil
}

// Compare returns every difference between the files and the recount; the
// sums must be equal to the bit (the same additions in the same order).
func Compare(files map[int32]File, rc *Recount) []string {
	var diffs []string
	for _, p := range sortedKeys(files) {
		f, want := files[p], rc.Stations[p]
		for _, name := range sortedKeys(unionKeys(f.Stations, want)) {
			got, ok1 := f.Stations[name]
			exp, ok2 := want[name]
			switch {
			case !ok2:
				diffs = append(diffs, fmt.Sprintf("partition %d: file has %s %+v, the topic has none below offset %d", p, name, got, f.Offset))
			case !ok1:
				diffs = append(diffs, fmt.Sprintf("partition %d: file lacks %s, the topic has %+v below offset %d", p, name, exp, f.Offset))
			case got != exp:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: file %+v, recount %+v (offset %d)", p, name, got, exp, f.Offset))
			}
		}
	}
	return diffs
}

// DebugLine is one line the debug consumer printed.
type DebugLine struct {
	Station   string
	Date      string
	Degrees   float64
	Partition int32
}

// ParseDebugLine reads the debug consumer's text line:
//
//	{'station_id': 'StationC', 'date': '2008-12-17', 'degrees': 35.2621, 'partition': 2}
func ParseDebugLine(line string) (DebugLine, bool) {
	var l DebugLine
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "{'station_id': ") || !strings.HasSuffix(line, "}") {
		return l, false
	}
	fields := map[string]string{}
	for _, kv := range strings.Split(strings.Trim(line, "{}"), ", ") {
		k, v, ok := strings.Cut(kv, ": ")
		if !ok {
			return l, false
		}
		fields[strings.Trim(k, "'")] = strings.Trim(v, "'")
	}
	deg, err1 := strconv.ParseFloat(fields["degrees"], 64)
	part, err2 := strconv.ParseInt(fields["partition"], 10, 32)
	if err := errors.Join(err1, err2); err != nil || fields["station_id"] == "" || fields["date"] == "" {
		return l, false
	}
	return DebugLine{Station: fields["station_id"], Date: fields["date"], Degrees: deg, Partition: int32(part)}, true
}

// CheckDebugLine checks a printed report against the generated stream.
func CheckDebugLine(l DebugLine, seed uint64) error {
	i, err := generator.Index(l.Date, l.Station)
	if err != nil {
		return err
	}
	r := generator.New(seed).Report(i)
	if r.Degrees != l.Degrees {
		return fmt.Errorf("%s on %s: printed %v degrees, the stream has %v", l.Station, l.Date, l.Degrees, r.Degrees)
	}
	return nil
}

func sortedKeys[K int32 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func unionKeys[V any](a, b map[string]V) map[string]struct{} {
	u := map[string]struct{}{}
	for k := range a {
		u[k] = struct{}{}
	}
	for k := range b {
		u[k] = struct{}{}
	}
	return u
}
