package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/consumers"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/producers"
	"github.com/weatherstream/weather/hack/bench/streams"
)

// producerRows: medians of the runs; the ratio is the median of the ratios
// of runs made one after the other.
func producerRows(s *md, v *verdicts, r producers.Results, set Settings) {
	prs, pps, pts := r.Ours, r.Perf, r.PerfTxn
	if len(prs) == 0 {
		return
	}
	perSec := func(x producers.Run) float64 { return x.PerSec }
	mbps := func(x producers.Run) float64 { return x.MBPerSec }
	ours := fmt.Sprintf("**%s reports/s**, %.2f MB/s; transactional (a commit per 10,000 reports, every %.0f ms); PRODUCE_LINGER=%s, PRODUCE_COMPRESSION=%s",
		format.Rate(median(prs, perSec)), median(prs, mbps), median(prs, func(x producers.Run) float64 { return x.TxnMillis }),
		set.ProducerEnv.Setting("PRODUCE_LINGER"), set.ProducerEnv.Setting("PRODUCE_COMPRESSION"))
	if len(pps) == 0 {
		s.p("| Producer at full speed (`INTERVAL=0`), acks=all, idempotent | %s | (ProducerPerformance not run) | | |\n", ours)
	} else {
		rs := pairRatios(prs, pps, perSec, perSec)
		s.p("| Producer at full speed (`INTERVAL=0`), acks=all, idempotent | %s "+
			"| ProducerPerformance, %d-B records, acks=all, idempotent (Kafka's defaults: linger.ms=5, no compression): %s records/s, %.2f MB/s | %s | ≥ 1.0×: %s |\n",
			ours, int(r.KeySize+r.ValueSize+0.5), format.Rate(median(pps, perSec)), median(pps, mbps),
			ratioCell(rs), v.verdict("producer ≥ 1.0× ProducerPerformance", median(rs, ident) >= targetProducerRatio))
	}
	if raws := r.Raw; len(raws) > 0 {
		rs := pairRatios(prs, raws, perSec, perSec)
		s.p("| … vs a raw franz-go produce of the same records | | the same records encoded beforehand, the producer's client options, "+
			"a commit per 10,000: %s reports/s, %.1f s CPU | %s (ours %.1f s CPU) | – |\n",
			format.Rate(median(raws, perSec)), median(raws, func(x producers.Run) float64 { return x.CPU.Seconds() }), ratioCell(rs),
			median(prs, func(x producers.Run) float64 { return x.CPU.Seconds() }))
	}
	if len(pts) > 0 {
		rs := pairRatios(prs, pts, perSec, perSec)
		s.p("| … the tool transactional too | | ProducerPerformance, also a commit every %.0f ms: %s records/s, %.2f MB/s | %s | – |\n",
			median(pts, func(x producers.Run) float64 { return x.TxnMillis }), format.Rate(median(pts, perSec)), median(pts, mbps), ratioCell(rs))
	}
	ref := ""
	if len(pps) > 0 {
		ref = fmt.Sprintf("ProducerPerformance (JVM, 512 MiB heap cap): %.0f MiB, %.1f s CPU",
			format.MiB(int64(maxOf(pps, func(x producers.Run) float64 { return float64(x.RSS) }))), median(pps, func(x producers.Run) float64 { return x.CPU.Seconds() }))
	}
	s.p("| Producer memory (peak RSS) and CPU for %s reports | %.1f MiB, %.1f s CPU | %s | | – |\n", format.Count(set.Records),
		format.MiB(int64(maxOf(prs, func(x producers.Run) float64 { return float64(x.RSS) }))), median(prs, func(x producers.Run) float64 { return x.CPU.Seconds() }), ref)
}

