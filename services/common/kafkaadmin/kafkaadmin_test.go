package kafkaadmin

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/weatherstream/weather/services/common/testkit"
)

func TestRetry(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error // f's answers, in turn; nil after them
		wantCalls int
		wantErr   error
	}{
		{"first time", nil, 1, nil},
		{"retriable, then fine", []error{kerr.UnknownTopicOrPartition, kerr.LeaderNotAvailable}, 3, nil},
		{"not retriable", []error{kerr.TopicAuthorizationFailed}, 1, kerr.TopicAuthorizationFailed},
		{"wrapped retriable", []error{errors.Join(errors.New("list"), kerr.NotLeaderForPartition)}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Retry(context.Background(), func(context.Context) error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("%d calls, error %v; want %d calls, error %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}

func TestRetryStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Retry(ctx, func(context.Context) error { return kerr.UnknownTopicOrPartition })
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("error %v after %s, want the context's deadline at once", err, time.Since(start))
	}
}

func newCluster(t *testing.T) (*kfake.Cluster, *kadm.Client) {
	t.Helper()
	c := testkit.Cluster(t)
	return c, kadm.NewClient(testkit.Client(t, c))
}

func TestLookupAndDescribe(t *testing.T) {
	ctx := context.Background()
	_, adm := newCluster(t)
	if _, err := Lookup(ctx, adm, "reports"); !errors.Is(err, ErrNoTopic) {
		t.Fatalf("Lookup of a missing topic: %v, want ErrNoTopic", err)
	}
	created, err := adm.CreateTopic(ctx, 3, 1, nil, "reports")
	if err != nil || created.Err != nil {
		t.Fatal(err, created.Err)
	}
	got, err := Describe(ctx, adm, "reports")
	if err != nil {
		t.Fatal(err)
	}
	wantID := base64.RawURLEncoding.EncodeToString(created.ID[:])
	if got.Name != "reports" || got.ID() != wantID || got.Partitions != 3 || len(got.Leaders) != 3 {
		t.Errorf("Describe = %+v, want reports, ID %s, 3 partitions with leaders", got, wantID)
	}
	if TopicID(kadm.TopicID{}) != "" {
		t.Error("the zero topic ID is not empty")
	}
}

// A real broker answers UNKNOWN_TOPIC_OR_PARTITION for a moment after a
// topic is created: the offsets are retried, not an error.
func TestOffsetsRetryUnknownTopicRightAfterCreate(t *testing.T) {
	ctx := context.Background()
	cluster, adm := newCluster(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "reports"); err != nil {
		t.Fatal(err)
	}
	refusals := testkit.RefuseListOffsets(cluster, 3)
	for name, list := range map[string]func(context.Context, *kadm.Client, string) (map[int32]int64, error){
		"start": StartOffsets, "end": EndOffsets, "stable": StableOffsets,
	} {
		got, err := list(ctx, adm, "reports")
		if err != nil || len(got) != 2 || got[0] != 0 || got[1] != 0 {
			t.Errorf("%s offsets = %v, %v; want 0 and 0", name, got, err)
		}
	}
	if *refusals != 3 {
		t.Errorf("%d refused requests, want 3", *refusals)
	}
}
