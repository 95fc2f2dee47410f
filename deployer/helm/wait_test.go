package helm

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// A Deployment mid-rollout: the pods of its newest ReplicaSet are the ones
// whose reasons count, not the old ReplicaSet's.
func TestPollRolloutDeployment(t *testing.T) {
	now := time.Now()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"component": "api"}}
	three := int32(3)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "dify-api", Namespace: "ns", UID: "dep", Generation: 2,
			Labels: map[string]string{"component": "api"}, Annotations: map[string]string{"deployment.kubernetes.io/revision": "2"}},
		Spec:   appsv1.DeploymentSpec{Replicas: &three, Selector: sel},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 1, AvailableReplicas: 1},
	}
	rs := func(name, rev, hash string) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns",
			Labels:          map[string]string{"component": "api", "pod-template-hash": hash},
			Annotations:     map[string]string{"deployment.kubernetes.io/revision": rev},
			OwnerReferences: []metav1.OwnerReference{{UID: "dep"}}}}
	}
	p := func(name, hash string, mut func(*corev1.Pod)) *corev1.Pod {
		pp := pod(mut)
		pp.Name, pp.Namespace = name, "ns"
		pp.Labels = map[string]string{"component": "api", "pod-template-hash": hash}
		return &pp
	}
	ready := func(p *corev1.Pod) {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	unschedulable := func(p *corev1.Pod) {
		p.Spec.NodeName = ""
		p.Status.Phase = corev1.PodPending
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: corev1.PodReasonUnschedulable, LastTransitionTime: metav1.NewTime(now.Add(-time.Minute)),
			Message: "0/1 nodes are available: 1 Insufficient cpu. preemption: not helpful"}}
	}
	crash := func(p *corev1.Pod) {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", State: waiting("CrashLoopBackOff", "")}}
	}
	objs := []runtime.Object{dep, rs("old", "1", "h1"), rs("new", "2", "h2"),
		p("old-1", "h1", crash), // an old pod's trouble is not the new revision's
		p("new-1", "h2", ready), p("new-2", "h2", unschedulable), p("new-3", "h2", unschedulable)}
	kc := fake.NewClientset(objs...)
	comps, _ := newComponents([]string{"api"}, map[string]string{"api": "component=api"})
	sts, err := pollRollout(context.Background(), kc, []workloadRef{{"Deployment", "ns", "dify-api"}}, comps, now, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := sts[0]
	if s.done || !s.fatal || s.label != "api" || s.ready != 1 || s.want != 3 || s.reason != "0/1 nodes are available: 1 Insufficient cpu" {
		t.Errorf("%+v", s)
	}
	if got := problems(sts, "")[0].String(); got != "api: 1/3 ready: 0/1 nodes are available: 1 Insufficient cpu" {
		t.Errorf("problem %q", got)
	}

	// Rolled out.
	dep.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}
	kc = fake.NewClientset(dep)
	sts, err = pollRollout(context.Background(), kc, []workloadRef{{"Deployment", "ns", "dify-api"}}, comps, now, 30*time.Second)
	if err != nil || !sts[0].done {
		t.Errorf("%+v %v", sts, err)
	}
}

func TestPollRolloutStatefulSet(t *testing.T) {
	one := int32(1)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "pg", Namespace: "ns", Generation: 3, Labels: map[string]string{"app.kubernetes.io/name": "postgresql"}},
		Spec:       appsv1.StatefulSetSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pg"}}},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, ReadyReplicas: 1, UpdatedReplicas: 0,
			CurrentRevision: "pg-1", UpdateRevision: "pg-2"},
	}
	comps, _ := newComponents([]string{"postgresql"}, map[string]string{"postgresql": "app.kubernetes.io/name=postgresql"})
	got, err := pollRollout(context.Background(), fake.NewClientset(sts), []workloadRef{{"StatefulSet", "ns", "pg"}}, comps, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].done || got[0].reason != "0 of 1 updated" || got[0].label != "postgresql" {
		t.Errorf("%+v", got[0])
	}
	sts.Status.CurrentRevision, sts.Status.UpdatedReplicas = "pg-2", 1
	got, _ = pollRollout(context.Background(), fake.NewClientset(sts), []workloadRef{{"StatefulSet", "ns", "pg"}}, comps, time.Now(), 0)
	if !got[0].done {
		t.Errorf("%+v", got[0])
	}
}
