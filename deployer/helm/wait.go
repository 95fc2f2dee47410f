package helm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
)

// workloadRef names a Deployment or StatefulSet to wait for.
type workloadRef struct {
	Kind, Namespace, Name string
}

// workloadsOf lists the Deployments and StatefulSets among objs.
func workloadsOf(objs []runtime.Object, namespace string) []workloadRef {
	var refs []workloadRef
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			refs = append(refs, workloadRef{"Deployment", first(o.Namespace, namespace), o.Name})
		case *appsv1.StatefulSet:
			refs = append(refs, workloadRef{"StatefulSet", first(o.Namespace, namespace), o.Name})
		}
	}
	return refs
}

// status is one workload's rollout as seen in one poll.
type status struct {
	ref     workloadRef
	label   string // the space's name for it, else Kind/name
	done    bool
	ready   int
	want    int
	reason  string // why it is not done, if known
	fatal   bool
	podSel  string // selects the pods of the revision being rolled out
	podRefs []string
}

// waitRollout polls until every workload has rolled out, one fails for a
// reason waiting will not fix, or timeout passes. It returns the problems
// of the workloads that did not roll out (none: success), or an error when
// ctx ends or the API server stops answering.
func (d *Deployer) waitRollout(ctx context.Context, refs []workloadRef, timeout time.Duration) ([]Problem, error) {
	return d.waitRolloutFor(ctx, refs, timeout, timeout)
}

// waitRolloutFor is waitRollout with a deadline of its own, shorter than
// the rollout timeout it reports (the apply took the rest).
func (d *Deployer) waitRolloutFor(ctx context.Context, refs []workloadRef, timeout, reported time.Duration) ([]Problem, error) {
	kc, err := d.clients()
	if err != nil {
		return nil, err
	}
	comps, err := d.components()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	deadline := start.Add(timeout)
	lastAnswer := start
	var last []status
	for {
		now := time.Now()
		sts, err := pollRollout(ctx, kc, refs, comps, now, d.opts.UnschedulableAfter)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil && isNetworkError(err):
			if now.Sub(lastAnswer) > unreachableAfter {
				return nil, &unreachable{err: requestError(err)}
			}
		case err != nil:
			return nil, err
		default:
			lastAnswer = now
			last = sts
			pending := slices.DeleteFunc(slices.Clone(sts), func(s status) bool { return s.done })
			if len(pending) == 0 {
				return nil, nil
			}
			if slices.ContainsFunc(pending, func(s status) bool { return s.fatal }) {
				return problems(slices.DeleteFunc(pending, func(s status) bool { return !s.fatal }), ""), nil
			}
		}
		if now.After(deadline) {
			if last == nil {
				return nil, fmt.Errorf("rollout: no answer from the api server within %v: %w", timeout, err)
			}
			pending := slices.DeleteFunc(slices.Clone(last), func(s status) bool { return s.done })
			for i := range pending {
				if pending[i].reason == "" || pending[i].ready == 0 {
					if r := d.eventsReason(ctx, kc, pending[i]); r != "" {
						pending[i].reason = r
					}
				}
			}
			return problems(pending, "timeout after "+roundDuration(reported)), nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}

func problems(sts []status, timeout string) []Problem {
	var ps []Problem
	for _, s := range sts {
		reason := s.reason
		switch {
		case timeout != "" && reason != "":
			reason = timeout + " (" + reason + ")"
		case timeout != "":
			reason = timeout
		}
		ps = append(ps, Problem{Workload: s.label, Kind: s.ref.Kind, Name: s.ref.Name, Ready: s.ready, Want: s.want, Reason: reason})
	}
	return ps
}

// pollRollout reads every workload and the pods of its newest revision.
func pollRollout(ctx context.Context, kc kubernetes.Interface, refs []workloadRef, comps *components, now time.Time, unschedulableAfter time.Duration) ([]status, error) {
	var out []status
	for _, ref := range refs {
		var (
			s   status
			err error
		)
		switch ref.Kind {
		case "Deployment":
			s, err = deploymentStatus(ctx, kc, ref, comps)
		case "StatefulSet":
			s, err = statefulSetStatus(ctx, kc, ref, comps)
		}
		if err != nil {
			return nil, err
		}
		if !s.done && s.podSel != "" {
			pods, err := kc.CoreV1().Pods(ref.Namespace).List(ctx, metav1.ListOptions{LabelSelector: s.podSel})
			if err != nil {
				return nil, err
			}
			s.ready = 0
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp == nil && isReady(p) {
					s.ready++
				}
				s.podRefs = append(s.podRefs, p.Name)
			}
			if r, fatal := worstReason(pods.Items, now, unschedulableAfter); r != "" {
				s.reason, s.fatal = r, fatal
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func deploymentStatus(ctx context.Context, kc kubernetes.Interface, ref workloadRef, comps *components) (status, error) {
	s := status{ref: ref, label: ref.Kind + "/" + ref.Name}
	dep, err := kc.AppsV1().Deployments(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return s, err
	}
	if c := comps.of(dep.Labels); c != "" {
		s.label = c
	}
	want := replicas(dep.Spec.Replicas)
	st := dep.Status
	s.want, s.ready = want, int(st.ReadyReplicas)
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			s.reason, s.fatal = "progress deadline exceeded: "+c.Message, true
		}
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			s.reason = c.Reason + ": " + shorten(c.Message)
		}
	}
	switch {
	case dep.Generation > st.ObservedGeneration:
		s.reason = first(s.reason, "waiting for the deployment controller")
	case int(st.UpdatedReplicas) < want:
		s.reason = first(s.reason, fmt.Sprintf("%d of %d updated", st.UpdatedReplicas, want))
	case st.Replicas > st.UpdatedReplicas:
		s.reason = first(s.reason, fmt.Sprintf("%d old replicas terminating", st.Replicas-st.UpdatedReplicas))
	case st.AvailableReplicas < st.UpdatedReplicas:
		s.reason = first(s.reason, fmt.Sprintf("%d of %d available", st.AvailableReplicas, st.UpdatedReplicas))
	default:
		s.done, s.reason, s.fatal = true, "", false
		return s, nil
	}
	// The pods of the newest ReplicaSet: the one of the deployment's revision.
	rev := dep.Annotations["deployment.kubernetes.io/revision"]
	sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
	if err != nil || rev == "" {
		return s, nil
	}
	rss, err := kc.AppsV1().ReplicaSets(ref.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return s, err
	}
	for _, rs := range rss.Items {
		if rs.Annotations["deployment.kubernetes.io/revision"] != rev || !ownedBy(rs.OwnerReferences, dep.UID) {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
				s.reason = c.Reason + ": " + shorten(c.Message)
			}
		}
		if h := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]; h != "" {
			s.podSel = sel.String() + "," + appsv1.DefaultDeploymentUniqueLabelKey + "=" + h
		}
	}
	return s, nil
}

