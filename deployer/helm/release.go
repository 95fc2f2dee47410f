package helm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage/driver"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/version"
)

// Baseline is a release as it was before a study changed it: the revision
// Restore goes back to and the values it was deployed with. It is plain
// data, so a caller can record it with the study.
type Baseline struct {
	Release   string         `json:"release"`
	Namespace string         `json:"namespace"`
	Revision  int            `json:"revision"` // 0: there was no release
	Status    string         `json:"status,omitempty"`
	Chart     string         `json:"chart,omitempty"`  // name-version
	Values    map[string]any `json:"values,omitempty"` // user-supplied values of that revision
	// Companions are the releases tune deploys beside the chart
	// (target.helm.companions) as they were: Revision 0 when absent, as
	// tune's pgbouncer is before a study, so Restore removes it.
	Companions []Baseline `json:"companions,omitempty"`
}

// Exists reports whether there was a release.
func (b Baseline) Exists() bool { return b.Revision > 0 }

// String says what the baseline is, for a summary.
func (b Baseline) String() string {
	if !b.Exists() {
		return fmt.Sprintf("no release %s in namespace %s", b.Release, b.Namespace)
	}
	return fmt.Sprintf("release %s revision %d (%s, %s) in namespace %s", b.Release, b.Revision, b.Chart, b.Status, b.Namespace)
}

// Status reads the release's newest revision (an uninstalled release with
// kept history counts as none).
func (d *Deployer) Status(ctx context.Context) (Baseline, error) {
	b := Baseline{Release: d.release, Namespace: d.namespace}
	rel, err := d.last(ctx)
	if err != nil || rel == nil {
		return b, err
	}
	b.Revision = rel.Version
	b.Status = rel.Info.Status.String()
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		b.Chart = rel.Chart.Metadata.Name + "-" + rel.Chart.Metadata.Version
	}
	b.Values = rel.Config
	return b, nil
}

// Baseline records the release as it is before the study: Restore returns
// to it. Its user-supplied values become the base of every trial (under the
// values files and the overlay), so a trial changes only what the space
// tunes, and its revision is the first "last good" one a failed rollout
// rolls back to.
func (d *Deployer) Baseline(ctx context.Context) (Baseline, error) {
	rel, err := d.last(ctx)
	if err != nil {
		return Baseline{}, err
	}
	comps, err := d.companionBaselines()
	if err != nil {
		return Baseline{}, err
	}
	b := Baseline{Release: d.release, Namespace: d.namespace, Companions: comps}
	d.baseline, d.userValues, d.lastGood, d.haveBaseline = nil, nil, 0, true
	if rel == nil {
		d.log("baseline: no release %s in namespace %s", d.release, d.namespace)
		return b, nil
	}
	b, _ = d.Status(ctx)
	b.Companions = comps
	d.baseline = rel
	d.userValues = rel.Config
	d.lastGood = rel.Version
	if rel.Info.Status != release.StatusDeployed {
		// A failed or pending newest revision: the last deployed one is the
		// good one, if any.
		d.lastGood = 0
		if dep, err := d.cfg.Releases.Deployed(d.release); err == nil {
			d.lastGood = dep.Version
		}
	}
	d.log("baseline: %s", b)
	return b, nil
}

