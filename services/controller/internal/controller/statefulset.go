// Package controller keeps the stats consumers' partition assignment in step
// with the consumer StatefulSet's replica count and the topic's partition
// count.
//
// The assignment lives in the pod template, as the consumer container's
// PARTITIONS_BY_ORDINAL variable: every pod reads its ordinal's entry at
// start. Changing it rolls the pods; the controller changes it only when the
// previous rollout has settled, and in steps (see rebalance.Next) such that
// the pods of one rollout, old and new, never share a partition.
//
// A pod whose node has stopped answering (NotReady for NodeLostAfter) is
// never replaced by Kubernetes until the node is back or deleted, and blocks
// a rolling update: its partitions would stall. The controller then fails
// over (rebalance.Failover): it gives them to the live pods in one step and
// restarts the live pods of an older template itself, leaving the lost one
// be. Once the node is back, the even assignment returns by the usual steps.
package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weatherstream/weather/services/common/assignment"
	"github.com/weatherstream/weather/services/controller/internal/rebalance"
)

const (
	// ManagedLabel marks the StatefulSets this controller manages…
	ManagedLabel = "weather.io/partition-controller"
	// ManagedValue is its value that says so.
	ManagedValue = "enabled"
	// TargetAnnotation shows, on the StatefulSet, where the current steps lead.
	TargetAnnotation = "weather.io/partitions-target"
	// AssignmentEnv is the consumer's variable the controller writes.
	AssignmentEnv = "PARTITIONS_BY_ORDINAL"
)

// StatefulSetReconciler rebalances the partitions of a consumer StatefulSet.
type StatefulSetReconciler struct {
	client.Client
	Recorder record.EventRecorder
	// Partitions returns the topic's partition count.
	Partitions func(context.Context) (int, error)
	// Container is the name of the consumer container in the pod template.
	Container string
	// Poll is how often the partition count is looked at when nothing else
	// happens: partitions added to the topic get an owner within it.
	Poll time.Duration
	// NodeLostAfter is how long a pod's node may be NotReady (or the pod
	// unscheduled) before its partitions go to other pods; > 0.
	NodeLostAfter time.Duration
	// Now is the clock (tests); nil: time.Now.
	Now func() time.Time

	// Since when each ordinal's pod has been unreachable (see lost).
	mu          sync.Mutex
	unreachable map[ordinalKey]time.Time
}

// Reconcile moves one StatefulSet one step toward the even assignment.
func (r *StatefulSetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var sts appsv1.StatefulSet
	if err := r.Get(ctx, req.NamespacedName, &sts); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName, 0)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if sts.Labels[ManagedLabel] != ManagedValue {
		r.forget(req.NamespacedName, 0)
		return ctrl.Result{}, nil // a pod event of a StatefulSet not ours
	}
	replicas := int32(1)
	if sts.Spec.Replicas != nil {
		replicas = *sts.Spec.Replicas
	}
	if replicas == 0 {
		// Nobody consumes; the template keeps the last assignment, and a
		// scale-up starts from it. No ordinal is unreachable any more.
		r.forget(req.NamespacedName, 0)
		return ctrl.Result{RequeueAfter: r.Poll}, nil
	}
	// An assignment the controller cannot read is never taken for an
	// empty one: jumping from "nobody" to the target in one step would let
	// old and new pods share partitions. It leaves the StatefulSet alone
	// until its template changes, and says why.
	env, err := r.assignmentEnv(&sts)
	if err != nil {
		r.refuse(ctx, &sts, "NoAssignment", err)
		return ctrl.Result{}, nil
	}
	current, err := assignment.ParseByOrdinal(env.Value)
	if err != nil {
		r.refuse(ctx, &sts, "BadAssignment", err)
		return ctrl.Result{}, nil
	}
	invalidAssignment.WithLabelValues(sts.Namespace, sts.Name).Set(0)
	partitions, err := r.Partitions(ctx)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("partition count: %w", err)
	}
	desired := rebalance.Even(int(replicas), partitions)
	pods, err := r.pods(ctx, &sts)
	if err != nil {
		return ctrl.Result{}, err
	}
	lost, recheck, err := r.lost(ctx, &sts, pods, int(replicas))
	if err != nil {
		return ctrl.Result{}, err
	}
	lostPods.WithLabelValues(sts.Namespace, sts.Name).Set(float64(len(lost)))
	if len(lost) > 0 {
		return r.failover(ctx, &sts, pods, current, desired, lost, int(replicas), partitions)
	}
	if current.Equal(desired) {
		return ctrl.Result{RequeueAfter: min(r.Poll, recheck)}, nil
	}
	if settled, why := r.settled(&sts, pods, replicas); !settled {
		logger.V(1).Info("waiting for the rollout to settle", "why", why)
		return ctrl.Result{RequeueAfter: min(time.Second, recheck)}, nil
	}
	next := rebalance.Next(current, desired)
	patch := client.MergeFrom(sts.DeepCopy())
	env, _ = r.assignmentEnv(&sts)
	env.Value = next.String()
	if sts.Annotations == nil {
		sts.Annotations = map[string]string{}
	}
	sts.Annotations[TargetAnnotation] = desired.String()
	if err := r.Patch(ctx, &sts, patch); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil // someone else changed it: look again
		}
		return ctrl.Result{}, err
	}
	msg := fmt.Sprintf("partitions by ordinal %q -> %q (target %q: %d replicas, %d partitions)",
		current, next, desired, replicas, partitions)
	logger.Info("rebalancing", "from", current.String(), "to", next.String(), "target", desired.String(), "replicas", replicas, "partitions", partitions)
	r.Recorder.Event(&sts, corev1.EventTypeNormal, "Rebalance", msg)
	rebalances.Inc()
	return ctrl.Result{RequeueAfter: time.Second}, nil
}

