package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// results are the figures of one run.
type results struct {
	machine             machineInfo
	took                time.Duration
	keySize, valueSize  float64
	offsets             int64 // of the producer's topic: reports plus transaction markers
	producers           []producerRun
	rawProducers        []producerRun
	perfProducers       []producerRun
	perfProducersTxn    []producerRun
	stats, raws         []consumerRun
	perfConsumers       []consumerRun
	streams             []streamsRun
	ckpt                histogram // checkpoint writes of every stats consumer run
	restarts            []time.Duration
	latDefault, latFast *latencyRun
	dashboard           *dashboardRun
	goBench             []goBench
	scaling             scaling
	snapshots           []snapshotRun
	failures            []string
}

// Targets of the issue.
const (
	targetConsumerRatio = 0.95
	targetConsumerCPU   = 1.15
	targetProducerRatio = 1.0
	// 48 MiB, not 40 since the record pool (services/consumer
	// internal/consume/pool.go): the 8 MiB of record slices it keeps buy a
	// pass ~10% less CPU than a raw consume instead of ~15% more.
	targetRSS           = 48 << 20
	targetStreamsRate   = 3.0 // ours / Kafka Streams' throughput
	targetStreamsMemory = 0.2 // ours / Kafka Streams' resident memory
	targetRestart       = time.Second
)

func rate(perSec float64) string { return thousands(int64(perSec + 0.5)) }

// thousands formats 1234567 as "1,234,567".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// md is markdown being written.
type md struct{ strings.Builder }

func (s *md) p(format string, args ...any) { fmt.Fprintf(s, format, args...) }

// verdicts are the targets met and missed, in the order of the table.
type verdicts struct{ met, missed []string }

func (v *verdicts) verdict(what string, ok bool) string {
	if ok {
		v.met = append(v.met, what)
		return "met"
	}
	v.missed = append(v.missed, what)
	return "**MISSED**"
}

// markdown renders the run: machine, table, hot functions, method notes.
func (r *results) markdown(b *bench) string {
	var s md
	r.head(&s, b)
	// The table goes to its own builder: a line of verdicts comes first.
	var table md
	var v verdicts
	table.p("| Measurement | Ours | Reference, same broker, same run | Ratio | Target |\n")
	table.p("|---|---|---|---|---|\n")
	r.producerRows(&table, &v, b)
	r.consumerRows(&table, &v, b)
	r.otherRows(&table, &v)
	r.snapshotRows(&table, &v)
	r.dashboardRows(&table, &v)

	s.p("Targets: %d of %d met", len(v.met), len(v.met)+len(v.missed))
	if len(v.missed) > 0 {
		s.p("; missed: %s", strings.Join(v.missed, ", "))
	}
	if len(r.failures) > 0 {
		s.p("; %d measurement(s) failed", len(r.failures))
	}
	s.p(".\n\n")
	s.WriteString(table.String())

	r.scalingTable(&s)
	r.hotFunctions(&s, b)
	r.method(&s, b)
	return s.String()
}

