package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weatherstream/weather/hack/verify"
)

// The stats consumers' files on their volumes, one per pod (the
// StatefulSet's volumeClaimTemplates: claim stats-<statefulset>-<ordinal>),
// each a local-path PV whose directory is on this host. A partition's file
// is on the volume of whichever pod last read it; a pod that gave a
// partition up keeps its last file of it (older: it is a state of the
// partition all the same, exact at its offset). The newest state of a
// partition is the newest of its files and its snapshot.

// volume is one consumer claim's files.
type volume struct {
	claim string
	dir   string // its PV's directory on this host
	files map[int32]File
}

// consumerClaims are the claims of the consumer StatefulSet's pods (never
// the shared-volume chart's <release>-stats, which carries the consumer
// labels too), sorted, with their PVs' host directories once bound.
func (s *suite) consumerClaims() (map[string]string, error) {
	out, err := s.kubectl("get", "pvc", "-l", s.selector("consumer"), "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.volumeName}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	if s.hostDirs == nil {
		s.hostDirs = map[string]string{}
	}
	claims := map[string]string{}
	prefix := "stats-" + s.consumers + "-"
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[0], prefix) {
			continue // not bound yet, or not a pod's claim
		}
		claim, pv := f[0], f[1]
		if dir, ok := s.hostDirs[claim]; ok {
			claims[claim] = dir
			continue
		}
		dir, err := s.kubectl("get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}{.spec.local.path}")
		if err != nil {
			return nil, err
		}
		if dir == "" {
			return nil, fmt.Errorf("PV %s of PVC %s is neither hostPath nor local", pv, claim)
		}
		s.hostDirs[claim] = dir
		claims[claim] = dir
	}
	return claims, nil
}

// volumes reads every consumer volume's partition files (hack/verify's
// reading: the original's format, the log beside it).
func (s *suite) volumes() ([]volume, error) {
	claims, err := s.consumerClaims()
	if err != nil {
		return nil, err
	}
	var vols []volume
	for _, claim := range verify.SortedKeys(claims) {
		files, err := ReadFiles(claims[claim], s.partitions)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", claim, err)
		}
		vols = append(vols, volume{claim: claim, dir: claims[claim], files: files})
	}
	return vols, nil
}

// newest is, per partition, its file of the highest offset on any volume,
// and the claim it is on.
func newest(vols []volume) (map[int32]File, map[int32]string) {
	files, where := map[int32]File{}, map[int32]string{}
	for _, v := range vols {
		for p, f := range v.files {
			if old, ok := files[p]; !ok || f.Offset > old.Offset {
				files[p], where[p] = f, v.claim
			}
		}
	}
	return files, where
}

// files reads the newest file of every partition, failing if a partition
// has none on any volume.
func (s *suite) files() (map[int32]File, error) {
	vols, err := s.volumes()
	if err != nil {
		return nil, err
	}
	files, _ := newest(vols)
	for p := range s.partitions {
		if _, ok := files[p]; !ok {
			return files, fmt.Errorf("no partition-%d.json on any consumer volume (%d volumes)", p, len(vols))
		}
	}
	return files, nil
}

// snapshots reads the newest snapshot of every partition of the topic's
// snapshot topic (<topic>-snapshots), of the log topicID, the services'
// code not involved (hack/verify).
func (s *suite) snapshots(ctx context.Context, topicID string) (map[int32]File, error) {
	return verify.Snapshots(ctx, s.kafka.opts(), s.kafka.Topic+"-snapshots", topicID, s.partitions)
}

// CompareAt returns every difference between states (files of a volume,
// snapshots) and the recount at each one's own offset (rc.At: the offsets
// must have been asked for). what names them in the differences.
func CompareAt(what string, states map[int32]File, rc *Recount) []string {
	var diffs []string
	for _, p := range verify.SortedKeys(states) {
		f := states[p]
		want, ok := rc.At[p][f.Offset]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%s: partition %d at offset %d: not recounted there", what, p, f.Offset))
			continue
		}
		for _, name := range verify.SortedKeys(verify.UnionKeys(f.Stations, want)) {
			got, ok1 := f.Stations[name]
			exp, ok2 := want[name]
			switch {
			case !ok2:
				diffs = append(diffs, fmt.Sprintf("%s: partition %d has %s %+v, the topic has none below offset %d", what, p, name, got, f.Offset))
			case !ok1:
				diffs = append(diffs, fmt.Sprintf("%s: partition %d lacks %s, the topic has %+v below offset %d", what, p, name, exp, f.Offset))
			case got != exp:
				diffs = append(diffs, fmt.Sprintf("%s: partition %d %s: %+v, recount %+v (offset %d)", what, p, name, got, exp, f.Offset))
			}
		}
	}
	return diffs
}

