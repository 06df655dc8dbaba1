package charts

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

// The chart's workload components, each with the pod knobs of values.yaml.
var workloadComponents = []string{"kafka", "producer", "consumer", "debug", "dashboard", "controller"}

// The policy scenarios also go through every check of chart_test.go
// (TestRender, TestLint) and the server-side dry run (envtest_test.go).
var policyScenarios = []scenario{
	{name: "policies-all-on", values: policiesAllOn, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "ConfigMap/weather-kafka", "Service/weather-kafka", "Service/weather-kafka-headless",
			"StatefulSet/weather-kafka", "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "Deployment/weather-debug",
			"Deployment/weather-dashboard", "Service/weather-dashboard",
			"ServiceAccount/weather-controller", "Role/weather-controller", "RoleBinding/weather-controller", "ClusterRole/weather-test-weather-controller", "ClusterRoleBinding/weather-test-weather-controller",
			"Deployment/weather-controller",
			"PodDisruptionBudget/weather-stats", "PodDisruptionBudget/weather-kafka", "Pod/weather-test",
			"NetworkPolicy/weather-kafka", "NetworkPolicy/weather-producer", "NetworkPolicy/weather-consumer",
			"NetworkPolicy/weather-debug", "NetworkPolicy/weather-dashboard", "NetworkPolicy/weather-controller",
			"NetworkPolicy/weather-test")
	}},
	{name: "policies-external-kafka", values: externalKafkaPolicies, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "Deployment/weather-debug",
			"Deployment/weather-dashboard", "Service/weather-dashboard",
			"ServiceAccount/weather-controller", "Role/weather-controller", "RoleBinding/weather-controller", "ClusterRole/weather-test-weather-controller", "ClusterRoleBinding/weather-test-weather-controller",
			"Deployment/weather-controller", "PodDisruptionBudget/weather-stats", "Pod/weather-test",
			"NetworkPolicy/weather-producer", "NetworkPolicy/weather-consumer", "NetworkPolicy/weather-debug",
			"NetworkPolicy/weather-dashboard", "NetworkPolicy/weather-controller", "NetworkPolicy/weather-test")
	}},
	{name: "policies-services-only", values: servicesOnlyPolicies, check: func(t *testing.T, m *manifest) {
		m.wantKinds(t, "ConfigMap/weather-kafka", "Service/weather-kafka", "Service/weather-kafka-headless",
			"StatefulSet/weather-kafka", "Deployment/weather-producer", "Service/weather-stats", "StatefulSet/weather-stats", "PodDisruptionBudget/weather-stats",
			"NetworkPolicy/weather-kafka", "NetworkPolicy/weather-producer", "NetworkPolicy/weather-consumer")
	}},
}

func init() { scenarios = append(scenarios, policyScenarios...) }

// An external Kafka on two ports (one listed twice), in one address block.
const externalKafkaPolicies = `
kafka: {enabled: false}
externalKafka: {bootstrapServers: "b-1.kafka.example.com:9096,b-2.kafka.example.com:9094,b-3.kafka.example.com:9096"}
networkPolicy:
  enabled: true
  externalKafkaTo: [{ipBlock: {cidr: 192.0.2.0/24}}]
`

// Only the producer, the consumers and Kafka.
const servicesOnlyPolicies = `
networkPolicy: {enabled: true}
debug: {enabled: false}
dashboard: {enabled: false}
controller: {enabled: false}
kafka: {podDisruptionBudget: {enabled: false}}
consumer: {podDisruptionBudget: {maxUnavailable: 50%}}
`

// policiesAllOn: every pod knob of every component set, and every policy on.
var policiesAllOn = func() string {
	var b strings.Builder
	b.WriteString(`
networkPolicy:
  enabled: true
  dashboardFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ingress}}}]
  kafkaClients: [{podSelector: {matchLabels: {app: kafka-exporter}}}]
  apiServer: {to: [{ipBlock: {cidr: 198.51.100.0/24}}], ports: [6443]}
`)
	for _, c := range workloadComponents {
		b.WriteString(knobValues(c))
	}
	return b.String()
}()

// knobValues sets every pod knob of component c to a value naming c.
func knobValues(c string) string {
	return fmt.Sprintf(`
%[1]s:
  nodeSelector: {weather.io/pool: %[1]s}
  tolerations: [{key: weather.io/dedicated, operator: Equal, value: %[1]s, effect: NoSchedule}]
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms: [{matchExpressions: [{key: weather.io/pool, operator: In, values: [%[1]s]}]}]
  topologySpreadConstraints:
    - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}
    - {maxSkew: 2, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {weather.io/spread: %[1]s}}}
  priorityClassName: weather-%[1]s
  podLabels: {weather.io/team: %[1]s}
  podAnnotations: {weather.io/owner: %[1]s}
`, c)
}

// podTemplate is a workload's pod template metadata.
func podTemplate(t *testing.T, w workload) metav1.ObjectMeta {
	t.Helper()
	switch o := w.obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.ObjectMeta
	case *appsv1.StatefulSet:
		return o.Spec.Template.ObjectMeta
	}
	t.Fatalf("%s: not a Deployment or StatefulSet", w.name)
	return metav1.ObjectMeta{}
}

