package spaces

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Targets says where a study can deploy the space. The embedded model needs none
// of it; `tune --target helm` needs Helm.
type Targets struct {
	Helm *HelmTarget `yaml:"helm,omitempty"`
}

// HelmTarget is the Helm release a study upgrades once per trial. The
// cluster itself (kubeconfig, context) is the command line's business;
// --namespace and --release override the fields here.
type HelmTarget struct {
	Release   string `yaml:"release"`
	Namespace string `yaml:"namespace,omitempty"` // empty: the kubeconfig context's, then "default"
	Chart     Chart  `yaml:"chart"`
	// ValuesFiles are the user's own values, merged in order (later files
	// win) under every trial's overlay, as `helm upgrade -f a -f b`. Paths
	// are relative to the space file.
	ValuesFiles []string     `yaml:"valuesFiles,omitempty"`
	Timeouts    HelmTimeouts `yaml:"timeouts"`
	Health      Health       `yaml:"health"`
	// Workloads finds each component's Deployment or StatefulSet among the
	// release's objects: the top-level values key (a service name, or
	// another key such as pgbouncer) → a label selector "k=v[,k=v]". A key
	// left out is looked for as app.kubernetes.io/component=<key>.
	Workloads map[string]string `yaml:"workloads,omitempty"`
	// Companions are what tune deploys beside the chart, each as a Helm
	// release of its own, for a component the chart does not have
	// (pgbouncer). The values targets under a companion's name go to it,
	// never into the chart's values.
	Companions []Companion `yaml:"companions,omitempty"`
	// ChartValues are the chart's own values at the lists the space writes
	// into (api.extraEnv holds the chart's CHECK_UPDATE_URL): Helm replaces
	// a list wholesale, so an overlay, and the values.yaml a study exports,
	// carries these entries beside the tuned ones. `tune validate --target
	// helm` checks them against the chart.
	ChartValues map[string]any `yaml:"chartValues,omitempty"`
}

// Companion is one release tune deploys beside the chart from one of its
// own charts (deployer/helm has them; "pgbouncer" is the one today).
type Companion struct {
	// Name is the top-level values key of its targets (pgbouncer.poolMode
	// goes to the companion's poolMode) and the chart tune deploys.
	Name string `yaml:"name"`
	// Release is its Helm release, in the chart's namespace; its objects
	// are named after it, so the chart's clients reach it at that host.
	Release string `yaml:"release"`
	// EnabledBy is the bool parameter that installs it (true) or removes it
	// (false).
	EnabledBy string `yaml:"enabledBy"`
	// Values are its fixed values (where the database is, its image), under
	// the tuned ones.
	Values map[string]any `yaml:"values,omitempty"`
}

// Companion returns the companion of values key name, or nil.
func (h *HelmTarget) Companion(name string) *Companion {
	if h == nil {
		return nil
	}
	for i := range h.Companions {
		if h.Companions[i].Name == name {
			return &h.Companions[i]
		}
	}
	return nil
}

// Chart is where the chart comes from: exactly one of a repository (Repo
// and Name, Version optional), an OCI reference, or a local Path (a chart
// folder or a .tgz, relative to the space file).
type Chart struct {
	Repo    string `yaml:"repo,omitempty"`    // https://borispolonsky.github.io/dify-helm
	Name    string `yaml:"name,omitempty"`    // dify
	Version string `yaml:"version,omitempty"` // a version or a semver range; empty: the latest
	OCI     string `yaml:"oci,omitempty"`     // oci://registry/path/chart
	Path    string `yaml:"path,omitempty"`    // ./charts/dify or dify-0.37.0.tgz
}

// String names the chart source for messages: "dify 0.37.0 from
// https://...", "oci://...", or the path.
func (c Chart) String() string {
	switch {
	case c.Path != "":
		return c.Path
	case c.OCI != "":
		if c.Version != "" {
			return c.OCI + " " + c.Version
		}
		return c.OCI
	}
	s := c.Name
	if c.Version != "" {
		s += " " + c.Version
	}
	return s + " from " + c.Repo
}

