package report

import (
	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/scaling"
)

// scalingTables is how cost grows, one table per series. (It has no target
// yet; one would be a verdict here, as in the rows of the main table: the
// line of verdicts is written after these tables are.)
func scalingTables(s *md, sc scaling.Series) {
	if sc.Empty() {
		return
	}
	s.p("\nHow cost grows (a topic of %s reports for each point, the median of %d passes from offset 0 to the end; "+
		"plot: `.cache/bench/scaling.png`):\n\n", format.Thousands(sc.Records), sc.Reps)
	if len(sc.Partitions) > 0 {
		s.p("| Partitions, one consumer process (%d stations) | reports/s | checkpoint writes/s | CPU for the pass |\n|---|---|---|---|\n", sc.PartStations)
		for _, p := range sc.Partitions {
			s.p("| %d | %s | %.0f | %.2f s |\n", p.X, format.Rate(p.PerSec), p.CkptPerSec, p.CPU.Seconds())
		}
		s.p("\n")
	}
	if len(sc.Procs) > 0 {
		s.p("| Consumer processes over %d partitions (%d stations) | reports/s, all together | CPU for the pass, all together |\n|---|---|---|\n",
			sc.ProcsPartitions, sc.PartStations)
		for _, p := range sc.Procs {
			s.p("| %d | %s | %.2f s |\n", p.X, format.Rate(p.PerSec), p.CPU.Seconds())
		}
		s.p("\n")
	}
	if len(sc.Stations) > 0 {
		s.p("| Stations (4 partitions, one consumer) | reports/s | a partition file | a checkpoint write | start-up over the files, to consuming |\n" +
			"|---|---|---|---|---|\n")
		for _, p := range sc.Stations {
			s.p("| %s | %s | %s | %s | %s |\n", format.Thousands(int64(p.X)), format.Rate(p.PerSec), format.Bytes(p.FileBytes), format.Ms(p.CkptMean), format.Ms(p.Restart))
		}
	}
}
