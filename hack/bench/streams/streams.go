// Package streams is the Kafka Streams peer of the stats consumer:
// StreamsStats.java (exactly once, one stream thread, a persistent store
// with a changelog) doing the same job, built and run over the same topic,
// its figures read and its stores compared, station by station, with the
// stats consumer's files.
package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weatherstream/weather/hack/bench/internal/format"
	"github.com/weatherstream/weather/hack/bench/internal/kafka"
	"github.com/weatherstream/weather/hack/bench/internal/process"
	"github.com/weatherstream/weather/hack/bench/internal/progress"
)

// Config is what a run of the Streams peer needs.
type Config struct {
	Records   int64  // the reports the topic holds
	Repo      string // the repository: the app's source, Kafka's jars and logging
	Dir       string // the run directory: the app's state
	Kafka     *kafka.Admin
	Processes *process.Runner
	Log       *progress.Log
}

// Reps is how many times the Streams peer runs (each ~20 s at 5M reports).
const Reps = 3

// Run is one pass of the Kafka Streams peer of the stats consumer over the
// topic, from offset 0 to a commit of every report.
type Run struct {
	PerSec   float64       // reports/s from the first record processed to the last report
	WallRate float64       // reports/s over wall
	Wall     time.Duration // the process's whole life: JVM start, group join, the pass, the commit, the close
	RSS      int64         // peak resident memory (VmHWM) of the JVM
	CPU      time.Duration
	// What the app's stores held once committed: partition -> station -> stats.
	stations map[int32]map[string]station
	Skipped  int64 // records that were not valid reports
	// Compared: checked against the stats consumer's files; SameAsOurs is
	// the difference found, if any.
	Compared   bool
	SameAsOurs error
}

// station is what one partition's store holds of one station.
type station struct {
	Count      int64
	Sum        float64
	Start, End string
}

// mainClass is the class of StreamsStats.java, beside this file (no package).
const mainClass = "StreamsStats"

// Measure runs the Kafka Streams peer over topic and checks that it ends
// with the numbers of the stats consumer's files in statsDir (if not "").
// It returns the run if the app ran through, and an error if it did not or
// if the numbers differ (one of the two is wrong).
func Measure(ctx context.Context, cfg Config, topic, statsDir string) (*Run, error) {
	run, err := measure(ctx, cfg, topic)
	if err != nil {
		return nil, err
	}
	if statsDir != "" {
		run.SameAsOurs = equalsConsumerFiles(run, statsDir)
		if run.SameAsOurs != nil {
			cfg.Log.Printf("Kafka Streams: its results differ from the stats consumer's: %v", run.SameAsOurs)
		} else {
			cfg.Log.Printf("Kafka Streams: its results equal the stats consumer's files exactly")
		}
		run.Compared = true
	}
	return &run, run.SameAsOurs
}

// build installs the Kafka jars if needed (kafka-streams is among them:
// hack/kafka/pom.xml) and compiles StreamsStats.java against them into
// .cache/bench/streams-classes, unless the class there is newer than the
// source. It returns that directory.
func build(ctx context.Context, cfg Config) (classDir string, err error) {
	if err := kafka.Install(ctx, cfg.Processes, cfg.Repo, func(stream, line string) {
		cfg.Log.Printf("kafka.sh install: %s", line)
	}, cfg.Log); err != nil {
		return "", err
	}

	src := filepath.Join(cfg.Repo, "hack", "bench", "streams", mainClass+".java")
	classDir = filepath.Join(cfg.Repo, ".cache", "bench", "streams-classes")
	srcInfo, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(filepath.Join(classDir, mainClass+".class")); err == nil && fi.ModTime().After(srcInfo.ModTime()) {
		return classDir, nil
	}
	cfg.Log.Printf("Kafka Streams: compiling %s", src)
	// Into a fresh directory, swapped in whole: no class of an older
	// source is left beside the new ones, and a failed build leaves none.
	tmp := classDir + ".tmp"
	os.RemoveAll(tmp)
	if _, err := process.RunQuiet(ctx, cfg.Repo, nil, "javac", "-cp", filepath.Join(kafka.LibsHome(cfg.Repo), "libs")+"/*", "-d", tmp, src); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	os.RemoveAll(classDir)
	if err := os.Rename(tmp, classDir); err != nil {
		return "", err
	}
	return classDir, nil
}

