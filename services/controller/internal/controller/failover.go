package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/weatherstream/weather/services/common/assignment"
	"github.com/weatherstream/weather/services/controller/internal/rebalance"
)

// lost returns the ordinals of pods that are lost — on a node NotReady (or
// gone), or unscheduled, for longer than NodeLostAfter — with why, and how
// soon a pod not lost yet would become so (to look again then).
//
// The clock is the ordinal's, not the pod's: after a failover's new
// template the StatefulSet replaces an unschedulable pod of the older one
// (its volume on a cordoned or lost node) with a new pod that is
// unschedulable only from then, or not even judged by the scheduler yet.
// Its ordinal has been unreachable all along, and stays lost (the live pods
// are restarted at once, not NodeLostAfter later). An ordinal's clock stops
// once its pod is on a Ready node, or the StatefulSet has no such ordinal
// any more (forget). Kept in memory: a new controller starts the clocks again (a
// later failover, never an early one).
func (r *StatefulSetReconciler) lost(ctx context.Context, sts *appsv1.StatefulSet, pods []*corev1.Pod, replicas int) (map[int]string, time.Duration, error) {
	now := r.now()
	lost := map[int]string{}
	recheck := time.Duration(1<<63 - 1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unreachable == nil {
		r.unreachable = map[ordinalKey]time.Time{}
	}
	key := client.ObjectKeyFromObject(sts)
	r.forgetLocked(key, replicas)
	for _, pod := range pods {
		ordinal, ok := podOrdinal(pod)
		if !ok {
			continue
		}
		since, why, undecided, err := r.unreachableSince(ctx, pod)
		if err != nil {
			return nil, 0, err
		}
		k := ordinalKey{key, ordinal}
		first, known := r.unreachable[k]
		switch {
		case undecided && !known, !undecided && since.IsZero():
			delete(r.unreachable, k)
			continue
		case undecided:
			since, why = first, "not scheduled yet, its predecessor unreachable"
		case known && first.Before(since):
			since, why = first, why+", its predecessor unreachable before it"
		}
		r.unreachable[k] = since
		if left := since.Add(r.NodeLostAfter).Sub(now); left > 0 {
			recheck = min(recheck, left+100*time.Millisecond)
			continue
		}
		lost[ordinal] = fmt.Sprintf("%s: %s for %s", pod.Name, why, now.Sub(since).Round(time.Second))
	}
	return lost, recheck, nil
}

// forget stops the clocks of the StatefulSet's ordinals from on (0: all of
// them): ordinals it does not have any more (scaled down or to zero,
// deleted, or no longer managed). A pod made later for such an ordinal
// starts a clock of its own.
func (r *StatefulSetReconciler) forget(sts types.NamespacedName, from int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forgetLocked(sts, from)
}

func (r *StatefulSetReconciler) forgetLocked(sts types.NamespacedName, from int) {
	for k := range r.unreachable {
		if k.sts == sts && k.ordinal >= from {
			delete(r.unreachable, k)
		}
	}
}

// ordinalKey names an ordinal of a StatefulSet.
type ordinalKey struct {
	sts     types.NamespacedName
	ordinal int
}

// unreachableSince is when pod stopped being reachable, and why: its node
// NotReady (the Ready condition's last transition) or gone, or the pod
// unschedulable (a volume bound to a lost node); zero if it is reachable.
// undecided: the pod is not scheduled, and the scheduler has not said yet
// whether it can be.
func (r *StatefulSetReconciler) unreachableSince(ctx context.Context, pod *corev1.Pod) (since time.Time, why string, undecided bool, err error) {
	if pod.Spec.NodeName == "" {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return c.LastTransitionTime.Time, "unschedulable (" + c.Reason + ")", false, nil
			}
		}
		return time.Time{}, "", true, nil
	}
	var node corev1.Node
	err = r.Get(ctx, types.NamespacedName{Name: pod.Spec.NodeName}, &node)
	if apierrors.IsNotFound(err) {
		return pod.CreationTimestamp.Time, "its node " + pod.Spec.NodeName + " is gone", false, nil
	}
	if err != nil {
		return time.Time{}, "", false, err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return c.LastTransitionTime.Time, fmt.Sprintf("its node %s is NotReady (%s)", node.Name, c.Reason), false, nil
		}
	}
	return time.Time{}, "", false, nil
}

