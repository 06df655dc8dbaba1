package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weatherstream/weather/hack/kafka/cluster"
	"github.com/weatherstream/weather/hack/verify"
)

const (
	topic      = "temperatures"
	partitions = 4
	brokers    = 3
	txnID      = "weather-producer"
	// catchUp bounds the wait, once healed, for the consumers to reach the
	// log's end: long enough for a rebuild of the whole topic.
	catchUp = 3 * time.Minute
)

// run is one campaign; it reports whether every check passed.
func run(ctx context.Context, o options) (bool, error) {
	c := &campaign{o: o, began: time.Now(),
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	defer c.close()
	if err := c.prepare(ctx); err != nil {
		return false, err
	}
	if err := c.startKafka(ctx); err != nil {
		return false, err
	}
	c.startServices(ctx)
	c.planFaults()
	c.showProgress(ctx)
	if err := c.injectFaults(ctx); err != nil {
		return false, err
	}
	c.windDown(ctx)
	checks, facts, err := c.verdict(ctx)
	if err != nil {
		return false, err
	}
	return c.report(checks, facts), nil
}

// campaign is one run's world: the work dir, the brokers, the supervised
// services, the faults' plan and what became of it.
type campaign struct {
	o     options
	began time.Time
	log   *slog.Logger // the brokers' and the supervisor's, warnings only

	logs string // the services' logs
	bin  string // the services' binaries
	disk *checkpointDisk

	kafka *cluster.Cluster
	addrs string    // the brokers (their proxies), as KAFKA_BROKERS
	opts  []kgo.Opt // a client's of the brokers
	adm   *kadm.Client

	producer  *Service
	consumers []*Service
	debug     *Service
	services  []*Service // the four above
	spares    int        // consumers started for a moved partition
	running   sync.WaitGroup
	stop      context.CancelFunc // the services'
	stopped   <-chan struct{}    // closed by stop

	nemesis *nemesis
	plan    []Fault
	sched   schedule
	// deadline is when the producer must have produced its count: twice the
	// run's duration and 5 minutes after the faults began.
	deadline time.Time

	cleanup []func() // what close undoes, in the order it was done
}

// close undoes what the steps did, the last first.
func (c *campaign) close() {
	for _, f := range slices.Backward(c.cleanup) {
		f()
	}
}

// say is a line for whoever runs the campaign.
func (c *campaign) say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chaos: "+format+"\n", args...)
}

// prepare empties the work dir, builds the services and makes the
// checkpoint disk.
func (c *campaign) prepare(ctx context.Context) error {
	c.say("seed %d (replay this schedule: make chaos CHAOS_FLAGS='-seed %d'), %d reports over %s, work dir %s",
		c.o.seed, c.o.seed, c.o.reports, c.o.duration, c.o.dir)
	if err := os.RemoveAll(c.o.dir); err != nil {
		return err
	}
	c.logs = filepath.Join(c.o.dir, "logs")
	if err := os.MkdirAll(c.logs, 0o755); err != nil {
		return err
	}
	bin, err := build(ctx, c.o.dir)
	if err != nil {
		return err
	}
	c.bin = bin
	disk, err := newCheckpointDisk(filepath.Join(c.o.dir, "checkpoints"))
	if err != nil {
		return err
	}
	c.disk = disk
	c.cleanup = append(c.cleanup, func() { _ = disk.Close(filepath.Join(c.o.dir, "files")) })
	if !disk.mounted {
		c.say("not root: the checkpoints are on a plain directory and the disk-full fault is left out")
	}
	return nil
}

