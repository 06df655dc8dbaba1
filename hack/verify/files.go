// Package verify is the independent side of every end-to-end check: the
// stats files read with plain encoding/json and the topic recounted with
// the protobuf library, not with the consumer's parser or its stats, so a
// bug shared by the services and their check cannot hide. The chart's e2e
// test and the fault campaign (hack/chaos) both judge by it.
package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
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

// ReadFiles reads partition-0.json … partition-(n-1).json in dir, each with
// the log named beside it (partition-N.log). A missing file is absent from
// the map, not an error.
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
		f, err := ParseFile(data)
		if err != nil {
			return nil, fmt.Errorf("partition-%d.json: %w", p, err)
		}
		if data, err = os.ReadFile(filepath.Join(dir, fmt.Sprintf("partition-%d.log", p))); err == nil {
			err = json.Unmarshal(data, &f.Log)
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("partition-%d.log: %w", p, err)
		}
		files[p] = f
	}
	return files, nil
}

// ParseFile reads a partition file the original assignment's way, with
// plain encoding/json (not the consumer's own parser: this is the
// independent side of the comparison): every key but "offset" is a station
// with count, sum, avg, start and end, and nothing else. A file with any
// other key (the "log" of the previous release among them) is not one.
func ParseFile(data []byte) (File, error) {
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
	for name, v := range raw {
		if name == "offset" {
			continue
		}
		var s struct {
			Count int64   `json:"count"`
			Sum   float64 `json:"sum"`
			Avg   float64 `json:"avg"`
			Start string  `json:"start"`
			End   string  `json:"end"`
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return File{}, fmt.Errorf("%s is not a station: %w", name, err)
		}
		if s.Count < 1 || len(s.Start) != len("2000-01-01") || len(s.End) != len("2000-01-01") {
			return File{}, fmt.Errorf("%s is not a station: count %d, start %q, end %q", name, s.Count, s.Start, s.End)
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

// Compare returns every difference between the files and the recount; the
// sums must be equal to the bit (the same additions in the same order).
func Compare(files map[int32]File, rc *Recount) []string {
	var diffs []string
	for _, p := range SortedKeys(files) {
		f, want := files[p], rc.Stations[p]
		for _, name := range SortedKeys(UnionKeys(f.Stations, want)) {
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

// SortedKeys are m's keys in order.
func SortedKeys[K int32 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// UnionKeys is the set of a's and b's keys.
func UnionKeys[V any](a, b map[string]V) map[string]struct{} {
	u := map[string]struct{}{}
	for k := range a {
		u[k] = struct{}{}
	}
	for k := range b {
		u[k] = struct{}{}
	}
	return u
}

// DaysMismatch returns each station of the files whose count is not the
// number of days from its start to its end: in the generated stream every
// station reports every day, once, in date order, so a station's count in
// its partition's file is end - start + 1 days. (A check of the kind the
// original assignment's own tests make.)
func DaysMismatch(files map[int32]File) []string {
	var bad []string
	for _, p := range SortedKeys(files) {
		for _, name := range SortedKeys(files[p].Stations) {
			s := files[p].Stations[name]
			start, err1 := time.Parse(time.DateOnly, s.Start)
			end, err2 := time.Parse(time.DateOnly, s.End)
			if err1 != nil || err2 != nil {
				bad = append(bad, fmt.Sprintf("partition %d %s: start %q, end %q are not dates", p, name, s.Start, s.End))
				continue
			}
			if days := int64(end.Sub(start).Hours()/24) + 1; days != s.Count {
				bad = append(bad, fmt.Sprintf("partition %d %s: count %d, but %s to %s is %d days", p, name, s.Count, s.Start, s.End, days))
			}
		}
	}
	return bad
}
