package cluster

import (
	"fmt"
	"strings"
	"testing"
)

func threePorts() map[int32]ports {
	return map[int32]ports{
		1: {Client: 9001, Internal: 9101, Controller: 9201, ClientProxy: 19001, InternalProxy: 19101},
		2: {Client: 9002, Internal: 9102, Controller: 9202, ClientProxy: 19002, InternalProxy: 19102},
		3: {Client: 9003, Internal: 9103, Controller: 9203, ClientProxy: 19003, InternalProxy: 19103},
	}
}

// props parses rendered properties the way java.util.Properties does for
// these simple lines: the last value of a key wins.
func props(text string) map[string]string {
	m := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		m[k] = v
	}
	return m
}

func TestProperties(t *testing.T) {
	tests := []struct {
		name  string
		l     layout
		id    int32
		want  map[string]string
		count map[string]int // keys that must appear this many times
	}{{
		name: "three nodes: the issue's RF 3 / min ISR 2, clients and replication via the proxies, quorum direct",
		l:    layout{Nodes: 3, Ports: threePorts()},
		id:   2,
		want: map[string]string{
			"process.roles":                            "broker,controller",
			"node.id":                                  "2",
			"listeners":                                "CLIENT://127.0.0.1:9002,INTERNAL://127.0.0.1:9102,CONTROLLER://127.0.0.1:9202",
			"advertised.listeners":                     "CLIENT://127.0.0.1:19002,INTERNAL://127.0.0.1:19102",
			"inter.broker.listener.name":               "INTERNAL",
			"controller.listener.names":                "CONTROLLER",
			"controller.quorum.voters":                 "1@127.0.0.1:9201,2@127.0.0.1:9202,3@127.0.0.1:9203",
			"log.dirs":                                 "/d/node-2/data",
			"default.replication.factor":               "3",
			"min.insync.replicas":                      "2",
			"offsets.topic.replication.factor":         "3",
			"transaction.state.log.replication.factor": "3",
			"transaction.state.log.min.isr":            "2",
			"unclean.leader.election.enable":           "false",
			"auto.create.topics.enable":                "false",
			"group.initial.rebalance.delay.ms":         "0",
		},
	}, {
		name: "two nodes: RF 2, min ISR 2",
		l:    layout{Nodes: 2, Ports: threePorts()},
		id:   1,
		want: map[string]string{
			"controller.quorum.voters":      "1@127.0.0.1:9201,2@127.0.0.1:9202",
			"default.replication.factor":    "2",
			"min.insync.replicas":           "2",
			"transaction.state.log.min.isr": "2",
		},
	}, {
		name: "one node: RF 1, min ISR 1",
		l:    layout{Nodes: 1, Ports: threePorts()},
		id:   1,
		want: map[string]string{
			"controller.quorum.voters":                 "1@127.0.0.1:9201",
			"default.replication.factor":               "1",
			"min.insync.replicas":                      "1",
			"offsets.topic.replication.factor":         "1",
			"transaction.state.log.replication.factor": "1",
			"transaction.state.log.min.isr":            "1",
			"share.coordinator.state.topic.min.isr":    "1",
		},
	}, {
		name: "extra props come last, so they override a default",
		l:    layout{Nodes: 3, Ports: threePorts(), Extra: map[string]string{"min.insync.replicas": "3", "replica.lag.time.max.ms": "5000"}},
		id:   3,
		want: map[string]string{
			"min.insync.replicas":     "3",
			"replica.lag.time.max.ms": "5000",
		},
		count: map[string]int{"min.insync.replicas": 2, "node.id": 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := properties(tt.l, tt.id, fmt.Sprintf("/d/node-%d/data", tt.id))
			got := props(text)
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			for k, want := range tt.count {
				if n := strings.Count("\n"+text, "\n"+k+"="); n != want {
					t.Errorf("%s appears %d times, want %d", k, n, want)
				}
			}
		})
	}
}
