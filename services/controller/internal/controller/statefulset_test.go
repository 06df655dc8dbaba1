package controller

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/weatherstream/weather/services/common/observe/observetest"
)

// These tests run the reconciler against a real kube-apiserver and etcd
// (envtest; make test builds them from the Go module proxy and sets
// KUBEBUILDER_ASSETS). envtest runs no StatefulSet controller, so the tests
// play it: settle() makes the pods a finished rollout would leave.

var (
	k8s     client.Client
	restCfg *rest.Config
)

func TestMain(m *testing.M) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		fmt.Fprintln(os.Stderr, "KUBEBUILDER_ASSETS is unset: run `make test`, or export KUBEBUILDER_ASSETS=$(hack/k8s/bins.sh envtest)")
		os.Exit(1)
	}
	env := &envtest.Environment{}
	cfg, err := env.Start()
	restCfg = cfg
	if err != nil {
		fmt.Fprintln(os.Stderr, "envtest:", err)
		os.Exit(1)
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme.Scheme})
	if err == nil {
		code := m.Run()
		env.Stop()
		os.Exit(code)
	}
	env.Stop()
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

// newStatefulSet makes a managed consumer StatefulSet in a namespace of the
// test's own.
func newStatefulSet(t *testing.T, replicas int32, assignment string) *appsv1.StatefulSet {
	return newStatefulSetLabeled(t, replicas, assignment, map[string]string{ManagedLabel: ManagedValue})
}

func newStatefulSetLabeled(t *testing.T, replicas int32, assignment string, stsLabels map[string]string) *appsv1.StatefulSet {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rebalance-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/component": "consumer"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "weather-consumer", Namespace: ns.Name,
			Labels: stsLabels},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "consumer", Image: "weather-consumer:test",
					Env: []corev1.EnvVar{{Name: "DATA_DIR", Value: "/data"}, {Name: AssignmentEnv, Value: assignment}},
				}}},
			},
		},
	}
	if err := k8s.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	return sts
}

// settle plays the StatefulSet controller at the end of a rollout: one ready
// pod per ordinal, of the latest revision, and the status to match.
func settle(t *testing.T, sts *appsv1.StatefulSet) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
		t.Fatal(err)
	}
	rev := fmt.Sprintf("rev-%d", sts.Generation)
	var pods corev1.PodList
	k8s.List(ctx, &pods, client.InNamespace(sts.Namespace))
	for i := range pods.Items {
		k8s.Delete(ctx, &pods.Items[i], client.GracePeriodSeconds(0))
	}
	for i := range *sts.Spec.Replicas {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name: fmt.Sprintf("%s-%d-%s", sts.Name, i, rev), Namespace: sts.Namespace,
				Labels: map[string]string{"app.kubernetes.io/component": "consumer", appsv1.ControllerRevisionHashLabelKey: rev},
			},
			Spec: sts.Spec.Template.Spec,
		}
		if err := ctrl.SetControllerReference(sts, pod, scheme.Scheme); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if err := k8s.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	sts.Status = appsv1.StatefulSetStatus{
		ObservedGeneration: sts.Generation, Replicas: *sts.Spec.Replicas, ReadyReplicas: *sts.Spec.Replicas,
		UpdatedReplicas: *sts.Spec.Replicas, CurrentRevision: rev, UpdateRevision: rev,
	}
	if err := k8s.Status().Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	// Pods deleted with grace 0 go at once, but wait for the cache-free read.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var left corev1.PodList
		k8s.List(ctx, &left, client.InNamespace(sts.Namespace))
		if len(left.Items) == int(*sts.Spec.Replicas) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods, want %d", len(left.Items), *sts.Spec.Replicas)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func reconciler(partitions *int) *StatefulSetReconciler {
	return &StatefulSetReconciler{
		Client:        k8s,
		Recorder:      record.NewFakeRecorder(100),
		Partitions:    func(context.Context) (int, error) { return *partitions, nil },
		Container:     "consumer",
		Poll:          10 * time.Second,
		NodeLostAfter: 30 * time.Second,
	}
}

