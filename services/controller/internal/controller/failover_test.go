package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// node makes a Node whose Ready condition is status since since.
func node(t *testing.T, ready corev1.ConditionStatus, since time.Time) string {
	t.Helper()
	ctx := context.Background()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "node-"}}
	if err := k8s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k8s.Delete(context.Background(), n) })
	setReady(t, n.Name, ready, since)
	return n.Name
}

func setReady(t *testing.T, name string, ready corev1.ConditionStatus, since time.Time) {
	t.Helper()
	var n corev1.Node
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, &n); err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready, Reason: "Test",
		LastTransitionTime: metav1.NewTime(since), LastHeartbeatTime: metav1.NewTime(since)}}
	if err := k8s.Status().Update(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
}

// placePods plays the StatefulSet controller: one pod per ordinal at the
// revision rev, on nodes[ordinal] ("" unscheduled), ready where its node is.
func placePods(t *testing.T, sts *appsv1.StatefulSet, rev string, nodes ...string) []*corev1.Pod {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
		t.Fatal(err)
	}
	var pods []*corev1.Pod
	for i, n := range nodes {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", sts.Name, i), Namespace: sts.Namespace,
				Labels: map[string]string{"app.kubernetes.io/component": "consumer", appsv1.ControllerRevisionHashLabelKey: rev,
					appsv1.PodIndexLabel: fmt.Sprint(i)}},
			Spec: sts.Spec.Template.Spec,
		}
		pod.Spec.NodeName = n
		if err := ctrl.SetControllerReference(sts, pod, scheme.Scheme); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if n == "" {
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable",
				LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
		} else {
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		if err := k8s.Status().Update(ctx, pod); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, pod)
	}
	sts.Status = appsv1.StatefulSetStatus{ObservedGeneration: sts.Generation, Replicas: *sts.Spec.Replicas, CurrentRevision: rev, UpdateRevision: rev}
	if err := k8s.Status().Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
	return pods
}

// newRevision plays the StatefulSet controller seeing a new template.
func newRevision(t *testing.T, sts *appsv1.StatefulSet, rev string) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(sts), sts); err != nil {
		t.Fatal(err)
	}
	sts.Status.ObservedGeneration, sts.Status.UpdateRevision = sts.Generation, rev
	if err := k8s.Status().Update(ctx, sts); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, pod *corev1.Pod) bool {
	t.Helper()
	var got corev1.Pod
	err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), &got)
	return err == nil && got.DeletionTimestamp == nil
}

// A consumer pod whose node has been NotReady for NodeLostAfter loses its
// partitions to the live pods in one step; the controller restarts the live
// pods itself (the StatefulSet's rolling update would wait for the lost pod
// for ever) and leaves the lost one alone. A node NotReady for less time, or
// a pod on a Ready node, changes nothing. Unscheduled pods count as lost too.
func TestFailoverGivesALostPodsPartitionsToTheLiveOnes(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		status corev1.ConditionStatus
		since  time.Duration // the second node's Ready condition, this long ago
		nodes  func(t *testing.T, good, bad string) []string
		want   string
	}{
		{"NotReady for 40s", corev1.ConditionFalse, 40 * time.Second, func(_ *testing.T, g, b string) []string { return []string{g, b} }, "0,1,2,3"},
		{"unknown for 40s", corev1.ConditionUnknown, 40 * time.Second, func(_ *testing.T, g, b string) []string { return []string{g, b} }, "0,1,2,3"},
		{"the first pod's node", corev1.ConditionFalse, 40 * time.Second, func(_ *testing.T, g, b string) []string { return []string{b, g} }, ";0,1,2,3"},
		{"NotReady for 10s: not yet", corev1.ConditionFalse, 10 * time.Second, func(_ *testing.T, g, b string) []string { return []string{g, b} }, "0,2;1,3"},
		{"Ready", corev1.ConditionTrue, time.Hour, func(_ *testing.T, g, b string) []string { return []string{g, b} }, "0,2;1,3"},
		{"unscheduled for an hour", corev1.ConditionTrue, time.Hour, func(_ *testing.T, g, _ string) []string { return []string{g, ""} }, "0,1,2,3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			good, bad := node(t, corev1.ConditionTrue, now.Add(-time.Hour)), node(t, tc.status, now.Add(-tc.since))
			sts := newStatefulSet(t, 2, "0,2;1,3")
			pods := placePods(t, sts, "rev-1", tc.nodes(t, good, bad)...)
			partitions := 4
			r := reconciler(&partitions)
			r.Now = func() time.Time { return now }
			if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}); err != nil {
				t.Fatal(err)
			}
			if got := assignmentOf(t, sts); got != tc.want {
				t.Fatalf("assignment %q, want %q", got, tc.want)
			}
			if tc.want == "0,2;1,3" {
				return
			}
			// The StatefulSet sees the new template; the live pod, of the
			// older one, is restarted by the controller, the lost one not.
			newRevision(t, sts, "rev-2")
			if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}); err != nil {
				t.Fatal(err)
			}
			for _, pod := range pods {
				lost := pod.Spec.NodeName != good
				if gone := !exists(t, pod); gone == lost {
					t.Errorf("%s (lost: %v): deleted %v, want %v", pod.Name, lost, gone, !lost)
				}
			}
			if got := assignmentOf(t, sts); got != tc.want {
				t.Errorf("assignment after the restart %q, want %q", got, tc.want)
			}
		})
	}
}

