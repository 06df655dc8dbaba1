package view

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weatherstream/weather/services/common/stats"
)

var now = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

// state is a partition's state: offset, and per station its reports "date=degrees".
func state(t *testing.T, log *stats.Log, offset int64, stations map[string][]string) *stats.Partition {
	t.Helper()
	p := stats.New(offset)
	p.Log = log
	for name, reports := range stations {
		for _, r := range reports {
			date, deg, _ := strings.Cut(r, "=")
			var d float64
			if err := json.Unmarshal([]byte(deg), &d); err != nil {
				t.Fatal(err)
			}
			if err := p.Add([]byte(name), []byte(date), d); err != nil {
				t.Fatal(err)
			}
		}
	}
	return p
}

func logOf(p int32) *stats.Log {
	return &stats.Log{Topic: "temperatures", TopicID: "ID1", Partition: p}
}

func healthyLog() Log {
	return Log{
		Topic: "temperatures", TopicID: "ID1", Partitions: 2,
		StableOffsets: map[int32]int64{0: 100, 1: 50},
		NewestReport:  map[int32]time.Time{0: now.Add(-2 * time.Second)},
	}
}

func TestBuild(t *testing.T) {
	snaps := func(t *testing.T) []Snapshot {
		return []Snapshot{
			{Partition: 0, Time: now.Add(-time.Second),
				State: state(t, logOf(0), 90, map[string][]string{"StationA": {"2000-01-01=10", "2000-01-02=20.5"}, "StationC": {"2000-01-01=-3"}})},
			{Partition: 1, Time: now.Add(-3 * time.Second),
				State: state(t, logOf(1), 50, map[string][]string{"StationB": {"2000-01-03=1"}})},
		}
	}
	type rowWant struct {
		state, errHas string
		offset, lag   *int64
	}
	for _, tc := range []struct {
		name         string
		snaps        func(t *testing.T) []Snapshot
		log          Log
		wantComplete bool
		wantStations string // "name:count:sum:start:end:partitions ..."
		wantRows     []rowWant
		wantUnread   []int32
		wantKafka    string
	}{
		{
			name: "healthy", snaps: snaps, log: healthyLog(), wantComplete: true,
			wantStations: "StationA:2:30.5:2000-01-01:2000-01-02:[0] StationB:1:1:2000-01-03:2000-01-03:[1] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows:     []rowWant{{state: StateOK, offset: ptr[int64](90), lag: ptr[int64](10)}, {state: StateOK, offset: ptr[int64](50), lag: ptr[int64](0)}},
			wantUnread:   []int32{},
		},
		{
			name: "a snapshot that does not load is an error row, its stations are not counted",
			snaps: func(t *testing.T) []Snapshot {
				f := snaps(t)
				f[1] = Snapshot{Partition: 1, Time: now, Err: errors.New("temperatures-snapshots partition 1 offset 7: not a snapshot: corrupt")}
				return f
			},
			log:          healthyLog(),
			wantStations: "StationA:2:30.5:2000-01-01:2000-01-02:[0] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows:     []rowWant{{state: StateOK, offset: ptr[int64](90), lag: ptr[int64](10)}, {state: StateError, errHas: "corrupt"}},
			wantUnread:   []int32{},
		},
		{
			name:         "a partition without a snapshot is unread",
			snaps:        func(t *testing.T) []Snapshot { return snaps(t)[:1] },
			log:          healthyLog(),
			wantStations: "StationA:2:30.5:2000-01-01:2000-01-02:[0] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows:     []rowWant{{state: StateOK, offset: ptr[int64](90), lag: ptr[int64](10)}, {state: StateUnread}},
			wantUnread:   []int32{1},
		},
		{
			name: "a snapshot of the topic before it was recreated is an error",
			snaps: func(t *testing.T) []Snapshot {
				f := snaps(t)
				f[0].State.Log = &stats.Log{Topic: "temperatures", TopicID: "OLD", Partition: 0}
				return f
			},
			log:          healthyLog(),
			wantStations: "StationB:1:1:2000-01-03:2000-01-03:[1]",
			wantRows:     []rowWant{{state: StateError, errHas: "of another log: topic temperatures (ID OLD) partition 0, not topic temperatures (ID ID1) partition 0"}, {state: StateOK, offset: ptr[int64](50), lag: ptr[int64](0)}},
			wantUnread:   []int32{},
		},
		{
			name: "a snapshot of another partition is an error",
			snaps: func(t *testing.T) []Snapshot {
				f := snaps(t)
				f[1].State.Log = logOf(0)
				return f
			},
			log:          healthyLog(),
			wantStations: "StationA:2:30.5:2000-01-01:2000-01-02:[0] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows:     []rowWant{{state: StateOK, offset: ptr[int64](90), lag: ptr[int64](10)}, {state: StateError, errHas: "of another log"}},
			wantUnread:   []int32{},
		},
		{
			name: "a snapshot beyond the topic's partitions is an error",
			snaps: func(t *testing.T) []Snapshot {
				return append(snaps(t), Snapshot{Partition: 2, State: state(t, nil, 5, map[string][]string{"StationZ": {"2000-01-01=1"}})})
			},
			log:          healthyLog(),
			wantStations: "StationA:2:30.5:2000-01-01:2000-01-02:[0] StationB:1:1:2000-01-03:2000-01-03:[1] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows: []rowWant{{state: StateOK, offset: ptr[int64](90), lag: ptr[int64](10)}, {state: StateOK, offset: ptr[int64](50), lag: ptr[int64](0)},
				{state: StateError, errHas: "topic temperatures has 2 partitions: there is no partition 2"}},
			wantUnread: []int32{},
		},
		{
			name: "a station in two partitions adds up",
			snaps: func(t *testing.T) []Snapshot {
				f := snaps(t)
				f[1].State = state(t, logOf(1), 50, map[string][]string{"StationA": {"1999-12-31=4", "2000-01-05=1.5"}})
				return f
			},
			log: healthyLog(), wantComplete: true,
			wantStations: "StationA:4:36:1999-12-31:2000-01-05:[0 1] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows:     []rowWant{{state: StateOK, offset: ptr[int64](90), lag: ptr[int64](10)}, {state: StateOK, offset: ptr[int64](50), lag: ptr[int64](0)}},
			wantUnread:   []int32{},
		},
		{
			name:  "kafka away: the snapshots are shown, nothing is made up",
			snaps: snaps, log: Log{Topic: "temperatures", Err: errors.New("kafka at 127.0.0.1:1 unreachable")}, wantComplete: true,
			wantStations: "StationA:2:30.5:2000-01-01:2000-01-02:[0] StationB:1:1:2000-01-03:2000-01-03:[1] StationC:1:-3:2000-01-01:2000-01-01:[0]",
			wantRows:     []rowWant{{state: StateOK, offset: ptr[int64](90)}, {state: StateOK, offset: ptr[int64](50)}},
			wantUnread:   []int32{},
			wantKafka:    "unreachable",
		},
		{
			name: "nothing yet", snaps: func(*testing.T) []Snapshot { return nil }, log: healthyLog(),
			wantRows:   []rowWant{{state: StateUnread}, {state: StateUnread}},
			wantUnread: []int32{0, 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Build(now, "temperatures", tc.snaps(t), tc.log)
			if v.Complete != tc.wantComplete {
				t.Errorf("Complete = %v, want %v", v.Complete, tc.wantComplete)
			}
			var got []string
			for _, s := range v.Stations {
				got = append(got, strings.Join([]string{s.Station, jsonOf(t, s.Count), jsonOf(t, s.Sum), s.Start, s.End, jsonOf(t, s.Partitions)}, ":"))
				if s.Count == nil || s.Sum == nil || s.Avg == nil || *s.Avg != *s.Sum/float64(*s.Count) {
					t.Errorf("%s: count %v sum %v avg %v, want avg = sum/count", s.Station, deref(s.Count), deref(s.Sum), deref(s.Avg))
				}
			}
			if g := strings.ReplaceAll(strings.Join(got, " "), ",", " "); g != tc.wantStations {
				t.Errorf("stations\n got %s\nwant %s", g, tc.wantStations)
			}
			if len(v.Partitions) != len(tc.wantRows) {
				t.Fatalf("%d partition rows, want %d: %+v", len(v.Partitions), len(tc.wantRows), v.Partitions)
			}
			for i, w := range tc.wantRows {
				r := v.Partitions[i]
				if r.Partition != int32(i) || r.State != w.state || !strings.Contains(r.Error, w.errHas) || (w.errHas == "") != (r.Error == "") {
					t.Errorf("row %d = partition %d state %q error %q; want state %q error with %q", i, r.Partition, r.State, r.Error, w.state, w.errHas)
				}
				if !equal(r.Offset, w.offset) || !equal(r.Lag, w.lag) {
					t.Errorf("row %d: offset %v lag %v, want %v %v", i, deref(r.Offset), deref(r.Lag), deref(w.offset), deref(w.lag))
				}
				if r.State != StateOK && r.Stations != 0 {
					t.Errorf("row %d in state %s counts %d stations", i, r.State, r.Stations)
				}
			}
			if jsonOf(t, v.Unread) != jsonOf(t, tc.wantUnread) {
				t.Errorf("unread %v, want %v", v.Unread, tc.wantUnread)
			}
			if !strings.Contains(v.KafkaError, tc.wantKafka) || (tc.wantKafka == "") != (v.KafkaError == "") {
				t.Errorf("kafka error %q, want one with %q", v.KafkaError, tc.wantKafka)
			}
		})
	}
}

