package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/streamid"
)

// rawProduceResult is what `bench rawproduce` prints.
type rawProduceResult struct {
	First   time.Time `json:"first"` // the first record handed to the client
	Done    time.Time `json:"done"`  // the last transaction committed
	Records int64     `json:"records"`
	HWM     int64     `json:"vmhwm"`
}

// rawProduceMain is `bench rawproduce`: the producer's baseline. It writes
// the same records as the producer — the generator's reports, encoded, keyed
// by station, with the stream's headers — with the producer's client options
// (transactional, idempotent, acks=all, 10 retries, -linger, -compression:
// the bench passes the producer's) and a commit per -txn-records, but all
// encoded before the clock starts: what is left is the client's work. It prints a rawProduceResult as JSON on stdout.
func rawProduceMain(args []string) int {
	fs := flag.NewFlagSet("rawproduce", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "bootstrap brokers")
	topic := fs.String("topic", "", "topic (existing)")
	records := fs.Int64("records", 2_000_000, "reports")
	txnRecords := fs.Int64("txn-records", txnRecords, "reports per transaction (at a whole day)")
	// No defaults of their own: the bench passes the producer's.
	lingerFlag := fs.String("linger", "", "kgo.ProducerLinger, required (the producer's PRODUCE_LINGER)")
	compression := fs.String("compression", "", "batch compression as Kafka names it, required (the producer's PRODUCE_COMPRESSION)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "rawproduce:", err); return 1 }
	linger, err := time.ParseDuration(*lingerFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rawproduce: -linger %q: %v\n", *lingerFlag, err)
		return 2
	}
	compress, ok := kafkaconfig.Compression(*compression)
	if !ok {
		fmt.Fprintf(os.Stderr, "rawproduce: -compression %q: want one of %v\n", *compression, kafkaconfig.CompressionNames())
		return 2
	}
	// The records' bytes, made before the clock starts.
	g := generator.New(1)
	headers := streamid.ID{Producer: "bench-raw-" + *topic, Seed: 1}.Headers()
	values := make([][]byte, *records)
	var (
		r  reportpb.Report
		vs codec.Values
	)
	for i := range *records {
		g.Fill(i, &r)
		var err error
		if values[i], err = vs.Encode(&r); err != nil {
			return fail(err)
		}
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(*topic),
		kgo.TransactionalID("bench-raw-"+*topic),
		kgo.TransactionTimeout(time.Minute),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(10),
		kgo.ProducerLinger(linger),
		compress,
	)
	if err != nil {
		return fail(err)
	}
	defer client.Close()
	ctx := context.Background()
	var failure atomic.Pointer[error]
	onDone := func(_ *kgo.Record, err error) {
		if err != nil {
			failure.CompareAndSwap(nil, &err)
		}
	}
	res := rawProduceResult{First: time.Now(), Records: *records}
	per := max(generator.NumStations, *txnRecords/generator.NumStations*generator.NumStations)
	for i := int64(0); i < *records; {
		if err := client.BeginTransaction(); err != nil {
			return fail(err)
		}
		for end := min(*records, i+per); i < end; i++ {
			client.Produce(ctx, &kgo.Record{Key: g.Key(i), Value: values[i], Headers: headers}, onDone)
		}
		if err := client.Flush(ctx); err != nil {
			return fail(err)
		}
		if err := failure.Load(); err != nil {
			return fail(*err)
		}
		if err := client.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return fail(err)
		}
	}
	res.Done = time.Now()
	_, res.HWM = memory(os.Getpid())
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return fail(err)
	}
	return 0
}

// rawProducer runs the producer's baseline (bench rawproduce) into a new
// topic, as a process of its own.
func (b *bench) rawProducer(ctx context.Context) error {
	topic := fmt.Sprintf("bench-raw-produce-%d", time.Now().UnixNano())
	if err := b.createTopic(ctx, topic); err != nil {
		return err
	}
	linger, compression := b.producer.setting("PRODUCE_LINGER"), b.producer.setting("PRODUCE_COMPRESSION")
	b.progress("raw produce: %s pre-encoded reports, the producer's client options (linger %s, %s), a commit per %d",
		fmtCount(b.records), linger, compression, txnRecords)
	c, err := b.spawn("raw-produce", nil, nil, b.self, "rawproduce", "-brokers", b.brokers, "-topic", topic,
		"-records", fmt.Sprint(b.records), "-linger", linger, "-compression", compression)
	if err != nil {
		return err
	}
	res, err := output[rawProduceResult](ctx, b, c)
	if err != nil {
		return err
	}
	took := res.Done.Sub(res.First)
	r := producerRun{records: res.Records, took: took, wall: c.exited.Sub(c.started), rss: max(res.HWM, c.peakRSS()), cpu: c.cpu()}
	r.perSec = float64(res.Records) / took.Seconds()
	r.mbPerSec = r.perSec * (b.res.keySize + b.res.valueSize) / (1 << 20)
	b.res.rawProducers = append(b.res.rawProducers, r)
	b.progress("raw produce: %.0f reports/s over %s; peak RSS %.1f MiB", r.perSec, took.Round(time.Millisecond), mib(r.rss))
	return nil
}