// consumerRows: the stats consumer's throughput against its references,
// then its memory, CPU and checkpoint writes.
func consumerRows(s *md, v *verdicts, r consumers.Results, set Settings) {
	sts, raws, cps := r.Stats, r.Raw, r.Perf
	if len(sts) == 0 {
		return
	}
	cPerSec := func(x consumers.Run) float64 { return x.PerSec }
	cWall := func(x consumers.Run) float64 { return x.WallRate }
	cRSS := func(x consumers.Run) float64 { return float64(x.RSS) }
	cCPU := func(x consumers.Run) float64 { return x.CPU.Seconds() }
	if len(raws) > 0 {
		rs := pairRatios(sts, raws, cPerSec, cPerSec)
		fetch := []string{}
		for _, k := range []string{"FETCH_MAX_BYTES", "FETCH_MAX_PARTITION_BYTES"} {
			if val := set.ConsumerEnv.Setting(k); val != "" {
				fetch = append(fetch, k+"="+val)
			}
		}
		s.p("| Stats consumer, partitions 0–3 from offset 0 to the end, checkpoint with fsync after every batch | **%s reports/s** (%s/s incl. start-up) "+
			"| raw franz-go consume, same client options (%s), no work per record: %s records/s (%s/s incl. start-up) | %s | ≥ 0.95×: %s |\n",
			format.Rate(median(sts, cPerSec)), format.Rate(median(sts, cWall)), strings.Join(fetch, ", "), format.Rate(median(raws, cPerSec)), format.Rate(median(raws, cWall)),
			ratioCell(rs), v.verdict("stats consumer ≥ 0.95× raw franz-go", median(rs, ident) >= targetConsumerRatio))
	}
	if len(cps) > 0 {
		rs := pairRatios(sts, cps, cPerSec, cPerSec)
		s.p("| … the same pass vs Kafka's consumer perf tool | | ConsumerPerformance, read committed: %s records/s after its %s group join (%s/s incl. the join) | %s | – |\n",
			format.Rate(median(cps, cPerSec)), format.Ms(time.Duration(median(cps, func(x consumers.Run) float64 { return float64(x.Rebalance) }))),
			format.Rate(median(cps, cWall)), ratioCell(rs))
	}
	streamsRows(s, v, sts, r.Streams)
	worst := int64(maxOf(sts, cRSS))
	ref, rawRSS := "", 0.0
	if len(raws) > 0 {
		rawRSS = maxOf(raws, cRSS)
		ref = fmt.Sprintf("raw franz-go consume: %.1f MiB", format.MiB(int64(rawRSS)))
	}
	if len(cps) > 0 {
		ref += fmt.Sprintf("; ConsumerPerformance (JVM, 512 MiB heap cap): %.0f MiB", format.MiB(int64(maxOf(cps, cRSS))))
	}
	s.p("| Stats consumer resident memory (peak VmHWM, the highest of the runs) | **%.1f MiB** | %s | %s | ≤ 48 MiB: %s |\n",
		format.MiB(worst), strings.TrimPrefix(ref, "; "), ratio(float64(worst), rawRSS), v.verdict("consumer memory ≤ 48 MiB", worst <= targetRSS))
	if len(raws) > 0 {
		rs := pairRatios(sts, raws, cCPU, cCPU)
		s.p("| Stats consumer CPU for a pass | %.2f s | raw franz-go consume: %.2f s | %s | ≤ 1.15×: %s |\n",
			median(sts, cCPU), median(raws, cCPU), ratioCell(rs), v.verdict("stats consumer CPU ≤ 1.15× raw franz-go", median(rs, ident) <= targetConsumerCPU))
	}
	if h := r.Checkpoints; h.Count > 0 {
		s.p("| Checkpoint write (marshal, write, fsync, rename, fsync dir), all runs | p50 **%s**, p99 **%s** (mean %s, %s writes) | | | – |\n",
			format.Ms(h.Quantile(0.5)), format.Ms(h.Quantile(0.99)), format.Ms(h.Mean()), format.Thousands(int64(h.Count)))
	}
}

// streamsRows: the stats consumer against the Kafka Streams app doing the
// same job, exactly once.
func streamsRows(s *md, v *verdicts, sts []consumers.Run, ks []streams.Run) {
	if len(sts) == 0 || len(ks) == 0 {
		return
	}
	cPerSec := func(x consumers.Run) float64 { return x.PerSec }
	kPerSec := func(x streams.Run) float64 { return x.PerSec }
	ours, theirs := median(sts, cPerSec), median(ks, kPerSec)
	catchUp := median(ks, func(x streams.Run) float64 { return x.Wall.Seconds() })
	oursCatchUp := median(sts, func(x consumers.Run) float64 { return x.Wall.Seconds() })
	rate := ours / theirs
	s.p("| … vs Kafka Streams doing the same job (`exactly_once_v2`, a RocksDB store with a changelog, one stream thread; `hack/bench/streams`) "+
		"| caught up %.1f s after its start, %.1f s CPU | Kafka Streams: %s reports/s (first to last record), caught up (committed) %.1f s after the JVM's start, %.1f s CPU "+
		"| **%.1f×** | ≥ 3×: %s |\n",
		oursCatchUp, median(sts, func(x consumers.Run) float64 { return x.CPU.Seconds() }), format.Thousands(int64(theirs)), catchUp,
		median(ks, func(x streams.Run) float64 { return x.CPU.Seconds() }), rate,
		v.verdict("≥ 3× Kafka Streams' throughput", rate >= targetStreamsRate))
	ourRSS, theirRSS := maxOf(sts, func(x consumers.Run) float64 { return float64(x.RSS) }), maxOf(ks, func(x streams.Run) float64 { return float64(x.RSS) })
	mem := ourRSS / theirRSS
	same := "not compared"
	for _, k := range ks {
		if k.Compared {
			same = "the same numbers, station by station (count, sum exactly, start, end)"
			if k.SameAsOurs != nil {
				same = "**different numbers**: " + strings.ReplaceAll(k.SameAsOurs.Error(), "|", "\\|")
				break
			}
		}
	}
	s.p("| … memory vs Kafka Streams | %.1f MiB | Kafka Streams (JVM, 512 MiB heap cap): %.0f MiB; %s | %.2f× | ≤ 0.2×: %s |\n",
		format.MiB(int64(ourRSS)), format.MiB(int64(theirRSS)), same, mem, v.verdict("≤ 1/5 of Kafka Streams' memory", mem <= targetStreamsMemory))
}
