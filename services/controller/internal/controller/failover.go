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
func (r *StatefulSetReconciler) lost(ctx context.Context, pods []*corev1.Pod) (map[int]string, time.Duration, error) {
	now := r.now()
	lost := map[int]string{}
	recheck := time.Duration(1<<63 - 1)
	for _, pod := range pods {
		ordinal, ok := podOrdinal(pod)
		if !ok {
			continue
		}
		since, why, err := r.unreachableSince(ctx, pod)
		if err != nil {
			return nil, 0, err
		}
		if since.IsZero() {
			continue
		}
		if left := since.Add(r.NodeLostAfter).Sub(now); left > 0 {
			recheck = min(recheck, left+100*time.Millisecond)
			continue
		}
		lost[ordinal] = fmt.Sprintf("%s: %s for %s", pod.Name, why, now.Sub(since).Round(time.Second))
	}
	return lost, recheck, nil
}

// unreachableSince is when pod stopped being reachable, and why: its node
// NotReady (the Ready condition's last transition) or gone, or the pod
// unschedulable (a volume bound to a lost node); zero if it is reachable.
func (r *StatefulSetReconciler) unreachableSince(ctx context.Context, pod *corev1.Pod) (time.Time, string, error) {
	if pod.Spec.NodeName == "" {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return c.LastTransitionTime.Time, "unschedulable (" + c.Reason + ")", nil
			}
		}
		return time.Time{}, "", nil
	}
	var node corev1.Node
	err := r.Get(ctx, types.NamespacedName{Name: pod.Spec.NodeName}, &node)
	if apierrors.IsNotFound(err) {
		return pod.CreationTimestamp.Time, "its node " + pod.Spec.NodeName + " is gone", nil
	}
	if err != nil {
		return time.Time{}, "", err
	}
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return c.LastTransitionTime.Time, fmt.Sprintf("its node %s is NotReady (%s)", node.Name, c.Reason), nil
		}
	}
	return time.Time{}, "", nil
}

// failover gives the lost pods' partitions to the live ones (one step), then
// restarts each live pod of an older template, since the StatefulSet's own
// rolling update waits for the lost pod (highest ordinals first) forever.
func (r *StatefulSetReconciler) failover(ctx context.Context, sts *appsv1.StatefulSet, pods []*corev1.Pod,
	current, desired assignment.Assignment, lost map[int]string, replicas, partitions int,
) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	isLost := map[int]bool{}
	var why []string
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
