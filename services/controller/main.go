// Command controller keeps the stats consumers' partitions assigned: it
// watches the consumer StatefulSet (label weather.io/partition-controller:
// enabled) and, when its replica count or the topic's partition count
// changes, rewrites the pods' PARTITIONS_BY_ORDINAL in safe steps, so that
// `kubectl scale` just works.
package main

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	appsv1 "k8s.io/api/apps/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/weatherstream/weather/services/common/kafkaadmin"
	"github.com/weatherstream/weather/services/common/kafkaconfig"
	"github.com/weatherstream/weather/services/common/observe"
	"github.com/weatherstream/weather/services/common/service"
	"github.com/weatherstream/weather/services/controller/internal/controller"
)

// main does what service.Main does but for the signals: the manager stops on
// controller-runtime's handler (a second signal ends it at once, exit 1),
// and every error of its run, a cancellation too, is a failure.
func main() {
	cfg, err := loadConfig()
	if err != nil {
		service.Exit("controller", service.ExitBadConfig, err)
	}
	if err := run(cfg); err != nil {
		service.Exit("controller", service.ExitFailed, cfg.Kafka.Explain(err))
	}
}

func run(cfg config) error {
	logger := observe.NewLogger(cfg.Log, "controller")
	ctrl.SetLogger(logr.FromSlogHandler(logger.Handler()))

	opts, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	// No ping at start: the broker may come up after the controller; a
	// failed look-up is retried by the reconcile loop with backoff.
	kafka, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(time.Second))...)
	if err != nil {
		return err
	}
	defer kafka.Close()
	adm := kadm.NewClient(kafka)

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		// Only the release's namespace, and only the managed StatefulSets:
		// the Role grants no more.
		Cache: cache.Options{
			DefaultNamespaces: map[string]cache.Config{cfg.Namespace: {}},
			ByObject:          map[client.Object]cache.ByObject{&appsv1.StatefulSet{}: {Label: controller.Selector()}},
		},
		Metrics:                 metricsserver.Options{BindAddress: cfg.MetricsAddr},
		HealthProbeBindAddress:  cfg.HealthAddr,
		LeaderElection:          cfg.LeaderElect,
		LeaderElectionID:        "weather-partition-controller",
		LeaderElectionNamespace: cfg.Namespace,
		// A new leader takes over at once when the old one stops cleanly.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		return err
	}
	r := &controller.StatefulSetReconciler{
		Client:        mgr.GetClient(),
		Recorder:      mgr.GetEventRecorderFor("weather-partition-controller"),
		Partitions:    topicPartitions(adm, cfg.Kafka),
		Container:     cfg.ConsumerContainer,
		Poll:          cfg.PollInterval,
		NodeLostAfter: cfg.NodeLostAfter,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	logger.Info("starting", "namespace", cfg.Namespace, "topic", cfg.Kafka.Topic)
	return mgr.Start(ctrl.SetupSignalHandler()) // returns nil after SIGTERM
}

// topicPartitions counts the topic's partitions.
func topicPartitions(adm *kadm.Client, kafka kafkaconfig.Config) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		t, err := kafkaadmin.Lookup(ctx, adm, kafka.Topic)
		return t.Partitions, kafka.Explain(err) // a denial: the reconcile error names the principal
	}
}