// failover gives the lost pods' partitions to the live ones (one step), then
// restarts each live pod of an older template, since the StatefulSet's own
// rolling update waits for the lost pod (highest ordinals first) forever.
func (r *StatefulSetReconciler) failover(ctx context.Context, sts *appsv1.StatefulSet, pods []*corev1.Pod,
	current, desired assignment.Assignment, lost map[int]string, replicas, partitions int,
) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	isLost := map[int]bool{}
	why := make([]string, 0, len(lost))
	for _, i := range slices.Sorted(maps.Keys(lost)) {
		isLost[i] = true
		why = append(why, lost[i])
	}
	next := rebalance.Failover(current, isLost, replicas, partitions)
	if len(isLost) >= replicas || next.Equal(current) && !r.stale(sts, pods, isLost) {
		return ctrl.Result{RequeueAfter: r.Poll}, nil // nothing to give, or given and rolled out
	}
	if !next.Equal(current) {
		patch := client.MergeFrom(sts.DeepCopy())
		env, _ := r.assignmentEnv(sts)
		env.Value = next.String()
		if sts.Annotations == nil {
			sts.Annotations = map[string]string{}
		}
		sts.Annotations[TargetAnnotation] = desired.String()
		if err := r.Patch(ctx, sts, patch); err != nil {
			if apierrors.IsConflict(err) {
				return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
			}
			return ctrl.Result{}, err
		}
		msg := fmt.Sprintf("partitions by ordinal %q -> %q: the partitions of lost pods go to live ones (%s); the even %q returns once they are back",
			current, next, strings.Join(why, "; "), desired)
		logger.Info("failing over", "from", current.String(), "to", next.String(), "lost", why, "target", desired.String())
		r.Recorder.Event(sts, corev1.EventTypeWarning, "Failover", msg)
		failovers.Inc()
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	// The template holds the failover: restart the live pods still on an
	// older one (the StatefulSet recreates each from the new template).
	if sts.Status.ObservedGeneration < sts.Generation {
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	for _, pod := range pods {
		ordinal, ok := podOrdinal(pod)
		if !ok || isLost[ordinal] || pod.DeletionTimestamp != nil || pod.Labels[appsv1.ControllerRevisionHashLabelKey] == sts.Status.UpdateRevision {
			continue
		}
		if err := r.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
		logger.Info("restarted a live pod to take the lost pods' partitions", "pod", pod.Name)
		r.Recorder.Event(sts, corev1.EventTypeNormal, "FailoverRestart", "restarted "+pod.Name+" to take the partitions of lost pods")
	}
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// stale reports whether a live pod runs an older template than the
// StatefulSet's.
func (r *StatefulSetReconciler) stale(sts *appsv1.StatefulSet, pods []*corev1.Pod, lost map[int]bool) bool {
	for _, pod := range pods {
		if ordinal, ok := podOrdinal(pod); ok && !lost[ordinal] && pod.DeletionTimestamp == nil &&
			pod.Labels[appsv1.ControllerRevisionHashLabelKey] != sts.Status.UpdateRevision {
			return true
		}
	}
	return false
}

// podOrdinal is the pod's StatefulSet ordinal: its pod-index label, or the
// number its name ends with.
func podOrdinal(pod *corev1.Pod) (int, bool) {
	if v, ok := pod.Labels[appsv1.PodIndexLabel]; ok {
		n, err := strconv.Atoi(v)
		return n, err == nil && n >= 0
	}
	n, err := assignment.Ordinal(-1, pod.Name)
	return n, err == nil
}

func (r *StatefulSetReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// managedStatefulSets maps any event (a node's) to every managed
// StatefulSet: a node NotReady may concern any of them.
func (r *StatefulSetReconciler) managedStatefulSets(ctx context.Context, _ client.Object) []reconcile.Request {
	var list appsv1.StatefulSetList
	if err := r.List(ctx, &list, client.MatchingLabelsSelector{Selector: Selector()}); err != nil {
		log.FromContext(ctx).Error(err, "list the managed StatefulSets")
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, sts := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&sts)})
	}
	return reqs
}