// HelmTimeouts bound the stages of a trial's deployment.
type HelmTimeouts struct {
	// Rollout bounds install-or-upgrade until every Deployment and
	// StatefulSet of the release is ready (default 10m); past it the trial
	// fails and the release is rolled back.
	Rollout time.Duration `yaml:"rollout"`
	// Settle is waited after the rollout, before the health check, so caches
	// and connection pools fill (default 30s; 0 waits nothing).
	Settle time.Duration `yaml:"settle"`
	// Health bounds the health check's retries (default 1m).
	Health time.Duration `yaml:"health"`
}

// Health is the HTTP check of the endpoint the load will drive, made after
// each rollout. URL is that endpoint as tune reaches it (Dify's API base
// URL); the CLI's load URL is used when it is empty, and without either the
// check is skipped. A 2xx answer to GET URL+Path passes.
type Health struct {
	URL  string `yaml:"url,omitempty"`
	Path string `yaml:"path,omitempty"` // default /health
}

// Default timeouts and health path of a Helm target.
const (
	DefaultRolloutTimeout = 10 * time.Minute
	DefaultSettle         = 30 * time.Second
	DefaultHealthTimeout  = time.Minute
	DefaultHealthPath     = "/health"
)

// Selector is the label selector that finds the workload of values key
// (a service name, or pgbouncer): Workloads[key], else
// app.kubernetes.io/component=<key>.
func (h *HelmTarget) Selector(key string) string {
	if s, ok := h.Workloads[key]; ok {
		return s
	}
	return "app.kubernetes.io/component=" + key
}

// RelPath returns p as a path to open: absolute, or relative to the folder
// of the space file (the working directory for a Space built in code).
func (s *Space) RelPath(p string) string {
	if p == "" || filepath.IsAbs(p) || s.File == "" {
		return p
	}
	return filepath.Join(filepath.Dir(s.File), p)
}

func (s *Space) setTargetDefaults() {
	if s.Target.Helm == nil {
		return
	}
	t := &s.Target.Helm.Timeouts
	setDefault(s, "target.helm.timeouts.rollout", &t.Rollout, DefaultRolloutTimeout)
	setDefault(s, "target.helm.timeouts.settle", &t.Settle, DefaultSettle)
	setDefault(s, "target.helm.timeouts.health", &t.Health, DefaultHealthTimeout)
	setDefault(s, "target.helm.health.path", &s.Target.Helm.Health.Path, DefaultHealthPath)
}

