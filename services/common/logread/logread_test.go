package logread

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/testkit"
)

const topic = "reports"

func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return testkit.Cluster(t, append([]kfake.Opt{kfake.SeedTopics(1, topic)}, opts...)...)
}

func client(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return testkit.Client(t, c, append([]kgo.Opt{kgo.DefaultProduceTopic(topic)}, opts...)...)
}

// read returns what Read gives, as "offset:value" ("offset:marker" for a
// transaction marker).
func read(t *testing.T, r *Reader, from, to int64, committed bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	err := r.Read(ctx, 0, from, to, committed, func(rec *kgo.Record) {
		v := string(rec.Value)
		if rec.Attrs.IsControl() {
			v = "marker"
		}
		got = append(got, string(rune('0'+rec.Offset))+":"+v)
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestRead(t *testing.T) {
	c := cluster(t)
	w := client(t, c, kgo.TransactionalID("writer"))
	testkit.Transaction(t, w, kgo.TryCommit, "a", "b") // 0 1, marker 2
	testkit.Transaction(t, w, kgo.TryAbort, "x", "y")  // 3 4, marker 5
	testkit.Transaction(t, w, kgo.TryCommit, "c")      // 6, marker 7
	r, err := New(context.Background(), client(t, c), topic)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		from, to  int64
		committed bool
		want      []string
	}{
		{"all, committed", 0, 8, true, []string{"0:a", "1:b", "2:marker", "5:marker", "6:c", "7:marker"}},
		{"all, uncommitted", 0, 8, false, []string{"0:a", "1:b", "2:marker", "3:x", "4:y", "5:marker", "6:c", "7:marker"}},
		{"a window", 1, 4, false, []string{"1:b", "2:marker", "3:x"}},
		{"a window of aborted records", 3, 5, true, nil},
		{"past the end", 6, 20, true, []string{"6:c", "7:marker"}},
		{"empty", 8, 8, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := read(t, r, tt.from, tt.to, tt.committed); !slices.Equal(got, tt.want) {
				t.Errorf("Read [%d, %d) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

// A transaction open when the broker was SIGKILLed is restored by kfake as
// aborted, with no abort marker: the log ends in records no read committed
// fetch returns. Read must end there, not wait for a record at end-1.
func TestReadEndsAtAnAbortedTailWithoutMarker(t *testing.T) {
	live := t.TempDir()
	c := cluster(t, kfake.DataDir(live), kfake.SyncWrites())
	w := client(t, c, kgo.TransactionalID("writer"))
	testkit.Transaction(t, w, kgo.TryCommit, "a") // 0, marker 1
	testkit.Begin(t, w, "open")                   // 2, in a transaction that never ends
	// The broker "dies" now: its directory as a SIGKILL would leave it.
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(live)); err != nil {
		t.Fatal(err)
	}
	restored := cluster(t, kfake.DataDir(crashed))
	// The aborted record is in the log, and nothing waits for it to end.
	ends, err := kadm.NewClient(client(t, restored)).ListCommittedOffsets(context.Background(), topic)
	if end, _ := ends.Lookup(topic, 0); err != nil || end.Offset != 3 {
		t.Fatalf("restored last stable offset %v (%v), want 3", end.Offset, err)
	}
	r, err := New(context.Background(), client(t, restored), topic)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, r, 0, 3, true), []string{"0:a", "1:marker"}; !slices.Equal(got, want) {
		t.Errorf("Read committed = %v, want %v", got, want)
	}
	if got, want := read(t, r, 0, 3, false), []string{"0:a", "1:marker", "2:open"}; !slices.Equal(got, want) {
		t.Errorf("Read uncommitted = %v, want %v", got, want)
	}
}

// A short range asks for little (a whole batch still comes: Kafka returns
// the batch holding the first offset whatever the limit); a long one for at
// most a megabyte per fetch.
func TestMaxBytesFollowsTheRange(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want int32
	}{
		{1, 16 << 10}, {16, 16 << 10}, {200, 25_600}, {8192, 1 << 20}, {1 << 40, 1 << 20},
	} {
		if got := maxBytes(tc.n); got != tc.want {
			t.Errorf("maxBytes(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}
