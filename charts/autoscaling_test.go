package charts

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	sigsyaml "sigs.k8s.io/yaml"
)

// The template of consumer.autoscaling: KEDA's ScaledObject.
const scaledObjectTemplate = "weather/templates/consumer/scaledobject.yaml"

// renderAutoscaling renders the chart (as helm install, or with release and
// lookup answered by cluster when given) and returns the ScaledObjects (KEDA's
// kind is not in the Kubernetes scheme: as unstructured objects, decoded
// from YAML) apart from every other object, decoded strictly as always (but
// the Prometheus Operator's, left out).
func renderAutoscaling(t *testing.T, release, values string, opts *chartutil.ReleaseOptions, cluster engine.ClientProvider) (*manifest, []*unstructured.Unstructured, error) {
	t.Helper()
	var files map[string]string
	var err error
	if opts == nil && cluster == nil {
		files, err = renderChart(t, release, values)
	} else {
		files, err = renderRelease(t, loadWeatherChart(t), values, *opts, cluster)
	}
	if err != nil {
		return nil, nil, err
	}
	var scaled []*unstructured.Unstructured
	rest := map[string]string{notesFile: files[notesFile]}
	for _, d := range objectDocs(t, files) {
		var o map[string]any
		if err := sigsyaml.Unmarshal(d.yaml, &o); err != nil {
			t.Fatalf("%s: %v", d.file, err)
		}
		if o["kind"] == "ScaledObject" {
			if d.file != scaledObjectTemplate {
				t.Errorf("ScaledObject in %s, want it in %s", d.file, scaledObjectTemplate)
			}
			scaled = append(scaled, &unstructured.Unstructured{Object: o})
			continue
		}
		// The Prometheus Operator's objects: the monitoring tests' (they
		// are not in the Kubernetes scheme either).
		if av, _ := o["apiVersion"].(string); strings.HasPrefix(av, "monitoring.coreos.com/") {
			continue
		}
		rest[d.file] += "\n---\n" + string(d.yaml)
	}
	return decodeManifest(t, rest), scaled, nil
}

// Values that turn autoscaling on, for the other tests.
const autoscalingOn = `consumer: {autoscaling: {enabled: true}}`

// The ScaledObject's spec with the default values but the trigger, as YAML.
const defaultScaledObjectSpec = `
scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: %s-stats}
minReplicaCount: 1
maxReplicaCount: 4
pollingInterval: 30
cooldownPeriod: 600
advanced:
  restoreToOriginalReplicaCount: false
  horizontalPodAutoscalerConfig:
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 120
        selectPolicy: Max
        policies: [{type: Percent, value: 100, periodSeconds: 120}]
      scaleDown:
        stabilizationWindowSeconds: 600
        selectPolicy: Min
        policies: [{type: Pods, value: 1, periodSeconds: 300}]
`

func yamlMap(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := sigsyaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return m
}

