package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/proto/reportpb"
	"github.com/weatherstream/weather/services/common/codec"
	"github.com/weatherstream/weather/services/common/generator"
)

// paceMain is `bench pace`: a stand-in for the producer at a rate its
// INTERVAL cannot reach. It is stream.Run's loop with the producer's client
// options (transactional, idempotent, acks=all), the same records (generator,
// codec, station keys) and the same transactions (at a whole day, once
// -txn-records or -txn-interval is reached), but paced by schedule: it
// produces every report whose time has come (report i is due at i/rate
// seconds), instead of one report per tick of a time.Ticker, which fires at
// most about once per millisecond.
func paceMain(args []string) int {
	fs := flag.NewFlagSet("pace", flag.ContinueOnError)
	brokers := fs.String("brokers", "", "bootstrap brokers")
	topic := fs.String("topic", "", "topic (it must exist)")
	rate := fs.Float64("rate", 50_000, "reports per second")
	duration := fs.Duration("duration", 15*time.Second, "how long to produce")
	txnRecords := fs.Int64("txn-records", 10_000, "as TXN_MAX_RECORDS")
	txnInterval := fs.Duration("txn-interval", time.Second, "as TXN_MAX_INTERVAL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(*brokers, ",")...),
		kgo.DefaultProduceTopic(*topic),
		kgo.TransactionalID("bench-pace-"+*topic),
		kgo.TransactionTimeout(time.Minute),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordRetries(10),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pace:", err)
		return 1
	}
	defer client.Close()
	if err := client.Ping(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pace:", err)
		return 1
	}

	var (
		keys    [generator.NumStations][]byte
		gen     = generator.New(1)
		report  reportpb.Report
		mu      sync.Mutex
		failure error
		onDone  = func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if failure == nil {
					failure = err
				}
				mu.Unlock()
			}
		}
		next, txnFirst int64
		txns           int
		txnStart       time.Time
		inTxn          bool
	)
	for i, s := range generator.Stations {
		keys[i] = []byte(s)
	}
	commit := func() error {
		if !inTxn {
			return nil
		}
		inTxn = false
		end, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := client.Flush(end)
		mu.Lock()
		if failure != nil {
			err = failure
		}
		mu.Unlock()
		if err != nil {
			client.EndTransaction(end, kgo.TryAbort)
			return err
		}
		txns++
		return client.EndTransaction(end, kgo.TryCommit)
	}
	start := time.Now()
	for ctx.Err() == nil {
		elapsed := time.Since(start)
		if elapsed >= *duration {
			break
		}
		due := int64(elapsed.Seconds()**rate) + 1
		if next >= due {
			time.Sleep(time.Duration(float64(next)/(*rate)*1e9) - elapsed)
			continue
		}
		for next < due {
			if !inTxn {
				if err := client.BeginTransaction(); err != nil {
					fmt.Fprintln(os.Stderr, "pace:", err)
					return 1
				}
				inTxn, txnFirst, txnStart = true, next, time.Now()
			}
			gen.Fill(next, &report)
			value, err := codec.Encode(nil, &report)
			if err != nil {
				fmt.Fprintln(os.Stderr, "pace:", err)
				return 1
			}
			client.Produce(context.Background(), &kgo.Record{Key: keys[next%generator.NumStations], Value: value}, onDone)
			next++
			if next%generator.NumStations == 0 && (next-txnFirst >= *txnRecords || time.Since(txnStart) >= *txnInterval) {
				if err := commit(); err != nil {
					fmt.Fprintln(os.Stderr, "pace: commit:", err)
					return 1
				}
			}
		}
	}
	if err := commit(); err != nil {
		fmt.Fprintln(os.Stderr, "pace: commit:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "pace: %d reports in %d transactions in %s (%.0f/s)\n", next, txns, time.Since(start).Round(time.Millisecond), float64(next)/time.Since(start).Seconds())
	return 0
}