// refuse reports that the StatefulSet's assignment cannot be worked with:
// an event on it, an error in the log, and the invalid-assignment gauge.
func (r *StatefulSetReconciler) refuse(ctx context.Context, sts *appsv1.StatefulSet, reason string, err error) {
	msg := err.Error() + "; the partition controller leaves this StatefulSet alone until its template is fixed"
	log.FromContext(ctx).Error(err, "not rebalancing", "reason", reason)
	r.Recorder.Event(sts, corev1.EventTypeWarning, reason, msg)
	invalidAssignment.WithLabelValues(sts.Namespace, sts.Name).Set(1)
}

// assignmentEnv returns the consumer container's assignment variable.
func (r *StatefulSetReconciler) assignmentEnv(sts *appsv1.StatefulSet) (*corev1.EnvVar, error) {
	for i := range sts.Spec.Template.Spec.Containers {
		c := &sts.Spec.Template.Spec.Containers[i]
		if c.Name != r.Container {
			continue
		}
		for j := range c.Env {
			if c.Env[j].Name == AssignmentEnv {
				return &c.Env[j], nil
			}
		}
		return nil, fmt.Errorf("container %q has no %s variable", r.Container, AssignmentEnv)
	}
	return nil, fmt.Errorf("pod template has no container %q", r.Container)
}

// pods are the StatefulSet's pods.
func (r *StatefulSetReconciler) pods(ctx context.Context, sts *appsv1.StatefulSet) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	if err := r.List(ctx, &list, client.InNamespace(sts.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	var pods []*corev1.Pod
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], sts) {
			pods = append(pods, &list.Items[i])
		}
	}
	return pods, nil
}

// settled reports whether every pod runs the current template: the
// StatefulSet has seen its latest spec, and exactly replicas pods exist, none
// terminating, all of the update revision and ready. Only then may the next
// step start, so at most two consecutive assignments ever run side by side.
func (r *StatefulSetReconciler) settled(sts *appsv1.StatefulSet, pods []*corev1.Pod, replicas int32) (bool, string) {
	st := sts.Status
	if st.ObservedGeneration < sts.Generation || st.UpdateRevision == "" {
		return false, "the StatefulSet controller has not seen the latest spec"
	}
	for _, pod := range pods {
		switch {
		case pod.DeletionTimestamp != nil:
			return false, "pod " + pod.Name + " is terminating"
		case pod.Labels[appsv1.ControllerRevisionHashLabelKey] != st.UpdateRevision:
			return false, "pod " + pod.Name + " runs an older template"
		case !podReady(pod):
			return false, "pod " + pod.Name + " is not ready"
		}
	}
	if n := int32(len(pods)); n != replicas {
		return false, fmt.Sprintf("%d pods, want %d", n, replicas)
	}
	return true, ""
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// SetupWithManager watches the managed StatefulSets and their pods.
func (r *StatefulSetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	managed, err := predicate.LabelSelectorPredicate(metav1.LabelSelector{
		MatchLabels: map[string]string{ManagedLabel: ManagedValue},
	})
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("partitions").
		For(&appsv1.StatefulSet{}, builder.WithPredicates(managed)).
		Owns(&corev1.Pod{}). // a pod ready or gone may settle a rollout
		// A node NotReady (or Ready again) may fail partitions over.
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.managedStatefulSets)).
		Complete(r)
}

// Selector is the label selector of the StatefulSets the controller manages,
// for narrowing the manager's cache.
func Selector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{ManagedLabel: ManagedValue})
}
