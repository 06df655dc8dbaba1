package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/verify"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/snapshot"
)

// filesAt reads the partitions' files across data directories (one
// "node" each, a partition in whichever last owned it).
func filesAt(t *testing.T, dirs map[int32]string) map[int32]verify.File {
	t.Helper()
	out := map[int32]verify.File{}
	for p, dir := range dirs {
		files, err := verify.ReadFiles(dir, p+1)
		if err != nil {
			t.Fatal(err)
		}
		f, ok := files[p]
		if !ok {
			t.Fatalf("partition %d: no file in %s", p, dir)
		}
		out[p] = f
	}
	return out
}

// restoredAt is the offset a consumer's log says partition p was restored
// from the snapshot topic at; -1 if it was not.
func restoredAt(log string, p int32) int64 {
	m := regexp.MustCompile(fmt.Sprintf(`msg="restored from the snapshot topic" service=consumer partition=%d offset=(\d+)`, p)).FindStringSubmatch(log)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// A partition's state follows it: two consumers with data directories of
// their own (two nodes). Partitions 2 and 3 move mid-stream from the first
// to the second, whose disk has never seen them: it restores them from the
// snapshots the first published as it gave them up, not from offset 0. The
// first's disk is then lost: it restores 0 and 1 from their snapshots. At
// the end every file — and the newest snapshot of every partition — equals
// a recount of the topic at its offset.
func TestPartitionStateFollowsItToAnotherNode(t *testing.T) {
	topic := newTopic(t)
	nodeA, nodeB := t.TempDir(), t.TempDir()
	env := func(dir string) []string {
		return []string{"TOPIC=" + topic, "DATA_DIR=" + dir, "SNAPSHOT_INTERVAL=200ms"}
	}
	producer := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=200us", "COUNT=60000"})
	producer.waitForLog("producing", 30*time.Second)
	stop := func(p *proc) {
		t.Helper()
		p.terminate()
		if code := p.wait(30 * time.Second); code != 0 {
			t.Fatalf("consumer exited %d after SIGTERM:\n%s", code, tail(p.stderr.String(), 5))
		}
	}
	progressed := func(dir string, from int64) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); progress(t, dir) <= from; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no progress in %s past %d", dir, from)
			}
		}
	}

	a := start(t, "consumer", env(nodeA), "0", "1", "2", "3")
	progressed(nodeA, 1000)
	// Every partition, not just the sum: behind a backlog a fetch can fill
	// up with some partitions' records, and a partition that has not come
	// yet has no state to give up (its successor then rightly starts at 0).
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		missing := []int32{}
		for _, p := range allPartitions {
			if f, err := readFile(t, partitionFile(nodeA, p)); err != nil || f.Offset == 0 {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("partitions %v never checkpointed in %s", missing, nodeA)
		}
	}
	stop(a) // gives every partition up: each one's newest state is in Kafka

	a = start(t, "consumer", env(nodeA), "0", "1")
	b := start(t, "consumer", env(nodeB), "2", "3")
	b.waitForLog("consuming", 30*time.Second)
	for _, p := range []int32{2, 3} {
		if at := restoredAt(b.stderr.String(), p); at <= 0 {
			t.Errorf("partition %d on the second node: not restored from its snapshot:\n%s", p, tail(b.stderr.String(), 8))
		} else {
			t.Logf("partition %d moved: restored from its snapshot at offset %d", p, at)
		}
	}
	progressed(nodeB, progress(t, nodeB))

	stop(a)
	for _, p := range []int32{0, 1} { // the first node's disk is lost
		os.Remove(partitionFile(nodeA, p))
		os.Remove(strings.TrimSuffix(partitionFile(nodeA, p), ".json") + ".log")
	}
	a = start(t, "consumer", env(nodeA), "0", "1")
	a.waitForLog("consuming", 30*time.Second)
	for _, p := range []int32{0, 1} {
		if at := restoredAt(a.stderr.String(), p); at <= 0 {
			t.Errorf("partition %d after its disk was lost: not restored from its snapshot:\n%s", p, tail(a.stderr.String(), 8))
		} else {
			t.Logf("partition %d, disk lost: restored from its snapshot at offset %d", p, at)
		}
	}

	if code := producer.wait(3 * time.Minute); code != 0 {
		t.Fatalf("producer exited %d", code)
	}
	ends := endOffsets(t, topic)
	dirs := map[int32]string{0: nodeA, 1: nodeA, 2: nodeB, 3: nodeB}
	for p, dir := range dirs {
		waitFilesAt(t, dir, ends, []int32{p}, 2*time.Minute)
	}
	stop(a)
	stop(b)

	files := filesAt(t, dirs)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, _ := kadm.NewClient(newClient(t)).ListTopics(ctx, topic)
	snaps, err := verify.Snapshots(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, snapshot.Topic(topic), kafkaadmin.TopicID(id[topic].ID), 4)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := verify.Count(ctx, []kgo.Opt{kgo.SeedBrokers(brokers...)}, topic, verify.Offsets(files), 1, verify.Offsets(snaps))
	if err != nil {
		t.Fatal(err)
	}
	if d := verify.Compare(files, rc); len(d) > 0 || len(rc.StreamErrors) > 0 {
		t.Errorf("files vs recount: %v %v", d, rc.StreamErrors)
	}
	if d := verify.DaysMismatch(files); len(d) > 0 {
		t.Errorf("read the original's way: %v", d)
	}
	atSnaps := &verify.Recount{Stations: map[int32]map[string]verify.Station{}}
	for p, s := range snaps {
		atSnaps.Stations[p] = rc.At[p][s.Offset]
		if s.Offset != files[p].Offset {
			t.Errorf("partition %d: the newest snapshot is at %d, the file at %d (both stopped cleanly)", p, s.Offset, files[p].Offset)
		}
	}
	if d := verify.Compare(snaps, atSnaps); len(d) > 0 || len(snaps) != 4 {
		t.Errorf("snapshots (%d) vs recount: %v", len(snaps), d)
	}
}