func assignmentOf(t *testing.T, sts *appsv1.StatefulSet) string {
	t.Helper()
	var got appsv1.StatefulSet
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(sts), &got); err != nil {
		t.Fatal(err)
	}
	for _, e := range got.Spec.Template.Spec.Containers[0].Env {
		if e.Name == AssignmentEnv {
			return e.Value
		}
	}
	t.Fatal("no assignment variable")
	return ""
}

func scale(t *testing.T, sts *appsv1.StatefulSet, replicas int32) {
	t.Helper()
	patch := client.MergeFrom(sts.DeepCopy())
	sts.Spec.Replicas = ptr.To(replicas)
	if err := k8s.Patch(context.Background(), sts, patch); err != nil {
		t.Fatal(err)
	}
}

// Each scaling and each added partition reaches the even assignment through
// steps that only take once the previous rollout has settled.
func TestReconcileStepsThroughScalingAndNewPartitions(t *testing.T) {
	partitions := 4
	r := reconciler(&partitions)
	sts := newStatefulSet(t, 2, "0,2;1,3")
	req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: sts.Namespace, Name: sts.Name}}
	ctx := context.Background()
	step := func(want string) {
		t.Helper()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		if got := assignmentOf(t, sts); got != want {
			t.Fatalf("assignment %q, want %q", got, want)
		}
	}
	settle(t, sts)
	step("0,2;1,3") // already even

	for _, tt := range []struct {
		replicas   int32
		partitions int
		steps      []string
	}{
		{3, 4, []string{"0;1", "0,3;1;2"}},
		{1, 4, []string{"0,3", "0,1,2,3"}},
		{2, 4, []string{"0,2", "0,2;1,3"}},
		{2, 6, []string{"0,2,4;1,3,5"}}, // partitions added to the topic
		{8, 6, []string{"0;1", "0;1;2;3;4;5"}},
	} {
		scaled := *sts.Spec.Replicas != tt.replicas
		scale(t, sts, tt.replicas)
		partitions = tt.partitions
		if scaled {
			step(assignmentOf(t, sts)) // the new replica count has not rolled out: wait
		}
		for _, want := range tt.steps {
			settle(t, sts)
			step(want)
			step(want) // and nothing more until this one settles
		}
		settle(t, sts)
		step(tt.steps[len(tt.steps)-1])
	}

	scale(t, sts, 0)
	settle(t, sts)
	step("0;1;2;3;4;5") // nobody consumes: nothing to do
}

// A rollout in progress holds the next step back: a pod terminating, a pod of
// the older template, a pod not ready.
func TestReconcileWaitsForTheRolloutToSettle(t *testing.T) {
	partitions := 4
	r := reconciler(&partitions)
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		spoil func(*testing.T, *corev1.Pod)
	}{
		{"older template", func(t *testing.T, p *corev1.Pod) {
			p.Labels[appsv1.ControllerRevisionHashLabelKey] = "rev-old"
			if err := k8s.Update(ctx, p); err != nil {
				t.Fatal(err)
			}
		}},
		{"not ready", func(t *testing.T, p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
			if err := k8s.Status().Update(ctx, p); err != nil {
				t.Fatal(err)
			}
		}},
		{"terminating", func(t *testing.T, p *corev1.Pod) {
			p.Finalizers = []string{"test/hold"}
			if err := k8s.Update(ctx, p); err != nil {
				t.Fatal(err)
			}
			if err := k8s.Delete(ctx, p); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				k8s.Get(ctx, client.ObjectKeyFromObject(p), p)
				p.Finalizers = nil
				k8s.Update(ctx, p)
			})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sts := newStatefulSet(t, 2, "0,1,2,3")
			settle(t, sts)
			var pods corev1.PodList
			k8s.List(ctx, &pods, client.InNamespace(sts.Namespace))
			tt.spoil(t, &pods.Items[0])
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}
			res, err := r.Reconcile(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if got := assignmentOf(t, sts); got != "0,1,2,3" || res.RequeueAfter != time.Second {
				t.Errorf("assignment %q, requeue %v; want it unchanged, a retry in 1s", got, res.RequeueAfter)
			}
		})
	}
}

