// Package kafkaadmin holds the admin look-ups the services make — a topic's
// identity and partition count, its partitions' offsets — each retried for a
// bounded time while Kafka answers with a retriable error. (A real broker
// answers UNKNOWN_TOPIC_OR_PARTITION for a moment after a topic is created,
// or while a partition changes leader; kfake never does, so a call that
// treats it as fatal passes every kfake test and fails now and then on a
// real cluster.)
package kafkaadmin

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// RetryFor bounds how long a look-up is retried.
const RetryFor = 30 * time.Second

// Retry calls f until it returns nil or an error that is not retriable, ctx
// ends, or RetryFor has passed; it returns f's last error.
func Retry(ctx context.Context, f func(context.Context) error) error {
	deadline := time.Now().Add(RetryFor)
	backoff := 50 * time.Millisecond
	for {
		err := f(ctx)
		if err == nil || !kerr.IsRetriable(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (while retrying: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// ErrNoTopic is returned by Lookup for a topic that does not exist.
var ErrNoTopic = errors.New("topic does not exist")

// Topic is what the services need to know of a topic.
type Topic struct {
	Name string
	// RawID is the topic's ID: a recreated topic has a new one. Zero if
	// the broker has no IDs.
	RawID      kadm.TopicID
	Partitions int
	// ReplicationFactor is partition 0's number of replicas.
	ReplicationFactor int
	// Leaders are the partitions' leader brokers (-1: none right now).
	Leaders map[int32]int32
}

// Lookup describes topic, or returns ErrNoTopic if it does not exist right now.
func Lookup(ctx context.Context, adm *kadm.Client, topic string) (Topic, error) {
	var t Topic
	err := Retry(ctx, func(ctx context.Context) (err error) {
		t, err = lookup(ctx, adm, topic)
		return err
	})
	return t, err
}

// Describe is Lookup of a topic that is known to exist (just created, say):
// not finding it is retried like any other retriable error.
func Describe(ctx context.Context, adm *kadm.Client, topic string) (Topic, error) {
	var t Topic
	err := Retry(ctx, func(ctx context.Context) (err error) {
		t, err = lookup(ctx, adm, topic)
		if errors.Is(err, ErrNoTopic) {
			err = fmt.Errorf("%w (%w)", err, kerr.UnknownTopicOrPartition)
		}
		return err
	})
	return t, err
}

func lookup(ctx context.Context, adm *kadm.Client, topic string) (Topic, error) {
	topics, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return Topic{}, err
	}
	d, ok := topics[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) || d.Err == nil && len(d.Partitions) == 0:
		return Topic{}, fmt.Errorf("%w: %s", ErrNoTopic, topic)
	case d.Err != nil:
		return Topic{}, d.Err
	}
	t := Topic{Name: topic, RawID: d.ID, Partitions: len(d.Partitions), Leaders: map[int32]int32{}}
	for p, pd := range d.Partitions {
		t.Leaders[p] = pd.Leader
	}
	t.ReplicationFactor = len(d.Partitions[0].Replicas)
	return t, nil
}

// ID is the topic's ID as Kafka prints it (kafka-topics --describe); ""
// if the broker has no IDs.
func (t Topic) ID() string { return TopicID(t.RawID) }

// TopicID writes id as Kafka does (URL-safe base64, no padding); "" for the
// zero ID of a broker without topic IDs.
func TopicID(id kadm.TopicID) string {
	if id == (kadm.TopicID{}) {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// StartOffsets are the partitions' log start offsets.
func StartOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	return offsets(ctx, "start", topic, func(ctx context.Context) (kadm.ListedOffsets, error) { return adm.ListStartOffsets(ctx, topic) })
}

// EndOffsets are the partitions' high watermarks: one past the last record,
// committed or not.
func EndOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	return offsets(ctx, "end", topic, func(ctx context.Context) (kadm.ListedOffsets, error) { return adm.ListEndOffsets(ctx, topic) })
}

// StableOffsets are the partitions' last stable offsets: where a read
// committed consumer's log ends. Below the end offset while a transaction is
// open (or its markers are still being written).
func StableOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, error) {
	return offsets(ctx, "stable", topic, func(ctx context.Context) (kadm.ListedOffsets, error) { return adm.ListCommittedOffsets(ctx, topic) })
}

func offsets(ctx context.Context, which, topic string, list func(context.Context) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
	var m map[int32]int64
	err := Retry(ctx, func(ctx context.Context) error {
		listed, err := list(ctx)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			return err
		}
		m = map[int32]int64{}
		listed.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		if len(m) == 0 {
			return fmt.Errorf("%w: %s", ErrNoTopic, topic)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s offsets of %s: %w", which, topic, err)
	}
	return m, nil
}