// The node back: the even assignment returns by the usual steps, each once
// the pods have settled.
func TestEvenAssignmentReturnsWhenTheNodeIsBack(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	good, bad := node(t, corev1.ConditionTrue, now.Add(-time.Hour)), node(t, corev1.ConditionFalse, now.Add(-time.Minute))
	sts := newStatefulSet(t, 2, "0,1,2,3") // failed over before
	placePods(t, sts, "rev-1", good, bad)
	partitions := 4
	r := reconciler(&partitions)
	r.Now = func() time.Time { return now }
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := assignmentOf(t, sts); got != "0,1,2,3" {
		t.Fatalf("while the node is lost: %q, want it kept", got)
	}
	setReady(t, bad, corev1.ConditionTrue, now)
	for _, want := range []string{"0,2", "0,2;1,3"} {
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		if got := assignmentOf(t, sts); got != want {
			t.Fatalf("node back: %q, want %q", got, want)
		}
		settle(t, sts)
	}
}

// A lost pod that the StatefulSet replaces stays lost: after the failover's
// new template, the StatefulSet deletes the unschedulable pod of the older
// one and makes it again (kubectl drain of a node holding a pod's local
// volume: the pod can go nowhere), so the new pod is unschedulable only from
// then, or not even judged by the scheduler yet. Its ordinal has been
// unreachable all along: the live pod must be restarted to take the
// partitions at once, not NodeLostAfter later (its partitions stalled that
// much longer on the e2e cluster's drain).
func TestFailoverSurvivesTheReplacementOfTheLostPod(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name        string
		unscheduled bool // the replacement judged unschedulable (now), or not judged yet
	}{
		{"replacement not judged by the scheduler yet", false},
		{"replacement unschedulable since now", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			good := node(t, corev1.ConditionTrue, now.Add(-time.Hour))
			sts := newStatefulSet(t, 2, "0,2;1,3")
			pods := placePods(t, sts, "rev-1", good, "") // pod 1 unschedulable for an hour
			partitions := 4
			r := reconciler(&partitions)
			r.Now = func() time.Time { return now }
			req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}
			if _, err := r.Reconcile(ctx, req); err != nil {
				t.Fatal(err)
			}
			if got := assignmentOf(t, sts); got != "0,1,2,3" {
				t.Fatalf("assignment %q, want the failover's", got)
			}
			// The StatefulSet controller: the new template seen, the lost
			// pod of the older one deleted and made again at the new one.
			newRevision(t, sts, "rev-2")
			if err := k8s.Delete(ctx, pods[1], client.GracePeriodSeconds(0)); err != nil {
				t.Fatal(err)
			}
			replacement := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: pods[1].Name, Namespace: sts.Namespace, Labels: map[string]string{
					"app.kubernetes.io/component": "consumer", appsv1.ControllerRevisionHashLabelKey: "rev-2", appsv1.PodIndexLabel: "1"}},
				Spec: sts.Spec.Template.Spec,
			}
			if err := ctrl.SetControllerReference(sts, replacement, scheme.Scheme); err != nil {
				t.Fatal(err)
			}
			if err := k8s.Create(ctx, replacement); err != nil {
				t.Fatal(err)
			}
			if tc.unscheduled {
				replacement.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: "Unschedulable", LastTransitionTime: metav1.NewTime(now)}}
				if err := k8s.Status().Update(ctx, replacement); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := r.Reconcile(ctx, req); err != nil {
				t.Fatal(err)
			}
			if exists(t, pods[0]) {
				t.Errorf("the live pod %s, of the older template, was not restarted: its ordinal's partitions wait for the lost one's replacement to be lost %s more", pods[0].Name, r.NodeLostAfter)
			}
			if !exists(t, replacement) {
				t.Errorf("the lost pod's replacement was deleted")
			}
			if got := assignmentOf(t, sts); got != "0,1,2,3" {
				t.Errorf("assignment after the replacement %q, want the failover's kept", got)
			}
		})
	}
}