// startKafka starts the brokers, each behind its Toxiproxy proxy, and
// connects to them.
func (c *campaign) startKafka(ctx context.Context) error {
	c.say("starting %d Kafka brokers behind Toxiproxy ...", brokers)
	kafka, err := cluster.Start(ctx, cluster.Options{Nodes: brokers, Dir: filepath.Join(c.o.dir, "kafka"), Log: c.log})
	if err != nil {
		return err
	}
	c.kafka = kafka
	c.cleanup = append(c.cleanup, func() { _ = kafka.Close() })
	c.addrs = strings.Join(kafka.Brokers(), ",")
	c.say("brokers %s (through the proxies; Toxiproxy API %s)", c.addrs, kafka.ToxiproxyURL())

	c.opts = []kgo.Opt{kgo.SeedBrokers(kafka.Brokers()...), kgo.RequestTimeoutOverhead(5 * time.Second)}
	admClient, err := kgo.NewClient(c.opts...)
	if err != nil {
		return err
	}
	c.cleanup = append(c.cleanup, admClient.Close)
	c.adm = kadm.NewClient(admClient)
	c.say("transaction.version %s (2 = KIP-890 part 2: the producer's epoch bumps on every commit or abort, so a late EndTxn cannot act on the next transaction)",
		transactionVersion(ctx, admClient))
	return nil
}

