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
		f, err := ParseFile(data)
		if err != nil {
			return nil, fmt.Errorf("partition-%d.json: %w", p, err)
		}
		files[p] = f
	}
	return files, nil
}

// ParseFile reads the documented format with plain encoding/json (not the
// consumer's own parser: this is the independent side of the comparison).
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
