package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
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
	began := time.Now()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	say := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "chaos: "+format+"\n", args...) }
	say("seed %d (replay this schedule: make chaos CHAOS_FLAGS='-seed %d'), %d reports over %s, work dir %s",
		o.seed, o.seed, o.reports, o.duration, o.dir)
	if err := os.RemoveAll(o.dir); err != nil {
		return false, err
	}
	logs := filepath.Join(o.dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return false, err
	}

	bin, err := build(ctx, o.dir)
	if err != nil {
		return false, err
	}
	disk, err := newCheckpointDisk(filepath.Join(o.dir, "checkpoints"))
	if err != nil {
		return false, err
	}
	defer disk.Close(filepath.Join(o.dir, "files"))
	if !disk.mounted {
		say("not root: the checkpoints are on a plain directory and the disk-full fault is left out")
	}
	say("starting %d Kafka brokers behind Toxiproxy ...", brokers)
	kafka, err := cluster.Start(ctx, cluster.Options{Nodes: brokers, Dir: filepath.Join(o.dir, "kafka"), Log: log})
	if err != nil {
		return false, err
	}
	defer kafka.Close()
	addrs := strings.Join(kafka.Brokers(), ",")
	say("brokers %s (through the proxies; Toxiproxy API %s)", addrs, kafka.ToxiproxyURL())

	opts := []kgo.Opt{kgo.SeedBrokers(kafka.Brokers()...), kgo.RequestTimeoutOverhead(5 * time.Second)}
	admClient, err := kgo.NewClient(opts...)
	if err != nil {
		return false, err
	}
	defer admClient.Close()
	adm := kadm.NewClient(admClient)
	say("transaction.version %s (2 = KIP-890 part 2: the producer's epoch bumps on every commit or abort, so a late EndTxn cannot act on the next transaction)",
		transactionVersion(ctx, admClient))

	common := []string{"KAFKA_BROKERS=" + addrs, "TOPIC=" + topic, "HTTP_ADDR=127.0.0.1:0", "LOG_LEVEL=info"}
	svc := func(name string, once bool, env []string, args ...string) *Service {
		return &Service{Name: name, Cmd: append([]string{filepath.Join(bin, strings.SplitN(name, "-", 2)[0])}, args...),
			Env: append(env, common...), Log: filepath.Join(logs, name+".log"), Once: once}
	}
	interval := o.duration / time.Duration(o.reports)
	producer := svc("producer", true, []string{
		fmt.Sprintf("COUNT=%d", o.reports), "INTERVAL=" + interval.String(), "SEED=1", "TRANSACTIONAL_ID=" + txnID,
		fmt.Sprintf("TOPIC_PARTITIONS=%d", partitions), fmt.Sprintf("TOPIC_REPLICATION_FACTOR=%d", brokers),
	})
	consumers := []*Service{
		svc("consumer-0-2", false, []string{"DATA_DIR=" + disk.Dir}, "0", "2"),
		svc("consumer-1-3", false, []string{"DATA_DIR=" + disk.Dir}, "1", "3"),
	}
	debug := svc("debug", false, nil)
	services := append([]*Service{producer, debug}, consumers...)

	var wg sync.WaitGroup
	svcCtx, stopServices := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopServices(); wg.Wait() }()
	for _, s := range services {
		wg.Go(func() {
			if err := s.Run(svcCtx, log); err != nil {
				say("%v", err)
			}
		})
	}

	spares := 0
	spare := func(ctx context.Context, p int32) (*Service, error) {
		spares++
		dir, err := os.MkdirTemp(o.dir, fmt.Sprintf("spare-%d-", spares))
		if err != nil {
			return nil, err
		}
		s := svc(fmt.Sprintf("consumer-spare-%d", spares), false, []string{"DATA_DIR=" + dir}, strconv.Itoa(int(p)))
		s.Start(ctx, log)
		return s, nil
	}
	n := &nemesis{log: log, kafka: kafka, adm: adm, topic: topic, partitions: partitions, txnID: txnID,
		producer: producer, consumers: consumers, debug: debug, disk: disk, spare: spare}
	plan := Plan(o.seed, o.duration, n.possible)
	say("the schedule: %d faults planned over %s; faults begin once the producer runs", len(plan), o.duration)

	w := world{opts: opts, topic: topic, partitions: partitions, dir: disk.Dir, reports: o.reports, seed: 1}
	var sched schedule
	progress := func() {
		nf, now := sched.state()
		logEnd, filesAt := offsetsNow(ctx, adm, disk.Dir)
		starts := make([]string, 0, len(services))
		for _, s := range services {
			starts = append(starts, fmt.Sprintf("%s %d", s.Name, s.Starts()))
		}
		say("%s  log end %s, files at %s  faults %d/%d%s  starts: %s",
			time.Since(began).Truncate(time.Second), logEnd, filesAt, nf, len(plan), now, strings.Join(starts, ", "))
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	go func() {
		for {
			select {
			case <-svcCtx.Done():
				return
			case <-tick.C:
				progress()
			}
		}
	}()

	// The faults, in turn, until the schedule or the producer is done; the
	// clock starts once the producer has written to the topic.
	if err := waitProducing(ctx, adm); err != nil {
		return false, err
	}
	deadline := time.Now().Add(2*o.duration + 5*time.Minute)
	sched.run(ctx, n, plan, say)
	history, _ := sched.state()
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	heal(ctx, kafka, services)
	say("faults over (%d done); waiting for the producer to finish ...", history)
	for !producer.Done() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Second)
	}
	if err := waitCaughtUp(ctx, adm, disk.Dir, catchUp); err != nil {
		say("%v", err)
	}
	stopServices()
	wg.Wait()
	progress()

	judged, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	checks, facts, err := judge(judged, w)
	if err != nil {
		return false, fmt.Errorf("verdict: %w", err)
	}
	checks = append([]check{
		{Name: "the producer produced its count and exited 0", OK: producer.Done(),
			Detail: map[bool]string{false: "not done by the deadline: " + lastLine(producer.Log)}[producer.Done()]},
		faultsCheck(sched.history, o.minFaults),
	}, checks...)
	r := report{seed: o.seed, reports: o.reports, duration: time.Since(began), faults: sched.history, checks: checks,
		facts: facts, services: services, brokers: brokers}
	fmt.Print(r.table())
	_ = os.WriteFile(filepath.Join(o.dir, "result.md"), []byte(r.table()), 0o644)
	passed := r.passed()
	if passed && !o.keep {
		_ = disk.Close(filepath.Join(o.dir, "files"))
		_ = kafka.Close()
		_ = os.RemoveAll(filepath.Join(o.dir, "kafka"))
	} else {
		say("kept: %s (logs/, kafka/node-*/kafka.log, files/)", o.dir)
	}
	return passed, nil
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
