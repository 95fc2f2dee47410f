package helm

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

func TestRenderDefaultBaseline(t *testing.T) {
	d := offline(t, Options{})
	sp := d.space
	ov, err := d.Overlay(sp.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Render(context.Background(), ov)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range r.Objects {
		switch w := o.(type) {
		case *appsv1.Deployment:
			names = append(names, "Deployment/"+w.Name)
		case *appsv1.StatefulSet:
			names = append(names, "StatefulSet/"+w.Name)
		}
	}
	t.Log(strings.Join(names, " "))
	comps, _ := d.components()
	a := audit(r.Objects, comps, 1)
	for _, w := range a.Workloads {
		t.Logf("%s/%s %s pods %d req %+v lim %+v", w.Kind, w.Name, w.Component, w.Pods, w.Requests, w.Limits)
	}
	t.Logf("total requests %+v limits %+v unbounded %v", a.Requests, a.Limits, a.Unbounded)
}

func TestRenderSchemaRefuses(t *testing.T) {
	d := offline(t, Options{})
	_, err := d.Render(context.Background(), map[string]any{"api": map[string]any{"replicas": "three"}})
	if !errors.Is(err, ErrRejected) {
		t.Fatalf("got %v, want ErrRejected", err)
	}
	t.Log(err)
}
