// Package report renders the figures of a run: one markdown page — where it
// ran, the table of measurements against their references and targets, how
// cost grows, the hot functions, how it is measured — and the plot of the
// scaling series.
package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/consumers"
	"github.com/weatherstream/weather/hack/bench/internal/dashboardload"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/gobench"
	"github.com/weatherstream/weather/hack/bench/internal/latency"
	"github.com/weatherstream/weather/hack/bench/internal/machine"
	"github.com/weatherstream/weather/hack/bench/internal/producers"
	"github.com/weatherstream/weather/hack/bench/internal/scaling"
	"github.com/weatherstream/weather/hack/bench/internal/service"
	"github.com/weatherstream/weather/hack/bench/internal/snapshots"
)

// Results are the figures of one run, each measurement's.
type Results struct {
	Machine        machine.Info
	Took           time.Duration
	Producers      producers.Results
	Consumers      consumers.Results // and the Kafka Streams peer
	Restarts       []time.Duration
	LatencyDefault *latency.Run
	LatencyFast    *latency.Run
	Dashboard      *dashboardload.Run
	GoBench        []gobench.Result
	Scaling        scaling.Series
	Snapshots      []snapshots.Run
	Failures       []string // the measurements that failed, "name: error"
}

// Settings are what the page says of how the run was made.
type Settings struct {
	Records                  int64 // reports of the throughput passes
	Reps                     int   // runs of each throughput measurement
	Benchtime                string
	ProducerEnv, ConsumerEnv *service.Env
}

// md is markdown being written.
type md struct{ strings.Builder }

func (s *md) p(layout string, args ...any) { fmt.Fprintf(s, layout, args...) }

// Markdown renders the run: machine, table, how cost grows, hot functions,
// method notes.
func Markdown(r Results, set Settings) string {
	var s md
	head(&s, r, set)
	// The tables go to builders of their own: a line of verdicts comes
	// first, counting the targets of every table.
	var table md
	var v verdicts
	table.p("| Measurement | Ours | Reference, same broker, same run | Ratio | Target |\n")
	table.p("|---|---|---|---|---|\n")
	producerRows(&table, &v, r.Producers, set)
	consumerRows(&table, &v, r.Consumers, set)
	otherRows(&table, &v, r)
	snapshotRows(&table, &v, r.Snapshots)
	dashboardRows(&table, &v, r.Dashboard)
	var scale md
	scalingTables(&scale, r.Scaling)

	s.p("Targets: %d of %d met", len(v.met), len(v.met)+len(v.missed))
	if len(v.missed) > 0 {
		s.p("; missed: %s", strings.Join(v.missed, ", "))
	}
	if len(r.Failures) > 0 {
		s.p("; %d measurement(s) failed", len(r.Failures))
	}
	s.p(".\n\n")
	s.WriteString(table.String())
	s.WriteString(scale.String())

	hotFunctions(&s, r.GoBench, set)
	method(&s, r, set)
	return s.String()
}

// head is the machine, the load and the data.
func head(s *md, r Results, set Settings) {
	m := r.Machine
	s.p("### `make bench`, %s\n\n", time.Now().Format("2006-01-02"))
	s.p("Machine: %d × %s, %s RAM, %s, Linux %s; %s; %s; Apache Kafka %s (one broker, KRaft, on the same machine); checkpoints on %s. ",
		m.CPUs, m.CPU, m.Memory, m.OS, m.Kernel, m.GoVersion, m.Java, m.Kafka, m.Disk)
	s.p("Load average (1, 5, 15 min) %s at the start, %s at the end. The run took %s.\n\n", m.LoadStart, m.LoadEnd, r.Took.Round(time.Second))
	switch {
	case m.OtherCores < 0:
		s.p("The CPU of other processes during the run is unknown (a broker of -brokers: its CPU cannot be told from others').\n\n")
	case m.Busy() || m.Noisy():
		s.p("**The machine was not quiet**: other processes than the bench's kept %.2f cores busy on average during the run (a quiet run: under %.2f), "+
			"or the load was above half the CPUs at the start. The figures are low and noisy; run it again on a quiet machine.\n\n", m.OtherCores, machine.QuietLimit)
	default:
		s.p("Other processes than the bench's (its own, its children, the broker) used %.2f cores on average during the run: a quiet machine.\n\n", m.OtherCores)
	}
	s.p("Data: %s reports (%.1f B key + %.1f B value on average, as in the topic), 4 partitions, replication factor 1.\n\n",
		format.Thousands(set.Records), r.Producers.KeySize, r.Producers.ValueSize)

	if len(set.ProducerEnv.Extra) > 0 {
		s.p("Not the defaults: every producer ran with `%s`.\n\n", strings.Join(set.ProducerEnv.Extra, " "))
	}
	if len(set.ConsumerEnv.Extra) > 0 {
		s.p("Not the defaults: every stats consumer ran with `%s`.\n\n", strings.Join(set.ConsumerEnv.Extra, " "))
	}
}