var (
	// Helm's release names: DNS-1123 subdomain, at most 53 characters.
	releaseName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// Kubernetes namespaces: DNS-1123 label, at most 63 characters.
	namespaceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// One requirement of an equality-based label selector: key=value,
	// key==value or key!=value; the key may have a DNS prefix.
	selectorTerm = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(=|==|!=)([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
)

// target checks the Helm target, if any.
func (c *checker) target() {
	h := c.s.Target.Helm
	if h == nil {
		return
	}
	const p = "target.helm"
	switch {
	case h.Release == "":
		c.add(p+".release", "required (the Helm release a study upgrades)")
	case len(h.Release) > 53 || !releaseName.MatchString(h.Release):
		c.add(p+".release", "want a Helm release name (lowercase letters, digits, - and ., at most 53), got %q", h.Release)
	}
	if h.Namespace != "" && (len(h.Namespace) > 63 || !namespaceName.MatchString(h.Namespace)) {
		c.add(p+".namespace", "want a Kubernetes namespace (lowercase letters, digits and -, at most 63), got %q", h.Namespace)
	}
	c.chart(p+".chart", h.Chart)
	for i, f := range h.ValuesFiles {
		if strings.TrimSpace(f) == "" {
			c.add(fmt.Sprintf("%s.valuesFiles[%d]", p, i), "empty path")
		}
	}
	t := h.Timeouts
	if t.Rollout <= 0 {
		c.add(p+".timeouts.rollout", "%v must be > 0", t.Rollout)
	}
	if t.Settle < 0 {
		c.add(p+".timeouts.settle", "%v must not be negative", t.Settle)
	}
	if t.Health <= 0 {
		c.add(p+".timeouts.health", "%v must be > 0", t.Health)
	}
	if u := h.Health.URL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			c.add(p+".health.url", "want an http:// or https:// URL, got %q", u)
		} else if pu.User != nil {
			c.add(p+".health.url", "must not carry credentials")
		}
	}
	if !strings.HasPrefix(h.Health.Path, "/") {
		c.add(p+".health.path", "want a path starting with /, got %q", h.Health.Path)
	}
	seen := map[string]bool{}
	for i, cp := range h.Companions {
		f := fmt.Sprintf("%s.companions[%d]", p, i)
		if !pathPart.MatchString(cp.Name) {
			c.add(f+".name", "want a top-level values key such as pgbouncer, got %q", cp.Name)
		} else if seen[cp.Name] {
			c.add(f+".name", "%q listed twice", cp.Name)
		}
		seen[cp.Name] = true
		switch {
		case cp.Release == "":
			c.add(f+".release", "required (the Helm release it is installed as)")
		case len(cp.Release) > 53 || !releaseName.MatchString(cp.Release):
			c.add(f+".release", "want a Helm release name (lowercase letters, digits, - and ., at most 53), got %q", cp.Release)
		case cp.Release == h.Release:
			c.add(f+".release", "%q is the chart's own release", cp.Release)
		}
		if cp.EnabledBy == "" {
			c.add(f+".enabledBy", "required (the bool parameter that installs it)")
		} else {
			c.enabledBy(f+".enabledBy", cp.EnabledBy)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(h.Workloads)) {
		f := p + ".workloads." + key
		if !pathPart.MatchString(key) {
			c.add(f, "want a top-level values key such as api or pgbouncer, got %q", key)
		}
		sel := h.Workloads[key]
		if strings.TrimSpace(sel) == "" {
			c.add(f, "empty selector")
			continue
		}
		for term := range strings.SplitSeq(sel, ",") {
			if !selectorTerm.MatchString(strings.TrimSpace(term)) {
				c.add(f, "want a label selector such as component=api or app.kubernetes.io/name=postgresql,app.kubernetes.io/component=primary; %q is not a key=value term", strings.TrimSpace(term))
			}
		}
	}
}

// chart checks that exactly one chart source is given, and well formed.
func (c *checker) chart(p string, ch Chart) {
	var sources []string
	if ch.Repo != "" || ch.Name != "" {
		sources = append(sources, "repo")
	}
	if ch.OCI != "" {
		sources = append(sources, "oci")
	}
	if ch.Path != "" {
		sources = append(sources, "path")
	}
	switch len(sources) {
	case 0:
		c.add(p, "want one of repo and name, oci, or path")
		return
	case 1:
	default:
		c.add(p, "want one chart source, got %s", strings.Join(sources, " and "))
		return
	}
	switch sources[0] {
	case "repo":
		if ch.Name == "" {
			c.add(p+".name", "required with repo (the chart's name in the repository)")
		}
		if ch.Repo == "" {
			c.add(p+".repo", "required with name (the chart repository's URL)")
		} else if u, err := url.Parse(ch.Repo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			c.add(p+".repo", "want an http:// or https:// repository URL, got %q (an OCI registry goes in oci)", ch.Repo)
		} else if u.User != nil {
			c.add(p+".repo", "must not carry credentials")
		}
	case "oci":
		if !strings.HasPrefix(ch.OCI, "oci://") || len(ch.OCI) == len("oci://") {
			c.add(p+".oci", "want oci://registry/path/chart, got %q", ch.OCI)
		}
	case "path":
		if ch.Version != "" {
			c.add(p+".version", "a local chart has the version it has: leave version out with path")
		}
	}
}