// head is the machine, the load and the data.
func (r *results) head(s *md, b *bench) {
	m := r.machine
	s.p("### `make bench`, %s\n\n", time.Now().Format("2006-01-02"))
	s.p("Machine: %d × %s, %s RAM, %s, Linux %s; %s; %s; Apache Kafka %s (one broker, KRaft, on the same machine); checkpoints on %s. ",
		m.cpus, m.cpu, m.memory, m.os, m.kernel, m.goVersion, m.java, m.kafka, m.disk)
	s.p("Load average (1, 5, 15 min) %s at the start, %s at the end. The run took %s.\n\n", m.loadStart, m.loadEnd, r.took.Round(time.Second))
	switch {
	case m.otherCores < 0:
		s.p("The CPU of other processes during the run is unknown (a broker of -brokers: its CPU cannot be told from others').\n\n")
	case m.busy() || m.noisy():
		s.p("**The machine was not quiet**: other processes than the bench's kept %.2f cores busy on average during the run (a quiet run: under %.2f), "+
			"or the load was above half the CPUs at the start. The figures are low and noisy; run it again on a quiet machine.\n\n", m.otherCores, quietLimit)
	default:
		s.p("Other processes than the bench's (its own, its children, the broker) used %.2f cores on average during the run: a quiet machine.\n\n", m.otherCores)
	}
	s.p("Data: %s reports (%.1f B key + %.1f B value on average, as in the topic), 4 partitions, replication factor 1.\n\n",
		thousands(b.records), r.keySize, r.valueSize)

	if len(b.producer.extra) > 0 {
		s.p("Not the defaults: every producer ran with `%s`.\n\n", strings.Join(b.producer.extra, " "))
	}
	if len(b.consumer.extra) > 0 {
		s.p("Not the defaults: every stats consumer ran with `%s`.\n\n", strings.Join(b.consumer.extra, " "))
	}
}

// producerRows: medians of the runs; the ratio is the median of the ratios
// of runs made one after the other.
func (r *results) producerRows(s *md, v *verdicts, b *bench) {
	prs, pps, pts := r.producers, r.perfProducers, r.perfProducersTxn
	if len(prs) == 0 {
		return
	}
	perSec := func(x producerRun) float64 { return x.perSec }
	mbps := func(x producerRun) float64 { return x.mbPerSec }
	ours := fmt.Sprintf("**%s reports/s**, %.2f MB/s; transactional (a commit per 10,000 reports, every %.0f ms); PRODUCE_LINGER=%s, PRODUCE_COMPRESSION=%s",
		rate(median(prs, perSec)), median(prs, mbps), median(prs, func(x producerRun) float64 { return x.txnMillis }),
		b.producer.setting("PRODUCE_LINGER"), b.producer.setting("PRODUCE_COMPRESSION"))
	if len(pps) == 0 {
		s.p("| Producer at full speed (`INTERVAL=0`), acks=all, idempotent | %s | (ProducerPerformance not run) | | |\n", ours)
	} else {
		rs := pairRatios(prs, pps, perSec, perSec)
		s.p("| Producer at full speed (`INTERVAL=0`), acks=all, idempotent | %s "+
			"| ProducerPerformance, %d-B records, acks=all, idempotent (Kafka's defaults: linger.ms=5, no compression): %s records/s, %.2f MB/s | %s | ≥ 1.0×: %s |\n",
			ours, int(r.keySize+r.valueSize+0.5), rate(median(pps, perSec)), median(pps, mbps),
			ratioCell(rs), v.verdict("producer ≥ 1.0× ProducerPerformance", median(rs, ident) >= targetProducerRatio))
	}
	if raws := r.rawProducers; len(raws) > 0 {
		rs := pairRatios(prs, raws, perSec, perSec)
		s.p("| … vs a raw franz-go produce of the same records | | the same records encoded beforehand, the producer's client options, "+
			"a commit per 10,000: %s reports/s, %.1f s CPU | %s (ours %.1f s CPU) | – |\n",
			rate(median(raws, perSec)), median(raws, func(x producerRun) float64 { return x.cpu.Seconds() }), ratioCell(rs),
			median(prs, func(x producerRun) float64 { return x.cpu.Seconds() }))
	}
	if len(pts) > 0 {
		rs := pairRatios(prs, pts, perSec, perSec)
		s.p("| … the tool transactional too | | ProducerPerformance, also a commit every %.0f ms: %s records/s, %.2f MB/s | %s | – |\n",
			median(pts, func(x producerRun) float64 { return x.txnMillis }), rate(median(pts, perSec)), median(pts, mbps), ratioCell(rs))
	}
	ref := ""
	if len(pps) > 0 {
		ref = fmt.Sprintf("ProducerPerformance (JVM, 512 MiB heap cap): %.0f MiB, %.1f s CPU",
			mib(int64(maxOf(pps, func(x producerRun) float64 { return float64(x.rss) }))), median(pps, func(x producerRun) float64 { return x.cpu.Seconds() }))
	}
	s.p("| Producer memory (peak RSS) and CPU for %s reports | %.1f MiB, %.1f s CPU | %s | | – |\n", fmtCount(b.records),
		mib(int64(maxOf(prs, func(x producerRun) float64 { return float64(x.rss) }))), median(prs, func(x producerRun) float64 { return x.cpu.Seconds() }), ref)
}

