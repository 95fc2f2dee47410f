package helm

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage/driver"

	"github.com/tune-dify/tune/spaces"
)

// companionCharts are tune's own charts for what a Dify chart lacks
// (target.helm.companions): each is installed as a release of its own, so
// it survives `helm upgrade` of the chart and a user can apply it alone.
//
//go:embed all:charts
var companionCharts embed.FS

// CompanionChart loads tune's chart for companion name ("pgbouncer").
func CompanionChart(name string) (*chart.Chart, error) {
	root := path.Join("charts", name)
	var files []*loader.BufferedFile
	err := fs.WalkDir(companionCharts, root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := companionCharts.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, root+"/"), Data: b})
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no companion chart %q in tune (it has %s)", name, strings.Join(CompanionNames(), ", "))
		}
		return nil, err
	}
	return loader.LoadFiles(files)
}

// CompanionNames are the companions tune can deploy.
func CompanionNames() []string {
	es, _ := companionCharts.ReadDir("charts")
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// RenderCompanion renders companion cp with values, client side, into the
// manifest `kubectl apply` takes: what a study's recommendation deploys
// beside the chart, for a user to apply without tune.
func RenderCompanion(ctx context.Context, cp spaces.Companion, namespace string, values map[string]any) (string, error) {
	r, err := renderCompanion(ctx, cp, namespace, values)
	if err != nil {
		return "", err
	}
	return r.Manifest, nil
}

func renderCompanion(ctx context.Context, cp spaces.Companion, namespace string, values map[string]any) (*Rendered, error) {
	ch, err := CompanionChart(cp.Name)
	if err != nil {
		return nil, err
	}
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = cp.Release, namespace
	rel, err := inst.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, renderError(cp.Name, err)
	}
	return decodeRelease(rel)
}

// companionPlan is what one trial does with one companion.
type companionPlan struct {
	cp     spaces.Companion
	values map[string]any
	on     bool
	prev   *release.Release // the companion's release before the trial; nil: none
	done   bool             // installed or upgraded by this trial
}

// splitCompanions takes the companions' values out of an overlay (Overlay
// puts each under its name) and says what each trial does with them.
func (d *Deployer) splitCompanions(overlay map[string]any) (map[string]any, []*companionPlan) {
	chartOv := maps.Clone(overlay)
	var plans []*companionPlan
	for _, cp := range d.space.Companions() {
		v, ok := chartOv[cp.Name].(map[string]any)
		if !ok {
			continue
		}
		delete(chartOv, cp.Name)
		plans = append(plans, &companionPlan{cp: cp, values: v, on: v["enabled"] == true})
	}
	return chartOv, plans
}

// lastOf is the newest revision of release name, nil when there is none.
func (d *Deployer) lastOf(name string) (*release.Release, error) {
	h, err := d.cfg.Releases.History(name)
	if errors.Is(err, driver.ErrReleaseNotFound) || (err == nil && len(h) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, d.apiError("read release history of "+name+" for", err)
	}
	releaseutil.Reverse(h, releaseutil.SortByRevision)
	if h[0].Info.Status == release.StatusUninstalled {
		return nil, nil
	}
	return h[0], nil
}

// companionUp installs or upgrades p's release and waits for it.
func (d *Deployer) companionUp(ctx context.Context, p *companionPlan) error {
	prev, err := d.lastOf(p.cp.Release)
	if err != nil {
		return err
	}
	p.prev = prev
	ch, err := CompanionChart(p.cp.Name)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeouts.Rollout)
	defer cancel()
	var rel *release.Release
	if prev == nil {
		d.log("install companion %s (%s)", p.cp.Release, p.cp.Name)
		inst := action.NewInstall(d.cfg)
		inst.ReleaseName, inst.Namespace = p.cp.Release, d.namespace
		inst.Timeout = d.timeouts.Rollout
		inst.Description = "tune trial: companion of " + d.release
		rel, err = inst.RunWithContext(hctx, ch, p.values)
	} else {
		d.log("upgrade companion %s from revision %d", p.cp.Release, prev.Version)
		up := action.NewUpgrade(d.cfg)
		up.Namespace = d.namespace
		up.ResetValues = true
		up.MaxHistory = d.opts.MaxHistory
		up.Timeout = d.timeouts.Rollout
		up.Description = "tune trial: companion of " + d.release
		rel, err = up.RunWithContext(hctx, p.cp.Release, ch, p.values)
	}
	if err != nil {
		if isNetworkError(err) {
			return &unreachable{err: requestError(err)}
		}
		return &RolloutError{Release: p.cp.Release, Err: fmt.Errorf("companion %s: %w", p.cp.Name, err)}
	}
	p.done = true
	objs, err := decodeManifest(rel.Manifest)
	if err != nil {
		return err
	}
	problems, err := d.waitRollout(ctx, workloadsOf(objs, d.namespace), d.timeouts.Rollout)
	if err != nil {
		return fmt.Errorf("companion %s: %w", p.cp.Release, err)
	}
	if len(problems) > 0 {
		return &RolloutError{Release: p.cp.Release, Revision: rel.Version, Problems: problems}
	}
	return nil
}

