// Package charts checks the Helm chart in ./weather: it renders the chart
// with the Helm SDK for the default values and for several other value sets,
// decodes every object strictly into its Kubernetes API type (an unknown or
// misspelled field fails), asserts what the chart promises (every partition
// read by exactly one consumer ordinal, hardened pods, probes, labels,
// Kafka's settings, the partition controller's least-privilege RBAC), checks
// that values.schema.json rejects bad values, runs
// the equivalent of `helm lint --strict`, and (envtest_test.go) has a real
// kube-apiserver validate every object with a server-side dry run.
package charts

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	kindv1alpha4 "sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/weatherstream/weather/services/common/assignment"
)

// go test ./charts -run TestRender -args -dump DIR writes each scenario's
// rendered chart to DIR/<scenario>.yaml, for reading.
var dumpDir = flag.String("dump", "", "write each scenario's rendered manifests to this directory")

// scenario is one set of values and what must hold for it (on top of the
// checks every rendering gets, see checkCommon).
type scenario struct {
	name    string
	release string // default "weather"
	values  string // YAML, merged over values.yaml
	check   func(t *testing.T, m *manifest)
}

func (s scenario) releaseName() string {
	if s.release != "" {
		return s.release
	}
	return "weather"
}

// The value sets every check (and the server-side dry run) goes through.
var scenarios = []scenario{
	{name: "defaults", check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "ConfigMap/weather-kafka", "Service/weather-kafka", "Service/weather-kafka-headless",
			"StatefulSet/weather-kafka", "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "Deployment/weather-debug",
			"Deployment/weather-dashboard", "Service/weather-dashboard",
			"ServiceAccount/weather-controller", "Role/weather-controller", "RoleBinding/weather-controller", "ClusterRole/weather-test-weather-controller", "ClusterRoleBinding/weather-test-weather-controller",
			"Deployment/weather-controller",
			"PodDisruptionBudget/weather-stats", "PodDisruptionBudget/weather-kafka", "Pod/weather-test")
		checkAssignment(t, m, 4, 2, nil)
		sts := m.statefulSet(t, "weather-stats")
		if got := envValue(t, container(t, &sts.Spec.Template.Spec, "consumer"), "PARTITIONS_BY_ORDINAL"); got != "0,2;1,3" {
			t.Errorf("PARTITIONS_BY_ORDINAL = %q, want 0,2;1,3 (the original's two consumers)", got)
		}
		for name, want := range map[string]string{"START_AT_LOG_START": "false", "SNAPSHOT_INTERVAL": "1s", "MONITORING_GROUP": "weather-stats"} {
			if got := envValue(t, container(t, &sts.Spec.Template.Spec, "consumer"), name); got != want {
				t.Errorf("consumer %s = %q, want %q", name, got, want)
			}
		}
		// Spread over the nodes where they can, still schedulable on one
		// node (kind): the chart's default, its selector filled in.
		wantSpread := []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
			WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: sts.Spec.Selector.MatchLabels}}}
		if got := sts.Spec.Template.Spec.TopologySpreadConstraints; !reflect.DeepEqual(got, wantSpread) {
			t.Errorf("consumer topologySpreadConstraints %+v, want %+v", got, wantSpread)
		}
		if sts.Spec.Template.Spec.Affinity != nil {
			t.Errorf("consumer affinity %+v, want none (the spread is the default)", sts.Spec.Template.Spec.Affinity)
		}
		claim := sts.Spec.VolumeClaimTemplates[0].Spec
		if !slices.Equal(claim.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) || claim.StorageClassName != nil ||
			claim.Resources.Requests.Storage().String() != "1Gi" {
			t.Errorf("consumer claim template %+v, want ReadWriteOnce, the default class, 1Gi", claim)
		}
		p := container(t, &m.deployment(t, "weather-producer").Spec.Template.Spec, "producer")
		for name, want := range map[string]string{
			"TOPIC": "temperatures", "TOPIC_PARTITIONS": "4", "TOPIC_REPLICATION_FACTOR": "1",
			"INTERVAL": "100ms", "COUNT": "0", "SEED": "1", "TRANSACTIONAL_ID": "weather-producer",
			"KAFKA_BROKERS": "weather-kafka.weather-test.svc.cluster.local:9092", "KAFKA_CONNECT_TIMEOUT": "2m",
			"LOG_FORMAT": "text", "LOG_LEVEL": "info", "HTTP_ADDR": ":8080", "TOPIC_RETENTION_MS": "-1",
		} {
			if got := envValue(t, p, name); got != want {
				t.Errorf("producer %s = %q, want %q", name, got, want)
			}
		}
		for _, name := range []string{"KAFKA_TLS", "KAFKA_TLS_CA_FILE", "KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE", "KAFKA_TLS_SERVER_NAME",
			"KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD_FILE", "KAFKA_SASL_PASSWORD"} {
			if hasEnv(p, name) {
				t.Errorf("producer has %s with the chart's own (plaintext) Kafka", name)
			}
		}
		if got, want := p.Image, "localhost/weather/producer:0.2.0"; got != want {
			t.Errorf("producer image %q, want %q (tag = appVersion)", got, want)
		}
		d := m.deployment(t, "weather-debug")
		dc := container(t, &d.Spec.Template.Spec, "debug")
		if got, want := dc.Image, "localhost/weather/consumer:0.2.0"; got != want {
			t.Errorf("debug image %q, want %q (the consumer image carries /debug)", got, want)
		}
		if !slices.Equal(dc.Command, []string{"/debug"}) {
			t.Errorf("debug command %q, want [/debug]", dc.Command)
		}
		if envValue(t, dc, "GROUP") != "debug" || envValue(t, dc, "OUTPUT") != "text" {
			t.Errorf("debug GROUP/OUTPUT = %q/%q", envValue(t, dc, "GROUP"), envValue(t, dc, "OUTPUT"))
		}
		dc = container(t, &m.deployment(t, "weather-dashboard").Spec.Template.Spec, "dashboard")
		if got, want := dc.Image, "localhost/weather/consumer:0.2.0"; got != want {
			t.Errorf("dashboard image %q, want %q (the consumer image carries /dashboard)", got, want)
		}
		for name, want := range map[string]string{
			"REFRESH_INTERVAL": "1s", "TAIL_RECORDS": "200", "HISTORY": "5m", "HTTP_ADDR": ":8080",
			"KAFKA_BROKERS": "weather-kafka.weather-test.svc.cluster.local:9092", "TOPIC": "temperatures",
		} {
			if got := envValue(t, dc, name); got != want {
				t.Errorf("dashboard %s = %q, want %q", name, got, want)
			}
		}
		if svc := m.service(t, "weather-dashboard"); svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.Ports[0].Port != 80 {
			t.Errorf("dashboard Service %s port %d, want ClusterIP port 80", svc.Spec.Type, svc.Spec.Ports[0].Port)
		}
		cc := container(t, &m.deployment(t, "weather-controller").Spec.Template.Spec, "controller")
		if got, want := cc.Image, "localhost/weather/controller:0.2.0"; got != want {
			t.Errorf("controller image %q, want %q (tag = appVersion)", got, want)
		}
		for name, want := range map[string]string{
			"KAFKA_BROKERS": "weather-kafka.weather-test.svc.cluster.local:9092", "TOPIC": "temperatures",
			"POLL_INTERVAL": "10s", "METRICS_ADDR": ":8080", "HEALTH_ADDR": ":8081",
		} {
			if got := envValue(t, cc, name); got != want {
				t.Errorf("controller %s = %q, want %q", name, got, want)
			}
		}
		notes := m.notes
		for _, want := range []string{
			"statefulset/weather-stats, 2 pods",
			"persistentvolumeclaim/stats-weather-stats-<ordinal> (at /data),\n             and every partition's state in the topic temperatures-snapshots",
			"follows temperatures-snapshots, no volume",
			"kubectl -n weather-test exec weather-stats-0 -- /consumer print",
			"kubectl -n weather-test logs -f deployment/weather-debug",
			"kubectl -n weather-test delete pod weather-stats-0",
			// A lost volume: restored from the snapshots.
			"kubectl -n weather-test delete pvc stats-weather-stats-0 --wait=false\n      kubectl -n weather-test delete pod weather-stats-0",
			"kubectl -n weather-test scale statefulset/weather-stats --replicas=N",
			"A partition that moves to another\n    pod continues there from its snapshot",
			// What uninstalling keeps, and how to drop it.
			"kubectl -n weather-test get pvc -l app.kubernetes.io/instance=weather,app.kubernetes.io/component=consumer",
			"persistentvolumeclaim/data-weather-kafka-0",
			"kubectl -n weather-test delete pvc -l app.kubernetes.io/instance=weather,app.kubernetes.io/component=consumer",
			// With the controller a scale is all it takes: no helm upgrade.
			"deployment/weather-controller",
			// How to open the dashboard, and its API.
			"kubectl -n weather-test rollout status deployment/weather-dashboard",
			"kubectl -n weather-test port-forward svc/weather-dashboard 8080:80\nthen open http://localhost:8080",
			"curl http://localhost:8080/api/v1/stations",
		} {
			if !strings.Contains(notes, want) {
				t.Errorf("NOTES.txt lacks %q:\n%s", want, notes)
			}
		}
		if strings.Contains(notes, "--set consumer.replicas=N") {
			t.Errorf("NOTES.txt tells to rescale with helm upgrade although the controller rebalances:\n%s", notes)
		}
		// A fresh install has nothing of the shared-volume chart to tell about.
		for _, bad := range []string{"shared", "persistentvolumeclaim/weather-stats"} {
			if strings.Contains(notes, bad) {
				t.Errorf("NOTES.txt of an install mentions %q:\n%s", bad, notes)
			}
		}
	}},
	{name: "controller-disabled", values: `controller: {enabled: false}`, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "ConfigMap/weather-kafka", "Service/weather-kafka", "Service/weather-kafka-headless",
			"StatefulSet/weather-kafka", "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "Deployment/weather-debug",
			"Deployment/weather-dashboard", "Service/weather-dashboard",
			"PodDisruptionBudget/weather-stats", "PodDisruptionBudget/weather-kafka", "Pod/weather-test")
		checkAssignment(t, m, 4, 2, nil)
		if _, ok := m.statefulSet(t, "weather-stats").Labels[partitionControllerLabel]; ok {
			t.Errorf("controller.enabled=false but the consumer StatefulSet has label %s", partitionControllerLabel)
		}
		for _, want := range []string{
			"kubectl -n weather-test scale statefulset/weather-stats --replicas=N",
			// Without the controller a rescale is a helm upgrade, consumers stopped.
			"kubectl -n weather-test scale statefulset/weather-stats --replicas=0\n" +
				"      helm -n weather-test upgrade weather <chart> --reuse-values --set consumer.replicas=N",
		} {
			if !strings.Contains(m.notes, want) {
				t.Errorf("NOTES.txt lacks %q:\n%s", want, m.notes)
			}
		}
		if strings.Contains(m.notes, "weather-controller") {
			t.Errorf("NOTES.txt names the disabled controller:\n%s", m.notes)
		}
	}},
	{name: "external-kafka-tls-sasl", values: `
kafka: {enabled: false}
topic: {replicationFactor: 3}
externalKafka:
  bootstrapServers: b-1.kafka.example.com:9096,b-2.kafka.example.com:9096
  tls:
    enabled: true
    caSecret: {name: kafka-ca, key: ca.pem}
  sasl:
    mechanism: SCRAM-SHA-512
    username: weather
    passwordSecret: {name: kafka-credentials, key: password}
`, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "Deployment/weather-debug",
			"Deployment/weather-dashboard", "Service/weather-dashboard",
			"ServiceAccount/weather-controller", "Role/weather-controller", "RoleBinding/weather-controller", "ClusterRole/weather-test-weather-controller", "ClusterRoleBinding/weather-test-weather-controller",
			"Deployment/weather-controller", "PodDisruptionBudget/weather-stats", "Pod/weather-test")
		// Every workload, the controller too, reaches Kafka the same way
		// (no principal has its own): the password is a file, of a Secret
		// volume, never an environment value.
		for _, w := range m.workloads() {
			spec := w.podSpec
			for _, c := range spec.Containers {
				for name, want := range map[string]string{
					"KAFKA_BROKERS":            "b-1.kafka.example.com:9096,b-2.kafka.example.com:9096",
					"KAFKA_TLS":                "true",
					"KAFKA_TLS_CA_FILE":        "/etc/weather/kafka-ca/ca.pem",
					"KAFKA_SASL_MECHANISM":     "SCRAM-SHA-512",
					"KAFKA_SASL_USERNAME":      "weather",
					"KAFKA_SASL_PASSWORD_FILE": "/etc/weather/kafka-sasl/password",
				} {
					if got := envValue(t, &c, name); got != want {
						t.Errorf("%s: %s = %q, want %q", w.name, name, got, want)
					}
				}
				if hasEnv(&c, "KAFKA_SASL_PASSWORD") {
					t.Errorf("%s: KAFKA_SASL_PASSWORD is set: the password must be a file", w.name)
				}
				for _, name := range []string{"KAFKA_TLS_CERT_FILE", "KAFKA_TLS_KEY_FILE", "KAFKA_TLS_SERVER_NAME"} {
					if hasEnv(&c, name) {
						t.Errorf("%s: %s is set, but no client certificate or server name is", w.name, name)
					}
				}
				for volume, dir := range map[string]string{"kafka-ca": "/etc/weather/kafka-ca", "kafka-sasl": "/etc/weather/kafka-sasl"} {
					if mount := volumeMount(t, &c, volume); mount.MountPath != dir || !mount.ReadOnly {
						t.Errorf("%s: %s mount %+v, want %s read-only", w.name, volume, mount, dir)
					}
				}
			}
			for name, want := range map[string]secretFile{"kafka-ca": {"kafka-ca", "ca.pem"}, "kafka-sasl": {"kafka-credentials", "password"}} {
				v := volume(t, spec, name)
				if v.Secret == nil || v.Secret.SecretName != want.secret || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode != 0o440 ||
					!slices.Equal(v.Secret.Items, []corev1.KeyToPath{{Key: want.key, Path: want.key}}) {
					t.Errorf("%s: volume %s %+v, want Secret %s, its key %s only, mode 0440", w.name, name, v.Secret, want.secret, want.key)
				}
			}
		}
		if got := envValue(t, container(t, &m.deployment(t, "weather-producer").Spec.Template.Spec, "producer"), "TOPIC_REPLICATION_FACTOR"); got != "3" {
			t.Errorf("TOPIC_REPLICATION_FACTOR = %q, want 3", got)
		}
		if !strings.Contains(m.notes, "external: b-1.kafka.example.com:9096") {
			t.Errorf("NOTES.txt does not name the external Kafka:\n%s", m.notes)
		}
	}},
	{name: "external-kafka-plain-tls-system-roots", values: `
kafka: {enabled: false}
externalKafka: {bootstrapServers: "kafka:9093", tls: {enabled: true}}
`, check: func(t *testing.T, m *manifest) {
		c := container(t, &m.deployment(t, "weather-producer").Spec.Template.Spec, "producer")
		if envValue(t, c, "KAFKA_TLS") != "true" || hasEnv(c, "KAFKA_TLS_CA_FILE") || hasEnv(c, "KAFKA_SASL_MECHANISM") {
			t.Errorf("want KAFKA_TLS=true only, env %+v", c.Env)
		}
		if len(c.VolumeMounts) != 0 {
			t.Errorf("volume mounts without a CA Secret: %+v", c.VolumeMounts)
		}
	}},
	{name: "replicas-1", values: `consumer: {replicas: 1}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 4, 1, nil)
	}},
	{name: "replicas-3", values: `consumer: {replicas: 3}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 4, 3, nil)
	}},
	{name: "replicas-5-more-than-partitions", values: `consumer: {replicas: 5}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 4, 5, nil)
		if got := envValue(t, container(t, &m.statefulSet(t, "weather-stats").Spec.Template.Spec, "consumer"), "PARTITIONS_BY_ORDINAL"); got != "0;1;2;3" {
			t.Errorf("PARTITIONS_BY_ORDINAL = %q, want 0;1;2;3 (pod 4 a spare)", got)
		}
	}},
	// Explicit assignments are the chart's alone: the controller is off.
	{name: "explicit-assignments", values: `{controller: {enabled: false}, consumer: {replicas: 7, assignments: [[0, 2], [1, 3]]}}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 4, 2, [][]int{{0, 2}, {1, 3}})
	}},
	{name: "explicit-assignments-with-spares", values: `{controller: {enabled: false}, consumer: {assignments: [[3], [2, 0], [], [1], []]}}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 4, 5, [][]int{{3}, {0, 2}, {}, {1}, {}})
		if got := envValue(t, container(t, &m.statefulSet(t, "weather-stats").Spec.Template.Spec, "consumer"), "PARTITIONS_BY_ORDINAL"); got != "3;0,2;;1" {
			t.Errorf("PARTITIONS_BY_ORDINAL = %q, want 3;0,2;;1", got)
		}
		if !strings.Contains(m.notes, "consumer.assignments is set") {
			t.Errorf("NOTES.txt does not say that assignments decide the replicas")
		}
	}},
	{name: "partitions-6-replicas-4", values: `{topic: {partitions: 6}, consumer: {replicas: 4}}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 6, 4, nil)
		if got := envValue(t, container(t, &m.deployment(t, "weather-producer").Spec.Template.Spec, "producer"), "TOPIC_PARTITIONS"); got != "6" {
			t.Errorf("TOPIC_PARTITIONS = %q, want 6", got)
		}
	}},
	{name: "partitions-12-replicas-5", values: `{topic: {partitions: 12}, consumer: {replicas: 5}}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 12, 5, nil)
	}},
	{name: "partitions-1-replicas-2", values: `{topic: {partitions: 1}, consumer: {replicas: 2}}`, check: func(t *testing.T, m *manifest) {
		checkAssignment(t, m, 1, 2, nil)
	}},
	{name: "release-demo-options", release: "demo", values: `
debug: {enabled: false}
logging: {format: json, level: debug}
httpPort: 9090
imagePullSecrets: [{name: regcred}]
topic: {name: weather.reports, retentionMs: 604800000}
producer:
  image: {repository: registry.example.com/weather/producer, tag: "1.2.3", pullPolicy: Always}
  interval: 1s
  count: 1000
  seed: 42
  extraEnv: [{name: TXN_MAX_INTERVAL, value: 2s}]
consumer:
  image: {repository: registry.example.com/weather/consumer, tag: "1.2.3", pullPolicy: Always}
  onOffsetOutOfRange: restart
  startAtLogStart: true
  lockWait: 1m
  snapshotInterval: 250ms
  monitoringGroup: demo-stats
  persistence: {accessMode: ReadWriteOncePod, storageClass: fast-ssd, size: 5Gi}
  topologySpreadConstraints: []
  extraEnv: [{name: CHECKPOINT_RETRIES, value: "9"}]
kafka:
  image: {repository: localhost/weather-e2e/kafka, tag: 4.1.1-e2e, pullPolicy: Never}
  persistence: {storageClass: "-", size: 10Gi}
  config: {log.retention.hours: 24, compression.type: zstd}
controller:
  image: {repository: registry.example.com/weather/controller, tag: "1.2.3", pullPolicy: Always}
  pollInterval: 1m30s
  resources: {requests: {cpu: 10m, memory: 32Mi}, limits: {memory: 64Mi}}
dashboard:
  replicas: 3
  podDisruptionBudget: {maxUnavailable: 2}
  image: {repository: registry.example.com/weather/consumer, tag: "1.2.3", pullPolicy: Always}
  refreshInterval: 250ms
  tailRecords: 0
  history: 1h
  service: {type: NodePort, port: 8088}
  extraEnv: [{name: LATEST_PER_STATION, value: "7"}]
  resources: {requests: {cpu: 5m, memory: 16Mi}, limits: {memory: 48Mi}}
`, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "ConfigMap/demo-weather-kafka", "Service/demo-weather-kafka", "Service/demo-weather-kafka-headless",
			"StatefulSet/demo-weather-kafka", "Deployment/demo-weather-producer",
			"Service/demo-weather-stats", "StatefulSet/demo-weather-stats",
			"Deployment/demo-weather-dashboard", "Service/demo-weather-dashboard",
			"ServiceAccount/demo-weather-controller", "Role/demo-weather-controller", "RoleBinding/demo-weather-controller", "ClusterRole/weather-test-demo-weather-controller", "ClusterRoleBinding/weather-test-demo-weather-controller",
			"Deployment/demo-weather-controller",
			"PodDisruptionBudget/demo-weather-stats", "PodDisruptionBudget/demo-weather-kafka", "Pod/demo-weather-test",
			"PodDisruptionBudget/demo-weather-dashboard")
		cd := m.deployment(t, "demo-weather-controller")
		cc := container(t, &cd.Spec.Template.Spec, "controller")
		if cc.Image != "registry.example.com/weather/controller:1.2.3" || cc.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("controller image %q %q", cc.Image, cc.ImagePullPolicy)
		}
		for name, want := range map[string]string{"POLL_INTERVAL": "1m30s", "METRICS_ADDR": ":9090", "TOPIC": "weather.reports", "LOG_FORMAT": "json"} {
			if got := envValue(t, cc, name); got != want {
				t.Errorf("controller %s = %q, want %q", name, got, want)
			}
		}
		if cc.Resources.Requests.Cpu().String() != "10m" || cc.Resources.Limits.Memory().String() != "64Mi" {
			t.Errorf("controller resources %+v, want controller.resources", cc.Resources)
		}
		if got := cd.Spec.Template.Spec.ImagePullSecrets; len(got) != 1 || got[0].Name != "regcred" {
			t.Errorf("controller imagePullSecrets %+v", got)
		}
		p := container(t, &m.deployment(t, "demo-weather-producer").Spec.Template.Spec, "producer")
		for name, want := range map[string]string{
			"HTTP_ADDR": ":9090", "LOG_FORMAT": "json", "LOG_LEVEL": "debug", "TOPIC": "weather.reports",
			"INTERVAL": "1s", "COUNT": "1000", "SEED": "42", "TXN_MAX_INTERVAL": "2s", "TOPIC_RETENTION_MS": "604800000",
			"KAFKA_BROKERS": "demo-weather-kafka.weather-test.svc.cluster.local:9092",
		} {
			if got := envValue(t, p, name); got != want {
				t.Errorf("producer %s = %q, want %q", name, got, want)
			}
		}
		if p.Image != "registry.example.com/weather/producer:1.2.3" || p.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("producer image %q %q", p.Image, p.ImagePullPolicy)
		}
		sts := m.statefulSet(t, "demo-weather-stats")
		c := container(t, &sts.Spec.Template.Spec, "consumer")
		for name, want := range map[string]string{"ON_OFFSET_OUT_OF_RANGE": "restart", "START_AT_LOG_START": "true", "LOCK_WAIT": "1m", "CHECKPOINT_RETRIES": "9",
			"SNAPSHOT_INTERVAL": "250ms", "MONITORING_GROUP": "demo-stats"} {
			if got := envValue(t, c, name); got != want {
				t.Errorf("consumer %s = %q, want %q", name, got, want)
			}
		}
		if got := sts.Spec.Template.Spec.ImagePullSecrets; len(got) != 1 || got[0].Name != "regcred" {
			t.Errorf("imagePullSecrets %+v", got)
		}
		claim := sts.Spec.VolumeClaimTemplates[0].Spec
		if claim.StorageClassName == nil || *claim.StorageClassName != "fast-ssd" ||
			!slices.Equal(claim.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod}) ||
			claim.Resources.Requests.Storage().String() != "5Gi" {
			t.Errorf("stats claim template spec %+v", claim)
		}
		// [] is no spread at all, not the default.
		if got := sts.Spec.Template.Spec.TopologySpreadConstraints; got != nil {
			t.Errorf("consumer.topologySpreadConstraints [] rendered %+v", got)
		}
		k := m.statefulSet(t, "demo-weather-kafka")
		if sc := k.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; sc == nil || *sc != "" {
			t.Errorf(`storageClass "-" must render storageClassName: "", got %v`, sc)
		}
		if kc := container(t, &k.Spec.Template.Spec, "kafka"); kc.Image != "localhost/weather-e2e/kafka:4.1.1-e2e" || kc.ImagePullPolicy != corev1.PullNever {
			t.Errorf("kafka image %q %q", kc.Image, kc.ImagePullPolicy)
		}
		props := parseProperties(m.configMap(t, "demo-weather-kafka").Data["server.properties"])
		if props["log.retention.hours"] != "24" || props["compression.type"] != "zstd" {
			t.Errorf("kafka.config not in server.properties: %v", props)
		}
		if strings.Contains(m.notes, "logs -f") {
			t.Errorf("NOTES.txt tells how to read the disabled debug consumer:\n%s", m.notes)
		}
		dd := m.deployment(t, "demo-weather-dashboard")
		dc := container(t, &dd.Spec.Template.Spec, "dashboard")
		if dc.Image != "registry.example.com/weather/consumer:1.2.3" || dc.ImagePullPolicy != corev1.PullAlways {
			t.Errorf("dashboard image %q %q", dc.Image, dc.ImagePullPolicy)
		}
		for name, want := range map[string]string{
			"REFRESH_INTERVAL": "250ms", "TAIL_RECORDS": "0", "HISTORY": "1h", "LATEST_PER_STATION": "7",
			"HTTP_ADDR": ":9090", "LOG_FORMAT": "json", "TOPIC": "weather.reports",
		} {
			if got := envValue(t, dc, name); got != want {
				t.Errorf("dashboard %s = %q, want %q", name, got, want)
			}
		}
		if got := dd.Spec.Template.Spec.ImagePullSecrets; len(got) != 1 || got[0].Name != "regcred" {
			t.Errorf("dashboard imagePullSecrets %+v", got)
		}
		if got := dc.Resources.Limits.Memory().String(); got != "48Mi" {
			t.Errorf("dashboard memory limit %s, want 48Mi", got)
		}
		svc := m.service(t, "demo-weather-dashboard")
		if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].Port != 8088 {
			t.Errorf("dashboard Service %s port %d, want NodePort 8088", svc.Spec.Type, svc.Spec.Ports[0].Port)
		}
		if want := "deployment/demo-weather-dashboard, 3 pod(s)"; !strings.Contains(m.notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, m.notes)
		}
		if want := "port-forward svc/demo-weather-dashboard 8080:8088"; !strings.Contains(m.notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, m.notes)
		}
	}},
	{name: "dashboard-disabled", values: `dashboard: {enabled: false}`, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "ConfigMap/weather-kafka", "Service/weather-kafka", "Service/weather-kafka-headless",
			"StatefulSet/weather-kafka", "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "Deployment/weather-debug",
			"ServiceAccount/weather-controller", "Role/weather-controller", "RoleBinding/weather-controller", "ClusterRole/weather-test-weather-controller", "ClusterRoleBinding/weather-test-weather-controller",
			"Deployment/weather-controller",
			// No helm test pod: it checks through the dashboard.
			"PodDisruptionBudget/weather-stats", "PodDisruptionBudget/weather-kafka")
		if strings.Contains(m.notes, "dashboard") {
			t.Errorf("NOTES.txt names the disabled dashboard:\n%s", m.notes)
		}
	}},
}

// Values the chart must refuse, and a piece of the error it must give.
var badValues = []badValue{
	{"unknown top-level key", `consumr: {replicas: 3}`, "consumr", true},
	{"unknown nested key", `consumer: {replica: 3}`, "replica", true},
	{"replicas 0", `consumer: {replicas: 0}`, "replicas", true},
	{"replicas not a number", `consumer: {replicas: three}`, "replicas", true},
	{"partitions 0", `topic: {partitions: 0}`, "partitions", true},
	{"partitions a string", `topic: {partitions: "4"}`, "partitions", true},
	{"fractional partitions", `topic: {partitions: 2.5}`, "partitions", true},
	{"bad offset policy", `consumer: {onOffsetOutOfRange: ignore}`, "onOffsetOutOfRange", true},
	{"retention 0", `topic: {retentionMs: 0}`, "retentionMs", true},
	{"retention -2", `topic: {retentionMs: -2}`, "retentionMs", true},
	{"retention a duration", `topic: {retentionMs: 7d}`, "retentionMs", true},
	{"startAtLogStart not a boolean", `consumer: {startAtLogStart: "yes"}`, "startAtLogStart", true},
	{"bad log format", `logging: {format: xml}`, "format", true},
	{"bad log level", `logging: {level: verbose}`, "level", true},
	{"bad pull policy", `producer: {image: {pullPolicy: Sometimes}}`, "pullPolicy", true},
	{"bad duration", `producer: {interval: fast}`, "interval", true},
	{"negative count", `producer: {count: -1}`, "count", true},
	{"privileged port", `httpPort: 80`, "httpPort", true},
	{"bad cluster id", `kafka: {clusterId: not-a-uuid}`, "clusterId", true},
	{"bad SASL mechanism", `externalKafka: {sasl: {mechanism: GSSAPI}}`, "mechanism", true},
	{"bad bootstrap list", `externalKafka: {bootstrapServers: "kafka"}`, "bootstrapServers", true},
	{"partition twice in one entry", `{controller: {enabled: false}, consumer: {assignments: [[0, 0], [1, 2, 3]]}}`, "assignments", true},
	{"bad access mode", `consumer: {persistence: {accessMode: ReadOnlyMany}}`, "accessMode", true},
	{"bad size", `consumer: {persistence: {size: lots}}`, "size", true},
	{"topic name with a space", `topic: {name: "my topic"}`, "name", true},
	{"kafka config not a map", `kafka: {config: "a=b"}`, "config", true},
	{"no external bootstrap", `kafka: {enabled: false}`, "externalKafka.bootstrapServers is required", false},
	{"partition on two ordinals", `{controller: {enabled: false}, consumer: {assignments: [[0, 2], [2, 1, 3]]}}`, "gives partition 2 to ordinals 0 and 1", false},
	{"partition out of range", `{controller: {enabled: false}, consumer: {assignments: [[0, 2], [1, 3, 4]]}}`, "names partition 4, but topic.partitions is 4", false},
	{"partition unassigned", `{controller: {enabled: false}, consumer: {assignments: [[0, 2], [1]]}}`, "gives partition 3 to no ordinal", false},
	{"controller unknown key", `controller: {pollIntervall: 5s}`, "pollIntervall", true},
	{"controller enabled not a boolean", `controller: {enabled: "yes"}`, "/controller/enabled", true},
	{"controller pollInterval not a duration", `controller: {pollInterval: often}`, "/controller/pollInterval", true},
	{"controller pollInterval 0", `controller: {pollInterval: "0"}`, "/controller/pollInterval", true},
	{"controller bad pull policy", `controller: {image: {pullPolicy: Sometimes}}`, "/controller/image/pullPolicy", true},
	{"dashboard unknown key", `dashboard: {refresh: 1s}`, "refresh", true},
	{"dashboard enabled not a boolean", `dashboard: {enabled: "yes"}`, "/dashboard/enabled", true},
	{"dashboard refreshInterval 0", `dashboard: {refreshInterval: "0"}`, "/dashboard/refreshInterval", true},
	{"dashboard refreshInterval not a duration", `dashboard: {refreshInterval: often}`, "/dashboard/refreshInterval", true},
	{"dashboard history not a duration", `dashboard: {history: long}`, "/dashboard/history", true},
	{"dashboard negative tailRecords", `dashboard: {tailRecords: -1}`, "/dashboard/tailRecords", true},
	{"dashboard bad service type", `dashboard: {service: {type: ExternalName}}`, "/dashboard/service/type", true},
	{"dashboard service port 0", `dashboard: {service: {port: 0}}`, "/dashboard/service/port", true},
	{"dashboard bad pull policy", `dashboard: {image: {pullPolicy: Sometimes}}`, "/dashboard/image/pullPolicy", true},
	{"dashboard replicas 0", `dashboard: {replicas: 0}`, "/dashboard/replicas", true},
	{"dashboard replicas not a number", `dashboard: {replicas: two}`, "/dashboard/replicas", true},
	{"dashboard PDB not a number", `dashboard: {podDisruptionBudget: {maxUnavailable: some}}`, "/dashboard/podDisruptionBudget/maxUnavailable", true},
	{"dashboard PDB minAvailable", `dashboard: {podDisruptionBudget: {minAvailable: 1}}`, "minAvailable", true},
	{"dashboard data dir", `dashboard: {dataDir: /data}`, "dataDir", true},
	{"consumer snapshotInterval 0", `consumer: {snapshotInterval: "0"}`, "/consumer/snapshotInterval", true},
	{"consumer snapshotInterval not a duration", `consumer: {snapshotInterval: often}`, "/consumer/snapshotInterval", true},
	{"consumer monitoringGroup empty", `consumer: {monitoringGroup: ""}`, "/consumer/monitoringGroup", true},
	{"consumer spread not a list", `consumer: {topologySpreadConstraints: {maxSkew: 1}}`, "/consumer/topologySpreadConstraints", true},
	{"consumer spread maxSkew 0", `consumer: {topologySpreadConstraints: [{maxSkew: 0, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway}]}`, "maxSkew", true},
	// The controller owns the assignment: explicit ones need it off.
	{"assignments with the controller", `consumer: {assignments: [[0, 2], [1, 3]]}`, "controller.enabled", false},
	{"replication factor 3 on the chart's single broker", `topic: {replicationFactor: 3}`,
		"topic.replicationFactor is 3, but the chart's Kafka (kafka.enabled) has kafka.replicas=1 broker(s): use at most 1", false},
}

// renderObjects renders a scenario and decodes every object strictly.
func renderObjects(t *testing.T, s scenario) *manifest {
	t.Helper()
	files, err := renderChart(t, s.releaseName(), s.values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if *dumpDir != "" {
		var all strings.Builder
		for _, name := range slices.Sorted(maps.Keys(files)) {
			fmt.Fprintf(&all, "# Source: %s\n%s\n---\n", name, files[name])
		}
		if err := os.WriteFile(filepath.Join(*dumpDir, s.name+".yaml"), []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return decodeManifest(t, files)
}

func kindOf(o client.Object) string {
	gvks, _, err := scheme.Scheme.ObjectKinds(o)
	if err != nil || len(gvks) == 0 {
		return fmt.Sprintf("%T", o)
	}
	return gvks[0].Kind
}

func (m *manifest) get(t *testing.T, kind, name string) client.Object {
	t.Helper()
	for _, o := range m.objects {
		if kindOf(o.obj) == kind && o.obj.GetName() == name {
			return o.obj
		}
	}
	t.Fatalf("no %s/%s rendered; have %v", kind, name, m.names())
	return nil
}

func (m *manifest) names() []string {
	var names []string
	for _, o := range m.objects {
		names = append(names, kindOf(o.obj)+"/"+o.obj.GetName())
	}
	slices.Sort(names)
	return names
}

// wantKinds checks that exactly these objects are rendered.
func (m *manifest) wantKinds(t *testing.T, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := m.names(); !slices.Equal(got, want) {
		t.Errorf("rendered objects\n got %v\nwant %v", got, want)
	}
}

func (m *manifest) statefulSet(t *testing.T, name string) *appsv1.StatefulSet {
	return m.get(t, "StatefulSet", name).(*appsv1.StatefulSet)
}
func (m *manifest) deployment(t *testing.T, name string) *appsv1.Deployment {
	return m.get(t, "Deployment", name).(*appsv1.Deployment)
}
func (m *manifest) service(t *testing.T, name string) *corev1.Service {
	return m.get(t, "Service", name).(*corev1.Service)
}
func (m *manifest) configMap(t *testing.T, name string) *corev1.ConfigMap {
	return m.get(t, "ConfigMap", name).(*corev1.ConfigMap)
}

// workload is a Deployment or StatefulSet, seen through its pod template.
type workload struct {
	name      string
	component string
	selector  map[string]string
	podLabels map[string]string
	podSpec   *corev1.PodSpec
	obj       client.Object
}

func (m *manifest) workloads() []workload {
	var ws []workload
	for _, o := range m.objects {
		switch w := o.obj.(type) {
		case *appsv1.Deployment:
			ws = append(ws, workload{w.Name, w.Spec.Template.Labels["app.kubernetes.io/component"],
				w.Spec.Selector.MatchLabels, w.Spec.Template.Labels, &w.Spec.Template.Spec, w})
		case *appsv1.StatefulSet:
			ws = append(ws, workload{w.Name, w.Spec.Template.Labels["app.kubernetes.io/component"],
				w.Spec.Selector.MatchLabels, w.Spec.Template.Labels, &w.Spec.Template.Spec, w})
		}
	}
	return ws
}

func container(t *testing.T, spec *corev1.PodSpec, name string) *corev1.Container {
	t.Helper()
	for i := range spec.Containers {
		if spec.Containers[i].Name == name {
			return &spec.Containers[i]
		}
	}
	t.Fatalf("no container %q", name)
	return nil
}

func hasEnv(c *corev1.Container, name string) bool {
	for _, e := range c.Env {
		if e.Name == name {
			return true
		}
	}
	return false
}

func env(t *testing.T, c *corev1.Container, name string) corev1.EnvVar {
	t.Helper()
	for _, e := range c.Env {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("container %s has no env %s", c.Name, name)
	return corev1.EnvVar{}
}

func envValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	e := env(t, c, name)
	if e.ValueFrom != nil {
		t.Fatalf("container %s env %s comes from %+v, want a value", c.Name, name, e.ValueFrom)
	}
	return e.Value
}

func volumeMount(t *testing.T, c *corev1.Container, name string) corev1.VolumeMount {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("container %s does not mount %s", c.Name, name)
	return corev1.VolumeMount{}
}

func volume(t *testing.T, spec *corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("pod has no volume %s", name)
	return corev1.Volume{}
}

func parseProperties(s string) map[string]string {
	props := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		props[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return props
}

func TestRender(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			m := renderObjects(t, s)
			checkCommon(t, m, s)
			if s.check != nil {
				s.check(t, m)
			}
		})
	}
}

// checkCommon is what every rendering must satisfy.
func checkCommon(t *testing.T, m *manifest, s scenario) {
	t.Helper()
	release := s.releaseName()
	seen := map[string]bool{}
	for _, o := range m.objects {
		id := kindOf(o.obj) + "/" + o.obj.GetName()
		if seen[id] {
			t.Errorf("%s rendered twice", id)
		}
		seen[id] = true
		if o.obj.GetNamespace() != "" {
			t.Errorf("%s sets metadata.namespace; helm -n decides it", id)
		}
		// Recommended labels on every object.
		l := o.obj.GetLabels()
		for key, want := range map[string]string{
			"app.kubernetes.io/name":       "weather",
			"app.kubernetes.io/instance":   release,
			"app.kubernetes.io/managed-by": "Helm",
			"app.kubernetes.io/part-of":    "weather",
			"app.kubernetes.io/version":    "0.2.0",
			"helm.sh/chart":                "weather-0.2.0",
		} {
			if l[key] != want {
				t.Errorf("%s: label %s = %q, want %q", id, key, l[key], want)
			}
		}
		if !slices.Contains([]string{"kafka", "producer", "consumer", "debug", "dashboard", "controller", "test"}, l["app.kubernetes.io/component"]) {
			t.Errorf("%s: label app.kubernetes.io/component = %q", id, l["app.kubernetes.io/component"])
		}
		// Least privilege: the chart grants rights in its namespace only,
		// but for the partition controller's reading of Nodes
		// (checkController checks exactly that).
		switch o.obj.(type) {
		case *rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding:
			if l["app.kubernetes.io/component"] != "controller" {
				t.Errorf("%s: only the partition controller may have cluster-wide rights", id)
			}
		}
	}

	values := coalescedValues(t, s)
	httpPort := int32(values.intAt(t, "httpPort"))
	fullname := release
	if !strings.Contains(release, "weather") {
		fullname = release + "-weather"
	}
	controllerSA := fullname + "-controller"
	ws := m.workloads()
	for _, w := range ws {
		// The selector picks this workload's pods and no other workload's.
		sel := labels.SelectorFromSet(w.selector)
		if len(w.selector) == 0 || !sel.Matches(labels.Set(w.podLabels)) {
			t.Errorf("%s: selector %v does not match its pod labels %v", w.name, w.selector, w.podLabels)
		}
		for _, other := range ws {
			if other.name != w.name && sel.Matches(labels.Set(other.podLabels)) {
				t.Errorf("%s: selector %v also matches the pods of %s", w.name, w.selector, other.name)
			}
		}
		for _, key := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"} {
			if w.selector[key] == "" {
				t.Errorf("%s: selector lacks %s", w.name, key)
			}
		}
		for _, key := range []string{"app.kubernetes.io/version", "helm.sh/chart"} {
			if _, ok := w.selector[key]; ok {
				t.Errorf("%s: selector has %s, which changes on upgrade (selectors are immutable)", w.name, key)
			}
		}
		spec := w.podSpec
		if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
			t.Errorf("%s: enableServiceLinks must be false", w.name)
		}
		if w.component == "controller" {
			// The one pod that talks to the API, as its own ServiceAccount.
			if spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
				t.Errorf("%s: automountServiceAccountToken must be true (the controller talks to the API)", w.name)
			}
			if spec.ServiceAccountName != controllerSA {
				t.Errorf("%s: serviceAccountName %q, want %q", w.name, spec.ServiceAccountName, controllerSA)
			}
		} else {
			if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
				t.Errorf("%s: automountServiceAccountToken must be false (only the controller talks to the API)", w.name)
			}
			if spec.ServiceAccountName == controllerSA || spec.DeprecatedServiceAccount == controllerSA {
				t.Errorf("%s: runs as the controller's ServiceAccount %s", w.name, controllerSA)
			}
		}
		checkPodSecurity(t, w)
		checkSecretsAsFiles(t, w.name, spec)
		for i := range spec.Containers {
			c := &spec.Containers[i]
			names := map[string]bool{}
			for _, e := range c.Env {
				if names[e.Name] {
					t.Errorf("%s/%s: env %s set twice", w.name, c.Name, e.Name)
				}
				names[e.Name] = true
			}
			if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s/%s: want cpu+memory requests and a memory limit, got %+v", w.name, c.Name, c.Resources)
			}
			switch w.component {
			case "kafka":
			case "controller":
				checkControllerProbes(t, w.name, c, httpPort)
			default:
				checkServiceProbes(t, w.name, c, httpPort)
			}
		}
		// Every volume mounted exists, and every volume is mounted.
		vols := map[string]bool{}
		for _, v := range spec.Volumes {
			vols[v.Name] = true
		}
		if sts, ok := w.obj.(*appsv1.StatefulSet); ok {
			for _, pvc := range sts.Spec.VolumeClaimTemplates {
				vols[pvc.Name] = true
			}
		}
		mounted := map[string]bool{}
		for _, c := range spec.Containers {
			for _, vm := range c.VolumeMounts {
				if !vols[vm.Name] {
					t.Errorf("%s/%s mounts unknown volume %s", w.name, c.Name, vm.Name)
				}
				mounted[vm.Name] = true
			}
		}
		for v := range vols {
			if !mounted[v] {
				t.Errorf("%s: volume %s is never mounted", w.name, v)
			}
		}
	}

	// Services select the pods of exactly one workload and name its ports.
	for _, o := range m.objects {
		svc, ok := o.obj.(*corev1.Service)
		if !ok {
			continue
		}
		var matched []workload
		for _, w := range ws {
			if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(w.podLabels)) {
				matched = append(matched, w)
			}
		}
		if len(svc.Spec.Selector) == 0 || len(matched) != 1 {
			t.Errorf("Service %s selects %d workloads, want 1", svc.Name, len(matched))
			continue
		}
		for _, p := range svc.Spec.Ports {
			if !hasContainerPort(matched[0].podSpec, p.TargetPort.String()) {
				t.Errorf("Service %s port %s: target %s is no container port of %s", svc.Name, p.Name, p.TargetPort.String(), matched[0].name)
			}
		}
	}

	for _, pod := range m.pods() {
		checkSecretsAsFiles(t, pod.Name, &pod.Spec)
	}
	checkKafkaClients(t, m, values)

	checkConsumer(t, m, fullname, values)
	p := m.deployment(t, fullname+"-producer")
	if p.Spec.Replicas == nil || *p.Spec.Replicas != 1 || p.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("producer: want exactly 1 replica and strategy Recreate, got %v %v", p.Spec.Replicas, p.Spec.Strategy.Type)
	}
	if values.boolAt(t, "kafka.enabled") {
		checkKafka(t, m, fullname, values)
	} else {
		for _, o := range m.objects {
			if o.obj.GetLabels()["app.kubernetes.io/component"] == "kafka" {
				t.Errorf("kafka.enabled=false but %s/%s is rendered", kindOf(o.obj), o.obj.GetName())
			}
		}
	}
	if values.boolAt(t, "debug.enabled") {
		m.deployment(t, fullname+"-debug")
	}
	if values.boolAt(t, "dashboard.enabled") {
		checkDashboard(t, m, fullname, values)
	} else {
		for _, o := range m.objects {
			if o.obj.GetLabels()["app.kubernetes.io/component"] == "dashboard" {
				t.Errorf("dashboard.enabled=false but %s/%s is rendered", kindOf(o.obj), o.obj.GetName())
			}
		}
	}
	if values.boolAt(t, "controller.enabled") {
		checkController(t, m, fullname, values)
	} else {
		for _, o := range m.objects {
			switch o.obj.(type) {
			case *corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding:
				t.Errorf("controller.enabled=false but %s/%s is rendered", kindOf(o.obj), o.obj.GetName())
				continue
			}
			if o.obj.GetLabels()["app.kubernetes.io/component"] == "controller" {
				t.Errorf("controller.enabled=false but %s/%s is rendered", kindOf(o.obj), o.obj.GetName())
			}
		}
		if v, ok := m.statefulSet(t, fullname+consumerSuffix).Labels[partitionControllerLabel]; ok {
			t.Errorf("controller.enabled=false but the consumer StatefulSet has %s=%s: a running controller would take it over", partitionControllerLabel, v)
		}
	}
}

func hasContainerPort(spec *corev1.PodSpec, target string) bool {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if p.Name == target || strconv.Itoa(int(p.ContainerPort)) == target {
				return true
			}
		}
	}
	return false
}

// checkPodSecurity: every pod runs as non-root, without privilege escalation
// or capabilities, with the runtime's seccomp profile and a read-only root
// file system (PodSecurity "restricted", and then some).
func checkPodSecurity(t *testing.T, w workload) {
	t.Helper()
	psc := w.podSpec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext must run as a non-root uid: %+v", w.name, psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile must be RuntimeDefault", w.name)
	}
	wantUID := int64(65532) // distroless nonroot
	if w.component == "kafka" {
		wantUID = 1000 // apache/kafka's appuser
	}
	if psc != nil && psc.RunAsUser != nil && *psc.RunAsUser != wantUID {
		t.Errorf("%s: runAsUser %d, want %d (the image's user)", w.name, *psc.RunAsUser, wantUID)
	}
	if len(w.podSpec.InitContainers) > 0 {
		t.Errorf("%s: init containers are not checked here; add them to checkPodSecurity", w.name)
	}
	for _, c := range w.podSpec.Containers {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s/%s: no securityContext", w.name, c.Name)
			continue
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s/%s: allowPrivilegeEscalation must be false", w.name, c.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s/%s: readOnlyRootFilesystem must be true", w.name, c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s/%s: runAsNonRoot must be true", w.name, c.Name)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s/%s: privileged", w.name, c.Name)
		case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s/%s: capabilities must drop ALL and add none: %+v", w.name, c.Name, sc.Capabilities)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s/%s: seccompProfile must be RuntimeDefault", w.name, c.Name)
		}
	}
}

// checkServiceProbes: the services' HTTP server listens on the named port
// "http" (HTTP_ADDR), liveness is /healthz, readiness /readyz.
func checkServiceProbes(t *testing.T, wname string, c *corev1.Container, httpPort int32) {
	t.Helper()
	if got := envValue(t, c, "HTTP_ADDR"); got != fmt.Sprintf(":%d", httpPort) {
		t.Errorf("%s: HTTP_ADDR %q, want :%d", wname, got, httpPort)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != httpPort {
		t.Errorf("%s: ports %+v, want http:%d", wname, c.Ports, httpPort)
	}
	checkHTTPProbes(t, wname, c, "http")
}

// The controller's health port (controller-runtime's health probe server,
// HEALTH_ADDR); its metrics are on httpPort (METRICS_ADDR).
const controllerHealthPort = 8081

// checkControllerProbes: controller-runtime serves /metrics on the port
// "http" (METRICS_ADDR) and /healthz, /readyz on the port "health"
// (HEALTH_ADDR); the probes use the latter.
func checkControllerProbes(t *testing.T, wname string, c *corev1.Container, httpPort int32) {
	t.Helper()
	if got := envValue(t, c, "METRICS_ADDR"); got != fmt.Sprintf(":%d", httpPort) {
		t.Errorf("%s: METRICS_ADDR %q, want :%d", wname, got, httpPort)
	}
	if got := envValue(t, c, "HEALTH_ADDR"); got != fmt.Sprintf(":%d", controllerHealthPort) {
		t.Errorf("%s: HEALTH_ADDR %q, want :%d", wname, got, controllerHealthPort)
	}
	for _, e := range c.Env {
		if e.Name == "HTTP_ADDR" {
			t.Errorf("%s: HTTP_ADDR is set, but the controller has no such setting", wname)
		}
	}
	want := []corev1.ContainerPort{
		{Name: "http", ContainerPort: httpPort, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: controllerHealthPort, Protocol: corev1.ProtocolTCP},
	}
	if !slices.Equal(c.Ports, want) {
		t.Errorf("%s: ports %+v, want http:%d and health:%d", wname, c.Ports, httpPort, controllerHealthPort)
	}
	checkHTTPProbes(t, wname, c, "health")
}

// checkHTTPProbes: liveness is GET /healthz, readiness GET /readyz, both on
// the named container port; no startup probe.
func checkHTTPProbes(t *testing.T, wname string, c *corev1.Container, port string) {
	t.Helper()
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: no HTTP %s probe", wname, p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != port {
			t.Errorf("%s: %s probe %s on port %s, want %s on %s", wname, p.kind, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path, port)
		}
	}
	if c.StartupProbe != nil {
		t.Errorf("%s: unexpected startup probe", wname)
	}
}

// consumerSuffix names the stats consumers' StatefulSet, its governing
// Service and its PodDisruptionBudget: <fullname>-stats. (The shared-volume
// chart's StatefulSet was <fullname>-consumer; volumeClaimTemplates cannot
// be added to it, so an upgrade replaces it with a new one.)
const consumerSuffix = "-stats"

// checkConsumer: one StatefulSet whose pods each get a volume of their own
// (volumeClaimTemplates "stats", kept when scaled down or deleted) mounted
// at /data, find their partitions by ordinal and spread over the nodes; no
// claim shared by the pods is rendered any more.
func checkConsumer(t *testing.T, m *manifest, fullname string, values chartValues) {
	t.Helper()
	sts := m.statefulSet(t, fullname+consumerSuffix)
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("consumer podManagementPolicy %q, want Parallel", sts.Spec.PodManagementPolicy)
	}
	if sts.Spec.ServiceName != sts.Name {
		t.Errorf("consumer serviceName %q, want %q", sts.Spec.ServiceName, sts.Name)
	} else if svc := m.service(t, sts.Spec.ServiceName); svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("consumer governing service is not headless")
	}
	for _, o := range m.objects {
		if pvc, ok := o.obj.(*corev1.PersistentVolumeClaim); ok {
			t.Errorf("PersistentVolumeClaim %s rendered: every consumer pod has a claim of its own (volumeClaimTemplates), none is shared", pvc.Name)
		}
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("consumer volumeClaimTemplates %+v, want one, stats", sts.Spec.VolumeClaimTemplates)
	}
	claim := sts.Spec.VolumeClaimTemplates[0]
	if claim.Name != "stats" {
		t.Errorf("consumer claim template %q, want stats", claim.Name)
	}
	// Immutable once the StatefulSet exists: nothing in it may change with
	// the chart's version (TestConsumerClaimTemplateStable).
	if !maps.Equal(claim.Labels, sts.Spec.Selector.MatchLabels) || len(claim.Annotations) != 0 {
		t.Errorf("consumer claim template labels %v annotations %v, want exactly the selector's %v", claim.Labels, claim.Annotations, sts.Spec.Selector.MatchLabels)
	}
	if got, want := claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.PersistentVolumeAccessMode(values.stringAt(t, "consumer.persistence.accessMode"))}; !slices.Equal(got, want) {
		t.Errorf("consumer claim access modes %v, want %v", got, want)
	}
	if got, want := claim.Spec.Resources.Requests.Storage().String(), values.stringAt(t, "consumer.persistence.size"); got != want {
		t.Errorf("consumer claim size %s, want %s", got, want)
	}
	switch class := values.stringAt(t, "consumer.persistence.storageClass"); class {
	case "":
		if claim.Spec.StorageClassName != nil {
			t.Errorf("consumer claim storageClassName %q, want none (the default class)", *claim.Spec.StorageClassName)
		}
	case "-":
		if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != "" {
			t.Errorf(`consumer claim storageClassName %v, want "" (storageClass "-")`, claim.Spec.StorageClassName)
		}
	default:
		if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != class {
			t.Errorf("consumer claim storageClassName %v, want %q", claim.Spec.StorageClassName, class)
		}
	}
	// The stats outlive the pods: neither a scale-down nor the
	// StatefulSet's deletion takes a claim.
	if r := sts.Spec.PersistentVolumeClaimRetentionPolicy; r == nil ||
		r.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || r.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("consumer persistentVolumeClaimRetentionPolicy %+v, want Retain when deleted and when scaled", r)
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == "stats" || v.PersistentVolumeClaim != nil {
			t.Errorf("consumer pod volume %+v: the stats volume is the claim template's", v)
		}
	}
	c := container(t, &sts.Spec.Template.Spec, "consumer")
	if vm := volumeMount(t, c, "stats"); vm.MountPath != "/data" || vm.ReadOnly || vm.SubPath != "" {
		t.Errorf("stats mount %+v, want /data, read-write, whole volume", vm)
	}
	for env, want := range map[string]string{
		"DATA_DIR":          "/data",
		"SNAPSHOT_INTERVAL": values.stringAt(t, "consumer.snapshotInterval"),
		"MONITORING_GROUP":  values.stringAt(t, "consumer.monitoringGroup"),
	} {
		if got := envValue(t, c, env); got != want {
			t.Errorf("consumer %s %q, want %q", env, got, want)
		}
	}
	pi := env(t, c, "POD_INDEX")
	if pi.ValueFrom == nil || pi.ValueFrom.FieldRef == nil || pi.ValueFrom.FieldRef.FieldPath != "metadata.labels['apps.kubernetes.io/pod-index']" {
		t.Errorf("POD_INDEX must come from the pod-index label, got %+v", pi)
	}
	if len(c.Command) != 0 || len(c.Args) != 0 {
		t.Errorf("consumer must run the image's entrypoint without arguments (arguments win over PARTITIONS_BY_ORDINAL): %q %q", c.Command, c.Args)
	}
	if hasEnv(c, "PARTITIONS") {
		t.Errorf("PARTITIONS would win over PARTITIONS_BY_ORDINAL")
	}
}

// checkDashboard: dashboard.replicas pods running the consumer image's
// /dashboard, hardened exactly as the consumers, with no volume but the
// Kafka Secrets' (it follows the snapshot topic: no DATA_DIR, no claim), a
// PodDisruptionBudget of maxUnavailable with more than one replica, reaching
// Kafka as the other services do, and a Service whose port "http" reaches
// the pod's HTTP port.
func checkDashboard(t *testing.T, m *manifest, fullname string, values chartValues) {
	t.Helper()
	name := fullname + "-dashboard"
	d := m.deployment(t, name)
	if want := int32(values.intAt(t, "dashboard.replicas")); d.Spec.Replicas == nil || *d.Spec.Replicas != want {
		t.Errorf("%s: replicas %v, want %d (dashboard.replicas)", name, d.Spec.Replicas, want)
	}
	var pdb *policyv1.PodDisruptionBudget
	for _, o := range m.objects {
		if p, ok := o.obj.(*policyv1.PodDisruptionBudget); ok && p.Labels["app.kubernetes.io/component"] == "dashboard" {
			pdb = p
		}
	}
	switch want := values.boolAt(t, "dashboard.podDisruptionBudget.enabled") && values.intAt(t, "dashboard.replicas") > 1; {
	case want && pdb == nil:
		t.Errorf("%s: %d replicas and no PodDisruptionBudget", name, values.intAt(t, "dashboard.replicas"))
	case !want && pdb != nil:
		t.Errorf("%s: PodDisruptionBudget %s rendered for %d replica(s), budget enabled: %v", name, pdb.Name, values.intAt(t, "dashboard.replicas"), values.boolAt(t, "dashboard.podDisruptionBudget.enabled"))
	case want:
		if got, want := budget(pdb), "max "+values.stringAt(t, "dashboard.podDisruptionBudget.maxUnavailable"); got != want || pdb.Name != name {
			t.Errorf("PodDisruptionBudget %s: %q, want %s %q", pdb.Name, got, name, want)
		}
	}
	spec := &d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", name, len(spec.Containers))
	}
	c := container(t, spec, "dashboard")
	if !slices.Equal(c.Command, []string{"/dashboard"}) || len(c.Args) != 0 {
		t.Errorf("%s: command %q args %q, want [/dashboard] (the consumer image's binary), no args", name, c.Command, c.Args)
	}
	tag := values.stringAt(t, "dashboard.image.tag")
	if tag == "" {
		tag = loadWeatherChart(t).Metadata.AppVersion
	}
	if got, want := c.Image, values.stringAt(t, "dashboard.image.repository")+":"+tag; got != want {
		t.Errorf("%s: image %q, want %q", name, got, want)
	}
	if got, want := string(c.ImagePullPolicy), values.stringAt(t, "dashboard.image.pullPolicy"); got != want {
		t.Errorf("%s: imagePullPolicy %q, want %q", name, got, want)
	}
	for env, key := range map[string]string{
		"REFRESH_INTERVAL": "dashboard.refreshInterval", "TAIL_RECORDS": "dashboard.tailRecords", "HISTORY": "dashboard.history",
	} {
		if got, want := envValue(t, c, env), values.stringAt(t, key); got != want {
			t.Errorf("%s: %s = %q, want %q (%s)", name, env, got, want, key)
		}
	}
	// No volume: it follows the snapshot topic, so it runs on any node and
	// with replicas. Only the Kafka Secrets are mounted, read-only.
	if hasEnv(c, "DATA_DIR") {
		t.Errorf("%s: DATA_DIR is set; the dashboard reads no files", name)
	}
	for _, v := range spec.Volumes {
		if v.Secret == nil {
			t.Errorf("%s: volume %s %+v; the dashboard has only the Kafka Secrets", name, v.Name, v.VolumeSource)
		}
	}
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("%s: mount %s is writable; the dashboard writes nothing", name, vm.Name)
		}
	}

	// Hardened exactly as the stats consumers, whose states it shows.
	sts := m.statefulSet(t, fullname+consumerSuffix)
	cs := container(t, &sts.Spec.Template.Spec, "consumer")
	if !reflect.DeepEqual(spec.SecurityContext, sts.Spec.Template.Spec.SecurityContext) {
		t.Errorf("%s: pod securityContext %+v, the consumers' %+v", name, spec.SecurityContext, sts.Spec.Template.Spec.SecurityContext)
	}
	if !reflect.DeepEqual(c.SecurityContext, cs.SecurityContext) {
		t.Errorf("%s: container securityContext %+v, the consumers' %+v", name, c.SecurityContext, cs.SecurityContext)
	}
	// Kafka, the topic and the HTTP server exactly as the consumers see them
	// (TLS and SASL: as its own principal, checkKafkaClients).
	for _, e := range []string{"KAFKA_BROKERS", "TOPIC", "KAFKA_CONNECT_TIMEOUT", "LOG_FORMAT", "LOG_LEVEL", "HTTP_ADDR"} {
		if hasEnv(cs, e) != hasEnv(c, e) {
			t.Errorf("%s: has %s: %v, the consumers: %v", name, e, hasEnv(c, e), hasEnv(cs, e))
		} else if hasEnv(cs, e) && !reflect.DeepEqual(env(t, c, e), env(t, cs, e)) {
			t.Errorf("%s: %s = %+v, the consumers' %+v", name, e, env(t, c, e), env(t, cs, e))
		}
	}

	// The Service: its port "http" on dashboard.service.port, to the pod's
	// container port of that name (which HTTP_ADDR listens on).
	svc := m.service(t, name)
	if got, want := string(svc.Spec.Type), values.stringAt(t, "dashboard.service.type"); got != want {
		t.Errorf("Service %s: type %q, want %q", name, got, want)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("Service %s is headless; want a virtual IP to port-forward and proxy to", name)
	}
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("Service %s: ports %+v, want one", name, svc.Spec.Ports)
	}
	port := svc.Spec.Ports[0]
	if port.Name != "http" || int(port.Port) != values.intAt(t, "dashboard.service.port") || port.Protocol != corev1.ProtocolTCP {
		t.Errorf("Service %s: port %+v, want http/TCP on %d", name, port, values.intAt(t, "dashboard.service.port"))
	}
	var target *corev1.ContainerPort
	for i := range c.Ports {
		if p := &c.Ports[i]; p.Name == port.TargetPort.String() || strconv.Itoa(int(p.ContainerPort)) == port.TargetPort.String() {
			target = p
		}
	}
	if target == nil || int(target.ContainerPort) != values.intAt(t, "httpPort") {
		t.Errorf("Service %s: targetPort %s is not the dashboard's HTTP port %d (ports %+v)", name, port.TargetPort.String(), values.intAt(t, "httpPort"), c.Ports)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("Service %s: selector %v does not select the dashboard's pods %v", name, svc.Spec.Selector, d.Spec.Template.Labels)
	}
}

// The label by which the partition controller finds the StatefulSets it
// manages (services/controller/internal/controller.ManagedLabel).
const partitionControllerLabel = "weather.io/partition-controller"

// controllerRules are all the partition controller may do, in its release's
// namespace: "group/resource" -> verbs.
var controllerRules = map[string][]string{
	// The consumer StatefulSet: read it, write its pod template's assignment.
	"apps/statefulsets": {"get", "list", "watch", "update", "patch"},
	// Whether a rollout has settled.
	// delete: a live pod restarted to take a lost pod's partitions.
	"/pods": {"get", "list", "watch", "delete"},
	// What it did, both event APIs.
	"/events":              {"create", "patch"},
	"events.k8s.io/events": {"create", "patch"},
	// Leader election.
	"coordination.k8s.io/leases": {"get", "list", "watch", "create", "update", "patch"},
}

// checkController: the partition controller runs as its own ServiceAccount,
// bound to a Role in the release's namespace that grants exactly
// controllerRules; it manages the consumer StatefulSet by its label and
// reaches Kafka as the other services do.
func checkController(t *testing.T, m *manifest, fullname string, values chartValues) {
	t.Helper()
	name := fullname + "-controller"
	sa := m.get(t, "ServiceAccount", name).(*corev1.ServiceAccount)
	role := m.get(t, "Role", name).(*rbacv1.Role)
	rb := m.get(t, "RoleBinding", name).(*rbacv1.RoleBinding)

	// Exactly these rules: no wildcard, no other resource or verb, no
	// subresource, no resourceNames or nonResourceURLs.
	got := map[string][]string{}
	for i, r := range role.Rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("Role %s rule %d: resourceNames %v nonResourceURLs %v", role.Name, i, r.ResourceNames, r.NonResourceURLs)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				key := g + "/" + res
				got[key] = slices.Compact(slices.Sorted(slices.Values(append(got[key], r.Verbs...))))
			}
		}
	}
	want := map[string][]string{}
	for key, verbs := range controllerRules {
		want[key] = slices.Sorted(slices.Values(verbs))
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Role %s grants\n %v\nwant exactly\n %v", role.Name, got, want)
	}

	if rb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}) {
		t.Errorf("RoleBinding %s roleRef %+v, want Role %s", rb.Name, rb.RoleRef, role.Name)
	}
	if want := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: namespace}}; !slices.Equal(rb.Subjects, want) {
		t.Errorf("RoleBinding %s subjects %+v, want exactly %+v", rb.Name, rb.Subjects, want)
	}

	// Cluster-wide, only reading Nodes: whether a consumer pod's node is
	// Ready (failover). Named for the namespace too: two releases of the
	// same name in two namespaces must not share it.
	crName := namespace + "-" + name
	cr := m.get(t, "ClusterRole", crName).(*rbacv1.ClusterRole)
	if want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "watch"}}}; !reflect.DeepEqual(cr.Rules, want) {
		t.Errorf("ClusterRole %s rules %+v, want exactly %+v", crName, cr.Rules, want)
	}
	crb := m.get(t, "ClusterRoleBinding", crName).(*rbacv1.ClusterRoleBinding)
	if crb.RoleRef != (rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: crName}) {
		t.Errorf("ClusterRoleBinding %s roleRef %+v, want ClusterRole %s", crName, crb.RoleRef, crName)
	}
	if want := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: namespace}}; !slices.Equal(crb.Subjects, want) {
		t.Errorf("ClusterRoleBinding %s subjects %+v, want exactly %+v", crName, crb.Subjects, want)
	}

	d := m.deployment(t, name)
	if r := d.Spec.Replicas; r == nil {
		t.Errorf("%s: replicas unset, want 1", name)
	} else if *r != 1 {
		t.Errorf("%s: replicas %d, want 1", name, *r)
	}
	spec := &d.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name {
		t.Errorf("%s: serviceAccountName %q, want %q", name, spec.ServiceAccountName, sa.Name)
	}
	if spec.AutomountServiceAccountToken == nil || !*spec.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be true (it talks to the API)", name)
	}
	c := container(t, spec, "controller")
	ns := env(t, c, "NAMESPACE")
	if ns.Value != "" || ns.ValueFrom == nil || ns.ValueFrom.FieldRef == nil || ns.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("%s: NAMESPACE = %+v, want fieldRef metadata.namespace (the Role's namespace)", name, ns)
	}
	if got, want := envValue(t, c, "POLL_INTERVAL"), values.stringAt(t, "controller.pollInterval"); got != want {
		t.Errorf("%s: POLL_INTERVAL %q, want %q", name, got, want)
	}
	if got, want := envValue(t, c, "NODE_LOST_AFTER"), values.stringAt(t, "controller.nodeLostAfter"); got != want {
		t.Errorf("%s: NODE_LOST_AFTER %q, want %q", name, got, want)
	}
	tag := values.stringAt(t, "controller.image.tag")
	if tag == "" {
		tag = loadWeatherChart(t).Metadata.AppVersion
	}
	if got, want := c.Image, values.stringAt(t, "controller.image.repository")+":"+tag; got != want {
		t.Errorf("%s: image %q, want %q", name, got, want)
	}
	if got, want := string(c.ImagePullPolicy), values.stringAt(t, "controller.image.pullPolicy"); got != want {
		t.Errorf("%s: imagePullPolicy %q, want %q", name, got, want)
	}
	// Kafka and the topic exactly as the other services see them (TLS and
	// SASL: as its own principal, checkKafkaClients).
	p := container(t, &m.deployment(t, fullname+"-producer").Spec.Template.Spec, "producer")
	for _, e := range []string{"KAFKA_BROKERS", "TOPIC", "KAFKA_CONNECT_TIMEOUT", "LOG_FORMAT", "LOG_LEVEL"} {
		if hasEnv(p, e) != hasEnv(c, e) {
			t.Errorf("%s: has %s: %v, the producer: %v", name, e, hasEnv(c, e), hasEnv(p, e))
		} else if hasEnv(p, e) && !reflect.DeepEqual(env(t, c, e), env(t, p, e)) {
			t.Errorf("%s: %s = %+v, the producer's %+v", name, e, env(t, c, e), env(t, p, e))
		}
	}

	// The consumer StatefulSet is marked for the controller, on its own
	// metadata only: not in the (immutable) selector nor the pod template.
	sts := m.statefulSet(t, fullname+consumerSuffix)
	if got := sts.Labels[partitionControllerLabel]; got != "enabled" {
		t.Errorf("consumer StatefulSet label %s = %q, want enabled (the controller manages only labeled StatefulSets)", partitionControllerLabel, got)
	}
	if _, ok := sts.Spec.Selector.MatchLabels[partitionControllerLabel]; ok {
		t.Errorf("consumer StatefulSet selector has %s: turning the controller off would need a new StatefulSet", partitionControllerLabel)
	}
	if _, ok := sts.Spec.Template.Labels[partitionControllerLabel]; ok {
		t.Errorf("consumer pod template has %s: toggling the controller would roll the consumers", partitionControllerLabel)
	}
}

// checkAssignment: the consumer StatefulSet has `replicas` pods and its
// PARTITIONS_BY_ORDINAL names every partition of the topic exactly once; with
// explicit lists they are exactly those, else partition p is ordinal p%replicas's.
func checkAssignment(t *testing.T, m *manifest, partitions, replicas int, explicit [][]int) {
	t.Helper()
	var sts *appsv1.StatefulSet
	for _, o := range m.objects {
		if s, ok := o.obj.(*appsv1.StatefulSet); ok && s.Spec.Template.Labels["app.kubernetes.io/component"] == "consumer" {
			sts = s
		}
	}
	if sts == nil {
		t.Fatal("no consumer StatefulSet")
	}
	if sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != replicas {
		t.Errorf("consumer replicas %v, want %d", sts.Spec.Replicas, replicas)
	}
	byOrdinal := envValue(t, container(t, &sts.Spec.Template.Spec, "consumer"), "PARTITIONS_BY_ORDINAL")
	lists, err := parseByOrdinal(byOrdinal)
	if err != nil {
		t.Fatalf("PARTITIONS_BY_ORDINAL %q: %v", byOrdinal, err)
	}
	// One entry per ordinal, but trailing spares (empty entries) left out, as
	// the partition controller writes it (the canonical form has none).
	if len(lists) > replicas || len(lists) == 0 {
		t.Errorf("PARTITIONS_BY_ORDINAL %q: %d entries for %d replicas, or a trailing empty entry", byOrdinal, len(lists), replicas)
	}
	owner := map[int]int{}
	for ordinal, list := range lists {
		for _, p := range list {
			if prev, dup := owner[p]; dup {
				t.Errorf("PARTITIONS_BY_ORDINAL %q: partition %d on ordinals %d and %d", byOrdinal, p, prev, ordinal)
			}
			owner[p] = ordinal
			if p < 0 || p >= partitions {
				t.Errorf("PARTITIONS_BY_ORDINAL %q: partition %d does not exist (%d partitions)", byOrdinal, p, partitions)
			}
			if explicit == nil && p%replicas != ordinal {
				t.Errorf("PARTITIONS_BY_ORDINAL %q: partition %d on ordinal %d, want %d", byOrdinal, p, ordinal, p%replicas)
			}
		}
	}
	for p := range partitions {
		if _, ok := owner[p]; !ok {
			t.Errorf("PARTITIONS_BY_ORDINAL %q: partition %d read by no ordinal", byOrdinal, p)
		}
	}
	if explicit != nil {
		for i := range explicit {
			explicit[i] = slices.Sorted(slices.Values(explicit[i]))
		}
		for len(explicit) > 0 && len(explicit[len(explicit)-1]) == 0 {
			explicit = explicit[:len(explicit)-1]
		}
		if !slices.EqualFunc(lists, explicit, slices.Equal) {
			t.Errorf("PARTITIONS_BY_ORDINAL %q, want %v", byOrdinal, explicit)
		}
	}
}

// parseByOrdinal reads PARTITIONS_BY_ORDINAL with the package the consumer
// and the partition controller read it with, and requires the canonical
// form (what assignment.String writes): the chart writes nothing else.
func parseByOrdinal(s string) ([][]int, error) {
	a, err := assignment.ParseByOrdinal(s)
	if err != nil {
		return nil, err
	}
	if a.String() != s {
		return nil, fmt.Errorf("not in the canonical form %q", a.String())
	}
	lists := make([][]int, len(a))
	for i, parts := range a {
		lists[i] = []int{}
		for _, p := range parts {
			lists[i] = append(lists[i], int(p))
		}
	}
	return lists, nil
}

// checkKafka: the KRaft nodes (kafka.replicas) as the notes on Kafka on
// Kubernetes say.
func checkKafka(t *testing.T, m *manifest, fullname string, values chartValues) {
	t.Helper()
	name, headless := fullname+"-kafka", fullname+"-kafka-headless"
	brokers := values.intAt(t, "kafka.replicas")
	h := m.service(t, headless)
	if h.Spec.ClusterIP != corev1.ClusterIPNone || !h.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: want clusterIP None and publishNotReadyAddresses, got %q %v", headless, h.Spec.ClusterIP, h.Spec.PublishNotReadyAddresses)
	}
	bootstrap := m.service(t, name)
	if bootstrap.Spec.ClusterIP == corev1.ClusterIPNone || bootstrap.Spec.PublishNotReadyAddresses ||
		len(bootstrap.Spec.Ports) != 1 || bootstrap.Spec.Ports[0].Port != 9092 {
		t.Errorf("%s: want a normal ClusterIP service of ready brokers on 9092: %+v", name, bootstrap.Spec)
	}
	sts := m.statefulSet(t, name)
	if sts.Spec.ServiceName != headless || sts.Spec.Replicas == nil || int(*sts.Spec.Replicas) != brokers {
		t.Errorf("%s: serviceName %q replicas %v, want %s and kafka.replicas %d", name, sts.Spec.ServiceName, sts.Spec.Replicas, headless, brokers)
	}
	// A quorum elects only with a majority up: the pods start together.
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("%s: podManagementPolicy %q, want Parallel", name, sts.Spec.PodManagementPolicy)
	}
	spec := &sts.Spec.Template.Spec
	if spec.EnableServiceLinks == nil || *spec.EnableServiceLinks {
		t.Errorf("%s: enableServiceLinks must be false (KAFKA_PORT=tcp://... breaks the image)", name)
	}
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("%s: want one volumeClaimTemplate", name)
	}
	vct := sts.Spec.VolumeClaimTemplates[0]
	c := container(t, spec, "kafka")
	if c.Image != values.stringAt(t, "kafka.image.repository")+":"+values.stringAt(t, "kafka.image.tag") {
		t.Errorf("kafka image %q", c.Image)
	}
	dataMount := volumeMount(t, c, vct.Name)
	cfgMount := volumeMount(t, c, "config")
	for _, want := range []string{"/tmp", "/opt/kafka/logs"} {
		found := false
		for _, vm := range c.VolumeMounts {
			found = found || vm.MountPath == want
		}
		if !found {
			t.Errorf("%s: nothing writable mounted at %s (read-only root file system)", name, want)
		}
	}

	props := parseProperties(m.configMap(t, name).Data["server.properties"])
	for key, want := range wantKafkaProperties(brokers, fullname, values.stringAt(t, "clusterDomain")) {
		if props[key] != want {
			t.Errorf("server.properties %s = %q, want %q", key, props[key], want)
		}
	}
	for _, key := range []string{"advertised.listeners", "node.id"} {
		if _, ok := props[key]; ok {
			t.Errorf("server.properties sets %s; each pod gives its own at start", key)
		}
	}
	// Exactly the claim's mount, a subdirectory of the volume (whose root
	// may hold lost+found): TestKafkaImageVolumes says why exactly.
	if dirs := props["log.dirs"]; dirs != dataMount.MountPath || dataMount.SubPath == "" {
		t.Errorf("log.dirs %q is not one directory of the PVC, mounted there (mount %+v)", dirs, dataMount)
	}

	// The explicit start: this node's id into a copy of the configuration
	// (on a writable volume), format with the fixed cluster id, then the
	// broker with this pod's headless DNS name advertised. TestKafkaNodes
	// runs it.
	script := strings.Join(append(slices.Clone(c.Command), c.Args...), " ")
	cfgFile := cfgMount.MountPath + "/server.properties"
	nodeCfg := "/tmp/server.properties"
	for _, want := range []string{
		`{ cat ` + cfgFile + `; echo "node.id=$((POD_INDEX + 1))"; } >` + nodeCfg,
		"/opt/kafka/bin/kafka-storage.sh format --ignore-formatted",
		`-t "$KAFKA_CLUSTER_ID" -c ` + nodeCfg,
		"exec /opt/kafka/bin/kafka-server-start.sh " + nodeCfg,
		`--override "advertised.listeners=PLAINTEXT://${POD_NAME}.` + headless + `.${POD_NAMESPACE}.svc.cluster.local:9092"`,
	} {
		if !strings.Contains(script, want) {
			t.Errorf("kafka start script lacks %q:\n%s", want, script)
		}
	}
	if c.Command[0] != "/bin/sh" {
		t.Errorf("kafka command %q: want /bin/sh (the e2e image has no bash)", c.Command)
	}
	if got := envValue(t, c, "KAFKA_CLUSTER_ID"); got != values.stringAt(t, "kafka.clusterId") {
		t.Errorf("KAFKA_CLUSTER_ID %q, want the values' %q", got, values.stringAt(t, "kafka.clusterId"))
	}
	if got := envValue(t, c, "KAFKA_LOG4J_OPTS"); got != "-Dlog4j2.configurationFile="+cfgMount.MountPath+"/log4j2.properties" {
		t.Errorf("KAFKA_LOG4J_OPTS %q", got)
	}
	if _, ok := m.configMap(t, name).Data["log4j2.properties"]; !ok {
		t.Errorf("no log4j2.properties in the ConfigMap")
	}
	for e, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace",
		"POD_INDEX": "metadata.labels['apps.kubernetes.io/pod-index']"} {
		if v := env(t, c, e); v.ValueFrom == nil || v.ValueFrom.FieldRef == nil || v.ValueFrom.FieldRef.FieldPath != field {
			t.Errorf("%s must come from the downward API's %s, got %+v", e, field, v.ValueFrom)
		}
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(vm corev1.VolumeMount) bool { return vm.MountPath == path.Dir(nodeCfg) && !vm.ReadOnly }) {
		t.Errorf("%s: nothing writable at %s for the node's configuration", name, path.Dir(nodeCfg))
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.TCPSocket == nil || c.ReadinessProbe.TCPSocket.Port.String() != "kafka" {
		t.Errorf("kafka readiness probe %+v, want tcp on the client port", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.StartupProbe == nil {
		t.Errorf("kafka needs liveness and startup probes")
	}
	if _, ok := sts.Spec.Template.Annotations["checksum/config"]; !ok {
		t.Errorf("kafka pod template lacks checksum/config (a config change must restart the broker)")
	}
}

// chartValues are the coalesced values of a scenario (values.yaml + its own).
type chartValues chartutil.Values

func coalescedValues(t *testing.T, s scenario) chartValues {
	t.Helper()
	vals, err := chartutil.ReadValues([]byte(s.values))
	if err != nil {
		t.Fatal(err)
	}
	out, err := chartutil.CoalesceValues(loadWeatherChart(t), vals)
	if err != nil {
		t.Fatal(err)
	}
	return chartValues(out)
}

func (v chartValues) at(t *testing.T, p string) any {
	t.Helper()
	x, err := chartutil.Values(v).PathValue(p)
	if err != nil {
		t.Fatalf("value %s: %v", p, err)
	}
	return x
}

func (v chartValues) stringAt(t *testing.T, p string) string { return fmt.Sprint(v.at(t, p)) }
func (v chartValues) boolAt(t *testing.T, p string) bool     { return v.at(t, p) == true }
func (v chartValues) intAt(t *testing.T, p string) int {
	t.Helper()
	switch x := v.at(t, p).(type) {
	case float64:
		return int(x)
	case int64:
		return int(x)
	case int:
		return x
	}
	t.Fatalf("value %s is not a number", p)
	return 0
}

func TestBadValues(t *testing.T) {
	checkBadValues(t, slices.Concat(badValues, kafkaBadValues, brokersBadValues, policyBadValues))
}

// TestLint is `helm lint --strict` (warnings fail too) for the default values
// and every scenario's.
func TestLint(t *testing.T) {
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { lintChart(t, s.values) })
	}
}

// TestKindConfig decodes manifests/kind-config.yaml strictly into kind's own
// config type: one control-plane node on a node image pinned by digest.
func TestKindConfig(t *testing.T) {
	data, err := os.ReadFile("../manifests/kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg kindv1alpha4.Cluster
	if err := sigsyaml.UnmarshalStrict(data, &cfg); err != nil {
		t.Fatalf("kind-config.yaml: %v", err)
	}
	if cfg.Kind != "Cluster" || cfg.APIVersion != "kind.x-k8s.io/v1alpha4" {
		t.Errorf("kind %q apiVersion %q", cfg.Kind, cfg.APIVersion)
	}
	if len(cfg.Nodes) != 1 || cfg.Nodes[0].Role != kindv1alpha4.ControlPlaneRole {
		t.Fatalf("want exactly one control-plane node, got %+v", cfg.Nodes)
	}
	if img := cfg.Nodes[0].Image; !regexp.MustCompile(`^kindest/node:v1\.34\.[0-9]+@sha256:[0-9a-f]{64}$`).MatchString(img) {
		t.Errorf("node image %q: want kindest/node:v1.34.x pinned by digest", img)
	}
}