// service is one of the pipeline's binaries as a supervised process on the
// brokers, its output in logs/<name>.log.
func (c *campaign) service(name string, once bool, env []string, args ...string) *Service {
	common := []string{"KAFKA_BROKERS=" + c.addrs, "TOPIC=" + topic, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info"}
	return &Service{Name: name, Cmd: append([]string{filepath.Join(c.bin, strings.SplitN(name, "-", 2)[0])}, args...),
		Env: append(env, common...), Log: filepath.Join(c.logs, name+".log"), Once: once}
}

// startServices starts the producer (its count at the run's pace), two
// stats consumers of two partitions each and the debug consumer. They run
// until stopServices, even once ctx is done: the campaign stops them itself.
func (c *campaign) startServices(ctx context.Context) {
	interval := c.o.duration / time.Duration(c.o.reports)
	c.producer = c.service("producer", true, []string{
		fmt.Sprintf("COUNT=%d", c.o.reports), "INTERVAL=" + interval.String(), "SEED=1", "TRANSACTIONAL_ID=" + txnID,
		fmt.Sprintf("TOPIC_PARTITIONS=%d", partitions), fmt.Sprintf("TOPIC_REPLICATION_FACTOR=%d", brokers),
	})
	c.consumers = []*Service{
		c.service("consumer-0-2", false, []string{"DATA_DIR=" + c.disk.Dir}, "0", "2"),
		c.service("consumer-1-3", false, []string{"DATA_DIR=" + c.disk.Dir}, "1", "3"),
	}
	c.debug = c.service("debug", false, nil)
	c.services = append([]*Service{c.producer, c.debug}, c.consumers...)

	svcCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop, c.stopped = stop, svcCtx.Done()
	c.cleanup = append(c.cleanup, c.stopServices)
	for _, s := range c.services {
		c.running.Go(func() {
			if err := s.Run(svcCtx, c.log); err != nil {
				c.say("%v", err)
			}
		})
	}
}

// stopServices stops every service (SIGTERM) and waits until they are gone.
func (c *campaign) stopServices() {
	c.stop()
	c.running.Wait()
}

// spare starts a consumer of partition p on an empty disk of its own: a
// moved partition's new node.
func (c *campaign) spare(ctx context.Context, p int32) (*Service, error) {
	c.spares++
	dir, err := os.MkdirTemp(c.o.dir, fmt.Sprintf("spare-%d-", c.spares))
	if err != nil {
		return nil, err
	}
	s := c.service(fmt.Sprintf("consumer-spare-%d", c.spares), false, []string{"DATA_DIR=" + dir}, strconv.Itoa(int(p)))
	s.Start(ctx, c.log)
	return s, nil
}

// planFaults draws the seed's schedule of the faults this world allows.
func (c *campaign) planFaults() {
	c.nemesis = &nemesis{log: c.log, kafka: c.kafka, adm: c.adm, topic: topic, partitions: partitions, txnID: txnID,
		producer: c.producer, consumers: c.consumers, debug: c.debug, disk: c.disk, spare: c.spare}
	c.plan = Plan(c.o.seed, c.o.duration, c.nemesis.possible)
	c.say("the schedule: %d faults planned over %s; faults begin once the producer runs", len(c.plan), c.o.duration)
}

// showProgress prints a progress line every 10 s while the services run.
func (c *campaign) showProgress(ctx context.Context) {
	tick := time.NewTicker(10 * time.Second)
	c.cleanup = append(c.cleanup, tick.Stop)
	go func() {
		for {
			select {
			case <-c.stopped:
				return
			case <-tick.C:
				c.progress(ctx)
			}
		}
	}()
}

// progress is one line: the time, the log's end and the files', the faults
// done and the one being done, how often each service started.
func (c *campaign) progress(ctx context.Context) {
	nf, now := c.sched.state()
	logEnd, filesAt := offsetsNow(ctx, c.adm, c.disk.Dir)
	starts := make([]string, 0, len(c.services))
	for _, s := range c.services {
		starts = append(starts, fmt.Sprintf("%s %d", s.Name, s.Starts()))
	}
	c.say("%s  log end %s, files at %s  faults %d/%d%s  starts: %s",
		time.Since(c.began).Truncate(time.Second), logEnd, filesAt, nf, len(c.plan), now, strings.Join(starts, ", "))
}

// injectFaults does the faults, in turn, until the schedule or the producer
// is done; the clock starts once the producer has written to the topic.
func (c *campaign) injectFaults(ctx context.Context) error {
	if err := waitProducing(ctx, c.adm); err != nil {
		return err
	}
	c.deadline = time.Now().Add(2*c.o.duration + 5*time.Minute)
	c.sched.run(ctx, c.nemesis, c.plan, c.say)
	return ctx.Err()
}

// windDown heals the world, waits for the producer to finish (until the
// deadline) and for the consumers to catch up, and stops the services.
func (c *campaign) windDown(ctx context.Context) {
	history, _ := c.sched.state()
	heal(ctx, c.kafka, c.services)
	c.say("faults over (%d done); waiting for the producer to finish ...", history)
	for !c.producer.Done() && time.Now().Before(c.deadline) && ctx.Err() == nil {
		time.Sleep(time.Second)
	}
	if err := waitCaughtUp(ctx, c.adm, c.disk.Dir, catchUp); err != nil {
		c.say("%v", err)
	}
	c.stopServices()
	c.progress(ctx)
}

// verdict is the checks: the producer's and the faults', then the
// independent verdict on the files and the topic (judge).
func (c *campaign) verdict(ctx context.Context) ([]check, facts, error) {
	judged, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	w := world{opts: c.opts, topic: topic, partitions: partitions, dir: c.disk.Dir, reports: c.o.reports, seed: 1}
	checks, facts, err := judge(judged, w)
	if err != nil {
		return nil, facts, fmt.Errorf("verdict: %w", err)
	}
	return append([]check{
		{Name: "the producer produced its count and exited 0", OK: c.producer.Done(),
			Detail: map[bool]string{false: "not done by the deadline: " + lastLine(c.producer.Log)}[c.producer.Done()]},
		faultsCheck(c.sched.history, c.o.minFaults),
	}, checks...), facts, nil
}

// report prints the table (and writes it to result.md) and says whether
// the campaign passed; the work dir goes then, unless -keep.
func (c *campaign) report(checks []check, facts facts) bool {
	r := report{seed: c.o.seed, reports: c.o.reports, duration: time.Since(c.began), faults: c.sched.history, checks: checks,
		facts: facts, services: c.services, brokers: brokers}
	fmt.Print(r.table())
	_ = os.WriteFile(filepath.Join(c.o.dir, "result.md"), []byte(r.table()), 0o644)
	passed := r.passed()
	if passed && !c.o.keep {
		_ = c.disk.Close(filepath.Join(c.o.dir, "files"))
		_ = c.kafka.Close()
		_ = os.RemoveAll(filepath.Join(c.o.dir, "kafka"))
	} else {
		c.say("kept: %s (logs/, kafka/node-*/kafka.log, files/)", c.o.dir)
	}
	return passed
}

// schedule does a plan's faults in turn, each at its time (or at once, if
// the one before ran late), until the plan or the producer is done.
type schedule struct {
	mu      sync.Mutex
	history []done
	current string
}

func (s *schedule) run(ctx context.Context, n *nemesis, plan []Fault, say func(string, ...any)) {
	start := time.Now()
	for _, f := range plan {
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(start.Add(f.At))):
		}
		if n.producer.Done() || ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.current = fmt.Sprintf(" (now: %s)", f.Kind)
		s.mu.Unlock()
		d := n.Do(ctx, f)
		if d.Err != nil {
			say("fault %s on %s: %v", f.Kind, d.Target, d.Err)
		}
		s.mu.Lock()
		s.history, s.current = append(s.history, d), ""
		s.mu.Unlock()
	}
}

