package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/testkit"
)

// The reconciler's partition count is the topic's; a topic that is not
// there is the look-up's error (the reconcile's, retried), never a count
// of 0 that would take every partition away from the consumers.
func TestTopicPartitions(t *testing.T) {
	ctx := context.Background()
	cluster := testkit.Cluster(t)
	adm := kadm.NewClient(testkit.Client(t, cluster))
	partitions := topicPartitions(adm, kafkaconfig.Config{Brokers: cluster.ListenAddrs(), Topic: "temperatures"})
	n, err := partitions(ctx)
	if !errors.Is(err, kafkaadmin.ErrNoTopic) || err.Error() != "topic does not exist: temperatures" {
		t.Errorf("no topic: %d, %v; want the topic does not exist", n, err)
	}
	if _, err := adm.CreateTopic(ctx, 6, 1, nil, "temperatures"); err != nil {
		t.Fatal(err)
	}
	// The client's metadata may be a moment (100ms) old.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err := partitions(ctx)
		if n == 6 && err == nil {
			break
		}
		if time.Now().After(deadline) || err != nil && !errors.Is(err, kafkaadmin.ErrNoTopic) {
			t.Fatalf("a topic of 6 partitions: %d, %v", n, err)
		}
	}
}
