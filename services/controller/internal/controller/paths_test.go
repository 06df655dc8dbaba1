package controller

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// templateOf is the StatefulSet's pod template as the API server has it.
func templateOf(t *testing.T, sts *appsv1.StatefulSet) corev1.PodTemplateSpec {
	t.Helper()
	var got appsv1.StatefulSet
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(sts), &got); err != nil {
		t.Fatal(err)
	}
	return got.Spec.Template
}

// noEvent fails if the reconciler recorded an event.
func noEvent(t *testing.T, r *StatefulSetReconciler) {
	t.Helper()
	select {
	case e := <-r.Recorder.(*record.FakeRecorder).Events:
		t.Errorf("event %q, want none", e)
	default:
	}
}

// A template without the assignment variable, or without the consumer
// container, has no assignment to start from: the controller leaves it as
// it is (never writes a first one: old and new pods would share
// partitions), and says why with a NoAssignment warning and the gauge.
func TestReconcileLeavesATemplateWithoutAnAssignmentAlone(t *testing.T) {
	partitions := 4
	ctx := context.Background()
	for _, tt := range []struct {
		name  string
		spoil func(*corev1.Container)
		why   string
	}{
		{"no PARTITIONS_BY_ORDINAL", func(c *corev1.Container) { c.Env = c.Env[:1] }, `container "consumer" has no PARTITIONS_BY_ORDINAL variable`},
		{"no consumer container", func(c *corev1.Container) { c.Name = "stats" }, `pod template has no container "consumer"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := reconciler(&partitions)
			sts := newStatefulSet(t, 2, "0,1,2,3")
			patch := client.MergeFrom(sts.DeepCopy())
			tt.spoil(&sts.Spec.Template.Spec.Containers[0])
			if err := k8s.Patch(ctx, sts, patch); err != nil {
				t.Fatal(err)
			}
			settle(t, sts)
			before := templateOf(t, sts)
			for range 2 {
				res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)})
				if err != nil || res != (ctrl.Result{}) {
					t.Fatalf("Reconcile = %+v, %v; want no error and no retry (the template's change brings it back)", res, err)
				}
				settle(t, sts)
			}
			if after := templateOf(t, sts); !reflect.DeepEqual(after, before) {
				t.Errorf("the template changed:\n%+v\nwas\n%+v", after, before)
			}
			if gauge := testutil.ToFloat64(invalidAssignment.WithLabelValues(sts.Namespace, sts.Name)); gauge != 1 {
				t.Errorf("invalid-assignment gauge %v, want 1", gauge)
			}
			select {
			case e := <-r.Recorder.(*record.FakeRecorder).Events:
				if want := "Warning NoAssignment " + tt.why + "; the partition controller leaves this StatefulSet alone"; !strings.HasPrefix(e, want) {
					t.Errorf("event %q, want %q", e, want)
				}
			default:
				t.Error("no event says why")
			}
		})
	}
}

// The topic's partition count cannot be looked up: the reconcile fails
// with the look-up's error (controller-runtime retries it with backoff),
// and the assignment is not moved a step, though the replicas changed.
func TestReconcileWaitsForThePartitionCount(t *testing.T) {
	ctx := context.Background()
	r := reconciler(new(int))
	lookup := errors.New("topic does not exist: temperatures")
	r.Partitions = func(context.Context) (int, error) { return 0, lookup }
	sts := newStatefulSet(t, 2, "0,2;1,3")
	scale(t, sts, 3)
	settle(t, sts)
	res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)})
	if !errors.Is(err, lookup) || err.Error() != "partition count: topic does not exist: temperatures" || res != (ctrl.Result{}) {
		t.Fatalf("Reconcile = %+v, %v; want the look-up's error", res, err)
	}
	if got := assignmentOf(t, sts); got != "0,2;1,3" {
		t.Errorf("assignment %q, want it unchanged", got)
	}
	noEvent(t, r)
}

// The patch of a step (rebalance, or failover) is refused. A conflict —
// someone else changed the StatefulSet meanwhile — is looked at again soon,
// without an error; any other refusal is the reconcile's error. Either way
// no step is told of (event, counter) and the StatefulSet is as the other
// writer left it.
func TestReconcileWhenThePatchIsRefused(t *testing.T) {
	ctx := context.Background()
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "weather-consumer",
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "statefulsets"}, "weather-consumer",
		errors.New("RBAC: patch not allowed"))
	type step struct {
		name    string
		prepare func(t *testing.T, sts *appsv1.StatefulSet, r *StatefulSetReconciler) // a step due
		counter prometheus.Counter
		event   string
	}
	steps := []step{
		{"rebalance", func(t *testing.T, sts *appsv1.StatefulSet, _ *StatefulSetReconciler) {
			scale(t, sts, 3) // 2 → 3 replicas: the first step takes partitions from the first two
			settle(t, sts)
		}, rebalances, "Rebalance"},
		{"failover", func(t *testing.T, sts *appsv1.StatefulSet, r *StatefulSetReconciler) {
			now := time.Now()
			good, bad := node(t, corev1.ConditionTrue, now.Add(-time.Hour)), node(t, corev1.ConditionFalse, now.Add(-time.Hour))
			placePods(t, sts, "rev-1", good, bad)
			r.Now = func() time.Time { return now }
		}, failovers, "Failover"},
	}
	for _, s := range steps {
		for _, refusal := range []struct {
			name string
			err  error
		}{{"conflict", conflict}, {"forbidden", forbidden}} {
			t.Run(s.name+", "+refusal.name, func(t *testing.T) {
				partitions := 4
				r := reconciler(&partitions)
				sts := newStatefulSet(t, 2, "0,2;1,3")
				s.prepare(t, sts, r)
				ww, err := client.NewWithWatch(restCfg, client.Options{Scheme: scheme.Scheme})
				if err != nil {
					t.Fatal(err)
				}
				patches := 0
				r.Client = interceptor.NewClient(ww, interceptor.Funcs{
					Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, _ client.Patch, _ ...client.PatchOption) error {
						patches++
						// Another writer got there first: a label of its own.
						var now appsv1.StatefulSet
						if err := c.Get(ctx, client.ObjectKeyFromObject(obj), &now); err != nil {
							return err
						}
						now.Labels["someone"] = "else"
						if err := c.Update(ctx, &now); err != nil {
							return err
						}
						return refusal.err
					},
				})
				before := templateOf(t, sts)
				steps := testutil.ToFloat64(s.counter)
				res, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)})
				if apierrors.IsConflict(refusal.err) {
					if err != nil || res.RequeueAfter != 100*time.Millisecond {
						t.Errorf("Reconcile = %+v, %v; want no error, another look in 100ms", res, err)
					}
				} else if !errors.Is(err, forbidden) || res != (ctrl.Result{}) {
					t.Errorf("Reconcile = %+v, %v; want the patch's error", res, err)
				}
				if patches != 1 {
					t.Fatalf("%d patches, want 1 (a step was due)", patches)
				}
				var after appsv1.StatefulSet
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(sts), &after); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(after.Spec.Template, before) || after.Labels["someone"] != "else" || after.Annotations[TargetAnnotation] != "" {
					t.Errorf("after the refused patch: template %+v (was %+v), labels %v, annotations %v; want the other writer's change only",
						after.Spec.Template, before, after.Labels, after.Annotations)
				}
				if got := testutil.ToFloat64(s.counter); got != steps {
					t.Errorf("%s steps counted %v, was %v", s.event, got, steps)
				}
				noEvent(t, r)
				// Looked at again with the patch let through, the step is taken.
				r.Client = k8s
				if _, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(sts)}); err != nil {
					t.Fatal(err)
				}
				if got := assignmentOf(t, sts); got == "0,2;1,3" {
					t.Errorf("assignment %q after the retry, want the step taken", got)
				}
				select {
				case e := <-r.Recorder.(*record.FakeRecorder).Events:
					if !strings.Contains(e, " "+s.event+" ") {
						t.Errorf("event %q, want a %s", e, s.event)
					}
				default:
					t.Errorf("no %s event after the retry", s.event)
				}
			})
		}
	}
}