// consumerRows: the stats consumer's throughput against its references,
// then its memory, CPU and checkpoint writes.
func (r *results) consumerRows(s *md, v *verdicts, b *bench) {
	sts, raws, cps := r.stats, r.raws, r.perfConsumers
	if len(sts) == 0 {
		return
	}
	cPerSec := func(x consumerRun) float64 { return x.perSec }
	cWall := func(x consumerRun) float64 { return x.wallRate }
	cRSS := func(x consumerRun) float64 { return float64(x.rss) }
	cCPU := func(x consumerRun) float64 { return x.cpu.Seconds() }
	if len(raws) > 0 {
		rs := pairRatios(sts, raws, cPerSec, cPerSec)
		fetch := []string{}
		for _, k := range []string{"FETCH_MAX_BYTES", "FETCH_MAX_PARTITION_BYTES"} {
			if val := b.consumer.setting(k); val != "" {
				fetch = append(fetch, k+"="+val)
			}
		}
		s.p("| Stats consumer, partitions 0–3 from offset 0 to the end, checkpoint with fsync after every batch | **%s reports/s** (%s/s incl. start-up) "+
			"| raw franz-go consume, same client options (%s), no work per record: %s records/s (%s/s incl. start-up) | %s | ≥ 0.95×: %s |\n",
			rate(median(sts, cPerSec)), rate(median(sts, cWall)), strings.Join(fetch, ", "), rate(median(raws, cPerSec)), rate(median(raws, cWall)),
			ratioCell(rs), v.verdict("stats consumer ≥ 0.95× raw franz-go", median(rs, ident) >= targetConsumerRatio))
	}
	if len(cps) > 0 {
		rs := pairRatios(sts, cps, cPerSec, cPerSec)
		s.p("| … the same pass vs Kafka's consumer perf tool | | ConsumerPerformance, read committed: %s records/s after its %s group join (%s/s incl. the join) | %s | – |\n",
			rate(median(cps, cPerSec)), ms(time.Duration(median(cps, func(x consumerRun) float64 { return float64(x.rebalance) }))),
			rate(median(cps, cWall)), ratioCell(rs))
	}
	r.streamsRows(s, v)
	worst := int64(maxOf(sts, cRSS))
	ref, rawRSS := "", 0.0
	if len(raws) > 0 {
		rawRSS = maxOf(raws, cRSS)
		ref = fmt.Sprintf("raw franz-go consume: %.1f MiB", mib(int64(rawRSS)))
	}
	if len(cps) > 0 {
		ref += fmt.Sprintf("; ConsumerPerformance (JVM, 512 MiB heap cap): %.0f MiB", mib(int64(maxOf(cps, cRSS))))
	}
	s.p("| Stats consumer resident memory (peak VmHWM, the highest of the runs) | **%.1f MiB** | %s | %s | ≤ 48 MiB: %s |\n",
		mib(worst), strings.TrimPrefix(ref, "; "), ratio(float64(worst), rawRSS), v.verdict("consumer memory ≤ 48 MiB", worst <= targetRSS))
	if len(raws) > 0 {
		rs := pairRatios(sts, raws, cCPU, cCPU)
		s.p("| Stats consumer CPU for a pass | %.2f s | raw franz-go consume: %.2f s | %s | ≤ 1.15×: %s |\n",
			median(sts, cCPU), median(raws, cCPU), ratioCell(rs), v.verdict("stats consumer CPU ≤ 1.15× raw franz-go", median(rs, ident) <= targetConsumerCPU))
	}
	if h := r.ckpt; h.count > 0 {
		s.p("| Checkpoint write (marshal, write, fsync, rename, fsync dir), all runs | p50 **%s**, p99 **%s** (mean %s, %s writes) | | | – |\n",
			ms(h.quantile(0.5)), ms(h.quantile(0.99)), ms(time.Duration(h.sum/h.count*1e9)), thousands(int64(h.count)))
	}
}

