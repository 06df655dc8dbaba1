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
)

// Ensure creates topic with the given partitions and replication factor if it
// is missing. An existing topic is kept as it is, whatever its partition
// count (a warning says so): deleting it would destroy every consumer's
// checkpoint. With recreate (opt-in, as the original did on every start) the
// topic is deleted first.
func Ensure(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string, partitions int32, rf int16, recreate bool) error {
	if recreate {
		if err := remove(ctx, log, adm, topic); err != nil {
			return err
		}
	}
	// Creating right after a delete can fail while the broker still finishes
	// the delete: retry for a while.
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
		case time.Now().After(deadline) || ctx.Err() != nil:
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		log.Info("topic not created yet, retrying", "topic", topic, "err", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func checkExisting(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string, partitions int32) error {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("describe topic %s: %w", topic, err)
	}
	t := topics[topic]
	if t.Err != nil {
		return fmt.Errorf("describe topic %s: %w", topic, t.Err)
	}
	if n := len(t.Partitions); n != int(partitions) {
		log.Warn("topic exists with another partition count; using it as it is", "topic", topic, "partitions", n, "configured", partitions)
	} else {
		log.Info("topic exists", "topic", topic, "partitions", n)
	}
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
