package helm

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRoundDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Minute: "2m", 90 * time.Second: "1m30s", 8 * time.Second: "8s",
		time.Hour: "1h", 90 * time.Minute: "1h30m", 8400 * time.Millisecond: "8s",
	} {
		if got := roundDuration(d); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}

func TestSchedulerMessage(t *testing.T) {
	for in, want := range map[string]string{
		"0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.":                                                                                                              "0/1 nodes are available: 1 Insufficient cpu",
		"0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.": "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s)",
		"0/3 nodes are available: 3 node(s) had untolerated taint {tune.dify.dev/pool: weaviate}.":                                                                                                                                                       "0/3 nodes are available: 3 node(s) had untolerated taint {tune.dify.dev/pool: weaviate}",
	} {
		if got := schedulerMessage(in); got != want {
			t.Errorf("%q:\n got %q\nwant %q", in, got, want)
		}
	}
}

func pod(mut func(p *corev1.Pod)) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "dify-api-1"}, Spec: corev1.PodSpec{NodeName: "n0"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	mut(&p)
	return p
}

func waiting(reason, msg string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}
}

func terminated(reason string, code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}
}

func TestPodProblem(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	unschedulableFor := func(since time.Duration, msg string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: corev1.PodReasonUnschedulable, LastTransitionTime: metav1.NewTime(now.Add(-since)), Message: msg}}
		}
	}
	unschedulable := func(since time.Duration) func(*corev1.Pod) {
		return unschedulableFor(since, "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")
	}
	for _, tc := range []struct {
		name   string
		pod    corev1.Pod
		reason string
		fatal  bool
	}{
		{"ready", pod(func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}), "", false},
		{"OOM-killed, crash looping", pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", RestartCount: 3,
				State: waiting("CrashLoopBackOff", "back-off 40s"), LastTerminationState: terminated("OOMKilled", 137)}}
		}), "OOMKilled: container api went over its memory limit (CrashLoopBackOff, 3 restarts)", true},
		{"OOM-killed just now", pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", State: terminated("OOMKilled", 137)}}
		}), "OOMKilled: container api went over its memory limit", true},
		{"crash loop", pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", RestartCount: 4,
				State: waiting("CrashLoopBackOff", ""), LastTerminationState: terminated("Error", 1)}}
		}), "CrashLoopBackOff: container api exited 1, 4 restarts", true},
		{"image pull back-off", pod(func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api",
				State: waiting("ImagePullBackOff", "Back-off pulling image \"langgenius/dify-api:nope\"\nmore")}}
		}), "ImagePullBackOff: Back-off pulling image \"langgenius/dify-api:nope\"", true},
		{"image pull error, retried", pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", State: waiting("ErrImagePull", "not found")}}
		}), "ErrImagePull: not found", false},
		{"init container crash loop", pod(func(p *corev1.Pod) {
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", RestartCount: 2,
				State: waiting("CrashLoopBackOff", ""), LastTerminationState: terminated("Error", 2)}}
		}), "CrashLoopBackOff: container migrate exited 2, 2 restarts", true},
		{"unschedulable for a moment", pod(unschedulable(5 * time.Second)), "0/1 nodes are available: 1 Insufficient cpu", false},
		{"unschedulable for long", pod(unschedulable(time.Minute)), "0/1 nodes are available: 1 Insufficient cpu", true},
		{"waiting for its volume for long", pod(unschedulableFor(time.Minute, "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")),
			"0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims", false},
		{"running, not ready", pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}), "container api running but not ready", false},
		{"evicted", pod(func(p *corev1.Pod) {
			p.Status.Phase, p.Status.Reason, p.Status.Message = corev1.PodFailed, "Evicted", "The node was low on resource: memory."
		}), "Evicted: The node was low on resource: memory.", true},
		{"on its way out", pod(func(p *corev1.Pod) {
			p.DeletionTimestamp = &metav1.Time{Time: now}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", State: waiting("CrashLoopBackOff", "")}}
		}), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason, fatal := podProblem(&tc.pod, now, 30*time.Second)
			if reason != tc.reason || fatal != tc.fatal {
				t.Errorf("got %q fatal %v, want %q fatal %v", reason, fatal, tc.reason, tc.fatal)
			}
		})
	}
}

// Among a workload's pods, a fatal reason wins over a pending one.
func TestWorstReason(t *testing.T) {
	now := time.Now()
	pods := []corev1.Pod{
		pod(func(p *corev1.Pod) { p.Status.Phase, p.Spec.NodeName = corev1.PodPending, "" }),
		pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
		}),
		pod(func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "api", RestartCount: 1,
				State: waiting("CrashLoopBackOff", ""), LastTerminationState: terminated("OOMKilled", 137)}}
		}),
	}
	if r, fatal := worstReason(pods, now, time.Minute); !fatal || !strings.HasPrefix(r, "OOMKilled") {
		t.Errorf("got %q %v", r, fatal)
	}
	if r, fatal := worstReason(pods[:2], now, time.Minute); fatal || r != "container api running but not ready" {
		t.Errorf("got %q %v", r, fatal)
	}
}

func TestEventReason(t *testing.T) {
	at := func(s int) metav1.Time { return metav1.NewTime(time.Unix(int64(s), 0)) }
	evs := []corev1.Event{
		{Type: corev1.EventTypeWarning, Reason: "FailedCreate", Message: "pods \"x\" is forbidden: exceeded quota: q, requested: cpu=2", LastTimestamp: at(20)},
		{Type: corev1.EventTypeNormal, Reason: "Scheduled", LastTimestamp: at(30)},
		{Type: corev1.EventTypeWarning, Reason: "FailedScheduling", Message: "0/1 nodes are available: 1 Insufficient memory. preemption: ...", LastTimestamp: at(10)},
	}
	if got := eventReason(evs); got != "FailedCreate: pods \"x\" is forbidden: exceeded quota: q, requested: cpu=2" {
		t.Errorf("got %q", got)
	}
	if got := eventReason(evs[1:]); got != "0/1 nodes are available: 1 Insufficient memory" {
		t.Errorf("got %q", got)
	}
	if got := eventReason(evs[1:2]); got != "" {
		t.Errorf("got %q from normal events", got)
	}
}

func TestRolloutErrorMessage(t *testing.T) {
	e := &RolloutError{Release: "dify", Revision: 5, RolledBackTo: 4, Problems: []Problem{
		{Workload: "api", Ready: 0, Want: 3, Reason: "0/1 nodes are available: 1 Insufficient cpu"},
		{Workload: "worker", Ready: 1, Want: 2, Reason: "timeout after 2m"},
	}}
	want := "api: 0/3 ready: 0/1 nodes are available: 1 Insufficient cpu; worker: 1/2 ready: timeout after 2m (rolled back to revision 4)"
	if e.Error() != want {
		t.Errorf("got  %q\nwant %q", e.Error(), want)
	}
	if !errors.Is(e, ErrRollout) || errors.Is(e, ErrRejected) {
		t.Error("a RolloutError matches ErrRollout only")
	}
}
