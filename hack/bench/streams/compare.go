package streams

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// consumerStation is one station of a stats consumer's partition-N.json.
type consumerStation struct {
	Count *int64   `json:"count"`
	Sum   *float64 `json:"sum"`
	Avg   *float64 `json:"avg"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

var partitionFile = regexp.MustCompile(`^partition-(\d+)\.json$`)

// readConsumerFiles reads the stations of every partition-N.json in dir.
func readConsumerFiles(dir string) (map[int32]map[string]station, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int32]map[string]station{}
	for _, e := range entries {
		m := partitionFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		p, err := strconv.ParseInt(m[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		stations := map[string]station{}
		for name, raw := range top {
			if name == "offset" || name == "log" { // the file's own keys
				continue
			}
			var s consumerStation
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%s: station %q: %w", path, name, err)
			}
			if s.Count == nil || s.Sum == nil || s.Avg == nil || s.Start == "" || s.End == "" {
				return nil, fmt.Errorf("%s: station %q lacks count, sum, avg, start or end: %s", path, name, raw)
			}
			stations[name] = station{Count: *s.Count, Sum: *s.Sum, Start: s.Start, End: s.End}
		}
		out[int32(p)] = stations
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no partition-N.json in %s", dir)
	}
	return out, nil
}

// equalsConsumerFiles checks that the Streams app's stores hold what the
// stats consumer's partition files in dir do: the same stations in each
// partition with the same count, start and end, and the same sum exactly
// (both add the degrees in offset order, in float64).
func equalsConsumerFiles(run Run, dir string) error {
	files, err := readConsumerFiles(dir)
	if err != nil {
		return err
	}
	var diffs []string
	parts := map[int32]bool{}
	for p := range files {
		parts[p] = true
	}
	for p := range run.stations {
		parts[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		got, want := run.stations[p], files[p]
		names := map[string]bool{}
		for n := range got {
			names[n] = true
		}
		for n := range want {
			names[n] = true
		}
		for _, n := range slices.Sorted(maps.Keys(names)) {
			g, inStreams := got[n]
			w, inFiles := want[n]
			switch {
			case !inFiles:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: only in Kafka Streams (%s)", p, n, g))
			case !inStreams:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: only in the consumer's files (%s)", p, n, w))
			case g != w:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: Kafka Streams %s, consumer %s", p, n, g, w))
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	const show = 20
	more := ""
	if len(diffs) > show {
		more = fmt.Sprintf("\n  ... and %d more", len(diffs)-show)
	}
	return fmt.Errorf("the Kafka Streams app and the stats consumer (%s) differ in %d stations:\n  %s%s",
		dir, len(diffs), strings.Join(diffs[:min(len(diffs), show)], "\n  "), more)
}

func (s station) String() string {
	return fmt.Sprintf("count %d sum %s start %s end %s", s.Count, strconv.FormatFloat(s.Sum, 'g', -1, 64), s.Start, s.End)
}