// TestPodKnobs sets every pod knob on one component at a time and checks
// that exactly that component's pods get each of them, as given, and no
// other workload gets any; with the defaults no workload has any.
func TestPodKnobs(t *testing.T) {
	for _, target := range append([]string{""}, workloadComponents...) {
		name := "defaults"
		values := ""
		if target != "" {
			name, values = target, knobValues(target)
		}
		t.Run(name, func(t *testing.T) {
			s := scenario{name: "knobs-" + name, values: values}
			m := renderObjects(t, s)
			checkCommon(t, m, s)
			seen := map[string]bool{}
			for _, w := range m.workloads() {
				seen[w.component] = true
				checkKnobs(t, w, podTemplate(t, w), w.component == target)
			}
			for _, c := range workloadComponents {
				if !seen[c] {
					t.Errorf("no workload of component %s rendered", c)
				}
			}
		})
	}
}

func checkKnobs(t *testing.T, w workload, tmpl metav1.ObjectMeta, set bool) {
	t.Helper()
	spec, c := w.podSpec, w.component
	if !set {
		// The stats consumers' one default: spread over the nodes where
		// they can (ScheduleAnyway), over their own pods.
		var wantSpread []corev1.TopologySpreadConstraint
		if c == "consumer" {
			wantSpread = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname",
				WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: &metav1.LabelSelector{MatchLabels: w.selector}}}
		}
		if !reflect.DeepEqual(spec.TopologySpreadConstraints, wantSpread) {
			t.Errorf("%s: topologySpreadConstraints %+v without its values, want %+v", w.name, spec.TopologySpreadConstraints, wantSpread)
		}
		if spec.NodeSelector != nil || spec.Tolerations != nil || spec.Affinity != nil || spec.PriorityClassName != "" {
			t.Errorf("%s: scheduling set without its values: nodeSelector %v tolerations %v affinity %v priority %q",
				w.name, spec.NodeSelector, spec.Tolerations, spec.Affinity, spec.PriorityClassName)
		}
		for k := range tmpl.Labels {
			if strings.HasPrefix(k, "weather.io/") {
				t.Errorf("%s: pod label %s without its values", w.name, k)
			}
		}
		for k := range tmpl.Annotations {
			if k != "checksum/config" || c != "kafka" {
				t.Errorf("%s: pod annotation %s without its values", w.name, k)
			}
		}
		return
	}
	if want := map[string]string{"weather.io/pool": c}; !maps.Equal(spec.NodeSelector, want) {
		t.Errorf("%s: nodeSelector %v, want %v", w.name, spec.NodeSelector, want)
	}
	wantTol := []corev1.Toleration{{Key: "weather.io/dedicated", Operator: corev1.TolerationOpEqual, Value: c, Effect: corev1.TaintEffectNoSchedule}}
	if !reflect.DeepEqual(spec.Tolerations, wantTol) {
		t.Errorf("%s: tolerations %+v, want %+v", w.name, spec.Tolerations, wantTol)
	}
	wantAff := &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "weather.io/pool", Operator: corev1.NodeSelectorOpIn, Values: []string{c}}},
		}}},
	}}
	if !reflect.DeepEqual(spec.Affinity, wantAff) {
		t.Errorf("%s: affinity %+v, want %+v", w.name, spec.Affinity, wantAff)
	}
	// A constraint without a labelSelector spreads the component's own pods
	// (its selector: stable across upgrades); one with a selector keeps it.
	wantTSC := []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: w.selector}},
		{MaxSkew: 2, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"weather.io/spread": c}}},
	}
	if !reflect.DeepEqual(spec.TopologySpreadConstraints, wantTSC) {
		t.Errorf("%s: topologySpreadConstraints %+v, want %+v", w.name, spec.TopologySpreadConstraints, wantTSC)
	}
	if sel := labels.SelectorFromSet(spec.TopologySpreadConstraints[0].LabelSelector.MatchLabels); !sel.Matches(labels.Set(tmpl.Labels)) {
		t.Errorf("%s: the filled-in spread selector %v does not select its own pods %v", w.name, sel, tmpl.Labels)
	}
	if spec.PriorityClassName != "weather-"+c {
		t.Errorf("%s: priorityClassName %q, want weather-%s", w.name, spec.PriorityClassName, c)
	}
	// podLabels on the pods only: not in the (immutable) selector, not on the workload.
	if tmpl.Labels["weather.io/team"] != c {
		t.Errorf("%s: pod labels %v lack weather.io/team=%s", w.name, tmpl.Labels, c)
	}
	if _, ok := w.selector["weather.io/team"]; ok {
		t.Errorf("%s: podLabels went into the selector", w.name)
	}
	if _, ok := w.obj.GetLabels()["weather.io/team"]; ok {
		t.Errorf("%s: podLabels went onto the workload", w.name)
	}
	for k, v := range w.selector {
		if tmpl.Labels[k] != v {
			t.Errorf("%s: pod label %s = %q, the selector's %q", w.name, k, tmpl.Labels[k], v)
		}
	}
	if tmpl.Annotations["weather.io/owner"] != c {
		t.Errorf("%s: pod annotations %v lack weather.io/owner=%s", w.name, tmpl.Annotations, c)
	}
	if _, ok := tmpl.Annotations["checksum/config"]; c == "kafka" && !ok {
		t.Errorf("%s: podAnnotations replaced the chart's checksum/config: %v", w.name, tmpl.Annotations)
	}
}