// state is how many faults are done, and the one being done.
func (s *schedule) state() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.history), s.current
}

// waitProducing waits until the topic has records.
func waitProducing(ctx context.Context, adm *kadm.Client) error {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if logEnd, _ := offsetsNow(ctx, adm, ""); logEnd != "?" && logEnd != "0" {
			return nil
		}
	}
	return errors.New("the producer wrote nothing to the topic in 2 minutes: see logs/producer.log")
}

// build compiles the services into dir/bin.
func build(ctx context.Context, dir string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bin")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./services/producer", "./services/consumer", "./services/debug")
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the services: %w", err)
	}
	return bin, nil
}

// heal makes sure every broker runs (a fault's undo may have failed) and
// no process is left stopped.
func heal(ctx context.Context, kafka *cluster.Cluster, services []*Service) {
	for _, node := range kafka.Nodes() {
		_ = node.Resume()
		if !node.Running() {
			_ = node.Restart(ctx)
		}
	}
	for _, s := range services {
		s.Signal(syscall.SIGCONT)
	}
}

// offsetsNow: the topic's log end offsets and the files' offsets, summed,
// for the progress line.
func offsetsNow(ctx context.Context, adm *kadm.Client, dir string) (logEnd, files string) {
	logEnd, files = "?", "?"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if ends, err := adm.ListEndOffsets(ctx, topic); err == nil && ends.Error() == nil {
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		logEnd = fmt.Sprint(sum)
	}
	if fs, err := verify.ReadFiles(dir, partitions); err == nil {
		var sum int64
		for _, f := range fs {
			sum += f.Offset
		}
		files = fmt.Sprintf("%d (%d files)", sum, len(fs))
	}
	return logEnd, files
}

// waitCaughtUp waits until every partition's file is at the log's end.
func waitCaughtUp(ctx context.Context, adm *kadm.Client, dir string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var last string
	for time.Now().Before(deadline) && ctx.Err() == nil {
		last = caughtUp(ctx, adm, dir)
		if last == "" {
			return nil
		}
		time.Sleep(time.Second)
	}
	return errors.New("the consumers did not catch up: " + last)
}

func caughtUp(ctx context.Context, adm *kadm.Client, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return err.Error()
	}
	files, err := verify.ReadFiles(dir, partitions)
	if err != nil {
		return err.Error()
	}
	var behind []string
	ends.Each(func(o kadm.ListedOffset) {
		if f, ok := files[o.Partition]; !ok || f.Offset != o.Offset {
			behind = append(behind, fmt.Sprintf("partition %d: file at %d, log end %d", o.Partition, f.Offset, o.Offset))
		}
	})
	return strings.Join(behind, "; ")
}

func faultsCheck(history []done, min int) check {
	var failed []string
	for _, d := range history {
		if d.Err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s): %v", d.Kind, d.Target, d.Err))
		}
	}
	okCount := len(history) - len(failed)
	c := check{Name: fmt.Sprintf("at least %d faults done", min), OK: okCount >= min}
	if !c.OK {
		c.Detail = fmt.Sprintf("%d done", okCount)
	}
	if len(failed) > 0 {
		c.Detail = strings.TrimPrefix(c.Detail+"; not done: "+strings.Join(failed, "; "), "; ")
	}
	return c
}
