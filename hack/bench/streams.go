package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// streamsRun is one pass of the Kafka Streams peer of the stats consumer
// (hack/bench/streams/StreamsStats.java: exactly once, one stream thread, a
// persistent store with a changelog) over the topic, from offset 0 to a
// commit of every report.
type streamsRun struct {
	perSec   float64       // reports/s from the first record processed to the last report
	wallRate float64       // reports/s over wall
	wall     time.Duration // the process's whole life: JVM start, group join, the pass, the commit, the close
	rss      int64         // peak resident memory (VmHWM) of the JVM
	cpu      time.Duration
	// What the app's stores held once committed: partition -> station -> stats.
	stations map[int32]map[string]streamsStation
	skipped  int64 // records that were not valid reports
	// compared: checked against the stats consumer's files; sameAsOurs is
	// the difference found, if any.
	compared   bool
	sameAsOurs error
}

// streamsStation is what one partition's store holds of one station.
type streamsStation struct {
	Count      int64
	Sum        float64
	Start, End string
}

// streamsMainClass is the class of hack/bench/streams/StreamsStats.java (no package).
const streamsMainClass = "StreamsStats"

// streamsLibsHome is the KAFKA_HOME whose libs/ the Streams app runs on:
// the one startBroker installs into.
func (b *bench) streamsLibsHome() string {
	if h := os.Getenv("KAFKA_HOME"); h != "" {
		return h
	}
	return filepath.Join(b.repo, ".cache", "kafka")
}

// buildStreams installs the Kafka jars if needed (kafka-streams is among
// them: hack/kafka/pom.xml) and compiles StreamsStats.java against them into
// .cache/bench/streams-classes, unless the class there is newer than the
// source. It returns that directory.
func (b *bench) buildStreams(ctx context.Context) (classDir string, err error) {
	libsHome := b.streamsLibsHome()
	install, err := b.spawn("kafka-install", []string{"KAFKA_HOME=" + libsHome}, func(stream, line string) {
		b.progress("kafka.sh install: %s", line)
	}, filepath.Join(b.repo, "hack", "kafka", "kafka.sh"), "install")
	if err != nil {
		return "", err
	}
	if err := b.follow(ctx, install, 15*time.Second, 20*time.Minute, func(d time.Duration) {
		b.progress("kafka: still installing the jars (%s) ...", d.Round(time.Second))
	}); err != nil {
		return "", err
	}
	if err := install.exitErr(); err != nil {
		return "", err
	}

	src := filepath.Join(b.repo, "hack", "bench", "streams", streamsMainClass+".java")
	classDir = filepath.Join(b.repo, ".cache", "bench", "streams-classes")
	srcInfo, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(filepath.Join(classDir, streamsMainClass+".class")); err == nil && fi.ModTime().After(srcInfo.ModTime()) {
		return classDir, nil
	}
	b.progress("Kafka Streams: compiling %s", src)
	// Into a fresh directory, swapped in whole: no class of an older
	// source is left beside the new ones, and a failed build leaves none.
	tmp := classDir + ".tmp"
	os.RemoveAll(tmp)
	if _, err := runQuiet(ctx, b.repo, nil, "javac", "-cp", filepath.Join(libsHome, "libs")+"/*", "-d", tmp, src); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	os.RemoveAll(classDir)
	if err := os.Rename(tmp, classDir); err != nil {
		return "", err
	}
	return classDir, nil
}

// streamsSummary is the first line StreamsStats prints.
type streamsSummary struct {
	FirstMs     int64  `json:"first_ms"`     // the first record processed
	LastMs      int64  `json:"last_ms"`      // the last report processed
	CommittedMs *int64 `json:"committed_ms"` // a commit of every record seen
	Processed   int64  `json:"processed"`
	Skipped     int64  `json:"skipped"`
}

