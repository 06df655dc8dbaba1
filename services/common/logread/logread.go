// Package logread reads a range of one partition's log exactly: each record
// and transaction marker in [from, to), committed only or all.
//
// A consumer client cannot say where its position is, so reading "up to to"
// with one means waiting for a record at to-1 — which never comes when the
// range ends in an aborted transaction whose abort marker was never written
// (kfake restores a transaction open at a SIGKILL that way). Raw fetches,
// decoded by kgo.ProcessFetchPartition, know the offset they reached, and a
// fetch that returns nothing means the broker has nothing more there: the
// range ends where the broker says, never by waiting.
package logread

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
)

// Reader reads ranges of one topic's partitions.
type Reader struct {
	client *kgo.Client
	adm    *kadm.Client
	topic  kafkaadmin.Topic
}

// New returns a reader of topic through client.
func New(ctx context.Context, client *kgo.Client, topic string) (*Reader, error) {
	r := &Reader{client: client, adm: kadm.NewClient(client)}
	var err error
	r.topic, err = kafkaadmin.Describe(ctx, r.adm, topic)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Read calls fn with each record of partition p in [from, to), transaction
// markers included; with committed, only records of committed transactions
// (and records written outside of one). It stops early where the broker has
// nothing more to give: the log end (or, committed, the last stable offset).
func (r *Reader) Read(ctx context.Context, p int32, from, to int64, committed bool, fn func(*kgo.Record)) error {
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	for pos := from; pos < to; {
		var rp *kmsg.FetchResponseTopicPartition
		err := kafkaadmin.Retry(ctx, func(ctx context.Context) error {
			var err error
			rp, err = r.fetch(ctx, p, pos, to, committed)
			if err == nil {
				err = kerr.ErrorForCode(rp.ErrorCode)
			}
			if kerr.IsRetriable(err) {
				// A leader moved, or the topic is brand new: look again.
				t, derr := kafkaadmin.Describe(ctx, r.adm, r.topic.Name)
				if derr != nil {
					return derr
				}
				r.topic = t
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("read %s partition %d at offset %d: %w", r.topic.Name, p, pos, err)
		}
		if len(rp.RecordBatches) == 0 {
			return nil // nothing more, up to where this isolation ends
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			KeepControlRecords: true,
			Offset:             pos,
			IsolationLevel:     iso,
			Topic:              r.topic.Name,
			Partition:          p,
		}, rp, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil {
			return fmt.Errorf("read %s partition %d at offset %d: %w", r.topic.Name, p, pos, fp.Err)
		}
		if next <= pos {
			return fmt.Errorf("read %s partition %d: no progress at offset %d", r.topic.Name, p, pos)
		}
		for _, rec := range fp.Records {
			if rec.Offset >= to {
				return nil
			}
			fn(rec)
		}
		pos = next
	}
	return nil
}

// fetch asks p's leader for the records at pos.
func (r *Reader) fetch(ctx context.Context, p int32, pos, to int64, committed bool) (*kmsg.FetchResponseTopicPartition, error) {
	leader, ok := r.topic.Leaders[p]
	if !ok || leader < 0 {
		return nil, kerr.LeaderNotAvailable
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0 // answer at once: no data is an answer
	req.MinBytes = 1
	req.MaxBytes = 4 << 20
	if committed {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = r.topic.Name, r.topic.RawID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, pos, maxBytes(to-pos)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, r.client.Broker(int(leader)))
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("fetch of %s partition %d: unexpected response shape", r.topic.Name, p)
	}
	return &resp.Topics[0].Partitions[0], nil
}

// maxBytes is how much of the log one fetch asks for to read n offsets: a
// short range (the newest records before an offset) must not pull a whole
// megabyte of the batches after it, all of which would be decoded. Kafka
// returns the batch holding the first offset whatever its size, so a small
// limit never stops a read.
func maxBytes(n int64) int32 {
	return int32(min(max(n*128, 16<<10), 1<<20))
}

// Topic is the topic read, as last described.
func (r *Reader) Topic() kafkaadmin.Topic { return r.topic }
