package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestChartOnThreeBrokers installs the chart with its own Kafka as three
// KRaft brokers (kafka.replicas=3, nothing else about Kafka set) and proves:
//   - the topic and the transaction state log are on all three brokers, in
//     sync, with min.insync.replicas 2 (what the chart's defaults then give);
//   - the pipeline runs: after some thousands of committed reports the stats
//     equal a recount of the topic;
//   - the pod of the broker that leads partition 0 (found with kadm, its
//     node id checked against its pod's ordinal + 1), force-deleted
//     mid-stream (kubectl delete pod --grace-period=0 --force): another
//     broker takes over partition 0 and the producer keeps committing on
//     every partition; the pod comes back, rejoins (every partition of the
//     topic and of the transaction log in sync on three brokers again), and
//     the stats equal a recount of the topic again;
//   - then the release is uninstalled and its namespace deleted.
//
// Its namespace: E2E_THREE_BROKERS_NAMESPACE (default weather-brokers); the
// rest of the environment as TestChart's.
func TestChartOnThreeBrokers(t *testing.T) {
	s := newSuite(t, env("E2E_THREE_BROKERS_NAMESPACE", "weather-brokers"))
	b := &threeBrokers{s: s}
	s.phase("helm install with kafka.replicas=3 (all workloads ready: --wait)", b.install)
	s.phase("the topic and the transaction log on all three brokers, in sync, min ISR 2", func() error { return b.replicated("installed") })
	s.phase(fmt.Sprintf("the producer has committed %d+ reports", b.reports()), b.produced)
	s.phase("stats = recount of the topic (three brokers)", func() error { return s.checkStats("three brokers") })
	s.phase("partition 0's leader force-deleted: another broker leads, the producer keeps committing", b.deleteLeader)
	s.phase("the broker's pod comes back and rejoins: everything in sync on three again", b.rejoined)
	s.phase("the pipeline goes on: consumed past the reports committed while the broker was gone", b.consumedPast)
	s.phase("stats = recount after the leader's pod was deleted", func() error {
		if err := s.allReady(); err != nil {
			return err
		}
		return s.checkStats("after the leader's pod was deleted")
	})
	s.phase("helm uninstall and the namespace deleted", b.remove)
}

// The transaction coordinator's log: the producer's transactions depend on
// it as much as on the topic.
const transactionLog = "__transaction_state"

type threeBrokers struct {
	s *suite

	victim     string // the pod deleted
	victimUID  string
	victimNode int32
	// The committed offsets once partition 0 was led by another broker and
	// every partition had grown: what the producer committed without the
	// victim.
	committedWithout map[int32]int64
}

// reports is how many reports the producer commits before the broker is
// deleted: enough for every partition to hold a few hundred (4 partitions).
func (b *threeBrokers) reports() int64 { return 3000 }

func (b *threeBrokers) install() error {
	s := b.s
	if err := s.freshNamespace(); err != nil {
		return err
	}
	// A report every 10 ms: thousands in well under a minute.
	if err := s.helmInstall("kafka.replicas=3", "producer.interval=10ms"); err != nil {
		return err
	}
	if err := s.learn(); err != nil {
		return err
	}
	pods, err := s.podNames("kafka")
	if err != nil {
		return err
	}
	if len(pods) != 3 {
		return fmt.Errorf("kafka pods %v, want three", pods)
	}
	// Every pod ready, and their restarts before any fault logged.
	return s.allReady()
}

// withAdmin runs f with an admin client of the brokers.
func (b *threeBrokers) withAdmin(f func(ctx context.Context, adm *kadm.Client) error) error {
	ctx, cancel := context.WithTimeout(b.s.ctx, time.Minute)
	defer cancel()
	adm, err := b.s.kafka.Admin()
	if err != nil {
		return err
	}
	defer adm.Close()
	return f(ctx, adm)
}