// hotFunctions is the table of the Go benchmarks.
func hotFunctions(s *md, results []gobench.Result, set Settings) {
	if len(results) == 0 {
		return
	}
	s.p("\nHot functions (Go benchmarks, `go test -bench`, %s each, same run; the checkpoint writes on the same disk):\n\n", set.Benchtime)
	s.p("| Benchmark | What | ns/op | B/op | allocs/op |\n|---|---|---|---|---|\n")
	for _, g := range results {
		what := g.What()
		if len(g.Extra) > 0 {
			what += " (" + strings.Join(g.Extra, ", ") + ")"
		}
		s.p("| `%s` | %s | %s | %.0f | %.0f |\n", g.Pkg+"."+g.Name, what, benchNs(g.NsPerOp), g.BytesOp, g.AllocsOp)
	}
}

// method is how it is measured.
func method(s *md, r Results, set Settings) {
	s.p("\nHow it is measured:\n\n")
	s.p("- One broker, one run: every figure above comes from the same broker in the same `make bench`. "+
		"Each throughput measurement ran %d times, in turns with its reference, the order reversed every other run "+
		"(ours then the reference, the reference then ours …: a trend over the run, such as the broker's JIT warming up, favours neither), "+
		"each pass after a `sync` (no pass pays for the writeback of the passes before it); "+
		"the figures are the medians, and a ratio is the median of the ratios of the runs made back to back (each run's in parentheses).\n", set.Reps)
	s.p("- Producer: ours is the producer binary, its rate `COUNT` / the time it logs for producing (from its first report to its last commit, after connecting). "+
		"ProducerPerformance's rate is its own report (from its first send to its last ack). MB = 2^20 B of key + value, as Kafka's tools count. "+
		"Differences that stay: ours is transactional, keys every record by station (10 keys, hashed to 4 partitions), "+
		"and compresses its batches (PRODUCE_COMPRESSION=%s) after a linger of PRODUCE_LINGER=%s; "+
		"the tool sends unkeyed random bytes, uncompressed, linger.ms=5; both keep up to 5 produce requests in flight per broker (idempotent). "+
		"Each producer runs once before the counted runs, not counted: on a broker just started the first passes run at about half the speed of the later ones.\n",
		set.ProducerEnv.Setting("PRODUCE_COMPRESSION"), set.ProducerEnv.Setting("PRODUCE_LINGER"))
	s.p("- Consumers: the stats consumer's rate runs from the first checkpoint seen to every checkpoint file holding its partition's end offset " +
		"(end offsets taken once the transaction markers are written); the raw franz-go consumer's from its first non-empty fetch to the end offsets, " +
		"so neither counts start-up (the figures with start-up are in parentheses). Reports/s counts reports, not transaction markers. " +
		"ConsumerPerformance's rate is its fetch.nMsg.sec.\n")
	s.p("- Memory: the peak resident set size of the process (VmHWM in /proc/PID/status, read every 50 ms while it runs).\n")
	s.p("- Checkpoint write: the consumer's own histogram `weather_consumer_checkpoint_write_seconds`, " +
		"the quantile interpolated within its buckets, which are a factor 2 apart (so ± up to 50%%); the mean is exact.\n")
	s.p("- Restart: the stats consumer is SIGKILLed mid-pass (a backlog left to read) and started again; " +
		"from starting the new process to its first checkpoint file renamed into place with a higher offset (seen with inotify). " +
		"It includes process start, connecting, the partition locks, loading the checkpoints, listing offsets and the first fetch and write.\n")
	s.p("- End-to-end latency: from the record's timestamp (set by the producer's Kafka client when the producer calls Produce; ms resolution) " +
		"to the moment a checkpoint file holding the record's offset is renamed into place (seen with inotify; the file is then read, its directory not yet fsynced); " +
		"the first 2 s are left out. A report reaches a checkpoint only once its transaction commits (the consumer reads committed), " +
		"so at a slow pace the latency is the transaction's length: the producer commits at the end of a day (10 reports) " +
		"once a transaction holds TXN_MAX_RECORDS=10000 reports or is TXN_MAX_INTERVAL=1s old.")
	if l := r.LatencyDefault; l != nil && l.TxnReports > 0 && l.Rate > 0 {
		commit := format.Ms(time.Duration(l.TxnReports / l.Rate * 1e9))
		s.p(" At the default pace it committed every %.0f reports, %s, so a report waited 0–%s for its commit.", l.TxnReports, commit, commit)
	}
	s.p("\n")
}
