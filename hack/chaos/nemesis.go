package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/weatherstream/weather/hack/kafka/cluster"
	"github.com/weatherstream/weather/services/common/snapshot"
)

// nemesis does the schedule's faults to the world, one at a time, and
// undoes each when its time is up.
type nemesis struct {
	log        *slog.Logger
	kafka      *cluster.Cluster
	adm        *kadm.Client
	topic      string
	partitions int32
	txnID      string
	producer   *Service
	consumers  []*Service
	debug      *Service
	disk       *checkpointDisk
	// spare runs a consumer of a moved partition, on an empty disk of
	// its own (MovePartition).
	spare func(ctx context.Context, p int32) (*Service, error)
}

// possible reports whether kind can be done in this world.
func (n *nemesis) possible(k Kind) bool {
	switch k {
	case DiskFull:
		return n.disk.mounted
	case InterBrokerDelay, InterBrokerCut:
		return n.kafka.Nodes()[0].InterBroker() != nil
	}
	return true
}

// done is one fault as it happened: what it was and what it hit.
type done struct {
	Fault
	Target string
	Err    error
}

// Do does f, waits f.For (or until ctx is done) and undoes it. The undoing
// does not use ctx: a campaign that is stopped still heals the world.
func (n *nemesis) Do(ctx context.Context, f Fault) done {
	d := done{Fault: f}
	undo, target, err := n.begin(ctx, f)
	d.Target, d.Err = target, err
	if err != nil {
		return d
	}
	n.log.Info("fault", "kind", string(f.Kind), "target", target, "for", f.For)
	select {
	case <-ctx.Done():
	case <-time.After(f.For):
	}
	heal, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := undo(heal); err != nil {
		d.Err = fmt.Errorf("undo: %w", err)
	}
	return d
}

type undo func(context.Context) error

func nothing(context.Context) error { return nil }

func (n *nemesis) begin(ctx context.Context, f Fault) (undo, string, error) {
	switch f.Kind {
	case KillConsumer:
		s := n.consumers[f.Pick%uint64(len(n.consumers))]
		kill(s)
		return nothing, s.Name, nil
	case PauseConsumer:
		return n.pause(n.consumers[f.Pick%uint64(len(n.consumers))])
	case KillProducer:
		kill(n.producer)
		return nothing, n.producer.Name, nil
	case PauseProducer:
		return n.pause(n.producer)
	case KillDebug:
		kill(n.debug)
		return nothing, n.debug.Name, nil
	case KillBroker, PauseBroker:
		return n.broker(f, n.kafka.Nodes()[f.Pick%uint64(len(n.kafka.Nodes()))], "")
	case KillLeader, PauseLeader:
		p := int32(f.Pick % uint64(n.partitions))
		id, err := n.leader(ctx, p)
		if err != nil {
			return nil, fmt.Sprintf("leader of partition %d", p), err
		}
		return n.broker(f, n.kafka.Node(id), fmt.Sprintf("leader of partition %d: ", p))
	case KillCoordinator, PauseCoordinator:
		id, err := n.coordinator(ctx)
		if err != nil {
			return nil, "the coordinator of " + n.txnID, err
		}
		return n.broker(f, n.kafka.Node(id), "coordinator of "+n.txnID+": ")
	case Latency, BlackHole, ResetPeer, SlowLink, LinkDown:
		return n.toxic(f, n.clientProxies(f.Pick))
	case InterBrokerDelay, InterBrokerCut:
		node := n.kafka.Nodes()[f.Pick%uint64(len(n.kafka.Nodes()))]
		return n.toxic(f, []*toxiproxy.Proxy{node.InterBroker()})
	case DiskFull:
		if err := n.disk.Fill(); err != nil {
			return nil, n.disk.Dir, err
		}
		return func(context.Context) error { return n.disk.Free() }, n.disk.Dir, nil
	case CheckpointsLost:
		// The volume is gone: the consumers, which held it, die with it
		// and restart (a second later) on an empty one, every file
		// deleted, and must restore their stats from their snapshots.
		for _, c := range n.consumers {
			kill(c)
		}
		return nothing, n.disk.Dir + " (and the consumers killed)", n.disk.Wipe()
	case MovePartition:
		return n.move(ctx, f)
	case KillSnapshotLeader:
		p := int32(f.Pick % uint64(n.partitions))
		id, err := n.leaderOf(ctx, snapshot.Topic(n.topic), p)
		if err != nil {
			return nil, fmt.Sprintf("leader of snapshot partition %d", p), err
		}
		return n.broker(f, n.kafka.Node(id), fmt.Sprintf("leader of snapshot partition %d: ", p))
	}
	return nil, "", fmt.Errorf("unknown fault kind %q", f.Kind)
}

// kill SIGKILLs s's process; a service between two runs (restarting) is
// not hit, and that is no error: there is nothing to hit.
func kill(s *Service) { s.Signal(syscall.SIGKILL) }

func (n *nemesis) pause(s *Service) (undo, string, error) {
	if !s.Signal(syscall.SIGSTOP) {
		return nothing, s.Name + " (not running)", nil
	}
	return func(context.Context) error { s.Signal(syscall.SIGCONT); return nil }, s.Name, nil
}

// broker kills or stops node; undoing restarts or continues it.
func (n *nemesis) broker(f Fault, node *cluster.Node, what string) (undo, string, error) {
	if node == nil {
		return nil, what + "no such broker", errors.New("the broker named is not one of the cluster's")
	}
	target := fmt.Sprintf("%sbroker %d", what, node.ID)
	switch f.Kind {
	case KillBroker, KillLeader, KillCoordinator:
		if err := node.Kill(); err != nil {
			return nil, target, err
		}
		return node.Restart, target, nil
	default:
		if err := node.Pause(); err != nil {
			return nil, target, err
		}
		return func(context.Context) error { return node.Resume() }, target, nil
	}
}

