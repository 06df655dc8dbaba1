package main

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
)

// rawConsumeMain is `bench rawconsume`: the baseline consumer. It consumes
// the partitions named in -ends from offset 0 until each reaches its end
// offset, with the stats consumer's client options and nothing else: no
// decoding, no stats, no checkpoint, no metrics. The options are those
// services/consumer/main.go and consume.ClientOpts set (keep them in step);
// the fetch sizes come as flags, which the bench sets to the consumer's
// (see serviceEnv.setting). It prints a rawResult as JSON on stdout and
// progress on stderr.
func rawConsumeMain(args []string) int {
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
	ends := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for _, kv := range strings.Split(*endsFlag, ",") {
		k, v, _ := strings.Cut(kv, "=")
		p, err1 := strconv.ParseInt(k, 10, 32)
		o, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			fmt.Fprintf(os.Stderr, "rawconsume: -ends %q\n", *endsFlag)
			return 2
		}
		ends[int32(p)] = o
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
		if ctx.Err() != nil {
			return 1
		}
		var fatal error
		fetches.EachError(func(_ string, p int32, err error) { fatal = fmt.Errorf("partition %d: %w", p, err) })
		if fatal != nil {
			fmt.Fprintln(os.Stderr, "rawconsume:", fatal)
			return 1
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
			fmt.Fprintf(os.Stderr, "%s/%s offsets, %.0f/s\n", fmtCount(sum()), fmtCount(res.Total), float64(sum())/now.Sub(res.Start).Seconds())
			nextReport = now.Add(2 * time.Second)
		}
	}
	res.Done = time.Now()
	_, res.HWM = memory(os.Getpid())
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "rawconsume:", err)
		return 1
	}
	return 0
}