// replicated checks that every partition of the topic and of the
// transaction log has three replicas, all in sync, on the three brokers
// (node ids 1..3), and that the topic takes a write with two of them
// (min.insync.replicas 2).
func (b *threeBrokers) replicated(when string) error {
	return b.withAdmin(func(ctx context.Context, adm *kadm.Client) error {
		md, err := adm.Metadata(ctx, b.s.kafka.Topic, transactionLog)
		if err != nil {
			return err
		}
		if ids := md.Brokers.NodeIDs(); !slices.Equal(ids, []int32{1, 2, 3}) {
			return fmt.Errorf("%s: brokers %v, want node ids 1, 2, 3", when, ids)
		}
		for _, topic := range []string{b.s.kafka.Topic, transactionLog} {
			td, ok := md.Topics[topic]
			if !ok {
				return fmt.Errorf("%s: no topic %s in the metadata", when, topic)
			}
			if td.Err != nil {
				return fmt.Errorf("%s: topic %s: %w", when, topic, td.Err)
			}
			if topic == b.s.kafka.Topic && len(td.Partitions) != int(b.s.partitions) {
				return fmt.Errorf("%s: topic %s has %d partitions, want %d", when, topic, len(td.Partitions), b.s.partitions)
			}
			for _, p := range td.Partitions.Sorted() {
				if p.Err != nil {
					return fmt.Errorf("%s: %s partition %d: %w", when, topic, p.Partition, p.Err)
				}
				replicas, isr := slices.Sorted(slices.Values(p.Replicas)), slices.Sorted(slices.Values(p.ISR))
				if p.Leader < 0 || !slices.Equal(replicas, []int32{1, 2, 3}) || !slices.Equal(isr, replicas) {
					return fmt.Errorf("%s: %s partition %d: leader %d, replicas %v, in sync %v; want all three in sync",
						when, topic, p.Partition, p.Leader, p.Replicas, p.ISR)
				}
			}
			b.s.t.Logf("%s: %s: %d partitions, each on brokers 1, 2, 3, all in sync", when, topic, len(td.Partitions))
		}
		configs, err := adm.DescribeTopicConfigs(ctx, b.s.kafka.Topic)
		if err != nil {
			return err
		}
		rc, err := configs.On(b.s.kafka.Topic, nil)
		if err == nil {
			err = rc.Err
		}
		if err != nil {
			return fmt.Errorf("%s: configuration of %s: %w", when, b.s.kafka.Topic, err)
		}
		for _, c := range rc.Configs {
			if c.Key == "min.insync.replicas" {
				if c.Value == nil || *c.Value != "2" {
					return fmt.Errorf("%s: %s: min.insync.replicas %v, want 2", when, b.s.kafka.Topic, c.MaybeValue())
				}
				return nil
			}
		}
		return fmt.Errorf("%s: %s: no min.insync.replicas in its configuration", when, b.s.kafka.Topic)
	})
}

// committed is the topic's last stable offset per partition: the end of
// what read-committed consumers see, moved only by committed transactions.
func (b *threeBrokers) committed() (map[int32]int64, error) {
	var offsets map[int32]int64
	err := b.withAdmin(func(ctx context.Context, adm *kadm.Client) error {
		l, err := adm.ListCommittedOffsets(ctx, b.s.kafka.Topic)
		if err != nil {
			return err
		}
		if err := l.Error(); err != nil {
			return err
		}
		offsets = map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { offsets[o.Partition] = o.Offset })
		if len(offsets) != int(b.s.partitions) {
			return fmt.Errorf("committed offsets of %d partitions, want %d", len(offsets), b.s.partitions)
		}
		return nil
	})
	return offsets, err
}

func (b *threeBrokers) produced() error {
	return Eventually(b.s.ctx, 3*time.Minute, 2*time.Second, func() error {
		offsets, err := b.committed()
		if err != nil {
			return err
		}
		var n int64
		for _, o := range offsets {
			n += o
		}
		if n < b.reports() {
			return fmt.Errorf("%d reports committed (offsets %v, transaction markers included), waiting for %d", n, offsets, b.reports())
		}
		b.s.t.Logf("committed offsets %v", offsets)
		return nil
	})
}