// policyBadValues are values of this file's knobs the chart must refuse, as
// TestBadValues does for the rest.
// policyBadValues join badValues in TestBadValues.
var policyBadValues = []badValue{
	{"podLabels replaces a chart label", `consumer: {podLabels: {app.kubernetes.io/component: x}}`, "consumer.podLabels: app.kubernetes.io/component is a label the chart sets itself", false},
	{"podAnnotations replaces the config checksum", `kafka: {podAnnotations: {checksum/config: x}}`, "kafka.podAnnotations: checksum/config is an annotation the chart sets itself", false},
	{"podLabels value not a string", `producer: {podLabels: {team: 7}}`, "/producer/podLabels/team", true},
	{"podLabels bad key", `producer: {podLabels: {"a b": x}}`, "invalid propertyName 'a b'", true},
	{"nodeSelector not a map", `debug: {nodeSelector: ssd}`, "/debug/nodeSelector", true},
	{"toleration unknown key", `dashboard: {tolerations: [{key: a, operater: Exists}]}`, "operater", true},
	{"toleration bad effect", `controller: {tolerations: [{key: a, operator: Exists, effect: Sometimes}]}`, "/controller/tolerations/0/effect", true},
	{"affinity unknown kind", `kafka: {affinity: {podAffinityy: {}}}`, "podAffinityy", true},
	{"spread without topologyKey", `consumer: {topologySpreadConstraints: [{maxSkew: 1, whenUnsatisfiable: DoNotSchedule}]}`, "topologyKey", true},
	{"spread bad whenUnsatisfiable", `consumer: {topologySpreadConstraints: [{maxSkew: 1, topologyKey: z, whenUnsatisfiable: Never}]}`, "whenUnsatisfiable", true},
	{"priorityClassName not a name", `producer: {priorityClassName: "High Prio"}`, "/producer/priorityClassName", true},
	{"consumer PDB not a number", `consumer: {podDisruptionBudget: {maxUnavailable: lots}}`, "/consumer/podDisruptionBudget/maxUnavailable", true},
	{"consumer PDB negative", `consumer: {podDisruptionBudget: {maxUnavailable: -1}}`, "/consumer/podDisruptionBudget/maxUnavailable", true},
	{"consumer PDB minAvailable", `consumer: {podDisruptionBudget: {minAvailable: 1}}`, "minAvailable", true},
	{"kafka PDB maxUnavailable", `kafka: {podDisruptionBudget: {maxUnavailable: 1}}`, "maxUnavailable", true},
	{"networkPolicy unknown key", `networkPolicy: {enable: true}`, "enable", true},
	{"networkPolicy peer unknown key", `networkPolicy: {dashboardFrom: [{podSelectorr: {}}]}`, "podSelectorr", true},
	{"networkPolicy empty peer", `networkPolicy: {kafkaClients: [{}]}`, "/networkPolicy/kafkaClients/0", true},
	{"networkPolicy no DNS", `networkPolicy: {dnsTo: []}`, "/networkPolicy/dnsTo", true},
	{"networkPolicy API port 0", `networkPolicy: {apiServer: {ports: [0]}}`, "/networkPolicy/apiServer/ports/0", true},
	{"helmTest negative maxLag", `helmTest: {maxLag: -1}`, "/helmTest/maxLag", true},
	{"helmTest timeout 0", `helmTest: {timeout: "0"}`, "/helmTest/timeout", true},
	{"helmTest timeout not a duration", `helmTest: {timeout: soon}`, "/helmTest/timeout", true},
	{"helmTest unknown key", `helmTest: {maxlag: 5}`, "maxlag", true},
}

// TestPodDisruptionBudgets: each PDB is there exactly when its values say,
// selects the pods of its own workload and no other pod of the release, and
// has the budget of the values (the consumers' maxUnavailable, the broker's
// minAvailable, never both) and lets unhealthy pods go.
func TestPodDisruptionBudgets(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		// component -> the budget, "" for no PDB
		consumer, kafka, dashboard string
	}{
		{"defaults", "", "max 1", "min 1", ""},
		{"consumer off", `consumer: {podDisruptionBudget: {enabled: false}}`, "", "min 1", ""},
		{"kafka off", `kafka: {podDisruptionBudget: {enabled: false}}`, "max 1", "", ""},
		{"both off", `{consumer: {podDisruptionBudget: {enabled: false}}, kafka: {podDisruptionBudget: {enabled: false}}}`, "", "", ""},
		{"percentage", `consumer: {podDisruptionBudget: {maxUnavailable: 50%}}`, "max 50%", "min 1", ""},
		{"external kafka", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9092"}}`, "max 1", "", ""},
		{"more replicas", `consumer: {replicas: 4, podDisruptionBudget: {maxUnavailable: 2}}`, "max 2", "min 1", ""},
		// Three or more brokers at replication factor 3, min ISR 2: one at a time.
		{"three brokers", `kafka: {replicas: 3}`, "max 1", "max 1", ""},
		{"five brokers", `kafka: {replicas: 5}`, "max 1", "max 1", ""},
		{"three brokers, budget off", `kafka: {replicas: 3, podDisruptionBudget: {enabled: false}}`, "max 1", "", ""},
		// Dashboards keep no state: with two or more, one at a time by
		// default; with one, no budget (it would protect nothing or block
		// every drain).
		{"two dashboards", `dashboard: {replicas: 2}`, "max 1", "min 1", "max 1"},
		{"three dashboards, two at a time", `dashboard: {replicas: 3, podDisruptionBudget: {maxUnavailable: 2}}`, "max 1", "min 1", "max 2"},
		{"dashboards, budget off", `dashboard: {replicas: 3, podDisruptionBudget: {enabled: false}}`, "max 1", "min 1", ""},
		{"dashboards off", `dashboard: {enabled: false, replicas: 3}`, "max 1", "min 1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scenario{name: "pdb-" + tc.name, values: tc.values}
			m := renderObjects(t, s)
			checkCommon(t, m, s)
			pdbs := map[string]*policyv1.PodDisruptionBudget{}
			for _, o := range m.objects {
				if p, ok := o.obj.(*policyv1.PodDisruptionBudget); ok {
					pdbs[p.Labels["app.kubernetes.io/component"]] = p
				}
			}
			for component, want := range map[string]string{"consumer": tc.consumer, "kafka": tc.kafka, "dashboard": tc.dashboard} {
				p := pdbs[component]
				delete(pdbs, component)
				if want == "" {
					if p != nil {
						t.Errorf("PodDisruptionBudget %s rendered, want none", p.Name)
					}
					continue
				}
				if p == nil {
					t.Errorf("no PodDisruptionBudget for %s", component)
					continue
				}
				if got := budget(p); got != want {
					t.Errorf("%s: budget %q, want %q", p.Name, got, want)
				}
				if p.Spec.UnhealthyPodEvictionPolicy == nil || *p.Spec.UnhealthyPodEvictionPolicy != policyv1.AlwaysAllow {
					t.Errorf("%s: unhealthyPodEvictionPolicy %v, want AlwaysAllow", p.Name, p.Spec.UnhealthyPodEvictionPolicy)
				}
				sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
				if err != nil || sel.Empty() {
					t.Fatalf("%s: selector %v: %v", p.Name, p.Spec.Selector, err)
				}
				for _, w := range m.workloads() {
					if got := sel.Matches(labels.Set(w.podLabels)); got != (w.component == component) {
						t.Errorf("%s: selects the pods of %s: %v", p.Name, w.name, got)
					}
				}
				for _, pod := range m.pods() {
					if sel.Matches(labels.Set(pod.Labels)) {
						t.Errorf("%s: selects pod %s", p.Name, pod.Name)
					}
				}
			}
			for c, p := range pdbs {
				t.Errorf("unexpected PodDisruptionBudget %s (component %s)", p.Name, c)
			}
		})
	}
}

