package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// One three-node cluster serves every test of the package: starting one is
// most of the cost. Each test undoes its faults, so the next finds every
// node up and every proxy clean.
var shared struct {
	once sync.Once
	c    *Cluster
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		if err := shared.c.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
			code = 1
		}
	}
	if shared.dir != "" {
		if code == 0 {
			os.RemoveAll(shared.dir)
		} else {
			fmt.Fprintln(os.Stderr, "cluster dir kept:", shared.dir)
		}
	}
	os.Exit(code)
}

// cluster is the shared cluster. Without the jars it skips, unless CI is
// set: there a missing install is a broken job, not a reason to pass.
func cluster(t *testing.T) *Cluster {
	t.Helper()
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	libs := filepath.Join(repo, ".cache", "kafka", "libs")
	if _, err := os.Stat(filepath.Join(libs, ".installed")); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no Kafka jars in %s (hack/kafka/kafka.sh install)", libs)
		}
		t.Fatalf("CI: no Kafka jars in %s: %v", libs, err)
	}
	shared.once.Do(func() {
		shared.dir, shared.err = os.MkdirTemp("", "kafkacluster-")
		if shared.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		shared.c, shared.err = Start(ctx, Options{Nodes: 3, Dir: shared.dir, Log: log, ExtraProps: map[string]string{
			// A follower that cannot fetch leaves the ISR after this long
			// (default 30 s): TestReplicationPassesTheInternalProxies waits for it.
			"replica.lag.time.max.ms": "5000",
		}})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

func newClient(t *testing.T, c *Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, c *Cluster, topic string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(newClient(t, c)).CreateTopic(ctx, 1, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

func produce(ctx context.Context, cl *kgo.Client, topic, value string) error {
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr()
}

// partition0 is the metadata of the topic's partition 0.
func partition0(ctx context.Context, adm *kadm.Client, topic string) (kadm.PartitionDetail, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return kadm.PartitionDetail{}, err
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return kadm.PartitionDetail{}, fmt.Errorf("topic %s: %w", topic, td.Err)
	}
	p, ok := td.Partitions[0]
	if !ok {
		return kadm.PartitionDetail{}, fmt.Errorf("topic %s has no partition 0", topic)
	}
	return p, p.Err
}

// waitISR polls partition 0's metadata until its ISR has n replicas.
func waitISR(ctx context.Context, adm *kadm.Client, topic string, n int) (kadm.PartitionDetail, error) {
	var last kadm.PartitionDetail
	for {
		p, err := partition0(ctx, adm, topic)
		if err == nil {
			last = p
			if len(p.ISR) == n {
				return p, nil
			}
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func TestClusterSurvivesALeaderKillAndTheNodeComesBack(t *testing.T) {
	c := cluster(t)
	const topic = "leader-kill"
	createTopic(t, c, topic)
	cl := newClient(t, c, kgo.RequiredAcks(kgo.AllISRAcks()))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	if err := produce(ctx, cl, topic, "before"); err != nil {
		t.Fatalf("produce before the kill: %v", err)
	}
	p, err := partition0(ctx, adm, topic)
	if err != nil {
		t.Fatal(err)
	}
	leader := c.Node(p.Leader)
	if leader == nil {
		t.Fatalf("partition 0's leader %d is not a node of the cluster", p.Leader)
	}
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	if leader.Running() {
		t.Fatalf("node %d still running after Kill", leader.ID)
	}
	// acks=all with min ISR 2: this succeeds only once a surviving replica
	// leads and the other follows.
	if err := produce(ctx, cl, topic, "after"); err != nil {
		t.Fatalf("produce after killing leader %d: %v", leader.ID, err)
	}
	if err := leader.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := waitISR(ctx, adm, topic, 3); err != nil {
		t.Fatalf("node %d did not rejoin the ISR: %v (partition 0 ISR %v, replicas %v)", leader.ID, err, p.ISR, p.Replicas)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if end, _ := ends.Lookup(topic, 0); end.Offset != 2 {
		t.Fatalf("end offset %d (err %v), want 2: both acknowledged records", end.Offset, end.Err)
	}
}

func TestClientToxicsAct(t *testing.T) {
	c := cluster(t)
	const topic = "toxics"
	createTopic(t, c, topic)
	// Every phase uses a fresh client, so its bootstrap goes through the
	// proxies as they are then, not over a connection opened before.
	produceWithin := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		return produce(ctx, newClient(t, c), topic, "x")
	}
	eachProxy := func(do func(*toxiproxy.Proxy) error) {
		t.Helper()
		for _, n := range c.Nodes() {
			if err := do(n.Client()); err != nil {
				t.Fatalf("%s: %v", n.Client().Name, err)
			}
		}
	}
	t.Cleanup(func() { // leave the shared cluster clean even if a step failed
		for _, n := range c.Nodes() {
			_ = n.Client().RemoveToxic("blackhole")
			_ = n.Client().Enable()
		}
	})

	if err := produceWithin(30 * time.Second); err != nil {
		t.Fatalf("produce through clean proxies: %v", err)
	}

	eachProxy(func(p *toxiproxy.Proxy) error {
		_, err := p.AddToxic("blackhole", "timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 0})
		return err
	})
	if err := produceWithin(3 * time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("produce with a timeout toxic on every client proxy: err %v, want a context deadline", err)
	}
	eachProxy(func(p *toxiproxy.Proxy) error { return p.RemoveToxic("blackhole") })
	if err := produceWithin(30 * time.Second); err != nil {
		t.Fatalf("produce after removing the toxics: %v", err)
	}

	eachProxy((*toxiproxy.Proxy).Disable)
	if err := produceWithin(3 * time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("produce with every client proxy disabled: err %v, want a context deadline", err)
	}
	eachProxy((*toxiproxy.Proxy).Enable)
	if err := produceWithin(30 * time.Second); err != nil {
		t.Fatalf("produce after enabling the proxies: %v", err)
	}
}

func TestPausedNodeIsNotRunning(t *testing.T) {
	c := cluster(t)
	n := c.Node(3)
	if !n.Running() {
		t.Fatal("node 3 not running before the test")
	}
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if n.Running() {
		t.Fatal("paused node reports Running")
	}
	if alive, stopped := pidState(n.Pid()); !alive || !stopped {
		t.Fatalf("paused node's process: alive=%v stopped=%v, want a live stopped process", alive, stopped)
	}
	if err := n.Resume(); err != nil {
		t.Fatal(err)
	}
	if !n.Running() {
		t.Fatal("resumed node does not report Running")
	}

	// SIGSTOP then SIGKILL, and the node comes back on its data dir.
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	if n.Running() {
		t.Fatal("killed node reports Running")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := n.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if !n.Running() {
		t.Fatal("restarted node does not report Running")
	}
}

// With the leader's inter-broker proxy disabled its followers cannot fetch
// a new record and drop out of the ISR; enabled again, they catch up and rejoin. So
// replication really goes through "kafka-<id>-internal".
func TestReplicationPassesTheInternalProxies(t *testing.T) {
	c := cluster(t)
	const topic = "internal-proxy"
	createTopic(t, c, topic)
	adm := kadm.NewClient(newClient(t, c))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	p, err := waitISR(ctx, adm, topic, 3)
	if err != nil {
		t.Fatalf("ISR of 3 before the fault: %v (ISR %v)", err, p.ISR)
	}
	leader := c.Node(p.Leader)
	t.Cleanup(func() { _ = leader.InterBroker().Enable() })
	if err := leader.InterBroker().Disable(); err != nil {
		t.Fatal(err)
	}
	// A follower level with the leader's end counts as caught up however
	// long it has not fetched; a record only the leader has makes the
	// followers lag. acks=1: the leader alone acknowledges it.
	if err := produce(ctx, newClient(t, c, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()), topic, "x"); err != nil {
		t.Fatalf("produce acks=1 to leader %d: %v", leader.ID, err)
	}
	if p, err := waitISR(ctx, adm, topic, 1); err != nil {
		t.Fatalf("followers of node %d stayed in the ISR with its inter-broker proxy disabled: %v (ISR %v)", leader.ID, err, p.ISR)
	} else if p.Leader != leader.ID {
		t.Fatalf("leader moved from %d to %d: the test no longer isolates node %d's proxy", leader.ID, p.Leader, leader.ID)
	}
	if err := leader.InterBroker().Enable(); err != nil {
		t.Fatal(err)
	}
	if p, err := waitISR(ctx, adm, topic, 3); err != nil {
		t.Fatalf("followers did not rejoin the ISR once the proxy was enabled: %v (ISR %v)", err, p.ISR)
	}
}
