package charts

import (
	"reflect"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// The stats consumers' StatefulSet with a volume per pod. Its
// volumeClaimTemplates, selector, serviceName and podManagementPolicy can
// never change on an existing StatefulSet (the API server refuses the
// update, and helm upgrade fails): nothing in them may depend on what a
// helm upgrade changes — the chart's version and appVersion (in the
// helm.sh/chart and app.kubernetes.io/version labels), the images, the
// replicas, the pods' labels and annotations.
func TestConsumerStatefulSetImmutableFieldsStable(t *testing.T) {
	type immutable struct {
		Claims              []corev1.PersistentVolumeClaim
		Selector            *metav1.LabelSelector
		ServiceName         string
		PodManagementPolicy appsv1.PodManagementPolicyType
	}
	render := func(version, values string) immutable {
		t.Helper()
		ch := *loadWeatherChart(t)
		md := *ch.Metadata
		md.Version, md.AppVersion = version, version
		ch.Metadata = &md
		m := renderWith(t, &ch, values, chartutil.ReleaseOptions{Name: "weather", Namespace: namespace, Revision: 2, IsUpgrade: true}, nil)
		sts := m.statefulSet(t, "weather"+consumerSuffix)
		return immutable{sts.Spec.VolumeClaimTemplates, sts.Spec.Selector, sts.Spec.ServiceName, sts.Spec.PodManagementPolicy}
	}
	base := render("0.1.0", "")
	for _, c := range []struct{ version, values string }{
		{"0.2.0", ""},
		{"1.0.0-rc.1", `{consumer: {image: {tag: "9.9.9"}, replicas: 5, podLabels: {team: data}, podAnnotations: {a: b}}}`},
		{"0.1.0", `{consumer: {extraEnv: [{name: CHECKPOINT_RETRIES, value: "9"}], resources: {limits: {memory: 1Gi}}}, controller: {enabled: false}}`},
	} {
		if got := render(c.version, c.values); !reflect.DeepEqual(got, base) {
			t.Errorf("version %s, values %s: the StatefulSet's immutable fields change on upgrade:\n got %+v\nwant %+v", c.version, c.values, got, base)
		}
	}
	if len(base.Claims) != 1 || base.Claims[0].Labels["helm.sh/chart"] != "" || base.Claims[0].Labels["app.kubernetes.io/version"] != "" {
		t.Errorf("claim templates %+v: want one, without version labels", base.Claims)
	}
}

// TestUpgradeFromSharedVolume renders the chart as helm upgrade does, with
// lookup answered from a fake cluster: while the shared-volume chart's PVC
// <fullname>-stats is there (kept by resource-policy) the NOTES say it is
// kept and how to delete it, and on the upgrade that replaces that chart's
// StatefulSet (<fullname>-consumer) that the consumers count every
// partition again; on an install, or without that PVC, they say nothing of
// it. The controller's live assignment is read from the StatefulSet by its
// new name only.
func TestUpgradeFromSharedVolume(t *testing.T) {
	sharedPVC := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "weather-stats", "namespace": namespace},
	}}
	sts := func(name, assignment string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "StatefulSet",
			"metadata": map[string]any{"name": name, "namespace": namespace},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "consumer", "env": []any{map[string]any{"name": "PARTITIONS_BY_ORDINAL", "value": assignment}}},
			}}}},
		}}
	}
	upgrade := chartutil.ReleaseOptions{Name: "weather", Namespace: namespace, Revision: 2, IsUpgrade: true}
	install := chartutil.ReleaseOptions{Name: "weather", Namespace: namespace, Revision: 1, IsInstall: true}
	// The shared volume is kept; while the old StatefulSet is there (the
	// first upgrade), the recount is said too.
	kept := []string{
		"persistentvolumeclaim/weather-stats, the stats volume of the shared-volume chart,\nis kept (helm.sh/resource-policy: keep)",
		"its files are only a backup;\ndelete it with\n  kubectl -n weather-test delete pvc weather-stats\n",
	}
	recount := []string{
		"(statefulset/weather-stats, replacing statefulset/weather-consumer)",
		"they count\nevery partition again from offset 0",
	}
	for _, c := range []struct {
		name       string
		release    chartutil.ReleaseOptions
		objects    []runtime.Object
		kept       bool   // NOTES say the shared volume is kept, and how to delete it
		recount    bool   // and that the consumers count every partition again
		assignment string // PARTITIONS_BY_ORDINAL rendered
	}{
		{"upgrade from the shared volume", upgrade, []runtime.Object{sharedPVC, sts("weather-consumer", "0,3;1;2")}, true, true, "0,2;1,3"},
		{"later upgrade, the shared volume still there", upgrade, []runtime.Object{sharedPVC, sts("weather-stats", "0,3;1;2")}, true, false, "0,3;1;2"},
		{"upgrade of this chart", upgrade, []runtime.Object{sts("weather-stats", "0,3;1;2")}, false, false, "0,3;1;2"},
		{"install", install, []runtime.Object{sharedPVC, sts("weather-consumer", "0,2;1,3")}, false, false, "0,2;1,3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := renderWith(t, loadWeatherChart(t), "", c.release, fakeCluster(c.objects...))
			for want, says := range map[*[]string]bool{&kept: c.kept, &recount: c.recount} {
				for _, s := range *want {
					if got := strings.Contains(m.notes, s); got != says {
						t.Errorf("NOTES.txt has %q: %v, want %v:\n%s", s, got, says, m.notes)
					}
				}
			}
			if got := envValue(t, container(t, &m.statefulSet(t, "weather"+consumerSuffix).Spec.Template.Spec, "consumer"), "PARTITIONS_BY_ORDINAL"); got != c.assignment {
				t.Errorf("PARTITIONS_BY_ORDINAL %q, want %q", got, c.assignment)
			}
		})
	}
}