// budget: "max N" or "min N", or what is wrong.
func budget(p *policyv1.PodDisruptionBudget) string {
	switch min, max := p.Spec.MinAvailable, p.Spec.MaxUnavailable; {
	case min != nil && max != nil:
		return "both minAvailable and maxUnavailable"
	case max != nil:
		return "max " + max.String()
	case min != nil:
		return "min " + min.String()
	}
	return "none"
}

func (m *manifest) pods() []*corev1.Pod {
	var pods []*corev1.Pod
	for _, o := range m.objects {
		if p, ok := o.obj.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods
}

// TestHelmTestPod: the helm test hook is a pod exactly when helmTest and
// the dashboard are on; it runs the dashboard image's `check` against the
// dashboard Service the chart renders (its name and port), with the values'
// bound and timeout, hardened exactly as the dashboard, and never restarts.
func TestHelmTestPod(t *testing.T) {
	for _, tc := range []struct {
		name, release, values string
		want                  []string // the command; nil: no test pod
	}{
		{"defaults", "", "", []string{"/dashboard", "check", "-url", "http://weather-dashboard:80", "-max-lag", "1000", "-timeout", "2m"}},
		{"values", "demo", `{helmTest: {maxLag: 50, timeout: 90s}, dashboard: {service: {port: 8088}, image: {repository: r.example.com/c, tag: "9"}}}`,
			[]string{"/dashboard", "check", "-url", "http://demo-weather-dashboard:8088", "-max-lag", "50", "-timeout", "90s"}},
		{"helmTest off", "", `helmTest: {enabled: false}`, nil},
		{"dashboard off", "", `dashboard: {enabled: false}`, nil},
		// HTTP to the dashboard only: a secured external Kafka changes nothing.
		{"external kafka", "", `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k:9096", tls: {caSecret: {name: ca}, clientCertSecret: {name: c}},
			sasl: {mechanism: PLAIN, username: u, passwordSecret: {name: pw}}}}`,
			[]string{"/dashboard", "check", "-url", "http://weather-dashboard:80", "-max-lag", "1000", "-timeout", "2m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := scenario{name: "helm-test-" + tc.name, release: tc.release, values: tc.values}
			m := renderObjects(t, s)
			checkCommon(t, m, s)
			pods := m.pods()
			release := s.releaseName()
			notes := "helm -n " + namespace + " test " + release + " --logs"
			if got := strings.Contains(m.notes, notes); got != (tc.want != nil) {
				t.Errorf("NOTES.txt tells %q: %v, want %v:\n%s", notes, got, tc.want != nil, m.notes)
			}
			if tc.want == nil {
				if len(pods) != 0 {
					t.Fatalf("test pods rendered: %v", m.names())
				}
				return
			}
			if len(pods) != 1 {
				t.Fatalf("%d pods rendered, want the test pod: %v", len(pods), m.names())
			}
			pod := pods[0]
			if pod.Annotations["helm.sh/hook"] != "test" {
				t.Errorf("%s: annotation helm.sh/hook %q, want test", pod.Name, pod.Annotations["helm.sh/hook"])
			}
			if got := pod.Annotations["helm.sh/hook-delete-policy"]; got != "before-hook-creation" {
				t.Errorf("%s: hook-delete-policy %q, want before-hook-creation (kept for helm test --logs)", pod.Name, got)
			}
			if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("%s: restartPolicy %q, want Never (a failed check must fail the test)", pod.Name, pod.Spec.RestartPolicy)
			}
			if len(pod.Spec.Containers) != 1 {
				t.Fatalf("%s: %d containers", pod.Name, len(pod.Spec.Containers))
			}
			c := pod.Spec.Containers[0]
			if !slices.Equal(c.Command, tc.want) || len(c.Args) != 0 {
				t.Errorf("%s: command %q args %q, want %q", pod.Name, c.Command, c.Args, tc.want)
			}
			// The URL is the dashboard Service the chart renders, on its port.
			fullname := strings.TrimSuffix(pod.Name, "-test")
			d := m.deployment(t, fullname+"-dashboard")
			svc := m.service(t, fullname+"-dashboard")
			if want := fmt.Sprintf("http://%s:%d", svc.Name, svc.Spec.Ports[0].Port); c.Command[3] != want {
				t.Errorf("%s: -url %s, the dashboard Service is %s", pod.Name, c.Command[3], want)
			}
			dc := container(t, &d.Spec.Template.Spec, "dashboard")
			if c.Image != dc.Image || c.ImagePullPolicy != dc.ImagePullPolicy {
				t.Errorf("%s: image %s (%s), want the dashboard's %s (%s)", pod.Name, c.Image, c.ImagePullPolicy, dc.Image, dc.ImagePullPolicy)
			}
			if !reflect.DeepEqual(pod.Spec.SecurityContext, d.Spec.Template.Spec.SecurityContext) ||
				!reflect.DeepEqual(c.SecurityContext, dc.SecurityContext) {
				t.Errorf("%s: security contexts %+v / %+v, want the dashboard's %+v / %+v", pod.Name,
					pod.Spec.SecurityContext, c.SecurityContext, d.Spec.Template.Spec.SecurityContext, dc.SecurityContext)
			}
			checkPodSecurity(t, workload{name: pod.Name, component: "test", podSpec: &pod.Spec})
			if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken ||
				pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
				t.Errorf("%s: want automountServiceAccountToken and enableServiceLinks false", pod.Name)
			}
			if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("%s: resources %+v, want a memory request and limit", pod.Name, c.Resources)
			}
			// It asks the dashboard over HTTP: no Kafka setting, no Secret.
			if len(c.Env) != 0 || len(c.EnvFrom) != 0 || len(c.VolumeMounts) != 0 || len(pod.Spec.Volumes) != 0 {
				t.Errorf("%s: env %+v, volumes %+v: want none (the check needs no Kafka)", pod.Name, c.Env, pod.Spec.Volumes)
			}
			// Nothing else may take the test pod for its own.
			for _, o := range m.objects {
				if svc, ok := o.obj.(*corev1.Service); ok && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
					t.Errorf("Service %s selects the test pod", svc.Name)
				}
			}
		})
	}
}