// TestAutoscaling renders consumer.autoscaling: off by default (no
// ScaledObject, the StatefulSet's replicas from consumer.replicas); on, one
// ScaledObject on the consumers' StatefulSet with exactly the expected spec
// (the HPA behaviour, the Kafka scaler on the monitoring group or the
// Prometheus scaler on the lag metric, whose query Prometheus' parser reads),
// and a StatefulSet without replicas, which KEDA owns.
func TestAutoscaling(t *testing.T) {
	defaultBehavior := yamlMap(t, strings.ReplaceAll(defaultScaledObjectSpec, "%s", "weather"))
	for _, c := range []struct {
		name, release, values string
		spec                  map[string]any // nil: no ScaledObject
		triggers              string         // YAML of spec.triggers
		replicas              *int32         // the StatefulSet's
		query                 []*labels.Matcher
	}{
		{name: "off by default", replicas: ptrTo(int32(2))},
		{name: "off, replicas 3", values: `consumer: {replicas: 3, autoscaling: {enabled: false, maxReplicaCount: 100}}`, replicas: ptrTo(int32(3))},
		{name: "kafka scaler", values: autoscalingOn, spec: defaultBehavior, triggers: `
- type: kafka
  metadata:
    bootstrapServers: weather-kafka.weather-test.svc.cluster.local:9092
    consumerGroup: weather-stats
    topic: temperatures
    lagThreshold: "10000"
    activationLagThreshold: "0"
    offsetResetPolicy: earliest
`},
		{name: "kafka scaler, every option", release: "demo", values: `
topic: {name: reports, partitions: 12}
consumer:
  monitoringGroup: stats-lag
  autoscaling:
    enabled: true
    minReplicaCount: 0
    maxReplicaCount: 12
    lagThreshold: 250000
    activationLagThreshold: 50
    pollingInterval: 10
    cooldownPeriod: 120
    scaleUp: {stabilizationWindowSeconds: 0, periodSeconds: 30}
    scaleDown: {stabilizationWindowSeconds: 3600, periodSeconds: 1800}
`, spec: yamlMap(t, `
scaleTargetRef: {apiVersion: apps/v1, kind: StatefulSet, name: demo-weather-stats}
minReplicaCount: 0
maxReplicaCount: 12
pollingInterval: 10
cooldownPeriod: 120
advanced:
  restoreToOriginalReplicaCount: false
  horizontalPodAutoscalerConfig:
    behavior:
      scaleUp:
        stabilizationWindowSeconds: 0
        selectPolicy: Max
        policies: [{type: Percent, value: 100, periodSeconds: 30}]
      scaleDown:
        stabilizationWindowSeconds: 3600
        selectPolicy: Min
        policies: [{type: Pods, value: 1, periodSeconds: 1800}]
`), triggers: `
- type: kafka
  metadata:
    bootstrapServers: demo-weather-kafka.weather-test.svc.cluster.local:9092
    consumerGroup: stats-lag
    topic: reports
    lagThreshold: "250000"
    activationLagThreshold: "50"
    offsetResetPolicy: earliest
`},
		{name: "kafka scaler, external plaintext Kafka", values: `
kafka: {enabled: false}
externalKafka: {bootstrapServers: "b-1.kafka.example.com:9092,b-2.kafka.example.com:9092"}
consumer: {autoscaling: {enabled: true, maxReplicaCount: 2}}
`, spec: mergeSpec(t, defaultBehavior, `maxReplicaCount: 2`), triggers: `
- type: kafka
  metadata:
    bootstrapServers: b-1.kafka.example.com:9092,b-2.kafka.example.com:9092
    consumerGroup: weather-stats
    topic: temperatures
    lagThreshold: "10000"
    activationLagThreshold: "0"
    offsetResetPolicy: earliest
`},
		{name: "kafka scaler, external Kafka with TLS and SASL", values: `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: kafka.example.com:9093
  tls: {caSecret: {name: kafka-ca}}
  sasl: {mechanism: SCRAM-SHA-256, username: weather, passwordSecret: {name: kafka-password}}
consumer: {autoscaling: {enabled: true, authenticationRef: {name: keda-kafka, kind: ClusterTriggerAuthentication}}}
`, spec: defaultBehavior, triggers: `
- type: kafka
  metadata:
    bootstrapServers: kafka.example.com:9093
    consumerGroup: weather-stats
    topic: temperatures
    lagThreshold: "10000"
    activationLagThreshold: "0"
    offsetResetPolicy: earliest
    tls: enable
    sasl: scram_sha256
  authenticationRef: {name: keda-kafka, kind: ClusterTriggerAuthentication}
`},
		{name: "prometheus scaler", values: `
metrics: {serviceMonitor: {enabled: true}}
consumer: {autoscaling: {enabled: true, lagThreshold: 5000, activationLagThreshold: 10, prometheus: {serverAddress: "http://prometheus-operated.monitoring.svc:9090"}}}
`, spec: defaultBehavior, triggers: `
- type: prometheus
  metadata:
    serverAddress: http://prometheus-operated.monitoring.svc:9090
    query: sum(max by (partition) (weather_consumer_lag_records{namespace="weather-test", weather_release="weather"}))
    threshold: "5000"
    activationThreshold: "10"
`, query: []*labels.Matcher{
			labels.MustNewMatcher(labels.MatchEqual, "namespace", "weather-test"),
			labels.MustNewMatcher(labels.MatchEqual, "weather_release", "weather"),
			labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "weather_consumer_lag_records"),
		}},
		{name: "prometheus scaler, own query and credentials", release: "demo", values: `
consumer:
  autoscaling:
    enabled: true
    authenticationRef: {name: prometheus-bearer}
    prometheus:
      serverAddress: https://thanos.example.com
      query: sum(weather_consumer_lag_records{job="stats"})
`, spec: yamlMap(t, strings.ReplaceAll(defaultScaledObjectSpec, "%s", "demo-weather")), triggers: `
- type: prometheus
  metadata:
    serverAddress: https://thanos.example.com
    query: sum(weather_consumer_lag_records{job="stats"})
    threshold: "10000"
    activationThreshold: "0"
  authenticationRef: {name: prometheus-bearer, kind: TriggerAuthentication}
`, query: []*labels.Matcher{
			labels.MustNewMatcher(labels.MatchEqual, "job", "stats"),
			labels.MustNewMatcher(labels.MatchEqual, model.MetricNameLabel, "weather_consumer_lag_records"),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			release := cmpOr(c.release, "weather")
			m, scaled, err := renderAutoscaling(t, release, c.values, nil, nil)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			fullname := release
			if !strings.Contains(release, "weather") {
				fullname = release + "-weather"
			}
			sts := m.statefulSet(t, fullname+consumerSuffix)
			if !reflect.DeepEqual(sts.Spec.Replicas, c.replicas) {
				t.Errorf("StatefulSet replicas %v, want %v", derefOr(sts.Spec.Replicas), derefOr(c.replicas))
			}
			// The NOTES say who scales the consumers, and how to watch it.
			for _, want := range []string{"(KEDA: scaledobject/" + sts.Name + ")", "kubectl -n weather-test get scaledobject,hpa"} {
				if got := strings.Contains(m.notes, want); got != (c.spec != nil) {
					t.Errorf("NOTES.txt has %q: %v, want %v:\n%s", want, got, c.spec != nil, m.notes)
				}
			}
			if c.spec == nil {
				if len(scaled) != 0 {
					t.Fatalf("%d ScaledObjects rendered, want none", len(scaled))
				}
				return
			}
			if len(scaled) != 1 {
				t.Fatalf("%d ScaledObjects rendered, want 1", len(scaled))
			}
			so := scaled[0]
			if so.GetAPIVersion() != "keda.sh/v1alpha1" || so.GetName() != fullname+consumerSuffix || so.GetNamespace() != "" {
				t.Errorf("ScaledObject %s %s/%s, want keda.sh/v1alpha1 %s in the release's namespace", so.GetAPIVersion(), so.GetNamespace(), so.GetName(), fullname+consumerSuffix)
			}
			if l := so.GetLabels(); l["app.kubernetes.io/component"] != "consumer" || l["app.kubernetes.io/instance"] != release ||
				l["helm.sh/chart"] != "weather-0.2.0" || l["app.kubernetes.io/managed-by"] != "Helm" {
				t.Errorf("ScaledObject labels %v, want the chart's, component consumer", l)
			}
			spec, _ := so.Object["spec"].(map[string]any)
			want := maps.Clone(c.spec)
			var triggers []any
			if err := sigsyaml.Unmarshal([]byte(c.triggers), &triggers); err != nil {
				t.Fatal(err)
			}
			want["triggers"] = triggers
			if !reflect.DeepEqual(spec, want) {
				got, _ := sigsyaml.Marshal(spec)
				exp, _ := sigsyaml.Marshal(want)
				t.Errorf("ScaledObject spec\n got:\n%s\nwant:\n%s", got, exp)
			}
			// The target is the StatefulSet the chart renders.
			if ref, _ := spec["scaleTargetRef"].(map[string]any); ref["name"] != sts.Name || ref["kind"] != "StatefulSet" {
				t.Errorf("scaleTargetRef %v, want StatefulSet %s", ref, sts.Name)
			}
			if c.query != nil {
				checkLagQuery(t, spec, c.query)
			}
		})
	}
}

