package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/weatherstream/weather/services/common/snapshot"
)

var allPartitions = []int32{0, 1, 2, 3}

// Exactly-once state under crashes: a stats consumer is SIGKILLed at random
// moments, at least ten times mid-stream, while it consumes at least 200k
// reports, and is restarted each time. Its final files are byte for byte
// those of a consumer that never crashed, and both equal the stats computed
// from the generator: no record lost, none counted twice, sums added in the
// same order.
func TestConsumerSIGKILLedRepeatedlyEndsEqualToACrashFreeRun(t *testing.T) {
	const chunk = 200_000
	topic, crashed, clean := newTopic(t), t.TempDir(), t.TempDir()
	produced := int64(chunk)
	produce(t, topic, produced, "TXN_MAX_RECORDS=5000")
	// Small fetches make many small batches: many checkpoints to die between.
	// A checkpoint after every fetch (CHECKPOINT_INTERVAL=0): the most
	// moments to die in the middle of one.
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + crashed, "FETCH_MAX_PARTITION_BYTES=8192", "CHECKPOINT_INTERVAL=0s", "LOCK_WAIT=10s"}

	kills, finished := 0, 0
	for kills < 10 {
		before := progress(t, crashed)
		c := start(t, "consumer", env, "0", "1", "2", "3")
		// Mid-stream: only once this run has checkpointed something.
		for deadline := time.Now().Add(time.Minute); progress(t, crashed) <= before; time.Sleep(time.Millisecond) {
			if !c.running() {
				t.Fatalf("consumer exited %d by itself", c.exitCode)
			}
			if time.Now().After(deadline) {
				t.Fatal("the consumer made no progress within a minute")
			}
		}
		time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
		c.cmd.Process.Kill()
		c.wait(10 * time.Second)
		if progress(t, crashed) < offsetsSum(endOffsets(t, topic)) {
			kills++ // killed mid-stream, after progress
			continue
		}
		// It caught up before the kill: give it more to do.
		finished++
		produced += chunk / 4
		produce(t, topic, produced, "TXN_MAX_RECORDS=5000")
	}
	last := start(t, "consumer", env, "0", "1", "2", "3")
	waitCaughtUp(t, crashed, topic, allPartitions, 3*time.Minute)
	last.terminate()
	if code := last.wait(30 * time.Second); code != 0 {
		t.Fatalf("consumer exited %d after SIGTERM", code)
	}
	t.Logf("%d reports, %d SIGKILLs mid-stream after progress (%d more after catching up)", produced, kills, finished)

	// The crash-free run counts from offset 0: not from the snapshots the
	// crashed one published.
	deleteSnapshots(t, topic)
	ref := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + clean}, "0", "1", "2", "3")
	waitCaughtUp(t, clean, topic, allPartitions, 3*time.Minute)
	ref.terminate()
	ref.wait(30 * time.Second)

	want := fromGenerator(produced)
	for _, p := range allPartitions {
		a, _ := os.ReadFile(partitionFile(crashed, p))
		b, _ := os.ReadFile(partitionFile(clean, p))
		if !bytes.Equal(a, b) {
			t.Errorf("partition %d after crashes:\n%s\ncrash-free:\n%s", p, a, b)
		}
		f, err := readFile(t, partitionFile(crashed, p))
		if err != nil {
			t.Fatal(err)
		}
		equalStations(t, fmt.Sprintf("partition %d", p), f, want[p])
	}
}

// progress is the sum of the offsets in the partition files of dir.
func progress(t testing.TB, dir string) int64 {
	var sum int64
	for _, p := range allPartitions {
		if f, err := readFile(t, partitionFile(dir, p)); err == nil {
			sum += f.Offset
		}
	}
	return sum
}

func offsetsSum(m map[int32]int64) (sum int64) {
	for _, o := range m {
		sum += o
	}
	return sum
}

// A producer SIGKILLed mid-run and restarted, several times: the topic holds
// every report of the stream exactly once, in order, with no gap.
func TestProducerSIGKILLedAndRestartedWritesEveryReportOnce(t *testing.T) {
	topic := newTopic(t)
	count := int64(200_000)
	midRun := 0
	adm := newAdmin(t)
	for midRun < 5 {
		before, _ := logProgress(adm, topic)
		p := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=0", fmt.Sprintf("COUNT=%d", count), "TXN_MAX_RECORDS=3000"})
		// Mid-run: only once this run has written something.
		for deadline := time.Now().Add(time.Minute); p.running(); time.Sleep(time.Millisecond) {
			if end, _ := logProgress(adm, topic); end > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the producer wrote nothing within a minute")
			}
		}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		if !p.running() {
			if p.exitCode != 0 {
				t.Fatalf("producer exited %d", p.exitCode)
			}
			count += 200_000 // it finished before the kill: make the stream longer
			continue
		}
		p.cmd.Process.Kill()
		p.wait(10 * time.Second)
		midRun++
	}
	produce(t, topic, count, "TXN_MAX_RECORDS=3000")
	t.Logf("%d reports, producer SIGKILLed %d times mid-run", count, midRun)

	// Everything committed is exactly the stream, and nothing more.
	if foreign := checkStream(t, brokers, topic, count, seedOne); foreign != 0 {
		t.Errorf("%d records in the topic that are not the stream's", foreign)
	}
}

// deleteSnapshots deletes topic's snapshot topic: a consumer on an empty
// disk then counts from offset 0 instead of restoring.
func deleteSnapshots(t *testing.T, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := newAdmin(t)
	if _, err := adm.DeleteTopic(ctx, snapshot.Topic(topic)); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatal(err)
	}
	for {
		topics, err := adm.ListTopics(ctx, snapshot.Topic(topic))
		if err == nil && !topics.Has(snapshot.Topic(topic)) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s not deleted: %v", snapshot.Topic(topic), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
