package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/weatherstream/weather/services/common/observe"
)

var rebalances = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "weather_controller_rebalance_steps_total",
	Help: "Assignment steps written to consumer StatefulSets.",
})

// failovers counts partitions handed from pods on lost nodes to live ones,
// and lostPods the pods counted lost at the last reconcile.
var failovers = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "weather_controller_failovers_total",
	Help: "Assignments written to give the partitions of pods on lost nodes (NotReady for NODE_LOST_AFTER) to live pods.",
})

var lostPods = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "weather_controller_lost_pods",
	Help: "Consumer pods on a node NotReady (or unscheduled) for longer than NODE_LOST_AFTER, at the last reconcile.",
}, []string{"namespace", "statefulset"})

// invalidAssignment is 1 while a managed StatefulSet's PARTITIONS_BY_ORDINAL
// cannot be read (or is missing): the controller does not touch it then.
var invalidAssignment = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "weather_controller_assignment_invalid",
	Help: "1 while a consumer StatefulSet's PARTITIONS_BY_ORDINAL cannot be read; the controller leaves it alone.",
}, []string{"namespace", "statefulset"})

// controller-runtime serves its own registry (with the Go and process
// collectors and its own metrics): the reconciler's metrics and the build
// info every service has go there.
func init() {
	metrics.Registry.MustRegister(rebalances, invalidAssignment, failovers, lostPods)
	if err := observe.RegisterBuildInfo(metrics.Registry, "controller"); err != nil {
		panic(err)
	}
}