// otherRows: restarts, latencies and the measurements that failed.
func (r *results) otherRows(s *md, v *verdicts) {
	if len(r.restarts) > 0 {
		sorted := slices.Sorted(slices.Values(r.restarts))
		worst := sorted[len(sorted)-1]
		s.p("| Restart after SIGKILL (backlog to read) to the first new checkpoint | median **%s**, worst **%s** of %d | | | ≤ 1 s: %s |\n",
			ms(sorted[len(sorted)/2]), ms(worst), len(sorted), v.verdict("restart ≤ 1 s", worst <= targetRestart))
	}
	for _, l := range []*latencyRun{r.latDefault, r.latFast} {
		if l == nil || l.n == 0 {
			continue
		}
		txn := ""
		if l.txnReports > 0 && l.rate > 0 {
			txn = fmt.Sprintf("; a transaction every %s reports (%s)", thousands(int64(l.txnReports+0.5)), ms(time.Duration(l.txnReports/l.rate*1e9)))
		}
		s.p("| End-to-end latency, produce → in a checkpoint file: %s | %s reports/s%s: p50 **%s**, p99 **%s** (max %s, %s reports) | | | – |\n",
			l.source, rate(l.rate), txn, ms(l.p50), ms(l.p99), ms(l.max), thousands(int64(l.n)))
	}
	for _, f := range r.failures {
		s.p("| FAILED: %s | | | | |\n", strings.ReplaceAll(strings.SplitN(f, "\n", 2)[0], "|", "\\|"))
	}
}

// hotFunctions is the table of the Go benchmarks.
func (r *results) hotFunctions(s *md, b *bench) {
	if len(r.goBench) == 0 {
		return
	}
	s.p("\nHot functions (Go benchmarks, `go test -bench`, %s each, same run; the checkpoint writes on the same disk):\n\n", b.benchtime)
	s.p("| Benchmark | What | ns/op | B/op | allocs/op |\n|---|---|---|---|---|\n")
	for _, g := range r.goBench {
		name := g.pkg + "." + g.name
		what := goBenchWhat[name]
		if len(g.extra) > 0 {
			what += " (" + strings.Join(g.extra, ", ") + ")"
		}
		s.p("| `%s` | %s | %s | %.0f | %.0f |\n", name, what, benchNs(g.nsPerOp), g.bytesOp, g.allocsOp)
	}
}

// method is how it is measured.
func (r *results) method(s *md, b *bench) {
	s.p("\nHow it is measured:\n\n")
	s.p("- One broker, one run: every figure above comes from the same broker in the same `make bench`. "+
		"Each throughput measurement ran %d times, in turns with its reference, the order reversed every other run "+
		"(ours then the reference, the reference then ours …: a trend over the run, such as the broker's JIT warming up, favours neither), "+
		"each pass after a `sync` (no pass pays for the writeback of the passes before it); "+
		"the figures are the medians, and a ratio is the median of the ratios of the runs made back to back (each run's in parentheses).\n", b.reps)
	s.p("- Producer: ours is the producer binary, its rate `COUNT` / the time it logs for producing (from its first report to its last commit, after connecting). "+
		"ProducerPerformance's rate is its own report (from its first send to its last ack). MB = 2^20 B of key + value, as Kafka's tools count. "+
		"Differences that stay: ours is transactional, keys every record by station (10 keys, hashed to 4 partitions), "+
		"and compresses its batches (PRODUCE_COMPRESSION=%s) after a linger of PRODUCE_LINGER=%s; "+
		"the tool sends unkeyed random bytes, uncompressed, linger.ms=5; both keep up to 5 produce requests in flight per broker (idempotent). "+
		"Each producer runs once before the counted runs, not counted: on a broker just started the first passes run at about half the speed of the later ones.\n",
		b.producer.setting("PRODUCE_COMPRESSION"), b.producer.setting("PRODUCE_LINGER"))
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
	if l := r.latDefault; l != nil && l.txnReports > 0 && l.rate > 0 {
		commit := ms(time.Duration(l.txnReports / l.rate * 1e9))
		s.p(" At the default pace it committed every %.0f reports, %s, so a report waited 0–%s for its commit.", l.txnReports, commit, commit)
	}
	s.p("\n")
}