func statefulSetStatus(ctx context.Context, kc kubernetes.Interface, ref workloadRef, comps *components) (status, error) {
	s := status{ref: ref, label: ref.Kind + "/" + ref.Name}
	sts, err := kc.AppsV1().StatefulSets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return s, err
	}
	if c := comps.of(sts.Labels); c != "" {
		s.label = c
	}
	want := replicas(sts.Spec.Replicas)
	st := sts.Status
	s.want, s.ready = want, int(st.ReadyReplicas)
	if sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector); err == nil && st.UpdateRevision != "" {
		s.podSel = sel.String() + "," + appsv1.ControllerRevisionHashLabelKey + "=" + st.UpdateRevision
	}
	rolling := sts.Spec.UpdateStrategy.Type == "" || sts.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType
	partition := 0
	if ru := sts.Spec.UpdateStrategy.RollingUpdate; rolling && ru != nil && ru.Partition != nil {
		partition = int(*ru.Partition)
	}
	switch {
	case st.ObservedGeneration == 0 || sts.Generation > st.ObservedGeneration:
		s.reason = "waiting for the statefulset controller"
	case int(st.ReadyReplicas) < want:
		s.reason = fmt.Sprintf("%d of %d ready", st.ReadyReplicas, want)
	case rolling && partition > 0 && int(st.UpdatedReplicas) < want-partition:
		s.reason = fmt.Sprintf("%d of %d updated", st.UpdatedReplicas, want-partition)
	case rolling && partition == 0 && st.UpdateRevision != st.CurrentRevision:
		s.reason = fmt.Sprintf("%d of %d updated", st.UpdatedReplicas, want)
	default:
		s.done = true
	}
	return s, nil
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

// eventsReason is the newest Warning event of the workload, its pods of
// the new revision, or (for a Deployment) its ReplicaSets: what explains a
// rollout with no pod to blame ("FailedCreate: ... exceeded quota").
func (d *Deployer) eventsReason(ctx context.Context, kc kubernetes.Interface, s status) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.opts.RequestTimeout)
	defer cancel()
	var all []corev1.Event
	names := append([]string{s.ref.Name}, s.podRefs...)
	for _, name := range names {
		evs, err := kc.CoreV1().Events(s.ref.Namespace).List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String(),
		})
		if err != nil {
			return ""
		}
		all = append(all, evs.Items...)
	}
	return eventReason(all)
}

// isNetworkError reports whether err means the API server did not answer
// (as opposed to answering no).
func isNetworkError(err error) bool {
	var ne net.Error
	switch {
	case err == nil:
		return false
	case utilnet.IsConnectionRefused(err), utilnet.IsConnectionReset(err), utilnet.IsProbableEOF(err):
		return true
	case errors.As(err, &ne):
		return true
	case apierrors.IsTimeout(err), apierrors.IsServerTimeout(err), apierrors.IsServiceUnavailable(err), apierrors.IsTooManyRequests(err):
		return true
	}
	return false
}

// roundDuration writes d as "2m", "90s", "1m30s" or "1h".
func roundDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
