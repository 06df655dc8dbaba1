package topic

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/testkit"
)

func TestEnsure(t *testing.T) {
	adm := kadm.NewClient(testkit.Client(t, testkit.Cluster(t)))
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	describe := func() kafkaadmin.Topic {
		t.Helper()
		d, err := kafkaadmin.Describe(ctx, adm, "temperatures")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	if err := Ensure(ctx, log, adm, "temperatures", 4, 1, false); err != nil {
		t.Fatalf("create: %v", err)
	}
	first := describe()
	if first.Partitions != 4 {
		t.Fatalf("created %+v, want 4 partitions", first)
	}
	if err := Ensure(ctx, log, adm, "temperatures", 4, 1, false); err != nil || describe().ID() != first.ID() {
		t.Errorf("an existing topic of the same count: %v, ID %s → %s; want it kept", err, first.ID(), describe().ID())
	}
	err := Ensure(ctx, log, adm, "temperatures", 8, 1, false)
	if err == nil || !strings.Contains(err.Error(), "has 4 partitions, TOPIC_PARTITIONS is 8") || !strings.Contains(err.Error(), "TOPIC_PARTITIONS=4") {
		t.Errorf("another partition count: %v, want an error saying what to set", err)
	}
	if err := Ensure(ctx, log, adm, "temperatures", 8, 1, true); err != nil {
		t.Fatalf("recreate: %v", err)
	}
	// The client's metadata may be a moment old.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		d := describe()
		if d.ID() != first.ID() && d.Partitions == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreated %+v, want a new topic ID and 8 partitions", d)
		}
	}
}
