package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startBroker starts a real Apache Kafka broker with hack/kafka/kafka.sh, in a
// KAFKA_HOME of the bench's own (so a broker of `make test-kafka` or of
// another engineer keeps running), sharing the jars of the usual one.
func (b *bench) startBroker(ctx context.Context) error {
	kafkaSh := filepath.Join(b.repo, "hack", "kafka", "kafka.sh")
	libsHome := os.Getenv("KAFKA_HOME")
	if libsHome == "" {
		libsHome = filepath.Join(b.repo, ".cache", "kafka")
	}
	b.progress("kafka: installing the Kafka %s jars if needed (Maven Central, once) ...", b.kafkaVersion())
	install, err := b.spawn("kafka-install", []string{"KAFKA_HOME=" + libsHome}, nil, kafkaSh, "install")
	if err != nil {
		return err
	}
	if err := b.follow(ctx, install, 15*time.Second, 20*time.Minute, func(d time.Duration) {
		b.progress("kafka: still installing the jars (%s) ...", d.Round(time.Second))
	}); err != nil {
		return err
	}
	if err := install.exitErr(); err != nil {
		return err
	}
	b.kafkaHome = filepath.Join(b.repo, ".cache", "bench", "kafka")
	if err := os.MkdirAll(b.kafkaHome, 0o755); err != nil {
		return err
	}
	libs := filepath.Join(b.kafkaHome, "libs")
	if fi, err := os.Lstat(libs); err != nil || fi.Mode()&os.ModeSymlink != 0 {
		os.Remove(libs) // a symlink from an earlier run
		abs, err := filepath.Abs(filepath.Join(libsHome, "libs"))
		if err != nil {
			return err
		}
		if err := os.Symlink(abs, libs); err != nil {
			return err
		}
	}
	env := []string{"KAFKA_HOME=" + b.kafkaHome}
	// A broker an interrupted bench left running is ours: stop it first.
	_, _ = runQuiet(ctx, b.repo, env, kafkaSh, "stop")
	b.progress("kafka: starting a broker (KRaft, single node) ...")
	out, err := runQuiet(ctx, b.repo, env, kafkaSh, "start")
	if err != nil {
		return err
	}
	b.brokers = strings.TrimSpace(out)
	// kafka.sh's "current": the address, then the data dir holding kafka.pid.
	if cur, err := os.ReadFile(filepath.Join(b.kafkaHome, "current")); err == nil {
		if lines := strings.Split(string(cur), "\n"); len(lines) > 1 {
			pid, _ := os.ReadFile(filepath.Join(lines[1], "kafka.pid"))
			b.brokerPID, _ = strconv.Atoi(strings.TrimSpace(string(pid)))
		}
	}
	b.stopBroker = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if _, err := runQuiet(ctx, b.repo, env, kafkaSh, "stop"); err != nil {
			b.progress("kafka: stop: %v", err)
		}
	}
	return nil
}

// kafkaVersion is the version in hack/kafka/pom.xml.
func (b *bench) kafkaVersion() string {
	data, err := os.ReadFile(filepath.Join(b.repo, "hack", "kafka", "pom.xml"))
	if err != nil {
		return "?"
	}
	if m := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return "?"
}

func (b *bench) client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(b.brokers, ",")...)}, opts...)...)
}

// createTopic creates topic with 4 partitions, as the producer would.
func (b *bench) createTopic(ctx context.Context, topic string) error {
	resp, err := b.adm.CreateTopic(ctx, 4, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// endOffsets returns each partition's end offset (read uncommitted) and their sum.
func (b *bench) endOffsets(ctx context.Context, topic string) (map[int32]int64, int64, error) {
	ends, err := b.adm.ListEndOffsets(ctx, topic)
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

// settledEnds returns the end offsets once the log is settled: no transaction
// open and every marker written (a real broker answers EndTxn before it has
// written the markers, so the end can still grow by one per partition).
func (b *bench) settledEnds(ctx context.Context, topic string) (map[int32]int64, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		ends, sum, err := b.endOffsets(ctx, topic)
		if err != nil {
			return nil, 0, err
		}
		stable, err := b.adm.ListCommittedOffsets(ctx, topic)
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

// recordSize reads up to n records of topic from the start and returns the
// average key and value sizes.
func (b *bench) recordSize(ctx context.Context, topic string, n int) (key, value float64, err error) {
	ends, _, err := b.endOffsets(ctx, topic)
	if err != nil {
		return 0, 0, err
	}
	offsets := map[int32]kgo.Offset{}
	for p := range ends {
		offsets[p] = kgo.NewOffset().At(0)
	}
	c, err := b.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
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
