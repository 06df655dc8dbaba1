// Package topic makes sure the reports topic exists before anything is
// written to it.
package topic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
)

// Ensure creates topic with the given partitions and replication factor if it
// is missing. An existing topic is kept as it is (deleting it would void
// every consumer's checkpoint) if it has the given partition count: with
// another, the stations' reports land on other partitions than the stream's
// so far, and that is an error until the count is set to the topic's. With
// recreate (opt-in, as the original did on every start) the topic is deleted
// first.
func Ensure(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string, partitions int32, rf int16, recreate bool) error {
	if recreate {
		if err := remove(ctx, log, adm, topic); err != nil {
			return err
		}
	}
	// Creating right after a delete can fail while the broker still finishes
	// the delete: retry for a while; otherwise only retriable errors.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			log.Info("created topic", "topic", topic, "partitions", partitions, "replication_factor", rf)
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists) && !recreate:
			return checkExisting(ctx, log, adm, topic, partitions)
		case errors.Is(err, kerr.TopicAuthorizationFailed) && !recreate:
			// No right to create: enough if an operator made the topic.
			if _, lerr := kafkaadmin.Lookup(ctx, adm, topic); lerr == nil {
				return checkExisting(ctx, log, adm, topic, partitions)
			}
			return fmt.Errorf("create topic %s: %w", topic, err)
		case !recreate && !kerr.IsRetriable(err), time.Now().After(deadline), ctx.Err() != nil:
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		log.Info("topic not created yet, retrying", "topic", topic, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func checkExisting(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string, partitions int32) error {
	t, err := kafkaadmin.Describe(ctx, adm, topic)
	if err != nil {
		return fmt.Errorf("describe topic %s: %w", topic, err)
	}
	if t.Partitions != int(partitions) {
		return fmt.Errorf("topic %s has %d partitions, TOPIC_PARTITIONS is %d: the stations would land on other partitions than a %[3]d-partition stream's. "+
			"Set TOPIC_PARTITIONS=%[2]d to go on with the topic as it is", topic, t.Partitions, partitions)
	}
	log.Info("topic exists", "topic", topic, "partitions", t.Partitions, "topic_id", t.ID())
	return nil
}

func remove(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string) error {
	resp, err := adm.DeleteTopic(ctx, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete topic %s: %w", topic, err)
	}
	log.Warn("deleted topic (RECREATE_TOPIC): every consumer checkpoint of it is now void", "topic", topic)
	return nil
}