// last is the newest revision of the release, nil when there is none.
func (d *Deployer) last(ctx context.Context) (*release.Release, error) {
	if err := d.reachable(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	h, err := d.cfg.Releases.History(d.release)
	if errors.Is(err, driver.ErrReleaseNotFound) || (err == nil && len(h) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, d.apiError("read release history", err)
	}
	releaseutil.Reverse(h, releaseutil.SortByRevision)
	if h[0].Info.Status == release.StatusUninstalled {
		return nil, nil
	}
	return h[0], nil
}

// Applied is what Apply did.
type Applied struct {
	Revision  int
	Installed bool // installed rather than upgraded
	Audit     *Audit
	// Deploy is install-or-upgrade until every workload is ready; Total
	// adds the settle time and the health check.
	Deploy time.Duration
	Total  time.Duration
}

// Apply deploys one trial's overlay (call Baseline first): the release's
// baseline values, the values files, then overlay (Helm's merge: maps merge, lists are replaced).
//
// Before the cluster sees anything it renders the chart: values the chart's
// schema refuses, a template that fails, and rendered resources over the
// budget (Options.Budget) give an error matching ErrRejected. It then
// installs or upgrades the release and waits for every Deployment and
// StatefulSet in it (at most the rollout timeout). A rollout that fails
// returns a *RolloutError (ErrRollout) naming each workload's reason, after
// rolling the release back to the last revision that rolled out (or
// uninstalling it when there is none). Then it waits the settle time and
// checks the endpoint's health (*HealthError, ErrHealth).
//
// When ctx ends during the wait, Apply returns ctx's error at once and
// leaves the release as it is: the caller restores the baseline. The
// install or upgrade itself always completes (it takes seconds), so the
// release is never left half-applied.
func (d *Deployer) Apply(ctx context.Context, overlay map[string]any) (*Applied, error) {
	start := time.Now()
	if !d.haveBaseline {
		// Without it a trial would silently drop the values the release
		// runs with.
		return nil, errors.New("helm: call Baseline before Apply")
	}
	if err := d.reachable(); err != nil {
		return nil, err
	}
	d.serverVersion()
	prev, err := d.last(ctx)
	if err != nil {
		return nil, err
	}
	chartOv, plans := d.splitCompanions(overlay)
	vals := d.values(chartOv)
	r, err := d.serverRender(ctx, vals, prev != nil)
	if err != nil {
		return nil, d.systematic(ctx, err, prev != nil)
	}
	objs := r.Objects
	for _, p := range plans {
		if !p.on {
			continue
		}
		cr, err := renderCompanion(ctx, p.cp, d.namespace, p.values)
		if err != nil {
			return nil, err
		}
		objs = append(objs, cr.Objects...)
	}
	comps, err := d.components()
	if err != nil {
		return nil, err
	}
	nodes := 1
	if d.opts.Budget != nil {
		nodes = max(d.opts.Budget.Nodes, 1)
	}
	a := audit(objs, comps, nodes)
	if err := a.bounded(); err != nil {
		return nil, err
	}
	if d.opts.Budget != nil {
		if err := a.check(*d.opts.Budget); err != nil {
			return nil, err
		}
	}
	if err := d.prepareVolumes(ctx, r.Objects); err != nil {
		return nil, err
	}
	// A companion the trial turns on is up before the chart's clients are
	// pointed at it; one it turns off goes once they are not.
	undo := func() {
		for _, p := range plans {
			if err := d.companionUndo(context.WithoutCancel(ctx), p); err != nil {
				d.log("companion %s: undo: %v", p.cp.Release, err)
			}
		}
	}
	for _, p := range plans {
		if !p.on {
			continue
		}
		if err := d.companionUp(ctx, p); err != nil {
			undo()
			return nil, err
		}
	}

	// The apply runs to its end whatever ctx does: Helm cancelled midway
	// leaves a release marked failed with some objects changed.
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeouts.Rollout)
	defer cancel()
	var rel *release.Release
	installed := prev == nil
	if installed {
		d.log("install %s (%s) in namespace %s", d.release, d.chartRef, d.namespace)
		rel, err = d.install(hctx, vals)
	} else {
		d.log("upgrade %s from revision %d", d.release, prev.Version)
		rel, err = d.upgrade(hctx, vals)
	}
	if err != nil {
		if isNetworkError(err) {
			return nil, &unreachable{err: requestError(err)}
		}
		verb := "upgrade"
		if installed {
			verb = "install"
		}
		e := &RolloutError{Release: d.release, Err: fmt.Errorf("helm %s: %w", verb, err)}
		defer undo()
		now, lerr := d.last(ctx)
		if lerr != nil || now == nil || (prev != nil && now.Version == prev.Version) {
			// Helm stopped before it made a revision: nothing changed.
			if now == nil && !installed {
				e.Uninstalled = true
			}
			return nil, e
		}
		e.Revision = now.Version
		return nil, d.failed(ctx, e)
	}
	d.log("revision %d applied after %v", rel.Version, time.Since(start).Round(time.Millisecond))
	refs := workloadsOf(r.Objects, d.namespace)
	if got, err := decodeManifest(rel.Manifest); err == nil {
		refs = workloadsOf(got, d.namespace)
	}
	problems, err := d.waitRolloutFor(ctx, refs, d.timeouts.Rollout-time.Since(start), d.timeouts.Rollout)
	if err != nil {
		return nil, fmt.Errorf("revision %d: wait for the rollout: %w", rel.Version, err)
	}
	if len(problems) > 0 {
		err := d.failed(ctx, &RolloutError{Release: d.release, Revision: rel.Version, Problems: problems})
		undo()
		return nil, err
	}
	for _, p := range plans {
		if p.on {
			continue
		}
		if err := d.companionDown(ctx, p.cp); err != nil {
			return nil, fmt.Errorf("revision %d: remove companion %s: %w", rel.Version, p.cp.Release, err)
		}
	}
	d.lastGood = rel.Version
	applied := &Applied{Revision: rel.Version, Installed: installed, Audit: a, Deploy: time.Since(start)}
	d.log("revision %d rolled out in %v", rel.Version, applied.Deploy.Round(time.Millisecond))
	if err := d.settleAndCheck(ctx); err != nil {
		return applied, err
	}
	applied.Total = time.Since(start)
	return applied, nil
}