// An assignment the controller cannot read is not an empty one: it leaves
// the StatefulSet as it is and says why (a warning event, the gauge). One a
// person typed with spaces, as the consumer accepts it, is read.
func TestReconcileLeavesAnAssignmentItCannotReadAlone(t *testing.T) {
	partitions := 4
	ctx := context.Background()
	for _, tt := range []struct {
		name, assignment, want, event string
	}{
		{"not a number", "0,x;1,3", "0,x;1,3", "BadAssignment"},
		{"a partition twice", "0,1;1,2,3", "0,1;1,2,3", "BadAssignment"},
		{"spaces, as a person types it", "0 1;2 3", "0,3;1;2", ""}, // 3 replicas: the steps start from it
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := reconciler(&partitions)
			sts := newStatefulSet(t, 3, tt.assignment)
			settle(t, sts)
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}
			for range 2 {
				if _, err := r.Reconcile(ctx, req); err != nil {
					t.Fatal(err)
				}
				settle(t, sts)
			}
			if got := assignmentOf(t, sts); got != tt.want {
				t.Errorf("assignment %q, want %q", got, tt.want)
			}
			gauge := testutil.ToFloat64(invalidAssignment.WithLabelValues(sts.Namespace, sts.Name))
			events := r.Recorder.(*record.FakeRecorder).Events
			if tt.event == "" {
				if gauge != 0 {
					t.Errorf("invalid-assignment gauge %v, want 0", gauge)
				}
				return
			}
			if gauge != 1 {
				t.Errorf("invalid-assignment gauge %v, want 1", gauge)
			}
			select {
			case e := <-events:
				if !strings.Contains(e, "Warning "+tt.event) || !strings.Contains(e, "leaves this StatefulSet alone") {
					t.Errorf("event %q, want a %s warning", e, tt.event)
				}
			default:
				t.Error("no event says why")
			}
		})
	}
}

// The controller as deployed: a manager that watches only managed
// StatefulSets. Scaled from 2 to 3, the managed one reaches the even
// assignment as its pods settle; an unmanaged one is left alone.
func TestManagerRebalancesOnlyManagedStatefulSets(t *testing.T) {
	partitions := 4
	r := reconciler(&partitions)
	r.Poll = 200 * time.Millisecond
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{Scheme: scheme.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	r.Client = mgr.GetClient()
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go mgr.Start(ctx)

	managed := newStatefulSet(t, 3, "0,2;1,3")
	unmanaged := newStatefulSetLabeled(t, 3, "0,2;1,3", nil)
	settle(t, unmanaged)
	var seen []string
	for deadline := time.Now().Add(30 * time.Second); ; {
		settle(t, managed)
		got := assignmentOf(t, managed)
		if len(seen) == 0 || seen[len(seen)-1] != got {
			seen = append(seen, got)
		}
		if got == "0,3;1;2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("assignments seen %q, never the even one", seen)
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("assignments seen: %q", seen)
	if got := assignmentOf(t, unmanaged); got != "0,2;1,3" {
		t.Errorf("unmanaged StatefulSet changed to %q", got)
	}
	// What the manager serves on /metrics after that work (controller-runtime's
	// own, client-go's, ours and the build info) passes Prometheus' linter.
	if err := observetest.LintMetrics(metrics.Registry); err != nil {
		t.Error(err)
	}
	for name, want := range map[string]string{"weather_build_info": "controller", "weather_controller_rebalance_steps_total": ""} {
		if got, ok := serviceLabel(t, name); !ok || got != want {
			t.Errorf("%s: service label %q (served: %v), want %q", name, got, ok, want)
		}
	}
}

// serviceLabel is the service label of the one series of metric name in
// controller-runtime's registry, and whether there is one.
func serviceLabel(t *testing.T, name string) (string, bool) {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		for _, l := range mf.GetMetric()[0].GetLabel() {
			if l.GetName() == "service" {
				return l.GetValue(), true
			}
		}
		return "", true
	}
	return "", false
}