// summary is the first line StreamsStats prints.
type summary struct {
	FirstMs     int64  `json:"first_ms"`     // the first record processed
	LastMs      int64  `json:"last_ms"`      // the last report processed
	CommittedMs *int64 `json:"committed_ms"` // a commit of every record seen
	Processed   int64  `json:"processed"`
	Skipped     int64  `json:"skipped"`
}

// line is each further line: one station of one partition.
type line struct {
	Partition *int32   `json:"partition"`
	Station   string   `json:"station"`
	Count     int64    `json:"count"`
	Sum       *float64 `json:"sum"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
}

// measure runs the Kafka Streams app over topic, which holds cfg.Records
// reports, with a new application id (so from offset 0, with empty stores)
// until it has committed every report, and returns its figures and what its
// stores held. Its internal topics are deleted afterwards.
func measure(ctx context.Context, cfg Config, topic string) (Run, error) {
	classDir, err := build(ctx, cfg)
	if err != nil {
		return Run{}, fmt.Errorf("build the Kafka Streams app: %w", err)
	}
	_, offsets, err := cfg.Kafka.SettledEnds(ctx, topic)
	if err != nil {
		return Run{}, err
	}
	total := cfg.Records
	if total <= 0 || total > offsets {
		return Run{}, fmt.Errorf("topic %s has %d offsets, too few for the %d reports it should hold", topic, offsets, total)
	}
	appID := fmt.Sprintf("bench-streams-%s-%d", topic, time.Now().UnixNano())
	stateDir := filepath.Join(cfg.Dir, appID+"-state")
	defer deleteApp(cfg, appID)
	libs := filepath.Join(kafka.LibsHome(cfg.Repo), "libs")
	log4j := filepath.Join(cfg.Repo, "hack", "kafka", "log4j2.properties")
	cfg.Log.Printf("Kafka Streams: %s reports in 4 partitions, exactly_once_v2, 1 stream thread, RocksDB store with changelog (app id %s)",
		format.Count(total), appID)
	c, err := cfg.Processes.Start("kafka-streams", nil, nil, "java", "-Xmx512m",
		"-Dlog4j2.configurationFile="+log4j, "-Dkafka.log.level=WARN", "-Dkafka.log.target=SYSTEM_ERR",
		"-cp", classDir+string(os.PathListSeparator)+libs+"/*", mainClass,
		"--bootstrap", cfg.Kafka.Brokers(), "--topic", topic, "--app-id", appID, "--state-dir", stateDir,
		"--total", strconv.FormatInt(total, 10))
	if err != nil {
		return Run{}, err
	}
	defer func() {
		if c.Running() {
			_ = c.Stop(30 * time.Second)
		}
	}()
	if err := await(ctx, cfg.Log, c, 10*time.Minute); err != nil {
		return Run{}, err
	}
	if err := c.ExitErr(); err != nil {
		return Run{}, err
	}

	sum, run, err := parseOutput(c.Stdout())
	if err != nil {
		return Run{}, fmt.Errorf("output of the Kafka Streams app (log: %s): %w", c.Log, err)
	}
	if sum.Processed != total {
		return Run{}, fmt.Errorf("the Kafka Streams app processed %d reports, want %d (log: %s)", sum.Processed, total, c.Log)
	}
	run.Wall, run.RSS, run.CPU = c.Exited().Sub(c.Started), c.PeakRSS(), c.CPU()
	run.WallRate = float64(total) / run.Wall.Seconds()
	run.PerSec = run.WallRate
	if d := time.Duration(sum.LastMs-sum.FirstMs) * time.Millisecond; d > 0 {
		run.PerSec = float64(total) / d.Seconds()
	} else {
		cfg.Log.Printf("(Kafka Streams: first and last report in the same millisecond: the rate includes start-up)")
	}
	commit := ""
	if sum.CommittedMs != nil {
		commit = fmt.Sprintf(", committed %s after the last report", (time.Duration(*sum.CommittedMs-sum.LastMs) * time.Millisecond).String())
	}
	cfg.Log.Printf("Kafka Streams: %.0f reports/s (%.0f/s over the JVM's %s), CPU %.1f s, peak RSS %.0f MiB, %d skipped%s",
		run.PerSec, run.WallRate, run.Wall.Round(time.Millisecond), run.CPU.Seconds(), format.MiB(run.RSS), run.Skipped, commit)
	return run, nil
}

// await waits for the app to exit: at most timeout, and stops it (SIGTERM:
// Streams closes cleanly) if ctx ends first.
func await(ctx context.Context, log *progress.Log, c *process.Child, timeout time.Duration) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-c.Done():
			return nil
		case <-tick.C:
			log.Printf("Kafka Streams: running for %s, RSS %.0f MiB (peak %.0f)",
				time.Since(c.Started).Round(time.Second), format.MiB(c.RSS()), format.MiB(c.PeakRSS()))
		case <-deadline:
			_ = c.Stop(30 * time.Second)
			return fmt.Errorf("the Kafka Streams app did not finish within %s; stopped (log: %s)", timeout, c.Log)
		case <-ctx.Done():
			_ = c.Stop(30 * time.Second)
			return ctx.Err()
		}
	}
}

// parseOutput reads what StreamsStats prints: a summary line, then one
// line per station of each partition.
func parseOutput(out string) (summary, Run, error) {
	var (
		sum  summary
		run  = Run{stations: map[int32]map[string]station{}}
		errs []error
		n    int
	)
	process.ScanLines(out, func(l string) {
		if l = strings.TrimSpace(l); l == "" {
			return
		}
		n++
		if n == 1 {
			if err := json.Unmarshal([]byte(l), &sum); err != nil {
				errs = append(errs, fmt.Errorf("summary line %q: %w", l, err))
			}
			return
		}
		var s line
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			return
		}
		if s.Partition == nil || s.Sum == nil || s.Station == "" {
			errs = append(errs, fmt.Errorf("line %d, %q: not a station", n, l))
			return
		}
		p := run.stations[*s.Partition]
		if p == nil {
			p = map[string]station{}
			run.stations[*s.Partition] = p
		}
		if _, dup := p[s.Station]; dup {
			errs = append(errs, fmt.Errorf("line %d: station %q of partition %d twice", n, s.Station, *s.Partition))
		}
		p[s.Station] = station{Count: s.Count, Sum: *s.Sum, Start: s.Start, End: s.End}
	})
	if n == 0 {
		return sum, run, errors.New("no output")
	}
	if sum.FirstMs == 0 || sum.LastMs == 0 {
		errs = append(errs, errors.New("the summary line has no first_ms or last_ms"))
	}
	run.Skipped = sum.Skipped
	return sum, run, errors.Join(errs...)
}

// deleteApp deletes the internal topics (the changelog) of a Streams app
// id, best effort: a topic the bench leaves costs the broker's disk,
// nothing else. The group stays, as ConsumerPerformance's do: a Streams
// member does not leave its group on close (only a static member is
// removed), so the group is not empty until its session times out.
func deleteApp(cfg Config, appID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := cfg.Kafka.Topics(ctx)
	if err != nil {
		cfg.Log.Printf("Kafka Streams: list topics: %v", err)
		return
	}
	var internal []string
	for _, t := range topics {
		if strings.HasPrefix(t, appID+"-") {
			internal = append(internal, t)
		}
	}
	if len(internal) > 0 {
		if err := cfg.Kafka.DeleteTopics(ctx, internal...); err != nil {
			cfg.Log.Printf("Kafka Streams: delete the topics of %s: %v", appID, err)
		}
	}
}
