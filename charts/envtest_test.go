package charts

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// warnings collects the API server's warnings (deprecated fields, PodSecurity
// violations, ...): a rendering that draws any fails.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := w.msgs
	w.msgs = nil
	return msgs
}

// TestServerSideDryRun has a real kube-apiserver (with etcd, started by
// controller-runtime's envtest) validate every object of every scenario with
// a dry-run create: the API server's own validation and defaulting, and
// PodSecurity "restricted" (the namespace enforces it and warns on workloads
// whose pods would violate it). It needs the binaries: KUBEBUILDER_ASSETS is
// a directory with kube-apiserver and etcd (make test sets it from
// hack/k8s/bins.sh envtest). Without it the test fails; it never skips.
func TestServerSideDryRun(t *testing.T) {
	c, warns := apiServer(t, scheme.Scheme)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
		"pod-security.kubernetes.io/audit":   "restricted",
	}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	// Every object the API server accepted, by scenario.
	accepted := map[string]map[string]bool{}
	for _, s := range scenarios {
		accepted[s.name] = map[string]bool{}
		t.Run(s.name, func(t *testing.T) {
			m := renderObjects(t, s)
			for _, o := range m.objects {
				obj := o.obj.DeepCopyObject().(client.Object)
				obj.SetNamespace(namespace)
				id := kindOf(obj) + "/" + obj.GetName()
				if err := c.Create(ctx, obj, client.DryRunAll); err != nil {
					t.Errorf("%s (%s): server-side dry run: %v", id, o.file, err)
				} else {
					accepted[s.name][id] = true
				}
				for _, w := range warns.take() {
					t.Errorf("%s (%s): API server warning: %s", id, o.file, w)
				}
				// A dry run persists nothing: the next scenario can create the same names.
				if obj.GetUID() == "" {
					t.Errorf("%s: dry run returned no server-filled object", id)
				}
			}
		})
	}
	// The optional components' objects went through it where they are on
	// (the partition controller's RBAC too), and are absent where off.
	for _, c := range []struct {
		scenario string
		ids      []string
		want     bool
	}{
		{"defaults", []string{"ServiceAccount/weather-controller", "Role/weather-controller",
			"RoleBinding/weather-controller", "ClusterRole/weather-test-weather-controller",
			"ClusterRoleBinding/weather-test-weather-controller", "Deployment/weather-controller"}, true},
		{"defaults", []string{"Deployment/weather-dashboard", "Service/weather-dashboard"}, true},
		{"release-demo-options", []string{"Deployment/demo-weather-dashboard", "Service/demo-weather-dashboard"}, true},
		{"dashboard-disabled", []string{"Deployment/weather-dashboard", "Service/weather-dashboard"}, false},
		{"controller-disabled", []string{"Deployment/weather-controller", "Role/weather-controller", "ClusterRole/weather-test-weather-controller"}, false},
		// The disruption budgets, the helm test pod and the NetworkPolicies.
		{"defaults", []string{"PodDisruptionBudget/weather-stats", "PodDisruptionBudget/weather-kafka", "Pod/weather-test"}, true},
		{"dashboard-disabled", []string{"Pod/weather-test"}, false},
		{"policies-all-on", []string{"NetworkPolicy/weather-kafka", "NetworkPolicy/weather-producer", "NetworkPolicy/weather-consumer",
			"NetworkPolicy/weather-debug", "NetworkPolicy/weather-dashboard", "NetworkPolicy/weather-controller",
			"NetworkPolicy/weather-test", "Pod/weather-test", "StatefulSet/weather-kafka", "StatefulSet/weather-stats",
			"Deployment/weather-producer", "Deployment/weather-debug", "Deployment/weather-dashboard", "Deployment/weather-controller"}, true},
		{"policies-external-kafka", []string{"NetworkPolicy/weather-producer", "NetworkPolicy/weather-controller", "NetworkPolicy/weather-test"}, true},
		{"policies-services-only", []string{"NetworkPolicy/weather-kafka", "PodDisruptionBudget/weather-stats"}, true},
		{"policies-services-only", []string{"PodDisruptionBudget/weather-kafka", "NetworkPolicy/weather-debug", "Pod/weather-test"}, false},
		// Three brokers: their StatefulSet, configuration and budget.
		{"kafka-three-brokers", []string{"StatefulSet/weather-kafka", "ConfigMap/weather-kafka", "PodDisruptionBudget/weather-kafka",
			"Deployment/weather-producer"}, true},
	} {
		for _, id := range c.ids {
			if accepted[c.scenario][id] != c.want {
				t.Errorf("%s: %s accepted by the server-side dry run: %v, want %v (accepted: %v)",
					c.scenario, id, accepted[c.scenario][id], c.want, slices.Sorted(maps.Keys(accepted[c.scenario])))
			}
		}
	}
}
