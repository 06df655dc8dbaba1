package consume

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/stats"
)

// A partition without a checkpoint starts at its log start when that is
// offset 0, as ever. A log whose first records are deleted is refused with
// one line saying what is lost and both ways out, unless START_AT_LOG_START
// says to count from the log start: then it does, and warns which offsets
// are not counted.
func TestStartWithoutACheckpoint(t *testing.T) {
	const reports = 500
	tests := []struct {
		name            string
		deleteTo        int64 // the log start DeleteRecords leaves; 0: none deleted
		startAtLogStart bool
		wantErr         []string // Start fails with all of these
		wantLog         string   // else the start logs this, and counts from deleteTo
	}{
		{name: "log from 0", wantLog: `level=INFO msg="no checkpoint and no snapshot, starting at the log start" partition=0 offset=0`},
		{name: "log from 0, told to start at the log start", startAtLogStart: true,
			wantLog: `level=INFO msg="no checkpoint and no snapshot, starting at the log start" partition=0 offset=0`},
		{name: "log from 123", deleteTo: 123, wantErr: []string{
			"partition 0 has no checkpoint and no snapshot, and its log starts at offset 123, not 0: records 0-122 are deleted (retention or DeleteRecords), so stats counted from here would miss them.",
			"Restore DIR/partition-0.json, or set START_AT_LOG_START=true to count from offset 123 on",
		}},
		{name: "log from 123, told to start at the log start", deleteTo: 123, startAtLogStart: true,
			wantLog: `level=WARN msg="no checkpoint and no snapshot, starting at the log start (START_AT_LOG_START): offsets 0-122 are deleted and not counted in the stats" partition=0 offset=123`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 1)
			e.produce(0, reports)
			if tt.deleteTo > 0 {
				var del kadm.Offsets
				del.Add(kadm.Offset{Topic: topic, Partition: 0, At: tt.deleteTo})
				if resp, err := e.adm.DeleteRecords(context.Background(), del); err != nil || resp.Error() != nil {
					t.Fatalf("delete records: %v %v", err, resp.Error())
				}
			}
			cfg := e.config(0)
			cfg.StartAtLogStart = tt.startAtLogStart
			c, _, err := e.start(cfg)
			if tt.wantErr != nil {
				for _, w := range tt.wantErr {
					if w = strings.ReplaceAll(w, "DIR", e.dir); err == nil || !strings.Contains(err.Error(), w) || strings.Contains(err.Error(), "\n") {
						t.Errorf("Start: %v, want one line with %q", err, w)
					}
				}
				if files, _ := os.ReadDir(e.dir); hasPartitionFile(files) {
					t.Errorf("a refused start wrote a checkpoint: %v", files)
				}
				return
			}
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			if !strings.Contains(e.logs.String(), tt.wantLog) {
				t.Errorf("log lacks %s:\n%s", tt.wantLog, e.logs)
			}
			e.run(c)
			e.caughtUp(0)
			equal(t, 0, e.file(0), wantFrom(tt.deleteTo, reports))
		})
	}
}

// wantFrom is a one-partition topic's stats of reports [from, n): its first
// from records deleted.
func wantFrom(from, n int64) map[string]stats.Station {
	g := generator.New(1)
	out := map[string]stats.Station{}
	for i := from; i < n; i++ {
		r := g.Report(i)
		s, ok := out[r.StationId]
		d, _ := stats.DateOf(r.Date)
		if !ok {
			s.Start = d
		}
		s.Count++
		s.Sum += r.Degrees
		s.End = d
		out[r.StationId] = s
	}
	return out
}

func hasPartitionFile(files []os.DirEntry) bool {
	for _, f := range files {
		if strings.HasPrefix(f.Name(), "partition-") && strings.HasSuffix(f.Name(), ".json") {
			return true
		}
	}
	return false
}
