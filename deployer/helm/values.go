package helm

import (
	"fmt"

	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/tune-dify/tune/spaces"
)

// readValuesFiles reads values files in order and merges them as `helm -f a
// -f b` does: later files win, maps merge key by key, lists are replaced.
func readValuesFiles(files []string) (map[string]any, error) {
	out := map[string]any{}
	for _, f := range files {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		out = mergeValues(out, v)
	}
	return out, nil
}

// mergeValues returns a with b merged over it the way Helm merges -f files:
// where both hold a map the maps merge, anything else in b (a list, a
// scalar, null) replaces what a holds. Neither argument is changed.
func mergeValues(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = mergeValues(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// values is what Apply hands Helm for overlay: the release's own values at
// the baseline (when Baseline found a release), then the values files, then
// the overlay.
func (d *Deployer) values(overlay map[string]any) map[string]any {
	v := mergeValues(d.userValues, d.fileVals)
	return mergeValues(v, overlay)
}

// Overlay is spaces.Space.Overlay for cfg over the values the release will
// run with: the chart's defaults, the baseline's values and the values
// files. Helm replaces lists wholesale, so the env entries a parameter sets
// (api.extraEnv) are merged into the list those values already hold and no
// entry of the chart or the user is lost.
//
// Each companion (target.helm.companions) gets its values under its own
// name (overlay["pgbouncer"], with "enabled" saying whether cfg turns it
// on): Apply takes them out and deploys the companion's release beside
// the chart's.
func (d *Deployer) Overlay(cfg spaces.Config) (map[string]any, error) {
	base, err := d.BaseValues()
	if err != nil {
		return nil, err
	}
	ov, err := d.space.Overlay(cfg, base)
	if err != nil {
		return nil, err
	}
	for _, cp := range d.space.Companions() {
		v, on, err := d.space.CompanionOverlay(cfg, cp.Name)
		if err != nil {
			return nil, err
		}
		v["enabled"] = on
		ov[cp.Name] = v
	}
	return ov, nil
}

// BaseValues are the values a trial's overlay lands on: the chart's
// defaults, the baseline release's values and the values files, merged as
// Helm merges them. An export merged into them (spaces.Space.Overlay's base)
// keeps the chart's own list entries and the user's.
func (d *Deployer) BaseValues() (map[string]any, error) {
	ch, err := d.loadChart()
	if err != nil {
		return nil, err
	}
	return mergeValues(ch.Values, d.values(nil)), nil
}
