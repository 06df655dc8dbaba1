package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The whole pipeline with its three binaries: a producer writes N reports
// while two stats consumers (partitions 0,2 and 1,3) read them; every
// partition file ends equal to the stats computed from the generator, with
// the partition's end offset.
func TestPipelineFilesEqualStatsComputedFromTheGenerator(t *testing.T) {
	const count = 50_000
	topic, dir := newTopic(t), t.TempDir()
	producer := start(t, "producer", []string{"TOPIC=" + topic, "INTERVAL=0", fmt.Sprintf("COUNT=%d", count), "TXN_MAX_RECORDS=2000"})
	env := []string{"TOPIC=" + topic, "DATA_DIR=" + dir}
	c02 := start(t, "consumer", env, "0", "2")
	c13 := start(t, "consumer", env, "1,3")

	if code := producer.wait(3 * time.Minute); code != 0 {
		t.Fatalf("producer exited %d", code)
	}
	waitCaughtUp(t, dir, topic, []int32{0, 1, 2, 3}, 2*time.Minute)
	for _, c := range []*proc{c02, c13} {
		c.terminate()
		if code := c.wait(30 * time.Second); code != 0 {
			t.Errorf("consumer exited %d after SIGTERM, want 0", code)
		}
	}

	// What a person runs in a pod without a shell: consumer print.
	printed := start(t, "consumer", nil, "print", dir)
	if code := printed.wait(30 * time.Second); code != 0 {
		t.Errorf("consumer print exited %d", code)
	}
	for p := range int32(4) {
		data, _ := os.ReadFile(partitionFile(dir, p))
		if !strings.Contains(printed.stdout.String(), "==> "+partitionFile(dir, p)+" <==\n"+string(data)) {
			t.Errorf("consumer print lacks partition %d", p)
		}
	}

	want := fromGenerator(count)
	ends := endOffsets(t, topic)
	for p := range int32(4) {
		f, err := readFile(t, partitionFile(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if f.Offset != ends[p] {
			t.Errorf("partition %d: offset %d, want the end offset %d", p, f.Offset, ends[p])
		}
		equalStations(t, fmt.Sprintf("partition %d", p), f, want[p])
	}
}