// companionUndo returns p's release to what it was before the trial.
func (d *Deployer) companionUndo(ctx context.Context, p *companionPlan) error {
	if !p.done {
		return nil
	}
	if p.prev == nil {
		return d.companionDown(ctx, p.cp)
	}
	d.log("rollback companion %s to revision %d", p.cp.Release, p.prev.Version)
	rb := action.NewRollback(d.cfg)
	rb.Version = p.prev.Version
	rb.MaxHistory = d.opts.MaxHistory
	rb.Timeout = d.timeouts.Rollout
	rb.Wait = true
	return runBounded(ctx, rb.Run, p.cp.Release)
}

// companionDown uninstalls a companion's release, if it is there.
func (d *Deployer) companionDown(ctx context.Context, cp spaces.Companion) error {
	cur, err := d.lastOf(cp.Release)
	if err != nil || cur == nil {
		return err
	}
	d.log("uninstall companion %s", cp.Release)
	un := action.NewUninstall(d.cfg)
	un.Wait = true
	un.Timeout = d.timeouts.Rollout
	un.IgnoreNotFound = true
	return runBounded(ctx, func(name string) error { _, err := un.Run(name); return err }, cp.Release)
}

// companionBaselines records each companion's release as it is.
func (d *Deployer) companionBaselines() ([]Baseline, error) {
	var out []Baseline
	for _, cp := range d.space.Companions() {
		b := Baseline{Release: cp.Release, Namespace: d.namespace}
		rel, err := d.lastOf(cp.Release)
		if err != nil {
			return nil, err
		}
		if rel != nil {
			b.Revision, b.Status, b.Values = rel.Version, rel.Info.Status.String(), rel.Config
			if rel.Chart != nil && rel.Chart.Metadata != nil {
				b.Chart = rel.Chart.Metadata.Name + "-" + rel.Chart.Metadata.Version
			}
		}
		out = append(out, b)
	}
	return out, nil
}

// restoreCompanion returns companion cp to b: uninstalled when there was
// none, else its revision (a rollback, or an install of tune's chart with
// the recorded values when its history is gone).
func (d *Deployer) restoreCompanion(ctx context.Context, cp spaces.Companion, b Baseline) error {
	if !b.Exists() {
		return d.companionDown(ctx, cp)
	}
	cur, err := d.lastOf(cp.Release)
	if err != nil {
		return err
	}
	if cur != nil && cur.Version == b.Revision && cur.Info.Status == release.StatusDeployed {
		return nil
	}
	if _, err := d.cfg.Releases.Get(cp.Release, b.Revision); err == nil && cur != nil {
		d.log("restore companion %s: rollback to revision %d", cp.Release, b.Revision)
		rb := action.NewRollback(d.cfg)
		rb.Version = b.Revision
		rb.MaxHistory = d.opts.MaxHistory
		rb.Timeout = d.timeouts.Rollout
		rb.Wait = true
		return runBounded(ctx, rb.Run, cp.Release)
	}
	p := &companionPlan{cp: cp, values: b.Values, on: true}
	return d.companionUp(ctx, p)
}

// companionRelease maps a companion's release name to its values key.
func (d *Deployer) companionRelease() map[string]string {
	out := map[string]string{}
	for _, cp := range d.space.Companions() {
		out[cp.Release] = cp.Name
	}
	return out
}
