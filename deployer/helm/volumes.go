package helm

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// prepareVolumes handles what Kubernetes refuses in place: a StatefulSet
// whose volumeClaimTemplates change (a new storage class or size). With
// Options.RecreateVolumes the StatefulSet and its claims are deleted first,
// so Helm creates them anew (the data on them is lost); without it the
// configuration is refused before anything changes.
func (d *Deployer) prepareVolumes(ctx context.Context, objs []runtime.Object) error {
	kc, err := d.clients()
	if err != nil {
		return err
	}
	comps, err := d.components()
	if err != nil {
		return err
	}
	for _, obj := range objs {
		want, ok := obj.(*appsv1.StatefulSet)
		if !ok {
			continue
		}
		ns := first(want.Namespace, d.namespace)
		live, err := kc.AppsV1().StatefulSets(ns).Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return d.apiError("read StatefulSet "+want.Name+" of", err)
		}
		change := claimChange(live.Spec.VolumeClaimTemplates, want.Spec.VolumeClaimTemplates)
		if change == "" {
			continue
		}
		who := first(comps.of(want.Labels), "StatefulSet "+want.Name)
		if !d.opts.RecreateVolumes {
			return rejectf(nil, "%s: the volume claims of StatefulSet %s change (%s), which Kubernetes does not allow in place; "+
				"recreating the StatefulSet and its volumes loses their data: allow it with Options.RecreateVolumes (tune --recreate-volumes)", who, want.Name, change)
		}
		d.log("%s: recreating StatefulSet %s and its volume claims (%s)", who, want.Name, change)
		if err := d.recreateStatefulSet(ctx, live); err != nil {
			return fmt.Errorf("%s: recreate StatefulSet %s: %w", who, want.Name, err)
		}
	}
	return nil
}

// claimChange describes how the claim templates differ ("data:
// storageClassName nfs → local-ssd"), "" when they do not in any field the
// API server keeps immutable.
func claimChange(live, want []corev1.PersistentVolumeClaim) string {
	byName := map[string]corev1.PersistentVolumeClaim{}
	for _, c := range live {
		byName[c.Name] = c
	}
	var diffs []string
	if len(live) != len(want) {
		diffs = append(diffs, fmt.Sprintf("%d claim templates → %d", len(live), len(want)))
	}
	for _, w := range want {
		l, ok := byName[w.Name]
		if !ok {
			diffs = append(diffs, "new claim template "+w.Name)
			continue
		}
		if a, b := deref(l.Spec.StorageClassName), deref(w.Spec.StorageClassName); a != b {
			diffs = append(diffs, fmt.Sprintf("%s: storageClassName %s → %s", w.Name, a, b))
		}
		lq, wq := l.Spec.Resources.Requests[corev1.ResourceStorage], w.Spec.Resources.Requests[corev1.ResourceStorage]
		if lq.Cmp(wq) != 0 {
			diffs = append(diffs, fmt.Sprintf("%s: storage %s → %s", w.Name, lq.String(), wq.String()))
		}
		if fmt.Sprint(l.Spec.AccessModes) != fmt.Sprint(w.Spec.AccessModes) {
			diffs = append(diffs, fmt.Sprintf("%s: accessModes %v → %v", w.Name, l.Spec.AccessModes, w.Spec.AccessModes))
		}
	}
	return strings.Join(diffs, ", ")
}

func deref(s *string) string {
	if s == nil || *s == "" {
		return "(default)"
	}
	return *s
}

// recreateStatefulSet deletes sts and the claims made from its templates,
// and waits until they are gone.
func (d *Deployer) recreateStatefulSet(ctx context.Context, sts *appsv1.StatefulSet) error {
	kc, _ := d.clients()
	ns := sts.Namespace
	bg := metav1.DeletePropagationBackground
	if err := kc.AppsV1().StatefulSets(ns).Delete(ctx, sts.Name, metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	var claims []string
	if len(sts.Spec.VolumeClaimTemplates) > 0 {
		pvcs, err := kc.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, t := range sts.Spec.VolumeClaimTemplates {
			made := regexp.MustCompile("^" + regexp.QuoteMeta(t.Name+"-"+sts.Name+"-") + "[0-9]+$")
			for _, pvc := range pvcs.Items {
				if made.MatchString(pvc.Name) {
					claims = append(claims, pvc.Name)
				}
			}
		}
	}
	for _, c := range claims {
		if err := kc.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, c, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	deadline := time.Now().Add(d.timeouts.Rollout)
	var failing time.Time // since when the API server has not answered
	for {
		_, err := kc.AppsV1().StatefulSets(ns).Get(ctx, sts.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			if rerr := d.reachable(); rerr != nil {
				if failing.IsZero() {
					failing = time.Now()
				} else if time.Since(failing) > unreachableAfter {
					return rerr
				}
			}
		} else {
			failing = time.Time{}
		}
		gone := apierrors.IsNotFound(err)
		for _, c := range claims {
			_, err := kc.CoreV1().PersistentVolumeClaims(ns).Get(ctx, c, metav1.GetOptions{})
			gone = gone && apierrors.IsNotFound(err)
		}
		if gone {
			return nil
		}
		if time.Now().After(deadline) {
			if err := d.reachable(); err != nil {
				return err // not "still there": the API server stopped answering
			}
			return fmt.Errorf("still there after %v", d.timeouts.Rollout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollInterval):
		}
	}
}