// checkLagQuery parses the Prometheus trigger's query with Prometheus' own
// parser: one selector of weather_consumer_lag_records, with these matchers.
func checkLagQuery(t *testing.T, spec map[string]any, want []*labels.Matcher) {
	t.Helper()
	trigger := spec["triggers"].([]any)[0].(map[string]any)
	q, _ := trigger["metadata"].(map[string]any)["query"].(string)
	expr, err := parser.ParseExpr(q)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	var selectors [][]*labels.Matcher
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			selectors = append(selectors, vs.LabelMatchers)
		}
		return nil
	})
	str := func(ms []*labels.Matcher) []string {
		var s []string
		for _, m := range ms {
			s = append(s, m.String())
		}
		slices.Sort(s)
		return s
	}
	if len(selectors) != 1 || !slices.Equal(str(selectors[0]), str(want)) {
		t.Errorf("query %q selects %v, want one selector %v", q, selectors, str(want))
	}
}

func mergeSpec(t *testing.T, base map[string]any, overlay string) map[string]any {
	t.Helper()
	out := maps.Clone(base)
	maps.Copy(out, yamlMap(t, overlay))
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func derefOr(p *int32) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// TestAutoscalingKeepsTheLiveReplicas renders the StatefulSet as helm
// upgrade does, lookup answered from a fake cluster: with autoscaling on, an
// upgrade renders the live count (KEDA's; an upgrade that dropped the field
// would reset it to 1), an install none; off, consumer.replicas again.
func TestAutoscalingKeepsTheLiveReplicas(t *testing.T) {
	live := func(replicas int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": "weather-stats", "namespace": namespace},
			"spec": map[string]any{"replicas": replicas, "template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "consumer", "env": []any{map[string]any{"name": "PARTITIONS_BY_ORDINAL", "value": "0;1;2"}}},
			}}}},
		}}
	}
	upgrade := chartutil.ReleaseOptions{Name: "weather", Namespace: namespace, Revision: 2, IsUpgrade: true}
	install := chartutil.ReleaseOptions{Name: "weather", Namespace: namespace, Revision: 1, IsInstall: true}
	for _, c := range []struct {
		name     string
		values   string
		release  chartutil.ReleaseOptions
		objects  []runtime.Object
		replicas *int32
	}{
		{"upgrade, autoscaling on: KEDA's 3 kept", autoscalingOn, upgrade, []runtime.Object{live(3)}, ptrTo(int32(3))},
		{"upgrade, autoscaling on, scaled to 0: kept", `consumer: {autoscaling: {enabled: true, minReplicaCount: 0}}`, upgrade, []runtime.Object{live(0)}, ptrTo(int32(0))},
		{"install, autoscaling on: none", autoscalingOn, install, nil, nil},
		{"upgrade, autoscaling off: consumer.replicas", `consumer: {replicas: 2}`, upgrade, []runtime.Object{live(3)}, ptrTo(int32(2))},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _, err := renderAutoscaling(t, "weather", c.values, &c.release, fakeCluster(c.objects...))
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			sts := m.statefulSet(t, "weather"+consumerSuffix)
			if !reflect.DeepEqual(sts.Spec.Replicas, c.replicas) {
				t.Errorf("StatefulSet replicas %v, want %v", derefOr(sts.Spec.Replicas), derefOr(c.replicas))
			}
		})
	}
}

