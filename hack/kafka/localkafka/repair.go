package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/logread"
)

// repairWindow is how far back from a partition's end repair looks: more
// than one transaction of the producer (TXN_MAX_RECORDS) per partition.
const repairWindow = 1 << 17

// repair writes the abort markers kfake leaves out. A transaction open when
// kfake was SIGKILLed is restored as aborted, but with no abort marker in the
// log; a read committed client drops a producer's records from the first
// offset of its aborted transaction until that producer's abort marker, so
// without one it drops every later record of the same producer id in the
// fetches that hold the aborted ones: the restarted producer's committed
// reports, silently. Right after a restart, with no transaction open on a
// partition (last stable offset = end offset), a producer whose last record
// there is a transaction's data, not a marker, is such a transaction; its
// marker is written before anyone connects.
func repair(ctx context.Context, log *slog.Logger, client *kgo.Client) error {
	adm := kadm.NewClient(client)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, "__") {
			continue // internal: offsets, transactions
		}
		if err := repairTopic(ctx, log, client, adm, name); err != nil {
			return fmt.Errorf("repair topic %s: %w", name, err)
		}
	}
	return nil
}

func repairTopic(ctx context.Context, log *slog.Logger, client *kgo.Client, adm *kadm.Client, topic string) error {
	reader, err := logread.New(ctx, client, topic)
	if err != nil {
		return err
	}
	starts, err := kafkaadmin.StartOffsets(ctx, adm, topic)
	if err != nil {
		return err
	}
	ends, err := kafkaadmin.EndOffsets(ctx, adm, topic)
	if err != nil {
		return err
	}
	stable, err := kafkaadmin.StableOffsets(ctx, adm, topic)
	if err != nil {
		return err
	}
	for p, end := range ends {
		if stable[p] != end {
			continue // a transaction kfake keeps open: it ends as any would
		}
		type last struct {
			epoch  int16
			data   bool
			offset int64
		}
		lasts := map[int64]last{} // by producer id
		err := reader.Read(ctx, p, max(starts[p], end-repairWindow), end, false, func(rec *kgo.Record) {
			if rec.Attrs.IsTransactional() {
				lasts[rec.ProducerID] = last{rec.ProducerEpoch, !rec.Attrs.IsControl(), rec.Offset}
			}
		})
		if err != nil {
			return err
		}
		for pid, l := range lasts {
			if !l.data {
				continue
			}
			if err := abortMarker(ctx, client, topic, p, pid, l.epoch); err != nil {
				return err
			}
			log.Warn("wrote the abort marker of a transaction open at a crash", "topic", topic, "partition", p,
				"producer_id", pid, "last_offset", l.offset)
		}
	}
	return nil
}

func abortMarker(ctx context.Context, client *kgo.Client, topic string, p int32, pid int64, epoch int16) error {
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = pid, epoch, false
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{p}
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return err
	}
	for _, rm := range resp.Markers {
		for _, rt := range rm.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					return fmt.Errorf("abort marker for producer %d on partition %d: %w", pid, rp.Partition, err)
				}
			}
		}
	}
	return nil
}