// streamsLine is each further line: one station of one partition.
type streamsLine struct {
	Partition *int32   `json:"partition"`
	Station   string   `json:"station"`
	Count     int64    `json:"count"`
	Sum       *float64 `json:"sum"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
}

// kafkaStreams runs the Kafka Streams app over topic, which holds b.records
// reports, with a new application id (so from offset 0, with empty stores)
// until it has committed every report, and returns its figures and what its
// stores held. Its internal topics are deleted afterwards.
func (b *bench) kafkaStreams(ctx context.Context, topic string) (streamsRun, error) {
	classDir, err := b.buildStreams(ctx)
	if err != nil {
		return streamsRun{}, fmt.Errorf("build the Kafka Streams app: %w", err)
	}
	_, offsets, err := b.settledEnds(ctx, topic)
	if err != nil {
		return streamsRun{}, err
	}
	total := b.records
	if total <= 0 || total > offsets {
		return streamsRun{}, fmt.Errorf("topic %s has %d offsets, too few for the %d reports it should hold", topic, offsets, total)
	}
	appID := fmt.Sprintf("bench-streams-%s-%d", topic, time.Now().UnixNano())
	stateDir := filepath.Join(b.runDir, appID+"-state")
	defer b.deleteStreamsApp(appID)
	libs := filepath.Join(b.streamsLibsHome(), "libs")
	log4j := filepath.Join(b.repo, "hack", "kafka", "log4j2.properties")
	b.progress("Kafka Streams: %s reports in 4 partitions, exactly_once_v2, 1 stream thread, RocksDB store with changelog (app id %s)",
		fmtCount(total), appID)
	c, err := b.spawn("kafka-streams", nil, nil, "java", "-Xmx512m",
		"-Dlog4j2.configurationFile="+log4j, "-Dkafka.log.level=WARN", "-Dkafka.log.target=SYSTEM_ERR",
		"-cp", classDir+string(os.PathListSeparator)+libs+"/*", streamsMainClass,
		"--bootstrap", b.brokers, "--topic", topic, "--app-id", appID, "--state-dir", stateDir,
		"--total", strconv.FormatInt(total, 10))
	if err != nil {
		return streamsRun{}, err
	}
	defer func() {
		if c.running() {
			_ = c.stop(30 * time.Second)
		}
	}()
	if err := b.awaitStreams(ctx, c, 10*time.Minute); err != nil {
		return streamsRun{}, err
	}
	if err := c.exitErr(); err != nil {
		return streamsRun{}, err
	}

	sum, run, err := parseStreamsOutput(c.stdoutText())
	if err != nil {
		return streamsRun{}, fmt.Errorf("output of the Kafka Streams app (log: %s): %w", c.log, err)
	}
	if sum.Processed != total {
		return streamsRun{}, fmt.Errorf("the Kafka Streams app processed %d reports, want %d (log: %s)", sum.Processed, total, c.log)
	}
	run.wall, run.rss, run.cpu = c.exited.Sub(c.started), c.peakRSS(), c.cpu()
	run.wallRate = float64(total) / run.wall.Seconds()
	run.perSec = run.wallRate
	if d := time.Duration(sum.LastMs-sum.FirstMs) * time.Millisecond; d > 0 {
		run.perSec = float64(total) / d.Seconds()
	} else {
		b.progress("(Kafka Streams: first and last report in the same millisecond: the rate includes start-up)")
	}
	commit := ""
	if sum.CommittedMs != nil {
		commit = fmt.Sprintf(", committed %s after the last report", (time.Duration(*sum.CommittedMs-sum.LastMs) * time.Millisecond).String())
	}
	b.progress("Kafka Streams: %.0f reports/s (%.0f/s over the JVM's %s), CPU %.1f s, peak RSS %.0f MiB, %d skipped%s",
		run.perSec, run.wallRate, run.wall.Round(time.Millisecond), run.cpu.Seconds(), mib(run.rss), run.skipped, commit)
	return run, nil
}

// awaitStreams waits for the app to exit: at most timeout, and stops it
// (SIGTERM: Streams closes cleanly) if ctx ends first.
func (b *bench) awaitStreams(ctx context.Context, c *child, timeout time.Duration) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	deadline := time.After(timeout)
	for {
		select {
		case <-c.done:
			return nil
		case <-tick.C:
			rss, _ := memory(c.cmd.Process.Pid)
			b.progress("Kafka Streams: running for %s, RSS %.0f MiB (peak %.0f)",
				time.Since(c.started).Round(time.Second), mib(rss), mib(c.peakRSS()))
		case <-deadline:
			_ = c.stop(30 * time.Second)
			return fmt.Errorf("the Kafka Streams app did not finish within %s; stopped (log: %s)", timeout, c.log)
		case <-ctx.Done():
			_ = c.stop(30 * time.Second)
			return ctx.Err()
		}
	}
}

// parseStreamsOutput reads what StreamsStats prints: a summary line, then
// one line per station of each partition.
func parseStreamsOutput(out string) (streamsSummary, streamsRun, error) {
	var (
		sum  streamsSummary
		run  = streamsRun{stations: map[int32]map[string]streamsStation{}}
		errs []error
		n    int
	)
	scanLines(out, func(l string) {
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
		var s streamsLine
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
			p = map[string]streamsStation{}
			run.stations[*s.Partition] = p
		}
		if _, dup := p[s.Station]; dup {
			errs = append(errs, fmt.Errorf("line %d: station %q of partition %d twice", n, s.Station, *s.Partition))
		}
		p[s.Station] = streamsStation{Count: s.Count, Sum: *s.Sum, Start: s.Start, End: s.End}
	})
	if n == 0 {
		return sum, run, errors.New("no output")
	}
	if sum.FirstMs == 0 || sum.LastMs == 0 {
		errs = append(errs, errors.New("the summary line has no first_ms or last_ms"))
	}
	run.skipped = sum.Skipped
	return sum, run, errors.Join(errs...)
}

// deleteStreamsApp deletes the internal topics (the changelog) of a Streams
// app id, best effort: a topic the bench leaves costs the broker's disk,
// nothing else. The group stays, as ConsumerPerformance's do: a Streams
// member does not leave its group on close (only a static member is
// removed), so the group is not empty until its session times out.
func (b *bench) deleteStreamsApp(appID string) {
	if b.adm == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics, err := b.adm.ListTopics(ctx)
	if err != nil {
		b.progress("Kafka Streams: list topics: %v", err)
		return
	}
	var internal []string
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, appID+"-") {
			internal = append(internal, t)
		}
	}
	if len(internal) > 0 {
		resp, err := b.adm.DeleteTopics(ctx, internal...)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			b.progress("Kafka Streams: delete the topics of %s: %v", appID, err)
		}
	}
}

// consumerStation is one station of a stats consumer's partition-N.json.
type consumerStation struct {
	Count *int64   `json:"count"`
	Sum   *float64 `json:"sum"`
	Avg   *float64 `json:"avg"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

var partitionFile = regexp.MustCompile(`^partition-(\d+)\.json$`)

// readConsumerFiles reads the stations of every partition-N.json in dir.
func readConsumerFiles(dir string) (map[int32]map[string]streamsStation, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int32]map[string]streamsStation{}
	for _, e := range entries {
		m := partitionFile.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		p, err := strconv.ParseInt(m[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		stations := map[string]streamsStation{}
		for name, raw := range top {
			if name == "offset" || name == "log" { // the file's own keys
				continue
			}
			var s consumerStation
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%s: station %q: %w", path, name, err)
			}
			if s.Count == nil || s.Sum == nil || s.Avg == nil || s.Start == "" || s.End == "" {
				return nil, fmt.Errorf("%s: station %q lacks count, sum, avg, start or end: %s", path, name, raw)
			}
			stations[name] = streamsStation{Count: *s.Count, Sum: *s.Sum, Start: s.Start, End: s.End}
		}
		out[int32(p)] = stations
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no partition-N.json in %s", dir)
	}
	return out, nil
}

// streamsEqualsConsumerFiles checks that the Streams app's stores hold what
// the stats consumer's partition files in dir do: the same stations in each
// partition with the same count, start and end, and the same sum exactly
// (both add the degrees in offset order, in float64).
func (b *bench) streamsEqualsConsumerFiles(run streamsRun, dir string) error {
	files, err := readConsumerFiles(dir)
	if err != nil {
		return err
	}
	var diffs []string
	parts := map[int32]bool{}
	for p := range files {
		parts[p] = true
	}
	for p := range run.stations {
		parts[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		got, want := run.stations[p], files[p]
		names := map[string]bool{}
		for n := range got {
			names[n] = true
		}
		for n := range want {
			names[n] = true
		}
		for _, n := range slices.Sorted(maps.Keys(names)) {
			g, inStreams := got[n]
			w, inFiles := want[n]
			switch {
			case !inFiles:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: only in Kafka Streams (%s)", p, n, g))
			case !inStreams:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: only in the consumer's files (%s)", p, n, w))
			case g != w:
				diffs = append(diffs, fmt.Sprintf("partition %d %s: Kafka Streams %s, consumer %s", p, n, g, w))
			}
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	const show = 20
	more := ""
	if len(diffs) > show {
		more = fmt.Sprintf("\n  ... and %d more", len(diffs)-show)
	}
	return fmt.Errorf("the Kafka Streams app and the stats consumer (%s) differ in %d stations:\n  %s%s",
		dir, len(diffs), strings.Join(diffs[:min(len(diffs), show)], "\n  "), more)
}

func (s streamsStation) String() string {
	return fmt.Sprintf("count %d sum %s start %s end %s", s.Count, strconv.FormatFloat(s.Sum, 'g', -1, 64), s.Start, s.End)
}

// streamsReps is how many times the Streams peer runs (each ~20 s at 5M reports).
const streamsReps = 3

// streams runs the Kafka Streams peer and checks that it ends with the
// numbers of the stats consumer's last pass over the same topic.
func (b *bench) streams(ctx context.Context, topic string) error {
	run, err := b.kafkaStreams(ctx, topic)
	if err != nil {
		return err
	}
	if b.lastStatsDir != "" {
		run.sameAsOurs = b.streamsEqualsConsumerFiles(run, b.lastStatsDir)
		if run.sameAsOurs != nil {
			b.progress("Kafka Streams: its results differ from the stats consumer's: %v", run.sameAsOurs)
		} else {
			b.progress("Kafka Streams: its results equal the stats consumer's files exactly")
		}
		run.compared = true
	}
	b.res.streams = append(b.res.streams, run)
	return run.sameAsOurs // different numbers: one of the two is wrong
}