// TestArtifactHubImages: Chart.yaml's artifacthub.io/images lists exactly
// the images the chart runs with its default values, helm test's included.
func TestArtifactHubImages(t *testing.T) {
	var listed []struct{ Name, Image string }
	if err := sigsyaml.UnmarshalStrict([]byte(loadWeatherChart(t).Metadata.Annotations["artifacthub.io/images"]), &listed); err != nil {
		t.Fatalf("artifacthub.io/images: %v", err)
	}
	var got []string
	for _, l := range listed {
		got = append(got, l.Image)
	}
	m := renderObjects(t, scenario{name: "defaults"})
	var want []string
	specs := []*corev1.PodSpec{}
	for _, w := range m.workloads() {
		specs = append(specs, w.podSpec)
	}
	for _, p := range m.pods() {
		specs = append(specs, &p.Spec)
	}
	for _, spec := range specs {
		for _, c := range spec.Containers {
			want = append(want, c.Image)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if want = slices.Compact(want); !slices.Equal(got, want) {
		t.Errorf("artifacthub.io/images lists %v, the chart runs %v", got, want)
	}
}

// ------------------------------------------------------ network policies ---

// endpoint is one end of a connection in a model of the cluster: a pod
// (namespace, labels, named container ports) or an address outside it.
type endpoint struct {
	name      string
	namespace string // "": outside the cluster
	labels    map[string]string
	ip        netip.Addr       // outside the cluster only
	ports     map[string]int32 // named container ports
	listens   []netPort        // what it serves
	component string           // the release's component; "" for others
	peer      string           // for the expectations: which kind of stranger
}

type netPort struct {
	port  int32
	proto corev1.Protocol
}

func (p netPort) String() string { return fmt.Sprintf("%d/%s", p.port, p.proto) }

// nsLabels: the namespaces of the model, with the label every namespace has.
func nsLabels(ns string) labels.Set { return labels.Set{"kubernetes.io/metadata.name": ns} }

// allowed evaluates NetworkPolicy semantics: a connection is allowed if
// the source's egress and the destination's ingress allow it; a pod no
// policy selects (for that direction) allows everything. ipBlocks match
// addresses outside the cluster only (the chart's name no pod).
func allowed(policies []*networkingv1.NetworkPolicy, src, dst endpoint, p netPort) bool {
	return direction(policies, src, networkingv1.PolicyTypeEgress, dst, p) &&
		direction(policies, dst, networkingv1.PolicyTypeIngress, src, p)
}

func direction(policies []*networkingv1.NetworkPolicy, self endpoint, dir networkingv1.PolicyType, other endpoint, p netPort) bool {
	if self.namespace == "" {
		return true
	}
	selected := false
	for _, np := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			panic(err)
		}
		if self.namespace != namespace || !sel.Matches(labels.Set(self.labels)) || !slices.Contains(np.Spec.PolicyTypes, dir) {
			continue
		}
		selected = true
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range np.Spec.Ingress {
				// Ingress ports name the destination's (self's) ports.
				if peersMatch(r.From, other) && portsMatch(r.Ports, self, p) {
					return true
				}
			}
		} else {
			for _, r := range np.Spec.Egress {
				if peersMatch(r.To, other) && portsMatch(r.Ports, other, p) {
					return true
				}
			}
		}
	}
	return !selected
}

