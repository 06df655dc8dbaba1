package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/services/common/checkpoint"
	"github.com/weatherstream/weather/services/common/kafkaadmin"
)

// topicWatch looks at the topic now and then while the consumer runs. A
// topic deleted or recreated under it ends the consumer: its checkpoints
// hold the old log's stats, and a fetch of the new log would only ever fail
// (UNKNOWN_TOPIC_ID). Partitions added to the topic, and partitions read by
// no consumer, are warned about: their reports are in no stats.
type topicWatch struct {
	log      *slog.Logger
	adm      *kadm.Client
	store    *checkpoint.Store
	topic    kafkaadmin.Topic // as at the start
	owned    []int32
	assigned []int32 // given to some consumer, if known (PARTITIONS_BY_ORDINAL)
	every    time.Duration
	metrics  *Metrics

	next       time.Time
	missing    int     // checks in a row that did not find the topic
	partitions int     // the topic's partition count, last seen
	unread     []int32 // last reported
}

func newTopicWatch(log *slog.Logger, adm *kadm.Client, store *checkpoint.Store, topic kafkaadmin.Topic, cfg Config, m *Metrics) *topicWatch {
	every := cfg.TopicCheckInterval
	// The first look at who reads what waits one interval: consumers
	// started together take their partitions' locks meanwhile.
	return &topicWatch{log: log, adm: adm, store: store, topic: topic, owned: cfg.Partitions, assigned: cfg.Assigned,
		every: every, metrics: m, next: time.Now().Add(every), partitions: topic.Partitions}
}

// soon brings the next check forward: a fetch error says the topic changed.
func (w *topicWatch) soon() { w.next = time.Now() }

// due reports whether a check is due.
func (w *topicWatch) due() bool { return !time.Now().Before(w.next) }

// check looks at the topic and returns an error if the consumer must stop.
func (w *topicWatch) check(ctx context.Context) error {
	w.next = time.Now().Add(w.every)
	t, err := kafkaadmin.Lookup(ctx, w.adm, w.topic.Name)
	switch {
	case errors.Is(err, kafkaadmin.ErrNoTopic):
		// Twice in a row, a check apart: not a broker's passing doubt.
		if w.missing++; w.missing < 2 {
			w.next = time.Now().Add(min(w.every, 2*time.Second))
			return nil
		}
		return fmt.Errorf("topic %s was deleted while consuming: the checkpoints of partitions %v keep the stats of the deleted log. "+
			"Once it is created again, start with ON_OFFSET_OUT_OF_RANGE=restart to keep them as backups and count the new log", w.topic.Name, w.owned)
	case err != nil:
		if ctx.Err() == nil {
			w.log.Warn("cannot look at the topic", "topic", w.topic.Name, "err", err)
		}
		return nil
	case t.RawID != w.topic.RawID && t.ID() != "" && w.topic.ID() != "":
		return fmt.Errorf("topic %s was recreated while consuming (topic ID %s, now %s): the checkpoints of partitions %v keep the stats of the old log. "+
			"Start again with ON_OFFSET_OUT_OF_RANGE=restart to keep them as backups and count the new log", w.topic.Name, w.topic.ID(), t.ID(), w.owned)
	}
	w.missing = 0
	if t.Partitions != w.partitions {
		w.log.Warn("the topic's partition count changed", "topic", t.Name, "partitions", t.Partitions, "was", w.partitions)
		w.partitions = t.Partitions
	}
	w.reportUnread(t.Partitions)
	return nil
}

// reportUnread warns about partitions that no consumer reads: not this one's,
// not given to another (PARTITIONS_BY_ORDINAL, when known), and with no
// consumer holding their lock in the data directory.
func (w *topicWatch) reportUnread(partitions int) {
	var unread []int32
	for p := range int32(partitions) {
		if !slices.Contains(w.owned, p) && !slices.Contains(w.assigned, p) && !w.store.Held(p) {
			unread = append(unread, p)
		}
	}
	w.metrics.unread.Set(float64(len(unread)))
	if slices.Equal(unread, w.unread) {
		return
	}
	w.unread = unread
	if len(unread) == 0 {
		w.log.Info("every partition of the topic is read again", "topic", w.topic.Name, "partitions", partitions)
		return
	}
	w.log.Warn("partitions of the topic are read by no consumer: their reports are in no stats until a consumer takes them (the partition controller does, where it runs)",
		"topic", w.topic.Name, "unread", unread, "partitions", partitions, "this_consumer", w.owned)
}