// median is the median of f over runs.
func median[T any](runs []T, f func(T) float64) float64 {
	if len(runs) == 0 {
		return 0
	}
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func maxOf[T any](runs []T, f func(T) float64) float64 {
	m := 0.0
	for _, r := range runs {
		m = max(m, f(r))
	}
	return m
}

func ident(x float64) float64 { return x }

// pairRatios is fa(a[i]) / fb(b[i]) for the runs made in turns.
func pairRatios[T any](a, b []T, fa, fb func(T) float64) []float64 {
	var rs []float64
	for i := range min(len(a), len(b)) {
		if d := fb(b[i]); d > 0 {
			rs = append(rs, fa(a[i])/d)
		}
	}
	return rs
}

// ratioCell is the median ratio in bold, and each run's if there are several.
func ratioCell(rs []float64) string {
	if len(rs) == 0 {
		return "–"
	}
	cell := fmt.Sprintf("**%.2f×**", median(rs, ident))
	if len(rs) > 1 {
		each := make([]string, len(rs))
		for i, r := range rs {
			each[i] = fmt.Sprintf("%.2f", r)
		}
		cell += " (runs: " + strings.Join(each, ", ") + ")"
	}
	return cell
}

func benchNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f", ns)
}

// scalingTable is how cost grows, one table per series.
func (r *results) scalingTable(s *md) {
	sc := r.scaling
	if len(sc.partitions)+len(sc.procs)+len(sc.stations) == 0 {
		return
	}
	s.p("\nHow cost grows (a topic of %s reports for each point, the median of %d passes from offset 0 to the end; "+
		"plot: `.cache/bench/scaling.png`):\n\n", thousands(sc.records), sc.reps)
	if len(sc.partitions) > 0 {
		s.p("| Partitions, one consumer process (%d stations) | reports/s | checkpoint writes/s | CPU for the pass |\n|---|---|---|---|\n", sc.partStations)
		for _, p := range sc.partitions {
			s.p("| %d | %s | %.0f | %.2f s |\n", p.x, rate(p.perSec), p.ckptPerSec, p.cpu.Seconds())
		}
		s.p("\n")
	}
	if len(sc.procs) > 0 {
		s.p("| Consumer processes over %d partitions (%d stations) | reports/s, all together | CPU for the pass, all together |\n|---|---|---|\n",
			sc.procsPartitions, sc.partStations)
		for _, p := range sc.procs {
			s.p("| %d | %s | %.2f s |\n", p.x, rate(p.perSec), p.cpu.Seconds())
		}
		s.p("\n")
	}
	if len(sc.stations) > 0 {
		s.p("| Stations (4 partitions, one consumer) | reports/s | a partition file | a checkpoint write | start-up over the files, to consuming |\n" +
			"|---|---|---|---|---|\n")
		for _, p := range sc.stations {
			s.p("| %s | %s | %s | %s | %s |\n", thousands(int64(p.x)), rate(p.perSec), bytesText(p.fileBytes), ms(p.ckptMean), ms(p.restart))
		}
	}
}

