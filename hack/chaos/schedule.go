package main

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Kind is a kind of fault. The nemesis resolves a fault's target (which
// consumer, which partition's leader) when the fault begins, from its Pick:
// a schedule is the same for a seed, whatever the cluster looks like then.
type Kind string

// The faults. Every process fault ends with the process back (a killed one
// restarted, as a supervisor would; a stopped one continued), every network
// fault with the proxy clean, the disk fault with the space freed.
const (
	KillConsumer       Kind = "SIGKILL a stats consumer"
	PauseConsumer      Kind = "SIGSTOP a stats consumer"
	KillProducer       Kind = "SIGKILL the producer"
	PauseProducer      Kind = "SIGSTOP the producer"
	KillDebug          Kind = "SIGKILL the debug consumer"
	KillBroker         Kind = "SIGKILL a broker"
	KillLeader         Kind = "SIGKILL a partition's leader"
	KillCoordinator    Kind = "SIGKILL the transaction coordinator"
	PauseBroker        Kind = "SIGSTOP a broker"
	PauseLeader        Kind = "SIGSTOP a partition's leader"
	PauseCoordinator   Kind = "SIGSTOP the transaction coordinator"
	Latency            Kind = "client path: latency"
	BlackHole          Kind = "client path: black hole"
	ResetPeer          Kind = "client path: connections reset"
	SlowLink           Kind = "client path: slow link"
	LinkDown           Kind = "client path: cut"
	InterBrokerDelay   Kind = "inter-broker path: latency"
	InterBrokerCut     Kind = "inter-broker path: cut"
	DiskFull           Kind = "checkpoint disk full"
	CheckpointsLost    Kind = "checkpoint directory deleted"
	MovePartition      Kind = "a partition moved to an empty disk"
	KillSnapshotLeader Kind = "SIGKILL a snapshot partition's leader"
	checkpointsLostAt       = 0.5 // of the run: once, mid-run
)

// weights: how often each kind comes up. CheckpointsLost is not drawn: it
// happens once, at checkpointsLostAt.
var weights = []struct {
	kind   Kind
	weight int
}{
	{KillConsumer, 8}, {PauseConsumer, 5}, {KillProducer, 6}, {PauseProducer, 4}, {KillDebug, 2},
	{KillBroker, 4}, {KillLeader, 6}, {KillCoordinator, 5}, {PauseBroker, 3}, {PauseLeader, 4}, {PauseCoordinator, 3},
	{Latency, 6}, {BlackHole, 5}, {ResetPeer, 4}, {SlowLink, 3}, {LinkDown, 4},
	{InterBrokerDelay, 3}, {InterBrokerCut, 2},
	{DiskFull, 4},
	{MovePartition, 5}, {KillSnapshotLeader, 4},
}

// Fault is one fault of the schedule: from At (since the campaign's start)
// for For.
type Fault struct {
	At, For time.Duration
	Kind    Kind
	Pick    uint64  // chooses the target: which consumer, partition, broker, proxy
	Level   float64 // in [0, 1): how hard (latency, bandwidth), scaled by the nemesis
}

func (f Fault) String() string {
	return fmt.Sprintf("%7s %-38s for %s", f.At.Truncate(100*time.Millisecond), f.Kind, f.For.Truncate(100*time.Millisecond))
}

// Plan is the seed's schedule for a run of length d: faults one after the
// other, each 2–6 s with 0.5–1.5 s between them (about 12 a minute), with
// the checkpoint directory deleted once, at the middle. Kinds not in
// possible (e.g. the disk fault without a tmpfs) are not drawn.
func Plan(seed uint64, d time.Duration, possible func(Kind) bool) []Fault {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	total := 0
	for _, w := range weights {
		if possible(w.kind) {
			total += w.weight
		}
	}
	var plan []Fault
	lost := false
	for at := 3 * time.Second; at < d; {
		f := Fault{At: at}
		f.For = 2*time.Second + time.Duration(rng.Int64N(int64(4*time.Second)))
		f.Pick, f.Level = rng.Uint64(), rng.Float64()
		if !lost && at >= time.Duration(float64(d)*checkpointsLostAt) && possible(CheckpointsLost) {
			f.Kind, f.For, lost = CheckpointsLost, time.Second, true
		} else {
			n := rng.IntN(total)
			for _, w := range weights {
				if !possible(w.kind) {
					continue
				}
				if n < w.weight {
					f.Kind = w.kind
					break
				}
				n -= w.weight
			}
		}
		plan = append(plan, f)
		at += f.For + 500*time.Millisecond + time.Duration(rng.Int64N(int64(time.Second)))
	}
	return plan
}