func (d *Deployer) install(ctx context.Context, vals map[string]any) (*release.Release, error) {
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	inst := action.NewInstall(d.cfg)
	inst.ReleaseName = d.release
	inst.Namespace = d.namespace
	// Create the namespace only when it is missing: a user whose Role
	// covers one namespace may not create namespaces, even existing ones.
	if kc, err := d.clients(); err == nil {
		_, err := kc.CoreV1().Namespaces().Get(ctx, d.namespace, metav1.GetOptions{})
		inst.CreateNamespace = apierrors.IsNotFound(err)
	}
	inst.Timeout = d.timeouts.Rollout // hooks
	inst.Description = "tune trial"
	return inst.RunWithContext(ctx, ch, vals)
}

func (d *Deployer) upgrade(ctx context.Context, vals map[string]any) (*release.Release, error) {
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	up := action.NewUpgrade(d.cfg)
	up.Namespace = d.namespace
	up.ResetValues = true // vals is the whole of the user-supplied values
	up.MaxHistory = d.opts.MaxHistory
	up.Timeout = d.timeouts.Rollout
	up.Description = "tune trial"
	return up.RunWithContext(ctx, d.release, ch, vals)
}

// failed rolls the release back to the last good revision (or uninstalls
// it when there is none) and records that in e.
func (d *Deployer) failed(ctx context.Context, e *RolloutError) error {
	d.log("%v", e)
	// The way back gets at least a minute, however short the rollout
	// timeout that just ran out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*max(d.timeouts.Rollout, time.Minute))
	defer cancel()
	if d.lastGood == 0 {
		e.Uninstalled = true
		e.RollbackErr = d.uninstall(ctx)
		return e
	}
	e.RolledBackTo = d.lastGood
	e.RollbackErr = d.rollback(ctx, d.lastGood)
	return e
}