// The consumer's log lines for where a partition continues from (slog text
// or JSON): its checkpoint on the pod's volume, its snapshot, or neither
// (offset 0: counted again).
var (
	resumeLine   = regexp.MustCompile(`resuming from checkpoint.*?\bpartition"?[=:](\d+).*?\boffset"?[=:](\d+)`)
	restoredLine = regexp.MustCompile(`restored from the snapshot topic.*?\bpartition"?[=:](\d+).*?\boffset"?[=:](\d+)`)
	freshLine    = regexp.MustCompile(`no checkpoint and no snapshot, starting at the log start.*?\bpartition"?[=:](\d+)`)
)

// start is where a pod's consumer continued a partition from.
type start struct {
	from   string // "checkpoint", "snapshot" or "log start"
	offset int64
	at     time.Time // the line's time
}

// starts reads pod's log (its current container) for where it continued
// each partition, waiting up to a minute for lines on all of want (nil:
// none awaited).
func (s *suite) starts(pod string, want []int32) (map[int32]start, error) {
	k := s.k
	k.Log = func(string, ...any) {} // polled
	var got map[int32]start
	err := Eventually(s.ctx, time.Minute, time.Second, func() error {
		logs, err := k.KubectlOut(s.ctx, "logs", pod)
		if err != nil {
			return err
		}
		got = parseStarts(logs)
		for _, p := range want {
			if _, ok := got[p]; !ok {
				return fmt.Errorf("no line in the log of %s says where partition %d continues from", pod, p)
			}
		}
		return nil
	})
	return got, err
}

// parseStarts finds the start lines of a consumer's log; a partition's last
// one wins.
func parseStarts(logs string) map[int32]start {
	got := map[int32]start{}
	for _, line := range strings.Split(logs, "\n") {
		var from string
		var m []string
		switch {
		case resumeLine.MatchString(line):
			from, m = "checkpoint", resumeLine.FindStringSubmatch(line)
		case restoredLine.MatchString(line):
			from, m = "snapshot", restoredLine.FindStringSubmatch(line)
		case freshLine.MatchString(line):
			from, m = "log start", append(freshLine.FindStringSubmatch(line), "0")
		default:
			continue
		}
		p, _ := strconv.ParseInt(m[1], 10, 32)
		off, _ := strconv.ParseInt(m[2], 10, 64)
		got[int32(p)] = start{from: from, offset: off, at: lineTime(line)}
	}
	return got
}

// firstStart is where the log first continued partition p from.
func firstStart(logs string, p int32) (start, bool) {
	for _, line := range strings.Split(logs, "\n") {
		if st, ok := parseStarts(line)[p]; ok {
			return st, true
		}
	}
	return start{}, false
}

// timeField is slog's time (text: time=…, JSON: "time":"…").
var timeField = regexp.MustCompile(`\btime"?[=:]"?([0-9T:.+\-Z]+)`)

func lineTime(line string) time.Time {
	if m := timeField.FindStringSubmatch(line); m != nil {
		if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
			return t
		}
	}
	return time.Time{}
}

// owners maps each partition to its ordinal in PARTITIONS_BY_ORDINAL.
func owners(assignment string) map[int32]int {
	m := map[int32]int{}
	for ordinal, entry := range strings.Split(assignment, ";") {
		for _, p := range strings.Split(entry, ",") {
			if n, err := strconv.ParseInt(p, 10, 32); err == nil {
				m[int32(n)] = ordinal
			}
		}
	}
	return m
}

// checkMoved checks, after the consumers settled on assignment after
// before, that every partition whose ordinal changed continued on its new
// pod from its snapshot at or past at[p] (where its files stood before the
// move: the pod that gave it up published its state when it stopped), and
// that no partition of any pod started again from offset 0.
func (s *suite) checkMoved(when, before, after string, at map[int32]int64) error {
	was, now := owners(before), owners(after)
	pods, err := s.podNames("consumer")
	if err != nil {
		return err
	}
	var moved []string
	for _, pod := range pods {
		ordinal, err := strconv.Atoi(pod[strings.LastIndexByte(pod, '-')+1:])
		if err != nil {
			return fmt.Errorf("pod %s: no ordinal", pod)
		}
		var mine []int32
		for p, o := range now {
			if o == ordinal {
				mine = append(mine, p)
			}
		}
		slices.Sort(mine)
		got, err := s.starts(pod, mine)
		if err != nil {
			return err
		}
		for _, p := range mine {
			st := got[p]
			switch prev, had := was[p]; {
			case st.from == "log start":
				return fmt.Errorf("%s: %s counted partition %d again from offset 0", when, pod, p)
			case !had || prev == ordinal:
				// Kept: from its checkpoint (or its snapshot, if newer).
			case st.from != "snapshot":
				return fmt.Errorf("%s: partition %d moved from ordinal %d to %s, which continued from its %s at %d, not from its snapshot", when, p, prev, pod, st.from, st.offset)
			case st.offset < at[p] || st.offset == 0:
				return fmt.Errorf("%s: partition %d moved to %s, restored from its snapshot at offset %d, before its files' %d", when, p, pod, st.offset, at[p])
			default:
				moved = append(moved, fmt.Sprintf("partition %d: ordinal %d -> %s, restored from its snapshot at offset %d (its files were at %d before)", p, prev, pod, st.offset, at[p]))
			}
		}
	}
	if len(moved) == 0 {
		moved = []string{"none"}
	}
	s.t.Logf("%s: moved partitions: %s", when, strings.Join(moved, "; "))
	return nil
}

