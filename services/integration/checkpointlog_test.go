package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A checkpoint knows which log it belongs to. The topic recreated
// (RECREATE_TOPIC) and grown past the old offsets: a consumer started on the
// old files refuses them, naming both logs, instead of adding the new topic's
// records to the old stats; with ON_OFFSET_OUT_OF_RANGE=restart it keeps them
// as backups and counts the new log from its start. A file copied from
// another partition is refused the same way.
func TestCheckpointOfAnotherLogIsRefused(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 5000)
	consumeAll(t, topic, dir)
	old := map[int32][]byte{}
	for _, p := range allPartitions {
		old[p], _ = os.ReadFile(partitionFile(dir, p))
		if f, _ := readFile(t, partitionFile(dir, p)); f.Log == nil || f.Log.Topic != topic || f.Log.Partition != p || f.Log.TopicID == "" {
			t.Fatalf("partition %d: the file's log is %+v, want topic %s, its ID, partition %d", p, f.Log, topic, p)
		}
	}
	oldID := func() string { f, _ := readFile(t, partitionFile(dir, 0)); return f.Log.TopicID }()

	produce(t, topic, 50_000, "RECREATE_TOPIC=true") // a new log, longer than the old one
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir}
	c := start(t, "consumer", env, "0", "1", "2", "3")
	if code := c.wait(30 * time.Second); code != 1 {
		t.Fatalf("consumer exited %d on the old log's files, want 1", code)
	}
	msg := c.stderr.String()
	for _, want := range []string{"is of another log", "(ID " + oldID + ")", "ON_OFFSET_OUT_OF_RANGE=restart"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, tail(msg, 3))
		}
	}
	for _, p := range allPartitions {
		if got, _ := os.ReadFile(partitionFile(dir, p)); string(got) != string(old[p]) {
			t.Errorf("partition %d: the refused file changed", p)
		}
	}

	consumeAll(t, topic, dir, "ON_OFFSET_OUT_OF_RANGE=restart")
	want := fromGenerator(50_000)
	for _, p := range allPartitions {
		backups, _ := filepath.Glob(partitionFile(dir, p) + ".bak-*")
		if len(backups) != 1 {
			t.Errorf("partition %d: backups %v, want one", p, backups)
		} else if got, _ := os.ReadFile(backups[0]); string(got) != string(old[p]) {
			t.Errorf("partition %d: the backup is not the old file", p)
		}
		f, _ := readFile(t, partitionFile(dir, p))
		equalStations(t, fmt.Sprintf("partition %d of the new log", p), f, want[p])
		if f.Log == nil || f.Log.TopicID == oldID {
			t.Errorf("partition %d: log %+v, want the new topic ID", p, f.Log)
		}
	}

	// partition-1.json copied over partition-0.json (partition-0.log beside
	// it still names partition 0): its stations are not the log's.
	copied, _ := os.ReadFile(partitionFile(dir, 1))
	os.WriteFile(partitionFile(dir, 0), copied, 0o644)
	c = start(t, "consumer", env, "0")
	if code := c.wait(30 * time.Second); code != 1 || !strings.Contains(c.stderr.String(), "is not this partition's stats") {
		t.Errorf("consumer on a copied file exited %d:\n%s", code, tail(c.stderr.String(), 3))
	}
}

// The topic deleted and recreated while the consumer runs: it stops with an
// error that says so (never loops on UNKNOWN_TOPIC_ID, never counts the new
// log into the old stats), its files as they were.
func TestConsumerStopsWhenItsTopicIsRecreatedUnderIt(t *testing.T) {
	topic, dir := newTopic(t), t.TempDir()
	produce(t, topic, 5000)
	c := start(t, "consumer", []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "TOPIC_CHECK_INTERVAL=1s"}, "0", "1", "2", "3")
	waitCaughtUp(t, dir, topic, allPartitions, time.Minute)
	old := map[int32][]byte{}
	for _, p := range allPartitions {
		old[p], _ = os.ReadFile(partitionFile(dir, p))
	}
	produce(t, topic, 20_000, "RECREATE_TOPIC=true")
	code := c.wait(time.Minute)
	msg := c.stderr.String()
	if code != 1 || !strings.Contains(msg, "while consuming") || !strings.Contains(msg, "ON_OFFSET_OUT_OF_RANGE=restart") {
		t.Fatalf("consumer exited %d, want 1 saying the topic was recreated or deleted:\n%s", code, tail(msg, 5))
	}
	for _, p := range allPartitions {
		if got, _ := os.ReadFile(partitionFile(dir, p)); string(got) != string(old[p]) {
			t.Errorf("partition %d changed: the new log was counted into the old stats", p)
		}
	}
}