// Values of consumer.autoscaling the chart must refuse.
var autoscalingBadValues = []badValue{
	{"autoscaling max above the partitions", `consumer: {autoscaling: {enabled: true, maxReplicaCount: 5}}`,
		"consumer.autoscaling.maxReplicaCount is 5, but topic.partitions is 4: a consumer beyond the partition count would hold no partition; use at most 4", false},
	{"autoscaling max above fewer partitions", `{topic: {partitions: 2}, consumer: {replicas: 1, autoscaling: {enabled: true}}}`,
		"consumer.autoscaling.maxReplicaCount is 4, but topic.partitions is 2", false},
	{"autoscaling min above max", `consumer: {autoscaling: {enabled: true, minReplicaCount: 3, maxReplicaCount: 2}}`,
		"consumer.autoscaling.minReplicaCount (3) is above maxReplicaCount (2)", false},
	{"autoscaling without the controller", `{controller: {enabled: false}, consumer: {autoscaling: {enabled: true}}}`,
		"consumer.autoscaling needs the partition controller (controller.enabled)", false},
	{"autoscaling prometheus scaled to zero", `{metrics: {podMonitor: {enabled: true}}, consumer: {autoscaling: {enabled: true, minReplicaCount: 0, prometheus: {serverAddress: "http://p:9090"}}}}`,
		"minReplicaCount is 0 with the Prometheus scaler", false},
	{"autoscaling prometheus without the release label", `consumer: {autoscaling: {enabled: true, prometheus: {serverAddress: "http://p:9090"}}}`,
		"enable metrics.serviceMonitor or metrics.podMonitor, or set consumer.autoscaling.prometheus.query", false},
	{"autoscaling secured external Kafka without credentials", `
kafka: {enabled: false}
externalKafka: {bootstrapServers: "k:9093", tls: {enabled: true}}
consumer: {autoscaling: {enabled: true}}`, "needs its credentials: create a TriggerAuthentication", false},
	// The schema: types and minimums.
	{"autoscaling enabled not a boolean", `consumer: {autoscaling: {enabled: "yes"}}`, "/consumer/autoscaling/enabled", true},
	{"autoscaling unknown key", `consumer: {autoscaling: {maxReplicas: 3}}`, "maxReplicas", true},
	{"autoscaling min negative", `consumer: {autoscaling: {minReplicaCount: -1}}`, "/consumer/autoscaling/minReplicaCount", true},
	{"autoscaling max 0", `consumer: {autoscaling: {maxReplicaCount: 0}}`, "/consumer/autoscaling/maxReplicaCount", true},
	{"autoscaling max not a number", `consumer: {autoscaling: {maxReplicaCount: four}}`, "/consumer/autoscaling/maxReplicaCount", true},
	{"autoscaling max fractional", `consumer: {autoscaling: {maxReplicaCount: 2.5}}`, "/consumer/autoscaling/maxReplicaCount", true},
	{"autoscaling lagThreshold 0", `consumer: {autoscaling: {lagThreshold: 0}}`, "/consumer/autoscaling/lagThreshold", true},
	{"autoscaling lagThreshold a string", `consumer: {autoscaling: {lagThreshold: "100"}}`, "/consumer/autoscaling/lagThreshold", true},
	{"autoscaling activation negative", `consumer: {autoscaling: {activationLagThreshold: -1}}`, "/consumer/autoscaling/activationLagThreshold", true},
	{"autoscaling pollingInterval 0", `consumer: {autoscaling: {pollingInterval: 0}}`, "/consumer/autoscaling/pollingInterval", true},
	{"autoscaling pollingInterval a duration", `consumer: {autoscaling: {pollingInterval: 30s}}`, "/consumer/autoscaling/pollingInterval", true},
	{"autoscaling cooldown negative", `consumer: {autoscaling: {cooldownPeriod: -1}}`, "/consumer/autoscaling/cooldownPeriod", true},
	{"autoscaling scale-down window over an hour", `consumer: {autoscaling: {scaleDown: {stabilizationWindowSeconds: 3601}}}`, "/consumer/autoscaling/scaleDown/stabilizationWindowSeconds", true},
	{"autoscaling scale-up period 0", `consumer: {autoscaling: {scaleUp: {periodSeconds: 0}}}`, "/consumer/autoscaling/scaleUp/periodSeconds", true},
	{"autoscaling scale-down period over 30 minutes", `consumer: {autoscaling: {scaleDown: {periodSeconds: 1801}}}`, "/consumer/autoscaling/scaleDown/periodSeconds", true},
	{"autoscaling bad authentication kind", `consumer: {autoscaling: {authenticationRef: {kind: Secret}}}`, "/consumer/autoscaling/authenticationRef/kind", true},
	{"autoscaling bad authentication name", `consumer: {autoscaling: {authenticationRef: {name: My_Auth}}}`, "/consumer/autoscaling/authenticationRef/name", true},
	{"autoscaling prometheus address without a scheme", `consumer: {autoscaling: {prometheus: {serverAddress: "prometheus:9090"}}}`, "/consumer/autoscaling/prometheus/serverAddress", true},
}

