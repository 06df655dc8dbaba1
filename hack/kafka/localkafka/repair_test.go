package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const topic = "temperatures"

func newClient(t *testing.T, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(topic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, commit bool, values ...string) {
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
	if commit {
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
}

// crashed returns a broker restored from dir as a SIGKILL left it: a copy
// taken while it ran.
func crashed(t *testing.T, live string) *kfake.Cluster {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(live)); err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// readCommitted returns the values a read committed consumer sees from the
// start of the topic.
func readCommitted(t *testing.T, c *kfake.Cluster, want int) []string {
	t.Helper()
	cl := newClient(t, c, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var got []string
	for len(got) < want {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// A transaction open at a crash: without the repair, kfake's restored log
// hides the restarted producer's committed records from a read committed
// reader (the bug); after it, they are there, and the aborted ones are not.
func TestRepairWritesTheMissingAbortMarker(t *testing.T) {
	live := t.TempDir()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic), kfake.DataDir(live), kfake.SyncWrites())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := newClient(t, c, kgo.TransactionalID("producer"))
	produce(t, p, true, "a", "b")
	produce(t, p, false, "lost-1", "lost-2") // open at the "crash"

	for _, repaired := range []bool{false, true} {
		restored := crashed(t, live)
		if repaired {
			if err := repair(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), newClient(t, restored)); err != nil {
				t.Fatal(err)
			}
		}
		produce(t, newClient(t, restored, kgo.TransactionalID("producer")), true, "c", "d")
		got := readCommitted(t, restored, 4)
		want := []string{"a", "b", "c", "d"}
		if repaired && !slices.Equal(got, want) {
			t.Errorf("after the repair, read committed: %v, want %v", got, want)
		}
		if !repaired && slices.Equal(got, want) {
			t.Log("kfake now restores a crash's open transaction with its abort marker: repair is no longer needed")
		}
	}
}

// Repair touches nothing else: committed and aborted transactions keep their
// markers as they are, and a transaction still open is left to end.
func TestRepairLeavesAWholeLogAlone(t *testing.T) {
	for _, open := range []bool{false, true} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		p := newClient(t, c, kgo.TransactionalID("producer"))
		produce(t, p, true, "a")
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		p.ProduceSync(context.Background(), &kgo.Record{Value: []byte("x")})
		if err := p.EndTransaction(context.Background(), kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
		if open {
			produce(t, newClient(t, c, kgo.TransactionalID("other")), false, "open")
		}
		adm := kadm.NewClient(newClient(t, c))
		before, _ := adm.ListEndOffsets(context.Background(), topic)
		if err := repair(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), newClient(t, c)); err != nil {
			t.Fatal(err)
		}
		after, _ := adm.ListEndOffsets(context.Background(), topic)
		b, _ := before.Lookup(topic, 0)
		a, _ := after.Lookup(topic, 0)
		if a.Offset != b.Offset {
			t.Errorf("open transaction %v: end offset %d → %d, repair wrote to a whole log", open, b.Offset, a.Offset)
		}
	}
}