// The checkpoint's age is its snapshot's: the time since it was published.
func TestBuildAges(t *testing.T) {
	v := Build(now, "temperatures", []Snapshot{
		{Partition: 0, Time: now.Add(-1500 * time.Millisecond), State: state(t, logOf(0), 90, nil)},
		{Partition: 1, Time: now.Add(-time.Second), State: state(t, logOf(1), 50, nil)},
	}, healthyLog())
	p0, p1 := v.Partitions[0], v.Partitions[1]
	if *p0.CheckpointAgeSeconds != 1.5 || *p0.NewestReportAgeSeconds != 2 {
		t.Errorf("partition 0: checkpoint age %v, report age %v; want 1.5, 2", deref(p0.CheckpointAgeSeconds), deref(p0.NewestReportAgeSeconds))
	}
	if *p1.CheckpointAgeSeconds != 1 || p1.NewestReportAgeSeconds != nil {
		t.Errorf("partition 1: checkpoint age %v, report age %v (Kafka did not say); want 1, null", deref(p1.CheckpointAgeSeconds), deref(p1.NewestReportAgeSeconds))
	}
}

// TestViewJSON pins the API's field names: the page, the e2e and users' scripts read them.
func TestViewJSON(t *testing.T) {
	v := Build(now, "temperatures", []Snapshot{{Partition: 0, Time: now,
		State: state(t, logOf(0), 3, map[string][]string{"StationA": {"2000-01-01=1.25"}})}},
		Log{Topic: "temperatures", TopicID: "ID1", Partitions: 2, StableOffsets: map[int32]int64{0: 4, 1: 0},
			Latest: map[string][]Reading{"StationA": {{Date: "2000-01-01", Degrees: 1.25}}}})
	want := `{"time":"2026-12-02T01:00:00Z","topic":"temperatures","topic_id":"ID1","complete":false,` +
		`"stations":[{"station":"StationA","count":1,"sum":1.25,"avg":1.25,"start":"2000-01-01","end":"2000-01-01","partitions":[0]}],` +
		`"partitions":[{"partition":0,"state":"ok","offset":3,"log_end":4,"lag":1,"checkpoint_age_seconds":0,"newest_report_age_seconds":null,` +
		`"log":{"topic":"temperatures","topic_id":"ID1","partition":0},"stations":1},` +
		`{"partition":1,"state":"unread","offset":null,"log_end":0,"lag":null,"checkpoint_age_seconds":null,"newest_report_age_seconds":null,"log":null,"stations":0}],` +
		`"unread":[1],"latest":{"StationA":[{"date":"2000-01-01","degrees":1.25}]}}`
	if got := jsonOf(t, v); got != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equal[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// A snapshot's offset outside its log is that row's error, with the log's facts
// still shown beside it; the other rows keep theirs.
func TestBuildRowOfAnOffsetOutsideTheLog(t *testing.T) {
	log := healthyLog()
	log.StartOffsets = map[int32]int64{0: 0, 1: 20}
	for _, tc := range []struct {
		name   string
		offset int64
		err    string
	}{
		{"past the end", 999999, "the snapshot's offset 999999 is past the log's end 50"},
		{"below the start", 10, "the snapshot's offset 10 is below the log's start 20"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Build(now, "temperatures", []Snapshot{
				{Partition: 0, State: state(t, logOf(0), 90, map[string][]string{"StationA": {"2000-01-01=1"}})},
				{Partition: 1, State: state(t, logOf(1), tc.offset, map[string][]string{"StationB": {"2000-01-01=2"}})},
			}, log)
			p0, p1 := v.Partitions[0], v.Partitions[1]
			if p0.State != StateOK || p0.Lag == nil || *p0.Lag != 10 {
				t.Errorf("partition 0: %+v, want ok with its lag 10", p0)
			}
			if p1.State != StateError || !strings.Contains(p1.Error, tc.err) || p1.LogEnd == nil || *p1.LogEnd != 50 {
				t.Errorf("partition 1: %+v, want an error %q beside the log end 50", p1, tc.err)
			}
			if v.Complete || len(v.Stations) != 1 || v.Stations[0].Station != "StationA" {
				t.Errorf("complete %v, stations %+v; want incomplete, StationB not counted", v.Complete, v.Stations)
			}
		})
	}
}

// Two valid snapshots whose station adds up past what a number holds: the
// station says so with null numbers, the view is incomplete, and it always
// encodes (an infinite sum once made every refresh fail).
func TestBuildStationWhoseStatsAddUpPastANumber(t *testing.T) {
	big := func(p int32, offset, count int64, sum float64) Snapshot {
		st := stats.New(offset)
		st.Log = logOf(p)
		st.Stations["StationA"] = &stats.Station{Count: count, Sum: sum, Start: date(t, "2000-01-01"), End: date(t, "2000-01-02")}
		return Snapshot{Partition: p, State: st}
	}
	for _, tc := range []struct {
		name  string
		snaps []Snapshot
	}{
		{"sums to +Inf", []Snapshot{big(0, 10, 1, 1.7e308), big(1, 10, 1, 1.7e308)}},
		{"sums to -Inf", []Snapshot{big(0, 10, 1, -1.7e308), big(1, 10, 1, -1.7e308)}},
		{"counts past int64", []Snapshot{big(0, math.MaxInt64, math.MaxInt64, 1), big(1, math.MaxInt64, 2, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Build(now, "temperatures", tc.snaps, Log{Topic: "temperatures", Err: errors.New("away")})
			s := v.Stations[0]
			if s.Count != nil || s.Sum != nil || s.Avg != nil || !strings.Contains(s.Error, "add up to more than a number holds") || v.Complete {
				t.Errorf("station %+v, complete %v; want null numbers with the reason, incomplete", s, v.Complete)
			}
			if _, err := json.Marshal(v); err != nil {
				t.Errorf("the view does not encode: %v", err)
			}
		})
	}
}

func date(t *testing.T, s string) stats.Date {
	t.Helper()
	d, err := stats.DateOf(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
