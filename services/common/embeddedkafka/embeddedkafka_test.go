package embeddedkafka

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// writeTransactions writes, in this order on every partition of topic: a
// committed transaction, one whose producer vanishes mid-way (fenced by the
// next instance of its transactional id, as a killed producer is), a
// committed one, one aborted on purpose, and a committed one. Values say
// "committed" or "aborted". It returns the number of committed records.
func writeTransactions(t *testing.T, c *kfake.Cluster, topic string, perTxn int) int {
	t.Helper()
	ctx := context.Background()
	producer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.TransactionalID("weather-producer"),
			kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	p, committed := producer(), 0
	for _, end := range []string{"commit", "vanish", "commit", "abort", "commit"} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		value := []byte("committed-" + string(make([]byte, 32)))
		if end != "commit" {
			value = []byte("aborted---" + string(make([]byte, 32)))
		}
		for i := range perTxn {
			p.Produce(ctx, &kgo.Record{Key: fmt.Appendf(nil, "Station%c", 'A'+i%10), Value: value}, nil)
		}
		if err := p.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		switch end {
		case "commit":
			committed += perTxn
			err := p.EndTransaction(ctx, kgo.TryCommit)
			if err != nil {
				t.Fatal(err)
			}
		case "abort":
			if err := p.EndTransaction(ctx, kgo.TryAbort); err != nil {
				t.Fatal(err)
			}
		case "vanish":
			p = producer() // its first request fences the old instance: kfake aborts its transaction
		}
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return committed
}

// readCommitted reads topic from the start, read committed with at most
// maxBytes per fetch, and returns how many committed and aborted records it
// was handed.
func readCommitted(t *testing.T, c *kfake.Cluster, topic string, maxBytes int32) (committed, aborted int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(maxBytes), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends := stableEnds(t, c, topic)
	next := map[int32]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for !caughtUp(next, ends) {
		fetches := cl.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatal(err)
		}
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			for _, r := range fp.Records {
				// Markers come through too, so the last one read is the end.
				next[fp.Partition] = r.Offset + 1
				switch {
				case r.Attrs.IsControl():
				case string(r.Value[:len("committed")]) == "committed":
					committed++
				default:
					aborted++
				}
			}
		})
	}
	return committed, aborted
}

func stableEnds(t *testing.T, c *kfake.Cluster, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = 1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range int32(4) {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	for _, p := range resp.Topics[0].Partitions {
		ends[p.Partition] = p.Offset
	}
	return ends
}

func caughtUp(next, ends map[int32]int64) bool {
	for p, end := range ends {
		if next[p] < end {
			return false
		}
	}
	return true
}

// The library's bug, shown on plain kfake: a fetch that reaches its
// MaxBytes hands out aborted records. If this test fails, kfake is fixed:
// drop GuardFetches (and this test).
func TestKfakeAloneHandsOutAbortedRecords(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := writeTransactions(t, c, "t", 400)
	committed, aborted := readCommitted(t, c, "t", 1) // every response ends on MaxBytes
	if committed != want || aborted == 0 {
		t.Fatalf("plain kfake handed out %d committed (want %d) and %d aborted records: the bug GuardFetches works around is gone", committed, want, aborted)
	}
	t.Logf("plain kfake, FetchMaxBytes 1: %d aborted records handed out as committed", aborted)
}

// With the guard, a read committed reader gets exactly the committed
// records, whatever its FetchMaxBytes.
func TestGuardedKfakeHandsOutOnlyCommittedRecords(t *testing.T) {
	for _, maxBytes := range []int32{1, 4 << 10, 262144, 1 << 20, 50 << 20} {
		t.Run(fmt.Sprint(maxBytes), func(t *testing.T) {
			c, err := NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := writeTransactions(t, c, "t", 20_000) // ~1 MB a transaction
			committed, aborted := readCommitted(t, c, "t", maxBytes)
			if committed != want || aborted != 0 {
				t.Fatalf("FetchMaxBytes %d: %d committed (want %d), %d aborted records handed out", maxBytes, committed, want, aborted)
			}
		})
	}
}

func TestClampFetchMovesTheOverallLimitOntoEachPartition(t *testing.T) {
	for _, tc := range []struct {
		name            string
		max             int32
		parts, wantPart []int32
		wantMax         int32
	}{
		{"partition limits above the overall one", 262144, []int32{1 << 20, 1 << 20}, []int32{262144, 262144}, math.MaxInt32},
		{"partition limits below it are kept", 262144, []int32{1000, 1 << 20}, []int32{1000, 262144}, math.MaxInt32},
		{"no overall limit", 0, []int32{1 << 20}, []int32{1 << 20}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := kmsg.NewPtrFetchRequest()
			r.MaxBytes = tc.max
			rt := kmsg.NewFetchRequestTopic()
			for i, b := range tc.parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.PartitionMaxBytes = int32(i), b
				rt.Partitions = append(rt.Partitions, rp)
			}
			r.Topics = append(r.Topics, rt)
			ClampFetch(r)
			if r.MaxBytes != tc.wantMax {
				t.Errorf("MaxBytes %d, want %d", r.MaxBytes, tc.wantMax)
			}
			for i, want := range tc.wantPart {
				if got := r.Topics[0].Partitions[i].PartitionMaxBytes; got != want {
					t.Errorf("partition %d: PartitionMaxBytes %d, want %d", i, got, want)
				}
			}
		})
	}
}