func peersMatch(peers []networkingv1.NetworkPolicyPeer, e endpoint) bool {
	if len(peers) == 0 {
		return true
	}
	for _, peer := range peers {
		if peer.IPBlock != nil {
			if e.namespace == "" && inBlock(peer.IPBlock, e.ip) {
				return true
			}
			continue
		}
		if e.namespace == "" {
			continue
		}
		nsOK := e.namespace == namespace
		if peer.NamespaceSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector)
			if err != nil {
				panic(err)
			}
			nsOK = sel.Matches(nsLabels(e.namespace))
		}
		podOK := true
		if peer.PodSelector != nil {
			sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err != nil {
				panic(err)
			}
			podOK = sel.Matches(labels.Set(e.labels))
		}
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func inBlock(b *networkingv1.IPBlock, ip netip.Addr) bool {
	if !netip.MustParsePrefix(b.CIDR).Contains(ip) {
		return false
	}
	for _, ex := range b.Except {
		if netip.MustParsePrefix(ex).Contains(ip) {
			return false
		}
	}
	return true
}

func portsMatch(ports []networkingv1.NetworkPolicyPort, dst endpoint, p netPort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, np := range ports {
		proto := corev1.ProtocolTCP
		if np.Protocol != nil {
			proto = *np.Protocol
		}
		if proto != p.proto {
			continue
		}
		switch {
		case np.Port == nil:
			return true
		case np.Port.Type == intstr.String:
			if n, ok := dst.ports[np.Port.StrVal]; ok && n == p.port {
				return true
			}
		case np.EndPort != nil:
			if p.port >= np.Port.IntVal && p.port <= *np.EndPort {
				return true
			}
		case np.Port.IntVal == p.port:
			return true
		}
	}
	return false
}

// The model's endpoints besides the release's pods (addresses from the
// documentation ranges: nothing is ever sent, it is a model).
var strangers = []endpoint{
	{name: "prometheus", namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, peer: "scraper"},
	{name: "grafana", namespace: "monitoring", labels: map[string]string{"app.kubernetes.io/name": "grafana"}, peer: "stranger"},
	{name: "stranger", namespace: namespace, labels: map[string]string{"app": "stranger"}, peer: "stranger",
		listens: []netPort{{8080, corev1.ProtocolTCP}}},
	{name: "kafka-exporter", namespace: namespace, labels: map[string]string{"app": "kafka-exporter"}, peer: "kafka-client"},
	{name: "ingress-nginx", namespace: "ingress", labels: map[string]string{"app": "ingress-nginx"}, peer: "dashboard-user"},
	{name: "kube-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"}, peer: "dns",
		listens: []netPort{{53, corev1.ProtocolUDP}, {53, corev1.ProtocolTCP}}},
	{name: "fake-dns", namespace: "kube-system", labels: map[string]string{"k8s-app": "fake-dns"}, peer: "stranger",
		listens: []netPort{{53, corev1.ProtocolUDP}}},
	{name: "browser", ip: netip.MustParseAddr("203.0.113.7"), peer: "outside"},
	{name: "api-server", ip: netip.MustParseAddr("198.51.100.1"), peer: "api-server",
		listens: []netPort{{443, corev1.ProtocolTCP}, {6443, corev1.ProtocolTCP}}},
	{name: "external-broker", ip: netip.MustParseAddr("192.0.2.10"), peer: "external-kafka",
		listens: []netPort{{9092, corev1.ProtocolTCP}, {9094, corev1.ProtocolTCP}, {9096, corev1.ProtocolTCP}}},
	{name: "elsewhere", ip: netip.MustParseAddr("203.0.113.80"), peer: "outside",
		listens: []netPort{{443, corev1.ProtocolTCP}, {6443, corev1.ProtocolTCP}, {9096, corev1.ProtocolTCP}}},
}

// netScenario: values, and what they intend.
type netScenario struct {
	name, values string
	// what the values configure
	kafka, debug, dashboard, controller, test bool
	dashboardOpen                             bool    // dashboardFrom empty
	kafkaClients                              bool    // the exporter is named
	externalKafkaPorts                        []int32 // kafka.enabled false
	externalKafkaAnywhere                     bool    // externalKafkaTo empty
	apiPorts                                  []int32
	apiAnywhere                               bool
}

