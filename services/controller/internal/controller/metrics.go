package controller

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var rebalances = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "weather_controller_rebalance_steps_total",
	Help: "Assignment steps written to consumer StatefulSets.",
})

func init() { metrics.Registry.MustRegister(rebalances) }
