package check

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// dashboard answers /api/v1/partitions with each of answers in turn, the
// last one from then on.
func dashboard(t *testing.T, answers ...string) string {
	t.Helper()
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/partitions" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		a := answers[min(n, len(answers)-1)]
		n++
		mu.Unlock()
		if a == "503" {
			http.Error(w, "no view yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(a))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

const (
	at10  = `{"partitions":[{"partition":0,"state":"ok","offset":10,"lag":5},{"partition":1,"state":"ok","offset":7,"lag":0}]}`
	at20  = `{"partitions":[{"partition":0,"state":"ok","offset":20,"lag":3},{"partition":1,"state":"ok","offset":9,"lag":1}]}`
	done  = `{"partitions":[{"partition":0,"state":"ok","offset":20,"lag":0},{"partition":1,"state":"ok","offset":9,"lag":0}]}`
	stuck = `{"partitions":[{"partition":0,"state":"ok","offset":20,"lag":50},{"partition":1,"state":"ok","offset":9,"lag":0}]}`
)

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		answers  []string
		maxLag   int64
		wantOK   string // in the line, when it works
		wantFail string // in the error, when it does not
	}{
		{name: "the checkpoints advance", answers: []string{"503", at10, at20}, maxLag: 100, wantOK: "the checkpoints advanced by 12 offsets"},
		{name: "caught up, nothing new", answers: []string{done}, maxLag: 100, wantOK: "caught up with the log"},
		{name: "stuck behind", answers: []string{stuck}, maxLag: 100, wantFail: "the checkpoints have not advanced"},
		{name: "lag above the bound", answers: []string{at10, at20}, maxLag: 2, wantFail: "partition 0 lags 3 offsets (at most 2)"},
		{name: "a snapshot in error", answers: []string{`{"partitions":[{"partition":0,"state":"error","error":"corrupt"}]}`}, maxLag: 100,
			wantFail: "partition 0 is error corrupt"},
		{name: "a partition nobody checkpoints", answers: []string{`{"partitions":[{"partition":0,"state":"unread"}],"unread":[0]}`}, maxLag: 100,
			wantFail: "partition 0 is unread"},
		{name: "kafka away", answers: []string{`{"kafka_error":"unreachable","partitions":[{"partition":0,"state":"ok","offset":1}]}`}, maxLag: 100,
			wantFail: "no answer from Kafka: unreachable"},
		{name: "no partitions yet", answers: []string{`{"partitions":[]}`}, maxLag: 100, wantFail: "no partition yet"},
		{name: "not the dashboard", answers: []string{`<html>`}, maxLag: 100, wantFail: "not the dashboard's JSON"},
		{name: "no view ever", answers: []string{"503"}, maxLag: 100, wantFail: "503 Service Unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := Run(context.Background(), http.DefaultClient, Config{
				URL: dashboard(t, tc.answers...), MaxLag: tc.maxLag, Timeout: 300 * time.Millisecond, Every: 10 * time.Millisecond,
			})
			switch {
			case tc.wantOK != "" && (err != nil || !strings.Contains(ok, tc.wantOK)):
				t.Errorf("Run = %q, %v; want a line with %q", ok, err, tc.wantOK)
			case tc.wantFail != "" && (err == nil || !strings.Contains(err.Error(), tc.wantFail)):
				t.Errorf("Run = %q, %v; want an error with %q", ok, err, tc.wantFail)
			}
		})
	}
}