// TestNetworkPolicies puts the rendered NetworkPolicies in a model of a
// cluster (the release's pods, a scraper, strangers, DNS, the API server,
// addresses outside) and checks every connection, each source to each
// destination port, against what networkPolicy in values.yaml promises:
// the policies allow exactly the intended peers, no more, no fewer.
func TestNetworkPolicies(t *testing.T) {
	for _, sc := range []netScenario{
		{name: "defaults", values: `networkPolicy: {enabled: true}`,
			kafka: true, debug: true, dashboard: true, controller: true, test: true, dashboardOpen: true,
			apiPorts: []int32{443, 6443}, apiAnywhere: true},
		{name: "all-on", values: policiesAllOn,
			kafka: true, debug: true, dashboard: true, controller: true, test: true, kafkaClients: true,
			apiPorts: []int32{6443}},
		{name: "external-kafka", values: externalKafkaPolicies,
			debug: true, dashboard: true, controller: true, test: true, dashboardOpen: true,
			externalKafkaPorts: []int32{9094, 9096}, apiPorts: []int32{443, 6443}, apiAnywhere: true},
		{name: "external-kafka-anywhere", values: `{kafka: {enabled: false}, externalKafka: {bootstrapServers: "k.example.com:9096"}, networkPolicy: {enabled: true}}`,
			debug: true, dashboard: true, controller: true, test: true, dashboardOpen: true,
			externalKafkaPorts: []int32{9096}, externalKafkaAnywhere: true, apiPorts: []int32{443, 6443}, apiAnywhere: true},
		{name: "services-only", values: servicesOnlyPolicies,
			kafka: true, apiPorts: []int32{443, 6443}, apiAnywhere: true},
		{name: "helm-test-off", values: `{networkPolicy: {enabled: true}, helmTest: {enabled: false}}`,
			kafka: true, debug: true, dashboard: true, controller: true, dashboardOpen: true,
			apiPorts: []int32{443, 6443}, apiAnywhere: true},
		// Three broker pods in the model: they replicate and hold their
		// quorum between each other.
		{name: "three-brokers", values: `{networkPolicy: {enabled: true}, kafka: {replicas: 3}}`,
			kafka: true, debug: true, dashboard: true, controller: true, test: true, dashboardOpen: true,
			apiPorts: []int32{443, 6443}, apiAnywhere: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			s := scenario{name: "netpol-" + sc.name, values: sc.values}
			m := renderObjects(t, s)
			checkCommon(t, m, s)
			var policies []*networkingv1.NetworkPolicy
			for _, o := range m.objects {
				if np, ok := o.obj.(*networkingv1.NetworkPolicy); ok {
					policies = append(policies, np)
				}
			}
			eps := releaseEndpoints(t, m)
			// One policy per pod kind of the release, each selecting its pods.
			kinds := map[string]bool{}
			for _, e := range eps {
				kinds[e.component] = true
				n := 0
				for _, np := range policies {
					sel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
					if sel.Matches(labels.Set(e.labels)) {
						n++
						if np.Labels["app.kubernetes.io/component"] != e.component {
							t.Errorf("NetworkPolicy %s (component %s) selects %s", np.Name, np.Labels["app.kubernetes.io/component"], e.name)
						}
					}
				}
				if n != 1 {
					t.Errorf("%s: selected by %d NetworkPolicies, want 1", e.name, n)
				}
			}
			if len(policies) != len(kinds) {
				t.Errorf("%d NetworkPolicies for %d pod kinds", len(policies), len(kinds))
			}
			wantComponents := []string{"producer", "consumer"}
			for c, on := range map[string]bool{"kafka": sc.kafka, "debug": sc.debug, "dashboard": sc.dashboard, "controller": sc.controller, "test": sc.test} {
				if on {
					wantComponents = append(wantComponents, c)
				}
			}
			gotComponents := slices.Collect(maps.Keys(kinds))
			slices.Sort(wantComponents)
			slices.Sort(gotComponents)
			if !slices.Equal(gotComponents, wantComponents) {
				t.Fatalf("release pods %v, the scenario says %v", gotComponents, wantComponents)
			}

			all := append(slices.Clone(eps), strangers...)
			checked, open := 0, 0
			for _, src := range all {
				for _, dst := range all {
					if src.name == dst.name {
						continue // a pod reaching itself over loopback: no policy applies
					}
					for _, p := range dst.listens {
						want := sc.expect(src, dst, p)
						if got := allowed(policies, src, dst, p); got != want {
							t.Errorf("%s -> %s %s: allowed %v, want %v", src.name, dst.name, p, got, want)
						}
						checked++
						if want {
							open++
						}
					}
				}
			}
			t.Logf("%d policies, %d connections checked, %d of them allowed", len(policies), checked, open)
		})
	}
	// Off (the default), no NetworkPolicy at all.
	m := renderObjects(t, scenario{name: "defaults"})
	for _, o := range m.objects {
		if _, ok := o.obj.(*networkingv1.NetworkPolicy); ok {
			t.Errorf("networkPolicy.enabled=false but %s is rendered", o.obj.GetName())
		}
	}
}

// releaseEndpoints: one endpoint per pod of the release (a StatefulSet's
// each, so that its pods reach each other in the model; one per Deployment
// and test pod), with the labels and named ports of its pod template.
func releaseEndpoints(t *testing.T, m *manifest) []endpoint {
	t.Helper()
	var eps []endpoint
	add := func(name, component string, podLabels map[string]string, spec *corev1.PodSpec) {
		e := endpoint{name: name, namespace: namespace, labels: podLabels, component: component, ports: map[string]int32{}}
		for _, c := range spec.Containers {
			for _, p := range c.Ports {
				e.ports[p.Name] = p.ContainerPort
				e.listens = append(e.listens, netPort{p.ContainerPort, p.Protocol})
			}
		}
		eps = append(eps, e)
	}
	for _, w := range m.workloads() {
		sts, ok := w.obj.(*appsv1.StatefulSet)
		if !ok {
			add(w.name, w.component, w.podLabels, w.podSpec)
			continue
		}
		for i := range *sts.Spec.Replicas {
			add(fmt.Sprintf("%s-%d", w.name, i), w.component, w.podLabels, w.podSpec)
		}
	}
	for _, p := range m.pods() {
		add(p.Name, p.Labels["app.kubernetes.io/component"], p.Labels, &p.Spec)
	}
	return eps
}