// rollback returns the release to revision rev and waits for it to roll out.
func (d *Deployer) rollback(ctx context.Context, rev int) error {
	target, err := d.cfg.Releases.Get(d.release, rev)
	if err != nil {
		return d.apiError(fmt.Sprintf("read revision %d", rev), err)
	}
	r, err := decodeRelease(target)
	if err != nil {
		return err
	}
	if err := d.prepareVolumes(ctx, r.Objects); err != nil {
		return err
	}
	d.log("rollback %s to revision %d", d.release, rev)
	rb := action.NewRollback(d.cfg)
	rb.Version = rev
	rb.MaxHistory = d.opts.MaxHistory
	rb.Timeout = d.timeouts.Rollout
	if err := runBounded(ctx, rb.Run, d.release); err != nil {
		return fmt.Errorf("helm rollback to revision %d: %w", rev, err)
	}
	problems, err := d.waitRollout(ctx, workloadsOf(r.Objects, d.namespace), max(d.timeouts.Rollout, time.Minute))
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &RolloutError{Release: d.release, Revision: rev, Problems: problems}
	}
	return nil
}

func (d *Deployer) uninstall(ctx context.Context) error {
	d.log("uninstall %s", d.release)
	un := action.NewUninstall(d.cfg)
	un.Wait = true
	un.Timeout = d.timeouts.Rollout
	un.IgnoreNotFound = true
	return runBounded(ctx, func(name string) error { _, err := un.Run(name); return err }, d.release)
}