// dumpVolumes prints every consumer volume's files (diagnose).
func (s *suite) dumpVolumes() {
	for claim, dir := range s.hostDirs {
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Printf("\n----- %s (%s): %v\n", claim, dir, err)
		}
		for _, e := range entries {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			if len(data) > 4096 {
				data = append(data[:4096], "…"...)
			}
			fmt.Printf("\n----- %s: %s\n%s\n", claim, e.Name(), data)
		}
	}
}

// The parts of the volume checks that need no cluster.

func TestParseStarts(t *testing.T) {
	logs := `time=2026-12-07T20:30:01.100Z level=INFO service=consumer msg="resuming from checkpoint" partition=0 offset=812 log_start=0 log_end=900 file=/data/partition-0.json
time=2026-12-07T20:30:01.200Z level=INFO service=consumer msg="restored from the snapshot topic" partition=2 offset=640 why="the checkpoint's offset is 12" snapshot="temperatures-snapshots partition 2 offset 17" log_end=700
{"time":"2026-12-07T20:30:01.300Z","level":"INFO","service":"consumer","msg":"no checkpoint and no snapshot, starting at the log start","partition":3,"offset":0,"log":"temperatures/ID/3"}
time=2026-12-07T20:30:02Z level=INFO service=consumer msg=consuming partitions=[0]`
	got := parseStarts(logs)
	want := map[int32]start{
		0: {"checkpoint", 812, time.Date(2026, 12, 7, 20, 30, 1, 100e6, time.UTC)},
		2: {"snapshot", 640, time.Date(2026, 12, 7, 20, 30, 1, 200e6, time.UTC)},
		3: {"log start", 0, time.Date(2026, 12, 7, 20, 30, 1, 300e6, time.UTC)},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for p, w := range want {
		if g := got[p]; g.from != w.from || g.offset != w.offset || !g.at.Equal(w.at) {
			t.Errorf("partition %d: got %+v, want %+v", p, g, w)
		}
	}
	if st, ok := firstStart("x\n"+logs+"\n"+strings.Replace(logs, "offset=812", "offset=999", 1), 0); !ok || st.offset != 812 {
		t.Errorf("firstStart: %+v %v, want the first line's offset 812", st, ok)
	}
}

func TestOwnersAndNewest(t *testing.T) {
	if got := owners("0,3;1;;2"); !reflect.DeepEqual(got, map[int32]int{0: 0, 3: 0, 1: 1, 2: 3}) {
		t.Errorf("owners: %v", got)
	}
	files, where := newest([]volume{
		{claim: "a", files: map[int32]File{0: {Offset: 5}, 1: {Offset: 9}}},
		{claim: "b", files: map[int32]File{1: {Offset: 3}, 2: {Offset: 1}}},
	})
	if !reflect.DeepEqual(Offsets(files), map[int32]int64{0: 5, 1: 9, 2: 1}) || !reflect.DeepEqual(where, map[int32]string{0: "a", 1: "a", 2: "b"}) {
		t.Errorf("newest: %v on %v", Offsets(files), where)
	}
	rc := &Recount{At: map[int32]map[int64]map[string]Station{1: {3: {"S": {Count: 1, Sum: 2, Start: "2000-01-01", End: "2000-01-01"}}}}}
	if d := CompareAt("b", map[int32]File{1: {Offset: 3, Stations: map[string]Station{"S": {Count: 1, Sum: 2, Start: "2000-01-01", End: "2000-01-01"}}}}, rc); len(d) != 0 {
		t.Errorf("equal states differ: %v", d)
	}
	if d := CompareAt("b", map[int32]File{1: {Offset: 3}, 2: {Offset: 1}}, rc); len(d) != 2 {
		t.Errorf("want a missing station and an offset not recounted, got %v", d)
	}
}

func TestParsePreviousFile(t *testing.T) {
	f, err := ParsePreviousFile([]byte(`{
  "offset": 6816,
  "log": {"topic": "temperatures", "topic_id": "3cTCaKIJSUe4hC7pAuO_bA", "partition": 2},
  "StationB": {"count": 2, "sum": 61.25, "avg": 30.625, "start": "2000-04-12", "end": "2000-04-13"}
}`))
	if err != nil {
		t.Fatal(err)
	}
	want := File{Offset: 6816, Log: Log{Topic: "temperatures", TopicID: "3cTCaKIJSUe4hC7pAuO_bA", Partition: 2},
		Stations: map[string]Station{"StationB": {Count: 2, Sum: 61.25, Start: "2000-04-12", End: "2000-04-13"}}}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v, want %+v", f, want)
	}
	if _, err := ParsePreviousFile([]byte(`{"offset": 1}`)); err == nil {
		t.Error("a file without its log taken for the previous format")
	}
}
