package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/services/common/snapshot"
)

// Partitions are those of every topic the bench creates: four, as the
// producer would create its topic.
var Partitions = []int32{0, 1, 2, 3}

// Admin is a client of the run's broker for what the measurements ask of
// it besides their own processes: topics, offsets, sizes.
type Admin struct {
	brokers string
	client  *kgo.Client
	adm     *kadm.Client
}

// NewAdmin connects to brokers (comma-separated).
func NewAdmin(brokers string) (*Admin, error) {
	a := &Admin{brokers: brokers}
	var err error
	if a.client, err = a.Client(); err != nil {
		return nil, err
	}
	a.adm = kadm.NewClient(a.client)
	return a, nil
}

// Close closes the connections.
func (a *Admin) Close() { a.client.Close() }

// Brokers is the bootstrap address list, comma-separated.
func (a *Admin) Brokers() string { return a.brokers }

// Client is a new client of the brokers with opts.
func (a *Admin) Client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(a.brokers, ",")...)}, opts...)...)
}

// CreateTopic creates topic with Partitions, as the producer would.
func (a *Admin) CreateTopic(ctx context.Context, topic string) error {
	resp, err := a.adm.CreateTopic(ctx, int32(len(Partitions)), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// EndOffsets returns each partition's end offset (read uncommitted) and their sum.
func (a *Admin) EndOffsets(ctx context.Context, topic string) (map[int32]int64, int64, error) {
	ends, err := a.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, 0, err
	}
	m, sum := map[int32]int64{}, int64(0)
	ends.Each(func(o kadm.ListedOffset) { m[o.Partition], sum = o.Offset, sum+o.Offset })
	return m, sum, nil
}

// SettledEnds returns the end offsets once the log is settled: no
// transaction open and every marker written (a real broker answers EndTxn
// before it has written the markers, so the end can still grow by one per
// partition).
func (a *Admin) SettledEnds(ctx context.Context, topic string) (map[int32]int64, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		ends, sum, err := a.EndOffsets(ctx, topic)
		if err != nil {
			return nil, 0, err
		}
		stable, err := a.adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = stable.Error()
		}
		if err != nil {
			return nil, 0, err
		}
		settled := true
		stable.Each(func(o kadm.ListedOffset) {
			if o.Offset != ends[o.Partition] {
				settled = false
			}
		})
		if settled {
			return ends, sum, nil
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("topic %s: the log did not settle: %w", topic, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// RecordSize reads up to n records of topic from the start and returns the
// average key and value sizes.
func (a *Admin) RecordSize(ctx context.Context, topic string, n int) (key, value float64, err error) {
	ends, _, err := a.EndOffsets(ctx, topic)
	if err != nil {
		return 0, 0, err
	}
	offsets := map[int32]kgo.Offset{}
	for p := range ends {
		offsets[p] = kgo.NewOffset().At(0)
	}
	c, err := a.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var keys, values, count int
	for count < n {
		fetches := c.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			return 0, 0, err
		}
		fetches.EachRecord(func(r *kgo.Record) {
			keys += len(r.Key)
			values += len(r.Value)
			count++
		})
	}
	return float64(keys) / float64(count), float64(values) / float64(count), nil
}

// ForgetSnapshots deletes topic's snapshot topic, so that a consumer on an
// empty disk starts from offset 0 (it restores from a snapshot otherwise).
func (a *Admin) ForgetSnapshots(ctx context.Context, topic string) error {
	name := snapshot.Topic(topic)
	resp, err := a.adm.DeleteTopic(ctx, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		topics, err := a.adm.ListTopics(ctx, name)
		if err == nil && !topics.Has(name) {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not deleted after a minute", name)
		}
	}
}

// TopicBytes is the size of topic's log on the brokers, every partition.
func (a *Admin) TopicBytes(ctx context.Context, topic string) (int64, error) {
	dirs, err := a.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return 0, err
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if strings.EqualFold(p.Topic, topic) {
				size += p.Size
			}
		})
	})
	return size, nil
}

// Topics are the names of every topic.
func (a *Admin) Topics(ctx context.Context) ([]string, error) {
	topics, err := a.adm.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	return topics.Names(), nil
}

// DeleteTopics deletes topics.
func (a *Admin) DeleteTopics(ctx context.Context, topics ...string) error {
	resp, err := a.adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resp.Error()
	}
	return err
}
