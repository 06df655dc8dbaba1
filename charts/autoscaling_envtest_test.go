package charts

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KEDA's CRDs: from its Go module on the module proxy, as the Prometheus
// Operator's (operatorCRDs), but pinned here: the chart's tests need no KEDA
// types (the ScaledObject is checked as unstructured), and requiring its
// module in go.mod would pull its whole dependency graph. The checksum is
// go.sum's h1: line for it (go mod download checks the zip against the
// checksum database too). v2.21.1 needs go >= 1.27.4, newer than the
// project's toolchain, so v2.21.0.
const (
	kedaModule    = "github.com/kedacore/keda/v2"
	kedaVersion   = "v2.21.0"
	kedaModuleSum = "h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps="
)

// kedaCRDs returns the paths of KEDA's CRD manifests (config/crd/bases in
// its module zip) of the pinned version, downloading the module if needed.
func kedaCRDs(t *testing.T, names ...string) []string {
	t.Helper()
	dir := moduleDir(t, kedaModule, kedaVersion, kedaModuleSum)
	var paths []string
	for _, n := range names {
		paths = append(paths, filepath.Join(dir, "config", "crd", "bases", "keda.sh_"+n+".yaml"))
	}
	t.Logf("KEDA %s CRDs from %s", kedaVersion, dir)
	return paths
}

// TestAutoscalingServerSideDryRun has a real kube-apiserver with KEDA's CRDs
// installed validate the ScaledObject with a strict dry-run create (its
// OpenAPI schema and CEL rules: an unknown field, a wrong type, min above
// max are refused), together with every other object of the same rendering
// (the StatefulSet without replicas too). It needs KUBEBUILDER_ASSETS, as
// TestServerSideDryRun.
func TestAutoscalingServerSideDryRun(t *testing.T) {
	c, warns := apiServer(t, scheme.Scheme, kedaCRDs(t, "scaledobjects", "triggerauthentications", "clustertriggerauthentications")...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}

	dryRun := func(obj client.Object) error {
		obj = obj.DeepCopyObject().(client.Object)
		obj.SetNamespace(namespace)
		err := c.Create(ctx, obj, client.DryRunAll, client.FieldValidation("Strict"))
		if w := warns.take(); err == nil && len(w) > 0 {
			err = fmt.Errorf("API server warnings: %s", strings.Join(w, "; "))
		}
		return err
	}

	var accepted *unstructured.Unstructured
	for _, name := range slices.Sorted(maps.Keys(autoscalingLintValues)) {
		t.Run(name, func(t *testing.T) {
			m, scaled, err := renderAutoscaling(t, "weather", autoscalingLintValues[name], nil, nil)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			if len(scaled) != 1 {
				t.Fatalf("%d ScaledObjects rendered, want 1", len(scaled))
			}
			for _, so := range scaled {
				if err := dryRun(so); err != nil {
					t.Errorf("ScaledObject/%s: server-side dry run: %v", so.GetName(), err)
				} else {
					accepted = so
				}
			}
			for _, o := range m.objects {
				if err := dryRun(o.obj); err != nil {
					t.Errorf("%s/%s (%s): server-side dry run: %v", kindOf(o.obj), o.obj.GetName(), o.file, err)
				}
			}
		})
	}
	if accepted == nil {
		t.Fatal("no ScaledObject went through the dry run")
	}

	// The CRD's schema is what validated it: the same object, spoilt, is
	// refused.
	spoil := func(f func(spec map[string]any)) *unstructured.Unstructured {
		o := accepted.DeepCopy()
		f(o.Object["spec"].(map[string]any))
		return o
	}
	for name, o := range map[string]*unstructured.Unstructured{
		"min above max": spoil(func(s map[string]any) { s["minReplicaCount"], s["maxReplicaCount"] = int64(3), int64(2) }),
		"unknown field": spoil(func(s map[string]any) { s["maxReplicas"] = int64(4) }),
		"a number in a trigger's metadata": spoil(func(s map[string]any) {
			s["triggers"].([]any)[0].(map[string]any)["metadata"].(map[string]any)["lagThreshold"] = int64(10)
		}),
		"no trigger": spoil(func(s map[string]any) { delete(s, "triggers") }),
	} {
		if err := dryRun(o); err == nil {
			t.Errorf("ScaledObject with %s: accepted; the CRD's schema did not validate it", name)
		} else {
			t.Logf("ScaledObject with %s: refused as it must be: %v", name, err)
		}
	}
}