// deleteLeader force-deletes the pod of partition 0's leader, then waits
// until another broker leads partition 0 and the producer has committed
// more on every partition.
func (b *threeBrokers) deleteLeader() error {
	s := b.s
	var hosts map[int32]string
	err := b.withAdmin(func(ctx context.Context, adm *kadm.Client) error {
		md, err := adm.Metadata(ctx, s.kafka.Topic)
		if err != nil {
			return err
		}
		hosts = map[int32]string{}
		for _, br := range md.Brokers {
			hosts[br.NodeID] = br.Host
		}
		p0 := md.Topics[s.kafka.Topic].Partitions[0]
		b.victimNode = p0.Leader
		s.t.Logf("partition 0: leader %d, replicas %v, in sync %v; brokers %v", p0.Leader, p0.Replicas, p0.ISR, hosts)
		return p0.Err
	})
	if err != nil {
		return err
	}
	// The leader advertises its pod's DNS name, <pod>.<headless Service>...;
	// the chart gives the pod of ordinal i node id i + 1.
	b.victim, _, _ = strings.Cut(hosts[b.victimNode], ".")
	if !strings.HasSuffix(b.victim, fmt.Sprintf("-kafka-%d", b.victimNode-1)) {
		return fmt.Errorf("partition 0's leader, node %d, advertises %q: want the pod of ordinal %d", b.victimNode, hosts[b.victimNode], b.victimNode-1)
	}
	if b.victimUID, err = s.podUID(b.victim); err != nil {
		return err
	}
	before, err := b.committed()
	if err != nil {
		return err
	}
	s.t.Logf("deleting %s (node %d, partition 0's leader) at committed offsets %v", b.victim, b.victimNode, before)
	if _, err := s.kubectl("delete", "pod", b.victim, "--grace-period=0", "--force"); err != nil {
		return err
	}

	return Eventually(s.ctx, 3*time.Minute, time.Second, func() error {
		var p0 kadm.PartitionDetail
		err := b.withAdmin(func(ctx context.Context, adm *kadm.Client) error {
			md, err := adm.Metadata(ctx, s.kafka.Topic)
			if err != nil {
				return err
			}
			p0 = md.Topics[s.kafka.Topic].Partitions[0]
			return p0.Err
		})
		if err != nil {
			return err
		}
		if p0.Leader < 0 || p0.Leader == b.victimNode {
			return fmt.Errorf("partition 0 still led by %d (replicas %v, in sync %v)", p0.Leader, p0.Replicas, p0.ISR)
		}
		now, err := b.committed()
		if err != nil {
			return err
		}
		for p, o := range before {
			if now[p] <= o {
				return fmt.Errorf("partition 0 led by %d; partition %d committed up to %d, not yet past %d", p0.Leader, p, now[p], o)
			}
		}
		ready, _ := s.kubectl("get", "pod", b.victim, "-o", `jsonpath={.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}`)
		s.t.Logf("partition 0 led by %d (in sync %v); committed %v, all past %v; pod %s now (uid, ready): %q (deleted: uid %s)",
			p0.Leader, p0.ISR, now, before, b.victim, ready, b.victimUID)
		b.committedWithout = now
		return nil
	})
}

// rejoined waits for the deleted pod to be replaced and ready, and for its
// broker (the same node id, at the same name) to be back in sync on every
// partition of the topic and the transaction log.
func (b *threeBrokers) rejoined() error {
	s := b.s
	if err := s.waitNewPods([]string{b.victim}, map[string]string{b.victim: b.victimUID}); err != nil {
		return err
	}
	err := Eventually(s.ctx, 3*time.Minute, 2*time.Second, func() error {
		return b.replicated("broker " + b.victim + " back")
	})
	if err != nil {
		return err
	}
	return b.withAdmin(func(ctx context.Context, adm *kadm.Client) error {
		brokers, err := adm.ListBrokers(ctx)
		if err != nil {
			return err
		}
		for _, br := range brokers {
			if br.NodeID == b.victimNode {
				if pod, _, _ := strings.Cut(br.Host, "."); pod != b.victim {
					return fmt.Errorf("node %d is back at %s, want pod %s", br.NodeID, br.Host, b.victim)
				}
				return nil
			}
		}
		return errors.New("the deleted broker's node id is not among the brokers")
	})
}

// consumedPast waits until the consumers' files are past what the producer
// had committed while partition 0 was led by another broker.
func (b *threeBrokers) consumedPast() error {
	if b.committedWithout == nil {
		return errors.New("no committed offsets from the time the broker was gone")
	}
	return b.s.waitOffsets(fmt.Sprintf("consumed past %v", b.committedWithout), 3*time.Minute, b.committedWithout, false)
}

// remove uninstalls the release and deletes the namespace (with the brokers'
// and the consumers' volumes), so that the cluster's teardown stays quick.
func (b *threeBrokers) remove() error {
	s := b.s
	if _, err := s.k.HelmOut(s.ctx, "uninstall", s.release, "--timeout", "3m"); err != nil {
		return err
	}
	_, err := s.kubectl("delete", "namespace", s.k.Namespace, "--wait=true", "--timeout=3m")
	return err
}
