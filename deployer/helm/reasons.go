package helm

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Container waiting reasons that will not resolve by waiting: the image, the
// command or the container's configuration is wrong.
var fatalWaiting = []string{
	"CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName",
	"CreateContainerConfigError", "CreateContainerError", "RunContainerError",
}

// podProblem says what keeps a pod from being ready, in the words a person
// wants ("OOMKilled", "CrashLoopBackOff: container api exited 1, 4
// restarts", "0/1 nodes are available: 1 Insufficient cpu"), and whether it
// is fatal: no point waiting further. A pod unschedulable for longer than
// unschedulableAfter (when > 0) is fatal; "" means the pod is ready or
// shows no reason yet.
func podProblem(p *corev1.Pod, now time.Time, unschedulableAfter time.Duration) (reason string, fatal bool) {
	if p.DeletionTimestamp != nil {
		return "", false // an old pod on its way out
	}
	if p.Status.Phase == corev1.PodFailed {
		return strings.TrimSpace(first(p.Status.Reason, "Failed") + ": " + p.Status.Message), true
	}
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if r, fatal := containerProblem(cs); r != "" {
			return r, fatal
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			since := c.LastTransitionTime.Time
			if since.IsZero() {
				since = p.CreationTimestamp.Time
			}
			// A pod waiting for its volume to be provisioned is waiting, not
			// out of capacity: a slow provisioner is the rollout timeout's
			// to judge.
			waiting := strings.Contains(c.Message, "unbound immediate PersistentVolumeClaims")
			return schedulerMessage(c.Message), !waiting && unschedulableAfter > 0 && now.Sub(since) >= unschedulableAfter
		}
	}
	if isReady(p) {
		return "", false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil && !cs.Ready {
			return fmt.Sprintf("container %s running but not ready", cs.Name), false
		}
	}
	switch {
	case p.Status.Phase == corev1.PodPending && p.Spec.NodeName == "":
		return "pending: not scheduled yet", false
	case p.Status.Phase == corev1.PodPending:
		return "pending on " + p.Spec.NodeName, false
	}
	return "", false
}

// containerProblem reads one container's status.
func containerProblem(cs corev1.ContainerStatus) (string, bool) {
	lastOOM := cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.Reason == "OOMKilled"
	if t := cs.State.Terminated; t != nil && t.Reason == "OOMKilled" {
		return fmt.Sprintf("OOMKilled: container %s went over its memory limit", cs.Name), true
	}
	if w := cs.State.Waiting; w != nil {
		switch {
		case lastOOM:
			return fmt.Sprintf("OOMKilled: container %s went over its memory limit (%s, %d restarts)", cs.Name, w.Reason, cs.RestartCount), true
		case w.Reason == "CrashLoopBackOff":
			exit := ""
			if t := cs.LastTerminationState.Terminated; t != nil {
				exit = fmt.Sprintf(" exited %d", t.ExitCode)
				if t.Reason != "" && t.Reason != "Error" {
					exit += " (" + t.Reason + ")"
				}
				exit += ","
			}
			return fmt.Sprintf("CrashLoopBackOff: container %s%s %d restarts", cs.Name, exit, cs.RestartCount), true
		case slices.Contains(fatalWaiting, w.Reason):
			return strings.TrimSuffix(w.Reason+": "+shorten(w.Message), ": "), true
		case w.Reason == "ErrImagePull":
			return strings.TrimSuffix(w.Reason+": "+shorten(w.Message), ": "), false // retried; ImagePullBackOff follows
		}
	}
	if lastOOM && !cs.Ready {
		return fmt.Sprintf("OOMKilled: container %s went over its memory limit (%d restarts)", cs.Name, cs.RestartCount), true
	}
	return "", false
}

// schedulerMessage keeps what the scheduler says about the nodes, its first
// sentence, and drops the postscripts (preemption, dynamic resource claims):
// "0/1 nodes are available: 1 Insufficient cpu".
func schedulerMessage(m string) string {
	m = strings.TrimSpace(m)
	if i := strings.Index(m, ". "); i >= 0 {
		m = m[:i]
	}
	return strings.TrimSuffix(m, ".")
}

// shorten keeps the first line of a kubelet message, at most 200 bytes.
func shorten(m string) string {
	m, _, _ = strings.Cut(strings.TrimSpace(m), "\n")
	if len(m) > 200 {
		m = m[:200] + "…"
	}
	return m
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// worstReason picks the reason to report among a workload's pods: a fatal
// one first, then one that names a cause, in pod order.
func worstReason(pods []corev1.Pod, now time.Time, unschedulableAfter time.Duration) (string, bool) {
	var reason string
	for i := range pods {
		r, fatal := podProblem(&pods[i], now, unschedulableAfter)
		if fatal {
			return r, true
		}
		if r != "" && (reason == "" || strings.HasPrefix(reason, "pending") && !strings.HasPrefix(r, "pending")) {
			reason = r
		}
	}
	return reason, false
}

// eventReason is the newest Warning event among events, "Reason: message".
func eventReason(events []corev1.Event) string {
	var best *corev1.Event
	for i := range events {
		e := &events[i]
		if e.Type != corev1.EventTypeWarning {
			continue
		}
		if best == nil || eventTime(e).After(eventTime(best)) {
			best = e
		}
	}
	if best == nil {
		return ""
	}
	if best.Reason == "FailedScheduling" {
		return schedulerMessage(best.Message)
	}
	return best.Reason + ": " + shorten(best.Message)
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}