// An ordinal's clock ends with the ordinal: scaled to zero (or the
// StatefulSet deleted) while a pod's node was NotReady, the StatefulSet
// scaled up again later makes a new pod for that ordinal, which starts a
// clock of its own — it is not lost at once while the scheduler has not
// placed it yet.
func TestFailoverClocksEndWithTheirOrdinals(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	good, bad := node(t, corev1.ConditionTrue, now.Add(-time.Hour)), node(t, corev1.ConditionFalse, now.Add(-10*time.Second))
	sts := newStatefulSet(t, 2, "0,2;1,3")
	pods := placePods(t, sts, "rev-0", good, bad) // pod 1 unreachable for 10s: not lost yet
	partitions := 4
	r := reconciler(&partitions)
	clock := now
	r.Now = func() time.Time { return clock }
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}
	reconcile := func(want string) {
		t.Helper()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
		if got := assignmentOf(t, sts); got != want {
			t.Fatalf("assignment %q, want %q", got, want)
		}
	}
	reconcile("0,2;1,3")

	// Scaled to zero: the StatefulSet controller deletes the pods.
	scale(t, sts, 0)
	for _, pod := range pods {
		if err := k8s.Delete(ctx, pod, client.GracePeriodSeconds(0)); err != nil {
			t.Fatal(err)
		}
	}
	reconcile("0,2;1,3")

	// Back to two, 25 s later: pod 1 made again, the scheduler has not
	// judged it yet (its own clock would not even have started).
	clock = now.Add(25 * time.Second)
	scale(t, sts, 2)
	for i, nodeName := range []string{good, ""} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", sts.Name, i), Namespace: sts.Namespace, Labels: map[string]string{
				"app.kubernetes.io/component": "consumer", appsv1.ControllerRevisionHashLabelKey: "rev-0", appsv1.PodIndexLabel: fmt.Sprint(i)}},
			Spec: sts.Spec.Template.Spec,
		}
		pod.Spec.NodeName = nodeName
		if err := ctrl.SetControllerReference(sts, pod, scheme.Scheme); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Create(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	reconcile("0,2;1,3") // not "0,1,2,3": the new pod 1 is not lost
	if len(r.unreachable) != 0 {
		t.Errorf("clocks %v, want none", r.unreachable)
	}

	// Pod 0's node NotReady now (a clock starts), then the StatefulSet
	// deleted: its clocks go too.
	setReady(t, good, corev1.ConditionFalse, clock)
	reconcile("0,2;1,3")
	if len(r.unreachable) != 1 {
		t.Fatalf("clocks %v, want pod 0's", r.unreachable)
	}
	if err := k8s.Delete(ctx, sts); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if len(r.unreachable) != 0 {
		t.Errorf("after the StatefulSet's deletion: clocks %v, want none", r.unreachable)
	}
}
