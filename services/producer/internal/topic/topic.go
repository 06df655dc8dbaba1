// Package topic makes sure the reports topic exists before anything is
// written to it.
package topic

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
)

// retentionKey is the topic config that says how long records are kept.
const retentionKey = "retention.ms"

// Spec is the topic as the producer creates it.
type Spec struct {
	Name              string
	Partitions        int32
	ReplicationFactor int16
	// RetentionMs is its retention.ms: -1 keeps every record. The topic is
	// the record the stats are rebuilt from, once their disk is lost.
	RetentionMs int64
}

// Ensure creates the topic of spec if it is missing. An existing topic is
// kept as it is (deleting it would void every consumer's checkpoint) if it
// has the given partition count: with another, the stations' reports land on
// other partitions than the stream's so far, and that is an error until the
// count is set to the topic's. Its retention is not changed either (it is
// its owner's to choose), only warned about if records are deleted. With
// recreate (opt-in, as the original did on every start) the topic is deleted
// first.
func Ensure(ctx context.Context, log *slog.Logger, adm *kadm.Client, spec Spec, recreate bool) error {
	topic := spec.Name
	if recreate {
		if err := remove(ctx, log, adm, topic); err != nil {
			return err
		}
	}
	configs := map[string]*string{retentionKey: kadm.StringPtr(strconv.FormatInt(spec.RetentionMs, 10))}
	// Creating right after a delete can fail while the broker still finishes
	// the delete: retry for a while; otherwise only retriable errors.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := adm.CreateTopic(ctx, spec.Partitions, spec.ReplicationFactor, configs, topic)
		if err == nil {
			err = resp.Err
		}
		switch {
		case err == nil:
			log.Info("created topic", "topic", topic, "partitions", spec.Partitions, "replication_factor", spec.ReplicationFactor, "retention_ms", spec.RetentionMs)
			warnIfFinite(log, topic, spec.RetentionMs, "TOPIC_RETENTION_MS", "TOPIC_RETENTION_MS=-1 before the topic is created")
			return nil
		case errors.Is(err, kerr.TopicAlreadyExists) && !recreate:
			return checkExisting(ctx, log, adm, topic, spec.Partitions)
		case errors.Is(err, kerr.TopicAuthorizationFailed) && !recreate:
			// No right to create: enough if an operator made the topic.
			if _, lerr := kafkaadmin.Lookup(ctx, adm, topic); lerr == nil {
				return checkExisting(ctx, log, adm, topic, spec.Partitions)
			}
			return fmt.Errorf("create topic %s: %w", topic, err)
		case time.Now().After(deadline), ctx.Err() != nil:
			return fmt.Errorf("create topic %s: %w", topic, err)
		case errors.Is(err, kerr.InvalidReplicationFactor):
			// Fewer brokers registered than the replication factor: on a
			// cluster starting together with the producer (the chart's three
			// brokers) the others come within seconds; else this ends at the
			// deadline with the broker's message.
		case !recreate && !kerr.IsRetriable(err):
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
	checkRetention(ctx, log, adm, topic)
	return nil
}

// checkRetention warns if the existing topic deletes old records. It never
// fails the start: the answer changes nothing but the log, and a producer
// without the right to describe the topic's configs (its least-privilege
// ACLs do not hold DescribeConfigs) skips it.
func checkRetention(ctx context.Context, log *slog.Logger, adm *kadm.Client, topic string) {
	var rc kadm.ResourceConfig
	err := kafkaadmin.Retry(ctx, func(ctx context.Context) error {
		rcs, err := adm.DescribeTopicConfigs(ctx, topic)
		if err == nil {
			rc, err = rcs.On(topic, nil)
		}
		if err == nil {
			err = rc.Err
		}
		return err
	})
	switch {
	case errors.Is(err, kerr.TopicAuthorizationFailed):
		log.Debug("retention not checked: no DescribeConfigs right on the topic", "topic", topic, "err", err)
		return
	case err != nil:
		log.Warn("retention not checked: cannot describe the topic's configs", "topic", topic, "err", err)
		return
	}
	for _, c := range rc.Configs {
		if c.Key != retentionKey || c.Value == nil {
			continue
		}
		ms, err := strconv.ParseInt(*c.Value, 10, 64)
		if err != nil {
			log.Warn("retention not checked: retention.ms is not a number", "topic", topic, "retention_ms", *c.Value)
			return
		}
		warnIfFinite(log, topic, ms, "the topic's "+retentionKey+" ("+c.Source.String()+")",
			"kafka-configs.sh --alter --entity-type topics --entity-name "+topic+" --add-config retention.ms=-1")
		return
	}
	log.Debug("retention not checked: the broker did not describe retention.ms", "topic", topic)
}

// warnIfFinite warns once that a finite retention deletes the stream's
// oldest reports: a consumer that lost its checkpoints can then no longer
// count them again.
func warnIfFinite(log *slog.Logger, topic string, ms int64, from, keepAll string) {
	if ms < 0 {
		return
	}
	after := strconv.FormatInt(ms, 10) + "ms"
	if ms <= math.MaxInt64/int64(time.Millisecond) {
		after = (time.Duration(ms) * time.Millisecond).String()
	}
	log.Warn(fmt.Sprintf("records older than %s are deleted: the stats can no longer be rebuilt from the topic after that", after),
		"topic", topic, "retention_ms", ms, "from", from, "keep_all", keepAll)
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
