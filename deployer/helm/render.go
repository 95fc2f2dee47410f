package helm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// Rendered is a chart rendered client-side with some values: the manifest
// Helm would apply, and its objects decoded (kinds client-go does not know,
// such as custom resources, are left out of Objects).
type Rendered struct {
	Manifest string
	Objects  []runtime.Object
	Hooks    []runtime.Object // hook objects (migration Jobs and the like)
}

// Render renders the chart with the values Apply would use for overlay
// (baseline values, values files, overlay), without touching the cluster.
// Values the chart's values.schema.json refuses, and templates that fail,
// give an error matching ErrRejected.
// Companions' values in overlay are left out: RenderCompanion renders them.
// Bitnami's charts look up the live release's Secrets on an upgrade, which a
// client-side render cannot: use ServerRender for a release that exists.
func (d *Deployer) Render(ctx context.Context, overlay map[string]any) (*Rendered, error) {
	chartOv, _ := d.splitCompanions(overlay)
	// As an install: a client-side render of an upgrade fails Bitnami's
	// password checks, which look up the live Secrets.
	return d.render(ctx, d.values(chartOv), false)
}

// ServerRender renders overlay as Apply will deploy it: Helm's server-side
// dry run of the upgrade (or install) of the live release, so templates
// that `lookup` the cluster (Bitnami's password checks) see the release's
// own Secrets. Nothing is changed on the cluster.
func (d *Deployer) ServerRender(ctx context.Context, overlay map[string]any) (*Rendered, error) {
	if err := d.reachable(); err != nil {
		return nil, err
	}
	prev, err := d.last(ctx)
	if err != nil {
		return nil, err
	}
	chartOv, _ := d.splitCompanions(overlay)
	return d.serverRender(ctx, d.values(chartOv), prev != nil)
}

func (d *Deployer) serverRender(ctx context.Context, values map[string]any, upgrade bool) (*Rendered, error) {
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	var rel *release.Release
	if upgrade {
		up := action.NewUpgrade(d.cfg)
		up.Namespace = d.namespace
		up.ResetValues = true
		up.DryRun, up.DryRunOption = true, "server"
		rel, err = up.RunWithContext(ctx, d.release, ch, values)
	} else {
		inst := action.NewInstall(d.cfg)
		inst.ReleaseName, inst.Namespace = d.release, d.namespace
		inst.DryRun, inst.DryRunOption = true, "server"
		rel, err = inst.RunWithContext(ctx, ch, values)
	}
	if err != nil {
		if isNetworkError(err) {
			return nil, &unreachable{err: requestError(err)}
		}
		return nil, renderError(ch.Name(), err)
	}
	return decodeRelease(rel)
}

// systematic marks a render failure that the release's own values (no
// overlay) hit as well: every trial would fail the same way, so the study
// should stop rather than record failed configurations.
func (d *Deployer) systematic(ctx context.Context, err error, upgrade bool) error {
	if !errors.Is(err, ErrRejected) || errors.Is(err, ErrUnreachable) {
		return err
	}
	if _, berr := d.serverRender(ctx, d.values(nil), upgrade); berr != nil && !errors.Is(berr, ErrUnreachable) {
		return &SystematicError{Err: err}
	}
	return err
}

func (d *Deployer) render(ctx context.Context, values map[string]any, upgrade bool) (*Rendered, error) {
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	// ClientOnly replaces the configuration's clients and storage with
	// fakes, so it gets a configuration of its own.
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IsUpgrade = upgrade
	inst.ReleaseName = d.release
	inst.Namespace = d.namespace
	d.mu.Lock()
	inst.KubeVersion = d.kubeVers
	d.mu.Unlock()
	rel, err := inst.RunWithContext(ctx, ch, values)
	if err != nil {
		return nil, renderError(ch.Name(), err)
	}
	return decodeRelease(rel)
}

// renderError says what was refused: the schema, or a template.
func renderError(chart string, err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "values don't meet the specifications of the schema"); i >= 0 {
		return rejectf(err, "chart %s's values.schema.json refuses the values: %s",
			chart, strings.TrimSpace(strings.TrimPrefix(msg[i:], "values don't meet the specifications of the schema(s) in the following chart(s):")))
	}
	return rejectf(err, "render chart %s: %s", chart, msg)
}

// decodeRelease decodes a release's manifest and hooks.
func decodeRelease(rel *release.Release) (*Rendered, error) {
	r := &Rendered{Manifest: rel.Manifest}
	var err error
	if r.Objects, err = decodeManifest(rel.Manifest); err != nil {
		return nil, err
	}
	for _, h := range rel.Hooks {
		objs, err := decodeManifest(h.Manifest)
		if err != nil {
			return nil, fmt.Errorf("hook %s: %w", h.Path, err)
		}
		r.Hooks = append(r.Hooks, objs...)
	}
	return r, nil
}

// decodeManifest decodes the documents of a multi-document manifest into
// typed objects, in Helm's order; kinds client-go does not know are skipped.
func decodeManifest(manifest string) ([]runtime.Object, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	dec := scheme.Codecs.UniversalDeserializer()
	var objs []runtime.Object
	for _, k := range keys {
		doc := docs[k]
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, _, err := dec.Decode([]byte(doc), nil, nil)
		if err != nil {
			if runtime.IsNotRegisteredError(err) || runtime.IsMissingKind(err) {
				continue
			}
			return nil, fmt.Errorf("decode rendered manifest: %w", err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}
