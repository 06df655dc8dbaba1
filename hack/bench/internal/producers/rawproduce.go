package producers

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

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/process"
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

// RawProduceMain is `bench rawproduce`: the producer's baseline. It writes
// the same records as the producer — the generator's reports, encoded, keyed
// by station, with the stream's headers — with the producer's client options
// (transactional, idempotent, acks=all, 10 retries, -linger, -compression:
// the bench passes the producer's) and a commit per -txn-records, but all
// encoded before the clock starts: what is left is the client's work. It
// prints a rawProduceResult as JSON on stdout.
func RawProduceMain(args []string) int {
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
	values, err := encode(g, *records)
	if err != nil {
		return fail(err)
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
	headers := streamid.ID{Producer: "bench-raw-" + *topic, Seed: 1}.Headers()
	res := rawProduceResult{First: time.Now(), Records: *records}
	if err := produce(client, g, values, headers, *txnRecords); err != nil {
		return fail(err)
	}
	res.Done = time.Now()
	_, res.HWM = process.Memory(os.Getpid())
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return fail(err)
	}
	return 0
}

// encode is the values of the first n reports of g.
func encode(g *generator.Generator, n int64) ([][]byte, error) {
	values := make([][]byte, n)
	var (
		r  reportpb.Report
		vs codec.Values
	)
	for i := range n {
		g.Fill(i, &r)
		var err error
		if values[i], err = vs.Encode(&r); err != nil {
			return nil, err
		}
	}
	return values, nil
}

// produce writes values, keyed by g's stations, in transactions of about
// txnRecords at a whole day.
func produce(client *kgo.Client, g *generator.Generator, values [][]byte, headers []kgo.RecordHeader, txnRecords int64) error {
	ctx := context.Background()
	var failure atomic.Pointer[error]
	onDone := func(_ *kgo.Record, err error) {
		if err != nil {
			failure.CompareAndSwap(nil, &err)
		}
	}
	records := int64(len(values))
	per := max(generator.NumStations, txnRecords/generator.NumStations*generator.NumStations)
	for i := int64(0); i < records; {
		if err := client.BeginTransaction(); err != nil {
			return err
		}
		for end := min(records, i+per); i < end; i++ {
			client.Produce(ctx, &kgo.Record{Key: g.Key(i), Value: values[i], Headers: headers}, onDone)
		}
		if err := client.Flush(ctx); err != nil {
			return err
		}
		if err := failure.Load(); err != nil {
			return *err
		}
		if err := client.EndTransaction(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
	return nil
}

// raw runs the producer's baseline (bench rawproduce) into a new topic, as
// a process of its own.
func (m *measurement) raw(ctx context.Context) error {
	topic := fmt.Sprintf("bench-raw-produce-%d", time.Now().UnixNano())
	if err := m.Kafka.CreateTopic(ctx, topic); err != nil {
		return err
	}
	linger, compression := m.Services.ProducerEnv.Setting("PRODUCE_LINGER"), m.Services.ProducerEnv.Setting("PRODUCE_COMPRESSION")
	m.Log.Printf("raw produce: %s pre-encoded reports, the producer's client options (linger %s, %s), a commit per %d",
		format.Count(m.Records), linger, compression, txnRecords)
	c, err := m.Processes.Start("raw-produce", nil, nil, m.Self, "rawproduce", "-brokers", m.Kafka.Brokers(), "-topic", topic,
		"-records", fmt.Sprint(m.Records), "-linger", linger, "-compression", compression)
	if err != nil {
		return err
	}
	res, err := process.JSONResult[rawProduceResult](ctx, c)
	if err != nil {
		return err
	}
	took := res.Done.Sub(res.First)
	r := Run{Records: res.Records, Took: took, Wall: c.Exited().Sub(c.Started), RSS: max(res.HWM, c.PeakRSS()), CPU: c.CPU()}
	r.PerSec = float64(res.Records) / took.Seconds()
	r.MBPerSec = r.PerSec * (m.res.KeySize + m.res.ValueSize) / (1 << 20)
	m.res.Raw = append(m.res.Raw, r)
	m.Log.Printf("raw produce: %.0f reports/s over %s; peak RSS %.1f MiB", r.PerSec, took.Round(time.Millisecond), format.MiB(r.RSS))
	return nil
}
