package integration

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/verify"
)

// A producer killed in the middle of a transaction, again and again (SIGKILL,
// SIGHUP, SIGQUIT at full speed), then run to the end; then stats consumers
// read the topic from offset 0 with their default fetch size (256 KiB, the
// size at which the embedded broker once handed out aborted reports): every
// file equals the committed stream — which records are committed decided by
// hack/verify from the log's own markers, not by the broker's read committed
// path — and the log does hold aborted reports, so the check had something
// to catch. On the suite's broker (real Kafka in CI) and on make run's
// embedded broker.
func TestProducerKilledMidTransactionGetsNoAbortedReportCounted(t *testing.T) {
	for _, broker := range []struct {
		name  string
		start func(t *testing.T) []string
	}{
		{"suite broker", func(*testing.T) []string { return brokers }},
		{"embedded broker", func(t *testing.T) []string {
			addr := freeAddr(t)
			startEmbeddedBroker(t, addr, t.TempDir())
			return []string{addr}
		}},
	} {
		t.Run(broker.name, func(t *testing.T) {
			at := broker.start(t)
			topic := topicName(t, "aborted")
			env := []string{"KAFKA_BROKERS=" + strings.Join(at, ","), "TOPIC=" + topic}
			count, kills := killProducerMidTransaction(t, at, topic, env, 300_000, 6)

			dir := t.TempDir()
			consumerEnv := append([]string{"DATA_DIR=" + dir}, env...)
			consumers := []*proc{start(t, "consumer", consumerEnv, "0", "2"), start(t, "consumer", consumerEnv, "1", "3")}
			ends := endOffsetsAt(t, at, topic)
			waitFilesAt(t, dir, ends, allPartitions, 2*time.Minute)
			for _, c := range consumers {
				c.terminate()
				if code := c.wait(30 * time.Second); code != 0 {
					t.Fatalf("consumer exited %d after SIGTERM", code)
				}
			}

			files, err := verify.ReadFiles(dir, int32(len(allPartitions)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rc, err := verify.Count(ctx, []kgo.Opt{kgo.SeedBrokers(at...)}, topic, verify.Offsets(files), 1)
			if err != nil {
				t.Fatal(err)
			}
			var committed, aborted int64
			for _, p := range allPartitions {
				committed += rc.Records[p]
				aborted += rc.Aborted[p]
			}
			t.Logf("%d reports, producer %s mid-transaction; %d records of aborted transactions in the log", count, strings.Join(kills, ", "), aborted)
			if d := verify.Compare(files, rc); len(d) > 0 {
				t.Errorf("the files are not the committed stream: %s", strings.Join(d[:min(len(d), 5)], "; "))
			}
			if len(rc.StreamErrors) > 0 || committed != count {
				t.Errorf("the committed stream is %d reports (want %d): %v", committed, count, rc.StreamErrors)
			}
			if aborted == 0 {
				t.Errorf("no aborted transaction in the log: the kills came between transactions, the test proved nothing")
			}
		})
	}
}

// killProducerMidTransaction runs the producer at full speed on a stream
// without end (COUNT=0) and kills it kills times, each time once it has made
// progress since its start and has a transaction open with records in it, by
// SIGKILL, SIGHUP and SIGQUIT in turn; then runs it to the end of a stream of
// at least minCount reports and at least 300,000 more than the log held after
// the kills. A producer without an end never finishes before its kill, however
// slowly this test looks (a loaded machine: CI). It returns the stream's
// length and the signals sent.
func killProducerMidTransaction(t *testing.T, at []string, topic string, env []string, minCount int64, kills int) (int64, []string) {
	t.Helper()
	adm := kadm.NewClient(newClientAt(t, at))
	// A signal this test ignores (nohup ignores SIGHUP) the producer
	// inherits ignored: it would not stop it.
	signals := []syscall.Signal{syscall.SIGKILL}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGQUIT} {
		if signal.Ignored(sig) {
			t.Logf("%v left out: this test runs with it ignored, and so would the producer", sig)
			continue
		}
		signals = append(signals, sig)
	}
	var sent []string
	for len(sent) < kills {
		before, _ := logProgress(adm, topic)
		p := start(t, "producer", append([]string{"INTERVAL=0", "COUNT=0"}, env...))
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if !p.running() {
				t.Fatalf("a producer without a count exited %d by itself:\n%s", p.wait(time.Second), tail(p.stderr.String(), 10))
			}
			if end, open := logProgress(adm, topic); end > before+1000 && open >= 100 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the producer made no progress with a transaction open within a minute")
			}
		}
		sig := signals[len(sent)%len(signals)]
		_ = p.cmd.Process.Signal(sig)
		if code := p.wait(10 * time.Second); code == 0 {
			t.Fatalf("producer exited 0 on %v:\n%s", sig, tail(p.stderr.String(), 10))
		}
		sent = append(sent, sig.String())
	}
	// The log holds every committed report and more (aborted records,
	// markers): a stream that long is past what the producers committed.
	end, _ := logProgress(adm, topic)
	count := max(minCount, end+300_000)
	p := start(t, "producer", append([]string{"INTERVAL=0", fmt.Sprintf("COUNT=%d", count)}, env...))
	if code := p.wait(3 * time.Minute); code != 0 {
		t.Fatalf("producer exited %d:\n%s", code, tail(p.stderr.String(), 20))
	}
	return count, sent
}

// logProgress is the sum of topic's end offsets and how many of those
// records are in transactions still open (end - last stable offset).
func logProgress(adm *kadm.Client, topic string) (end, open int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, 0
	}
	stable, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return 0, 0
	}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := stable.Lookup(topic, o.Partition)
		end += o.Offset
		open += o.Offset - s.Offset
	})
	return end, open
}