// streamsRows: the stats consumer against the Kafka Streams app doing the
// same job, exactly once.
func (r *results) streamsRows(s *md, v *verdicts) {
	sts, ks := r.stats, r.streams
	if len(sts) == 0 || len(ks) == 0 {
		return
	}
	cPerSec := func(x consumerRun) float64 { return x.perSec }
	kPerSec := func(x streamsRun) float64 { return x.perSec }
	ours, theirs := median(sts, cPerSec), median(ks, kPerSec)
	catchUp := median(ks, func(x streamsRun) float64 { return x.wall.Seconds() })
	oursCatchUp := median(sts, func(x consumerRun) float64 { return x.wall.Seconds() })
	rate := ours / theirs
	s.p("| … vs Kafka Streams doing the same job (`exactly_once_v2`, a RocksDB store with a changelog, one stream thread; `hack/bench/streams`) "+
		"| caught up %.1f s after its start, %.1f s CPU | Kafka Streams: %s reports/s (first to last record), caught up (committed) %.1f s after the JVM's start, %.1f s CPU "+
		"| **%.1f×** | ≥ 3×: %s |\n",
		oursCatchUp, median(sts, func(x consumerRun) float64 { return x.cpu.Seconds() }), thousands(int64(theirs)), catchUp,
		median(ks, func(x streamsRun) float64 { return x.cpu.Seconds() }), rate,
		v.verdict("≥ 3× Kafka Streams' throughput", rate >= targetStreamsRate))
	ourRSS, theirRSS := maxOf(sts, func(x consumerRun) float64 { return float64(x.rss) }), maxOf(ks, func(x streamsRun) float64 { return float64(x.rss) })
	mem := ourRSS / theirRSS
	same := "not compared"
	for _, k := range ks {
		if k.compared {
			same = "the same numbers, station by station (count, sum exactly, start, end)"
			if k.sameAsOurs != nil {
				same = "**different numbers**: " + strings.ReplaceAll(k.sameAsOurs.Error(), "|", "\\|")
				break
			}
		}
	}
	s.p("| … memory vs Kafka Streams | %.1f MiB | Kafka Streams (JVM, 512 MiB heap cap): %.0f MiB; %s | %.2f× | ≤ 0.2×: %s |\n",
		mib(int64(ourRSS)), mib(int64(theirRSS)), same, mem, v.verdict("≤ 1/5 of Kafka Streams' memory", mem <= targetStreamsMemory))
}

// snapshotRows: what publishing the snapshots costs, the traffic, and a
// restore on an empty disk.
func (r *results) snapshotRows(s *md, v *verdicts) {
	for _, sr := range r.snapshots {
		perSec := func(p scalePoint) float64 { return p.perSec }
		rs := pairRatios(sr.with, sr.without, perSec, perSec)
		s.p("| Stats consumer with snapshots every 1 s vs only at the end, %s stations (one process, 4 partitions) | %s reports/s | %s reports/s | %s | ≥ %.2f×: %s |\n",
			thousands(int64(sr.stations)), rate(median(sr.with, perSec)), rate(median(sr.without, perSec)), ratioCell(rs),
			targetSnapshotCost, v.verdict(fmt.Sprintf("snapshot cost at %s stations ≤ 5%%", thousands(int64(sr.stations))), median(rs, ident) >= targetSnapshotCost))
		s.p("| Into the snapshot topic, %s stations, at full speed | **%s/s** (a partition's state: %s) | | | – |\n",
			thousands(int64(sr.stations)), bytesText(int64(median(sr.bytesPerSec, ident))), bytesText(sr.stateBytes))
		target := "–"
		if sr.stations >= 10_000 {
			target = "≤ 1 s: " + v.verdict("restore of 10,000 stations ≤ 1 s", sr.restore <= targetRestore)
		}
		s.p("| A partition of %s stations on an empty disk: start to consuming, restored from its snapshot | **%s** | its own file: %s | | %s |\n",
			thousands(int64(sr.stations)), ms(sr.restore), ms(sr.ownFile), target)
	}
}
