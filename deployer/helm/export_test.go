package helm

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/tune-dify/tune/deployer/sim"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/search"
	"github.com/tune-dify/tune/spaces"
)

// memStore keeps a test study's trials in memory.
type memStore struct {
	mu     sync.Mutex
	trials []results.Trial
}

func (m *memStore) Trials(context.Context) ([]results.Trial, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.trials), nil
}

func (m *memStore) Add(_ context.Context, t results.Trial) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.trials = append(m.trials, t)
	return nil
}

// TestStudyExportOnTheChart: the recommendation of a 40-trial study on the
// embedded model, exported as values.yaml (and tune's pgbouncer beside it),
// rendered on the community chart, bounds every long-running container with
// requests equal to limits, sums within the budget to what the space
// counted, keeps the chart's own env entries and holds no key the chart does
// not declare.
func TestStudyExportOnTheChart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two 40-trial studies")
	}
	d := offline(t, Options{})
	sp := d.space
	ch, err := d.loadChart()
	if err != nil {
		t.Fatal(err)
	}
	// The chart's values with its subcharts' defaults under their keys.
	declared, err := chartutil.CoalesceValues(ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []string{"8c16g", "16c32g"} {
		t.Run(budget, func(t *testing.T) {
			b := mustBudget(t, budget)
			st := &search.Study{Space: sp, Budget: b, Workload: sp.Load, Objective: sp.Objective, Trials: 40, Seed: 1,
				Baseline: true, LocalMoves: 0.25, Evaluator: sim.New(1), Store: &memStore{}}
			trials, err := st.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			rec, ok := results.Pick(trials, results.ModeMaxTPS, results.SLO{P95: sp.Objective.SLOP95, MaxErrorRate: sp.Objective.MaxErrorRate})
			if !ok {
				t.Fatal("no trial met the SLO")
			}
			cfg := spaces.Config(rec.Params)

			// The export as `tune export` writes it, read back as Helm reads -f.
			overlay, err := sp.Overlay(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			var file bytes.Buffer
			if err := results.WriteValues(&file, overlay, results.Header{Study: "t", Budget: budget, Trial: rec}); err != nil {
				t.Fatal(err)
			}
			vals, err := chartutil.ReadValues(file.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range undeclared(declared.AsMap(), vals.AsMap(), nil) {
				t.Errorf("values.yaml sets %s, which the chart does not declare", p)
			}
			r, err := d.render(context.Background(), vals.AsMap(), false)
			if err != nil {
				t.Fatal(err)
			}
			objs := r.Objects
			pgb, on, err := sp.CompanionOverlay(cfg, "pgbouncer")
			if err != nil {
				t.Fatal(err)
			}
			if on {
				cp := sp.Target.Helm.Companion("pgbouncer")
				cr, err := renderCompanion(context.Background(), *cp, "dify", pgb)
				if err != nil {
					t.Fatal(err)
				}
				objs = append(objs, cr.Objects...)
			}
			for _, p := range notGuaranteed(objs) {
				t.Error(p)
			}
			comps, err := d.components()
			if err != nil {
				t.Fatal(err)
			}
			a := audit(objs, comps, 1)
			if err := a.bounded(); err != nil {
				t.Error(err)
			}
			if err := a.check(b); err != nil {
				t.Error(err)
			}
			sys, err := sp.Resolve(b, cfg)
			if err != nil {
				t.Fatal(err)
			}
			usage := sp.Usage(sys)
			if a.Requests != usage && !dedicated(sys) {
				t.Errorf("the chart renders requests of %v, the space counted %v", a.Requests, usage)
			}
			if !hasEnv(objs, "dify-api", "CHECK_UPDATE_URL") {
				t.Error("the export drops the chart's own api.extraEnv entry CHECK_UPDATE_URL")
			}
			pods := 0
			for _, w := range a.Workloads {
				pods += w.Pods
			}
			t.Logf("%s: trial %d (TPS %.1f, pgbouncer %v): %d workloads, %d pods; requests = limits = %.2f CPU, %d MiB of %s (the space counts %.2f CPU, %d MiB); init containers without limits: %s",
				budget, rec.Number, rec.Metrics.TPS, on, len(a.Workloads), pods, a.Requests.CPU.Cores(), a.Requests.Memory, budget,
				usage.CPU.Cores(), usage.Memory, strings.Join(a.InitUnbounded, ", "))
		})
	}
}

func dedicated(sys spaces.System) bool {
	for name, v := range sys.Settings {
		if strings.HasSuffix(name, spaces.PlacementSuffix) && v == spaces.Dedicated {
			return true
		}
	}
	return false
}

// undeclared lists the paths of vals that the chart's values do not
// declare (a key the chart would ignore). Lists, resources and the maps a
// chart leaves empty for the user (nodeSelector) are leaves.
func undeclared(chart, vals map[string]any, prefix []string) []string {
	var out []string
	for k, v := range vals {
		path := append(slices.Clone(prefix), k)
		c, ok := chart[k]
		if !ok {
			out = append(out, strings.Join(path, "."))
			continue
		}
		vm, vIsMap := v.(map[string]any)
		cm, cIsMap := c.(map[string]any)
		if vIsMap && cIsMap && len(cm) > 0 && k != "resources" {
			out = append(out, undeclared(cm, vm, path)...)
		}
	}
	return out
}

// notGuaranteed names every long-running container whose CPU or memory
// request differs from its limit or is missing.
func notGuaranteed(objs []runtime.Object) []string {
	var out []string
	for _, o := range objs {
		var name string
		var spec corev1.PodSpec
		switch w := o.(type) {
		case *appsv1.Deployment:
			name, spec = "Deployment/"+w.Name, w.Spec.Template.Spec
		case *appsv1.StatefulSet:
			name, spec = "StatefulSet/"+w.Name, w.Spec.Template.Spec
		default:
			continue
		}
		for _, c := range spec.Containers {
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				rq, okR := c.Resources.Requests[res]
				lm, okL := c.Resources.Limits[res]
				if !okR || !okL || rq.Cmp(lm) != 0 {
					out = append(out, fmt.Sprintf("%s container %s: %s request %v, limit %v", name, c.Name, res, rq.String(), lm.String()))
				}
			}
		}
	}
	return out
}

func hasEnv(objs []runtime.Object, deployment, env string) bool {
	for _, o := range objs {
		if w, ok := o.(*appsv1.Deployment); ok && w.Name == deployment {
			for _, e := range w.Spec.Template.Spec.Containers[0].Env {
				if e.Name == env {
					return true
				}
			}
		}
	}
	return false
}
