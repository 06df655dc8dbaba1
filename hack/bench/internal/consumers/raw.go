package consumers

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/process"
)

// rawResult is what `bench rawconsume` prints.
type rawResult struct {
	Start       time.Time `json:"start"`
	First       time.Time `json:"first"`        // first non-empty fetch
	FirstOffset int64     `json:"first_offset"` // sum of the offsets after it
	Done        time.Time `json:"done"`
	Total       int64     `json:"total"`
	HWM         int64     `json:"vmhwm"`
}

// RawConsumeMain is `bench rawconsume`: the baseline consumer. It consumes
// the partitions named in -ends from offset 0 until each reaches its end
// offset, with the stats consumer's client options and nothing else: no
// decoding, no stats, no checkpoint, no metrics. The options are those
// services/consumer/main.go and consume.ClientOpts set (keep them in step);
// the fetch sizes come as flags, which the bench sets to the consumer's
// (see service.Env.Setting). It prints a rawResult as JSON on stdout and
// progress on stderr.
func RawConsumeMain(args []string) int {
	fs := flag.NewFlagSet("rawconsume", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "bootstrap brokers")
	topic := fs.String("topic", "", "topic")
	endsFlag := fs.String("ends", "", "partition=endOffset,...")
	fetchBytes := fs.Int("fetch-max-partition-bytes", 1<<20, "as the consumer's FETCH_MAX_PARTITION_BYTES")
	fetchMaxBytes := fs.Int("fetch-max-bytes", 0, "as the consumer's FETCH_MAX_BYTES, if it has one; 0: franz-go's default")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	res := rawResult{Start: time.Now()}
	offsets := map[int32]kgo.Offset{}
	for _, kv := range strings.Split(*endsFlag, ",") {
		k, v, _ := strings.Cut(kv, "=")
		p, err1 := strconv.ParseInt(k, 10, 32)
		o, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			fmt.Fprintf(os.Stderr, "rawconsume: -ends %q\n", *endsFlag)
			return 2
		}
		res.Total += o
		offsets[int32(p)] = kgo.NewOffset().At(0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var extra []kgo.Opt
	if *fetchMaxBytes > 0 {
		extra = append(extra, kgo.FetchMaxBytes(int32(*fetchMaxBytes)))
	}
	client, err := kgo.NewClient(append(extra,
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{*topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NoResetOffset()),
		kgo.FetchMaxPartitionBytes(int32(*fetchBytes)),
	)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawconsume:", err)
		return 1
	}
	defer client.Close()
	if err := consumeAll(ctx, client, &res); err != nil {
		if ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "rawconsume:", err)
		}
		return 1
	}
	res.Done = time.Now()
	_, res.HWM = process.Memory(os.Getpid())
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "rawconsume:", err)
		return 1
	}
	return 0
}

// consumeAll polls until the offsets consumed sum to res.Total, noting the
// first non-empty fetch in res, and saying how far it is every 2 s.
func consumeAll(ctx context.Context, client *kgo.Client, res *rawResult) error {
	next := map[int32]int64{}
	sum := func() (s int64) {
		for _, o := range next {
			s += o
		}
		return s
	}
	nextReport := time.Now().Add(2 * time.Second)
	for sum() < res.Total {
		fetches := client.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var fatal error
		fetches.EachError(func(_ string, p int32, err error) { fatal = fmt.Errorf("partition %d: %w", p, err) })
		if fatal != nil {
			return fatal
		}
		got := false
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if n := len(fp.Records); n > 0 {
				next[fp.Partition] = fp.Records[n-1].Offset + 1
				got = true
			}
		})
		if got && res.First.IsZero() {
			res.First, res.FirstOffset = time.Now(), sum()
		}
		if now := time.Now(); now.After(nextReport) {
			fmt.Fprintf(os.Stderr, "%s/%s offsets, %.0f/s\n", format.Count(sum()), format.Count(res.Total), float64(sum())/now.Sub(res.Start).Seconds())
			nextReport = now.Add(2 * time.Second)
		}
	}
	return nil
}

// raw runs the baseline: the same client options as the stats consumer
// (read committed, control records kept, 1 MiB per partition per fetch),
// from offset 0 to the end, doing nothing per record; as a process of its
// own, so its memory and CPU are its own.
func (m *measurement) raw(ctx context.Context, topic string) error {
	ends, _, err := m.Kafka.SettledEnds(ctx, topic)
	if err != nil {
		return err
	}
	var e []string
	for p, o := range ends {
		e = append(e, fmt.Sprintf("%d=%d", p, o))
	}
	args := []string{"rawconsume", "-brokers", m.Kafka.Brokers(), "-topic", topic, "-ends", strings.Join(e, ",")}
	// The same client options as the stats consumer: its fetch sizes.
	if v := m.Services.ConsumerEnv.Setting("FETCH_MAX_PARTITION_BYTES"); v != "" {
		args = append(args, "-fetch-max-partition-bytes", v)
	}
	if v := m.Services.ConsumerEnv.Setting("FETCH_MAX_BYTES"); v != "" {
		args = append(args, "-fetch-max-bytes", v)
	}
	c, err := m.Processes.Start("raw-consume", nil, func(stream, line string) {
		if stream == "stderr" {
			m.Log.Printf("raw consume: %s", line)
		}
	}, m.Self, args...)
	if err != nil {
		return err
	}
	res, err := process.JSONResult[rawResult](ctx, c)
	if err != nil {
		return err
	}
	r := Run{Wall: res.Done.Sub(c.Started), RSS: max(res.HWM, c.PeakRSS()), CPU: c.CPU()}
	r.WallRate = m.reports(res.Total) / r.Wall.Seconds()
	r.PerSec = m.window(res.Total, res.FirstOffset, res.Done.Sub(res.First), r.WallRate)
	m.res.Raw = append(m.res.Raw, r)
	m.Log.Printf("raw consume: %.0f reports/s (%.0f/s incl. start-up), peak RSS %.1f MiB", r.PerSec, r.WallRate, format.MiB(r.RSS))
	return nil
}