// TestAutoscalingBadValues: each bad value is refused, by the schema or by
// the template, with a message that says what to do.
func TestAutoscalingBadValues(t *testing.T) {
	checkBadValues(t, autoscalingBadValues)
}

// autoscalingLintValues are value sets with autoscaling on, for helm lint
// and the server-side dry run.
var autoscalingLintValues = map[string]string{
	"kafka scaler": autoscalingOn,
	"kafka scaler, scale to zero, 12 partitions": `{topic: {partitions: 12}, consumer: {autoscaling: {enabled: true, minReplicaCount: 0, maxReplicaCount: 12, activationLagThreshold: 100}}}`,
	"kafka scaler, secured external Kafka": `
kafka: {enabled: false}
externalKafka:
  bootstrapServers: kafka.example.com:9093
  tls: {caSecret: {name: kafka-ca}, clientCertSecret: {name: kafka-client}}
  sasl: {mechanism: SCRAM-SHA-512, username: weather, passwordSecret: {name: kafka-password}}
consumer: {autoscaling: {enabled: true, authenticationRef: {name: keda-kafka}}}`,
	"prometheus scaler": `{metrics: {podMonitor: {enabled: true}}, consumer: {autoscaling: {enabled: true, prometheus: {serverAddress: "http://prometheus-operated.monitoring:9090"}}}}`,
}

// TestAutoscalingLint is helm lint --strict with autoscaling on.
func TestAutoscalingLint(t *testing.T) {
	for name, values := range autoscalingLintValues {
		t.Run(name, func(t *testing.T) { lintChart(t, values) })
	}
}
