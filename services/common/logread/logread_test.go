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
)

const topic = "reports"

func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(1, topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func client(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// txn writes values in one transaction and ends it with commit or abort.
func txn(t *testing.T, cl *kgo.Client, commit kgo.TransactionEndTry, values ...string) {
	t.Helper()
	ctx := context.Background()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.EndTransaction(ctx, commit); err != nil {
		t.Fatal(err)
	}
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
	txn(t, w, kgo.TryCommit, "a", "b") // 0 1, marker 2
	txn(t, w, kgo.TryAbort, "x", "y")  // 3 4, marker 5
	txn(t, w, kgo.TryCommit, "c")      // 6, marker 7
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
	txn(t, w, kgo.TryCommit, "a") // 0, marker 1
	if err := w.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := w.ProduceSync(context.Background(), &kgo.Record{Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err) // 2, in a transaction that never ends
	}
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