// services are the release's components that are Kafka clients and serve
// /metrics.
var netServices = []string{"producer", "consumer", "debug", "dashboard", "controller"}

// expect is what networkPolicy in values.yaml promises for one connection,
// written from the promise, not from the templates.
func (sc netScenario) expect(src, dst endpoint, p netPort) bool {
	httpPort := int32(8080)
	tcp := p.proto == corev1.ProtocolTCP
	// Out of the release's pods: only these.
	if src.component != "" {
		ok := false
		switch {
		case dst.peer == "dns":
			ok = p.port == 53 // UDP and TCP
		case dst.component == "kafka":
			// The services to the client port; the brokers to each other's
			// client (replication, transaction markers) and controller
			// (quorum) ports.
			ok = tcp && (p.port == 9092 && slices.Contains(netServices, src.component) ||
				(p.port == 9092 || p.port == 9093) && src.component == "kafka")
		case dst.peer == "external-kafka" || dst.peer == "outside" && sc.externalKafkaAnywhere:
			ok = tcp && slices.Contains(sc.externalKafkaPorts, p.port) && slices.Contains(netServices, src.component)
		case src.component == "test":
			ok = dst.component == "dashboard" && tcp && p.port == httpPort
		}
		if src.component == "controller" && tcp && slices.Contains(sc.apiPorts, p.port) &&
			(dst.peer == "api-server" || sc.apiAnywhere) {
			ok = true
		}
		if !ok {
			return false
		}
	}
	// Into the release's pods: only these.
	switch dst.component {
	case "":
		return true
	case "kafka":
		switch p {
		case netPort{9092, corev1.ProtocolTCP}:
			return slices.Contains(netServices, src.component) || src.component == "kafka" ||
				sc.kafkaClients && src.peer == "kafka-client"
		case netPort{9093, corev1.ProtocolTCP}:
			return src.component == "kafka"
		}
		return false
	case "test":
		return false
	case "dashboard":
		if p != (netPort{httpPort, corev1.ProtocolTCP}) {
			return false
		}
		return sc.dashboardOpen || src.peer == "scraper" || src.component == "test" || src.peer == "dashboard-user"
	}
	// The services' HTTP port, from the scraper; their other ports (the
	// controller's health) from nobody: the kubelet's probes come from the
	// node, which policies do not govern.
	return src.peer == "scraper" && p == (netPort{httpPort, corev1.ProtocolTCP})
}

// TestNetworkPolicyModel: the evaluator itself, on hand-made policies, so
// that a bug in it cannot hide a bug in the chart.
func TestNetworkPolicyModel(t *testing.T) {
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	web := endpoint{name: "web", namespace: namespace, labels: map[string]string{"app": "web"}, ports: map[string]int32{"http": 80}}
	db := endpoint{name: "db", namespace: namespace, labels: map[string]string{"app": "db"}, ports: map[string]int32{}}
	other := endpoint{name: "other", namespace: "other", labels: map[string]string{"app": "web"}}
	out := endpoint{name: "out", ip: netip.MustParseAddr("192.0.2.1")}
	port := func(p intstr.IntOrString, proto corev1.Protocol) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: &p, Protocol: &proto}
	}
	ingressOnly := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}},
			Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("http"), tcp)},
		}},
	}}
	egressToBlock := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress: []networkingv1.NetworkPolicyEgressRule{
			{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.1/32"}}}}},
			{Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(80), tcp)}},
		},
	}}
	anyNamespace := &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
			NamespaceSelector: &metav1.LabelSelector{}, PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}}}},
	}}
	for i, c := range []struct {
		policies []*networkingv1.NetworkPolicy
		src, dst endpoint
		p        netPort
		want     bool
	}{
		{nil, web, db, netPort{5432, tcp}, true},                                      // no policy: open
		{[]*networkingv1.NetworkPolicy{ingressOnly}, db, web, netPort{80, tcp}, true}, // named port resolved on the destination
		{[]*networkingv1.NetworkPolicy{ingressOnly}, db, web, netPort{80, udp}, false},
		{[]*networkingv1.NetworkPolicy{ingressOnly}, db, web, netPort{81, tcp}, false},
		{[]*networkingv1.NetworkPolicy{ingressOnly}, other, web, netPort{80, tcp}, false}, // a podSelector alone: own namespace
		{[]*networkingv1.NetworkPolicy{ingressOnly}, out, web, netPort{80, tcp}, false},
		{[]*networkingv1.NetworkPolicy{ingressOnly}, web, db, netPort{1, tcp}, true},    // db is not selected
		{[]*networkingv1.NetworkPolicy{egressToBlock}, db, out, netPort{1, tcp}, false}, // except
		{[]*networkingv1.NetworkPolicy{egressToBlock}, db, endpoint{name: "o2", ip: netip.MustParseAddr("192.0.2.2")}, netPort{1, udp}, true},
		{[]*networkingv1.NetworkPolicy{egressToBlock}, db, web, netPort{80, tcp}, true}, // rule without to: anywhere on 80
		{[]*networkingv1.NetworkPolicy{egressToBlock}, db, web, netPort{81, tcp}, false},
		{[]*networkingv1.NetworkPolicy{anyNamespace}, other, db, netPort{1, tcp}, true},
		{[]*networkingv1.NetworkPolicy{anyNamespace}, out, db, netPort{1, tcp}, false},
	} {
		if got := allowed(c.policies, c.src, c.dst, c.p); got != c.want {
			t.Errorf("case %d: %s -> %s %s: %v, want %v", i, c.src.name, c.dst.name, c.p, got, c.want)
		}
	}
}
