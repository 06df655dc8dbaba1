package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/consumerpass"
	"github.com/weatherstream/weather/hack/bench/internal/dashboardload"
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/latency"
	"github.com/weatherstream/weather/hack/bench/internal/snapshots"
)

// otherRows: restarts, latencies and the measurements that failed.
func otherRows(s *md, v *verdicts, r Results) {
	if len(r.Restarts) > 0 {
		sorted := slices.Sorted(slices.Values(r.Restarts))
		worst := sorted[len(sorted)-1]
		s.p("| Restart after SIGKILL (backlog to read) to the first new checkpoint | median **%s**, worst **%s** of %d | | | ≤ 1 s: %s |\n",
			format.Ms(sorted[len(sorted)/2]), format.Ms(worst), len(sorted), v.verdict("restart ≤ 1 s", worst <= targetRestart))
	}
	for _, l := range []*latency.Run{r.LatencyDefault, r.LatencyFast} {
		if l == nil || l.N == 0 {
			continue
		}
		txn := ""
		if l.TxnReports > 0 && l.Rate > 0 {
			txn = fmt.Sprintf("; a transaction every %s reports (%s)", format.Thousands(int64(l.TxnReports+0.5)), format.Ms(time.Duration(l.TxnReports/l.Rate*1e9)))
		}
		s.p("| End-to-end latency, produce → in a checkpoint file: %s | %s reports/s%s: p50 **%s**, p99 **%s** (max %s, %s reports) | | | – |\n",
			l.Source, format.Rate(l.Rate), txn, format.Ms(l.P50), format.Ms(l.P99), format.Ms(l.Max), format.Thousands(int64(l.N)))
	}
	for _, f := range r.Failures {
		s.p("| FAILED: %s | | | | |\n", strings.ReplaceAll(strings.SplitN(f, "\n", 2)[0], "|", "\\|"))
	}
}

// snapshotRows: what publishing the snapshots costs, the traffic, and a
// restore on an empty disk.
func snapshotRows(s *md, v *verdicts, runs []snapshots.Run) {
	for _, sr := range runs {
		perSec := func(p consumerpass.Point) float64 { return p.PerSec }
		rs := pairRatios(sr.With, sr.Without, perSec, perSec)
		s.p("| Stats consumer with snapshots every 1 s vs only at the end, %s stations (one process, 4 partitions) | %s reports/s | %s reports/s | %s | ≥ %.2f×: %s |\n",
			format.Thousands(int64(sr.Stations)), format.Rate(median(sr.With, perSec)), format.Rate(median(sr.Without, perSec)), ratioCell(rs),
			targetSnapshotCost, v.verdict(fmt.Sprintf("snapshot cost at %s stations ≤ 5%%", format.Thousands(int64(sr.Stations))), median(rs, ident) >= targetSnapshotCost))
		s.p("| Into the snapshot topic, %s stations, at full speed | **%s/s** (a partition's state: %s) | | | – |\n",
			format.Thousands(int64(sr.Stations)), format.Bytes(int64(median(sr.BytesPerSec, ident))), format.Bytes(sr.StateBytes))
		target := "–"
		if sr.Stations >= 10_000 {
			target = "≤ 1 s: " + v.verdict("restore of 10,000 stations ≤ 1 s", sr.Restore <= targetRestore)
		}
		s.p("| A partition of %s stations on an empty disk: start to consuming, restored from its snapshot | **%s** | its own file: %s | | %s |\n",
			format.Thousands(int64(sr.Stations)), format.Ms(sr.Restore), format.Ms(sr.OwnFile), target)
	}
}

// dashboardRows is the dashboard's lines of the table.
func dashboardRows(s *md, v *verdicts, d *dashboardload.Run) {
	if d == nil {
		return
	}
	for _, l := range []dashboardload.APILoad{d.Paced, d.Saturated} {
		how, target := "back to back (saturation: latency = clients / rate)", "–"
		if l.Every > 0 {
			how = "each every " + l.Every.String()
			target = fmt.Sprintf("p99 < %s: %s", format.Ms(targetDashboardP99), v.verdict("dashboard p99 < 20 ms", l.P99 < targetDashboardP99))
		}
		s.p("| Dashboard API, %d clients %s for %s (view, stations, partitions at random), %d event streams open, the pipeline at full speed (%s offsets/s) | "+
			"**%s** requests/s, p50 %s, p99 **%s** (max %s), %d errors | | | %s |\n",
			d.Clients, how, l.Took.Round(time.Second), d.Streams, format.Rate(d.PipelineRate),
			format.Rate(l.Rate()), format.Ms(l.P50), format.Ms(l.P99), format.Ms(l.Max), l.Errs, target)
	}
	s.p("| Dashboard peak resident memory, through both loads (its %d event streams got %s views meanwhile; %.0f refreshes, %s each on average) | **%.1f MiB** | | | < 40 MiB: %s |\n",
		d.Streams, format.Thousands(d.Events), d.Refresh.Count, format.Ms(d.Refresh.Mean()), format.MiB(d.RSS), v.verdict("dashboard < 40 MiB", d.RSS < targetDashboardRSS))
	s.p("| Dashboard page transfer: `/`, `app.js`, `style.css` (uncompressed, nothing from elsewhere), "+
		"then its data (`/api/v1/lag`, the first view event) | **%.1f KB**; data %.1f KB | | | < 300 KB: %s |\n",
		float64(d.PageBytes)/1000, float64(d.DataBytes)/1000, v.verdict("page < 300 KB", d.PageBytes+d.DataBytes < targetDashboardPage))
}