// runBounded runs a Helm action that takes no context, returning when it
// ends or ctx does (it then finishes in the background, bounded by its own
// timeout).
func runBounded(ctx context.Context, run func(string) error, name string) error {
	done := make(chan error, 1)
	go func() { done <- run(name) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Restore returns the release to b: a rollback to its revision (or, when
// Helm has pruned that revision, an upgrade to its chart and values), or an
// uninstall when there was no release. It waits for the rollout. Call it
// with a fresh context on SIGINT: the study's is cancelled by then.
func (d *Deployer) Restore(ctx context.Context, b Baseline) error {
	// Companions the baseline had come back before the chart's clients are
	// pointed at them again; the ones it had not go once they are not.
	comps := map[string]Baseline{}
	for _, c := range b.Companions {
		comps[c.Release] = c
	}
	for _, cp := range d.space.Companions() {
		if cb, ok := comps[cp.Release]; ok && cb.Exists() {
			if err := d.restoreCompanion(ctx, cp, cb); err != nil {
				return fmt.Errorf("restore companion %s: %w", cp.Release, err)
			}
		}
	}
	if err := d.restoreChart(ctx, b); err != nil {
		return err
	}
	for _, cp := range d.space.Companions() {
		if cb, ok := comps[cp.Release]; !ok || !cb.Exists() {
			if err := d.companionDown(ctx, cp); err != nil {
				return fmt.Errorf("restore %s: remove companion %s: %w", b, cp.Release, err)
			}
		}
	}
	return nil
}

func (d *Deployer) restoreChart(ctx context.Context, b Baseline) error {
	cur, err := d.last(ctx)
	if err != nil {
		return err
	}
	if !b.Exists() {
		if cur == nil {
			return nil
		}
		return d.uninstall(ctx)
	}
	if cur != nil && cur.Version == b.Revision && cur.Info.Status == release.StatusDeployed {
		return nil
	}
	if _, err := d.cfg.Releases.Get(d.release, b.Revision); err == nil {
		if err := d.rollback(ctx, b.Revision); err != nil {
			return fmt.Errorf("restore %s: %w", b, err)
		}
		d.lastGood = 0 // the rollback made a new revision
		if now, err := d.last(ctx); err == nil && now != nil {
			d.lastGood = now.Version
		}
		return nil
	}
	// Pruned from the history, or uninstalled since: the same chart and
	// values again.
	if d.baseline == nil || d.baseline.Version != b.Revision {
		return fmt.Errorf("restore %s: revision %d is no longer in Helm's history and this process did not record its chart", b, b.Revision)
	}
	r, err := decodeRelease(d.baseline)
	if err != nil {
		return err
	}
	if err := d.prepareVolumes(ctx, r.Objects); err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeouts.Rollout)
	defer cancel()
	vals := maps.Clone(d.baseline.Config)
	ch, err := d.restoreChartOf(b)
	if err != nil {
		return err
	}
	var rel *release.Release
	if cur == nil {
		d.log("restore %s: the release is gone; installing revision %d's chart and values", d.release, b.Revision)
		inst := action.NewInstall(d.cfg)
		inst.ReleaseName, inst.Namespace = d.release, d.namespace
		inst.Timeout = d.timeouts.Rollout
		inst.Description = fmt.Sprintf("tune: restore revision %d", b.Revision)
		rel, err = inst.RunWithContext(hctx, ch, vals)
	} else {
		d.log("restore %s: revision %d was pruned; upgrading to its chart and values", d.release, b.Revision)
		up := action.NewUpgrade(d.cfg)
		up.Namespace = d.namespace
		up.ResetValues = true
		up.MaxHistory = d.opts.MaxHistory
		up.Timeout = d.timeouts.Rollout
		up.Description = fmt.Sprintf("tune: restore revision %d", b.Revision)
		rel, err = up.RunWithContext(hctx, d.release, ch, vals)
	}
	if err != nil {
		return fmt.Errorf("restore %s: %w", b, err)
	}
	problems, err := d.waitRollout(ctx, workloadsOf(r.Objects, d.namespace), d.timeouts.Rollout)
	if err != nil {
		return fmt.Errorf("restore %s: %w", b, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("restore %s: %w", b, &RolloutError{Release: d.release, Revision: rel.Version, Problems: problems})
	}
	d.lastGood = rel.Version
	return nil
}

// restoreChartOf is the chart to deploy b's values with when its revision
// is gone from Helm's history. Helm stores a release's chart without its
// subcharts: deploying that would delete the release's PostgreSQL, Redis and
// Weaviate. So a chart with dependencies is the one tune located, when it is
// the same name and version, and the restore is refused otherwise.
func (d *Deployer) restoreChartOf(b Baseline) (*chart.Chart, error) {
	stored := d.baseline.Chart
	if stored == nil || stored.Metadata == nil {
		return nil, fmt.Errorf("restore %s: revision %d is no longer in Helm's history and its chart was not recorded", b, b.Revision)
	}
	if len(stored.Metadata.Dependencies) == 0 || len(stored.Dependencies()) > 0 {
		return stored, nil
	}
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	if ch.Metadata.Name != stored.Metadata.Name || ch.Metadata.Version != stored.Metadata.Version {
		return nil, fmt.Errorf("restore %s: revision %d is no longer in Helm's history, Helm did not keep its chart's subcharts, and the chart tune has is %s-%s: "+
			"run helm upgrade %s <chart %s-%s> --reset-values with the values in the baseline file", b, b.Revision,
			ch.Metadata.Name, ch.Metadata.Version, d.release, stored.Metadata.Name, stored.Metadata.Version)
	}
	return ch, nil
}

// serverVersion records the cluster's version once, so client-side
// renders see the Capabilities.KubeVersion the cluster has.
func (d *Deployer) serverVersion() {
	kc, err := d.clients()
	if err != nil {
		return
	}
	d.mu.Lock()
	known := d.kubeVers != nil
	d.mu.Unlock()
	if known {
		return
	}
	info, err := kc.Discovery().ServerVersion()
	if err != nil {
		return
	}
	v, err := version.ParseGeneric(info.GitVersion)
	if err != nil {
		return
	}
	d.mu.Lock()
	d.kubeVers = &chartutil.KubeVersion{Version: "v" + v.String(), Major: fmt.Sprint(v.Major()), Minor: fmt.Sprint(v.Minor())}
	d.mu.Unlock()
}

// apiError classifies an error of a call to the API server.
func (d *Deployer) apiError(what string, err error) error {
	if isNetworkError(err) {
		return &unreachable{err: requestError(err)}
	}
	return fmt.Errorf("%s %s: %w", what, d.release, err)
}
