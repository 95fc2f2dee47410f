package release

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
)

// File is one file of a recommendation.
type File struct {
	Name string // base name: values.yaml, pgbouncer.yaml
	Data []byte
}

// CompanionFiles are the names Export gives the manifests of what tune can
// deploy beside the chart, whether or not a trial turns them on.
func CompanionFiles(sp *spaces.Space) []string {
	var out []string
	for _, cp := range sp.Companions() {
		out = append(out, companionFile(cp))
	}
	return out
}

func companionFile(cp spaces.Companion) string { return cp.Name + ".yaml" }

// Export renders trial t as what a user applies to their release: the
// chart's values overlay (merged into base's lists when base is given: the
// chart's own values and the user's files), and before it a manifest for
// each companion t turns on (tune's pgbouncer), which the chart's clients
// are pointed at. h heads every file; valuesFile names the overlay. The
// overlay comes first in the result.
func Export(ctx context.Context, sp *spaces.Space, base map[string]any, t results.Trial, h results.Header, valuesFile string) ([]File, error) {
	cfg := spaces.Config(t.Params)
	var beside []File
	namespace := "default"
	if sp.Target.Helm != nil && sp.Target.Helm.Namespace != "" {
		namespace = sp.Target.Helm.Namespace
	}
	for _, cp := range sp.Companions() {
		values, on, err := sp.CompanionOverlay(cfg, cp.Name)
		if err != nil {
			return nil, fmt.Errorf("trial %d: %w", t.Number, err)
		}
		if !on {
			continue
		}
		manifest, err := helm.RenderCompanion(ctx, cp, namespace, values)
		if err != nil {
			return nil, fmt.Errorf("trial %d: %s: %w", t.Number, cp.Name, err)
		}
		name := companionFile(cp)
		mh := h
		mh.File = name
		var b bytes.Buffer
		if err := results.WriteManifest(&b, manifest, "tune's "+cp.Name, mh); err != nil {
			return nil, err
		}
		beside = append(beside, File{Name: name, Data: b.Bytes()})
		h.Beside = append(h.Beside, name)
	}
	overlay, err := sp.Overlay(cfg, base)
	if err != nil {
		return nil, fmt.Errorf("values for trial %d: %w", t.Number, err)
	}
	h.File = valuesFile
	var b bytes.Buffer
	if err := results.WriteValues(&b, overlay, h); err != nil {
		return nil, err
	}
	return append([]File{{Name: valuesFile, Data: b.Bytes()}}, beside...), nil
}