// clientProxies: one broker's client proxy, or (one time in four) all.
func (n *nemesis) clientProxies(pick uint64) []*toxiproxy.Proxy {
	nodes := n.kafka.Nodes()
	if pick%4 == 3 {
		all := make([]*toxiproxy.Proxy, len(nodes))
		for i, node := range nodes {
			all[i] = node.Client()
		}
		return all
	}
	return []*toxiproxy.Proxy{nodes[pick%uint64(len(nodes))].Client()}
}

// toxic puts f's toxic on every proxy (both directions where it matters).
func (n *nemesis) toxic(f Fault, proxies []*toxiproxy.Proxy) (undo, string, error) {
	var (
		typ   string
		attrs toxiproxy.Attributes
		desc  string
	)
	switch f.Kind {
	case Latency, InterBrokerDelay:
		ms := 100 + int(f.Level*900) // 100 ms to 1 s each way
		typ, attrs, desc = "latency", toxiproxy.Attributes{"latency": ms, "jitter": ms / 4}, fmt.Sprintf("%d ms", ms)
	case BlackHole:
		typ, attrs, desc = "timeout", toxiproxy.Attributes{toxicTimeout: 0}, "data dropped, connections kept" // 0: never closed
	case ResetPeer:
		typ, attrs, desc = "reset_peer", toxiproxy.Attributes{toxicTimeout: int(f.Level * 500)}, "TCP RST"
	case SlowLink:
		kb := 8 + int(f.Level*56) // 8–64 KB/s
		typ, attrs, desc = "bandwidth", toxiproxy.Attributes{"rate": kb}, fmt.Sprintf("%d KB/s", kb)
	case LinkDown, InterBrokerCut:
		var err error
		for _, p := range proxies {
			err = errors.Join(err, p.Disable())
		}
		return func(context.Context) error {
			var err error
			for _, p := range proxies {
				err = errors.Join(err, p.Enable())
			}
			return err
		}, names(proxies) + ": disabled", err
	}
	var err error
	for _, p := range proxies {
		for _, stream := range []string{"upstream", "downstream"} {
			if _, aerr := p.AddToxic("chaos-"+stream, typ, stream, 1, attrs); aerr != nil {
				err = errors.Join(err, fmt.Errorf("%s: %w", p.Name, aerr))
			}
		}
	}
	return func(context.Context) error {
		var err error
		for _, p := range proxies {
			for _, stream := range []string{"upstream", "downstream"} {
				err = errors.Join(err, p.RemoveToxic("chaos-"+stream))
			}
		}
		return err
	}, names(proxies) + ": " + desc, err
}

// toxicTimeout is the attribute of the timeout and reset_peer toxics: ms
// before the connection is closed or reset.
const toxicTimeout = "timeout"

func names(proxies []*toxiproxy.Proxy) string {
	s := ""
	for i, p := range proxies {
		if i > 0 {
			s += ","
		}
		s += p.Name
	}
	return s
}

// move gives a partition to a consumer on an empty disk of its own for
// the fault's time, then back: its owner restarted without it (it publishes
// the partition's state as it gives it up), the spare started (it restores
// from that snapshot), and at the end the spare stopped (it publishes its
// own) and the owner restarted with it (it restores from the newer of its
// file and the snapshot).
func (n *nemesis) move(ctx context.Context, f Fault) (undo, string, error) {
	p := int32(f.Pick % uint64(n.partitions))
	var owner *Service
	var rest []string
	for _, c := range n.consumers {
		args := c.Args()
		if slices.Contains(args, strconv.Itoa(int(p))) {
			owner = c
			for _, a := range args {
				if a != strconv.Itoa(int(p)) {
					rest = append(rest, a)
				}
			}
		}
	}
	if owner == nil || len(rest) == 0 {
		return nothing, fmt.Sprintf("partition %d (its owner has no other: not moved)", p), nil
	}
	all := owner.Args()
	owner.Restart(rest...)
	spareCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	spare, err := n.spare(spareCtx, p)
	target := fmt.Sprintf("partition %d from %s to %s", p, owner.Name, spare.Name)
	if err != nil {
		stop()
		owner.Restart(all...)
		return nil, target, err
	}
	return func(context.Context) error {
		stop()
		spare.Wait()
		owner.Restart(all...)
		return nil
	}, target, nil
}

// leader is the broker leading partition p of the reports topic now.
func (n *nemesis) leader(ctx context.Context, p int32) (int32, error) {
	return n.leaderOf(ctx, n.topic, p)
}

// leaderOf is the broker leading partition p of topic now.
func (n *nemesis) leaderOf(ctx context.Context, topic string, p int32) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	md, err := n.adm.Metadata(ctx, topic)
	if err != nil {
		return 0, err
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		return 0, fmt.Errorf("topic %s: %w", topic, t.Err)
	}
	pd, ok := t.Partitions[p]
	if !ok || pd.Leader < 0 {
		return 0, fmt.Errorf("partition %d has no leader now", p)
	}
	return pd.Leader, nil
}

// coordinator is the broker coordinating the producer's transactions now.
func (n *nemesis) coordinator(ctx context.Context) (int32, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, ok := n.adm.FindTxnCoordinators(ctx, n.txnID)[n.txnID]
	if !ok || c.Err != nil {
		return 0, fmt.Errorf("no coordinator of %s: %w", n.txnID, c.Err)
	}
	return c.NodeID, nil
}