// The consumers commit their checkpointed offsets to the monitoring group,
// so Kafka's own kafka-consumer-groups.sh (ConsumerGroupCommand, from the
// jars) shows every partition's lag: log end - checkpoint. Real Kafka only.
func TestMonitoringGroupShowsTheLagToKafkasOwnTool(t *testing.T) {
	if os.Getenv("KAFKA_BROKERS") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs the integration tests on a real broker (KAFKA_BROKERS)")
		}
		t.Skip("Kafka's own tool needs a real broker: runs with KAFKA_BROKERS (make test-kafka, CI)")
	}
	topic, dir := newTopic(t), t.TempDir()
	group := topic + "-stats"
	produce(t, topic, 4000)
	consumeAll(t, topic, dir, "MONITORING_GROUP="+group)
	produce(t, topic, 6000) // 2000 more, nobody reading: the lag
	ends := endOffsets(t, topic)

	cmd := exec.Command(filepath.Join(repoRoot(t), "hack", "kafka", "kafka.sh"), "tool", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
		"--bootstrap-server", strings.Join(brokers, ","), "--describe", "--group", group)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kafka-consumer-groups.sh --describe: %v\n%s", err, out)
	}
	t.Logf("kafka-consumer-groups.sh --describe --group %s:\n%s", group, out)
	seen := map[int32]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != group || f[1] != topic {
			continue
		}
		p, _ := strconv.Atoi(f[2])
		current, _ := strconv.ParseInt(f[3], 10, 64)
		logEnd, _ := strconv.ParseInt(f[4], 10, 64)
		lag, _ := strconv.ParseInt(f[5], 10, 64)
		file, err := readFile(t, partitionFile(dir, int32(p)))
		if err != nil {
			t.Fatal(err)
		}
		if current != file.Offset || logEnd != ends[int32(p)] || lag != logEnd-file.Offset || lag <= 0 {
			t.Errorf("partition %d: current %d, log end %d, lag %d; want the file's %d, %d, their difference (> 0)", p, current, logEnd, lag, file.Offset, ends[int32(p)])
		}
		seen[int32(p)] = true
	}
	if len(seen) != 4 {
		t.Errorf("the tool showed partitions %v of the group, want all four", seen)
	}
}
