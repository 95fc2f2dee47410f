package helm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/tune-dify/tune/spaces"
)

// Defaults of Options.
const (
	// DefaultRequestTimeout bounds every single request to the API server.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxHistory is the revisions Helm keeps, as `helm upgrade
	// --history-max` does by default; a study makes one per trial.
	DefaultMaxHistory = 10
	// DefaultUnschedulableAfter is how long a pod may stay unschedulable
	// before the rollout fails with the scheduler's reason instead of waiting
	// for the whole rollout timeout (no autoscaler adds nodes to a budget).
	DefaultUnschedulableAfter = 30 * time.Second

	pollInterval = time.Second
	chartTimeout = 2 * time.Minute // downloading a chart
)

// unreachableAfter is how long the API server may fail to answer during a
// wait before the wait gives up with ErrUnreachable (a variable for tests).
var unreachableAfter = 30 * time.Second

// Options say which cluster and release, and override the space's
// target.helm field by field (zero values keep the space's).
type Options struct {
	// Kubeconfig is the kubeconfig file; empty follows kubectl: $KUBECONFIG
	// (a list of files), then ~/.kube/config, then in-cluster config.
	Kubeconfig string
	Context    string // kubeconfig context; empty: the current context
	// Namespace of the release; empty: target.helm.namespace, then the
	// context's namespace, then "default".
	Namespace string
	Release   string
	Chart     *spaces.Chart
	// ValuesFiles are merged after the space's (relative to the working
	// directory, where the space's are relative to the space file).
	ValuesFiles []string
	Timeouts    spaces.HelmTimeouts
	HealthURL   string // the endpoint whose HealthPath is checked; empty: target.helm.health.url

	// Budget, when set, makes Apply refuse a configuration whose rendered
	// requests or limits exceed it.
	Budget *spaces.Budget

	MaxHistory         int           // default DefaultMaxHistory
	UnschedulableAfter time.Duration // default DefaultUnschedulableAfter; < 0 waits for the rollout timeout
	RequestTimeout     time.Duration // default DefaultRequestTimeout

	// RecreateVolumes lets Apply and Restore delete a StatefulSet and its
	// PersistentVolumeClaims when the volumeClaimTemplates change (a new
	// storage class), which Kubernetes refuses in place. The data on those
	// volumes is lost. Without it such a configuration is refused.
	RecreateVolumes bool

	// Log receives one line per step (install, upgrade, rollback, wait);
	// nil discards. Debug adds Helm's own log.
	Log   io.Writer
	Debug bool
}

// Deployer installs, upgrades, waits for, observes and restores one release.
// Its methods are not safe for concurrent use, except Observe's sampling.
type Deployer struct {
	space     *spaces.Space
	release   string
	namespace string
	chartRef  spaces.Chart
	chartPath string // located chart: a folder or .tgz on disk
	files     []string
	fileVals  map[string]any // the values files, merged
	timeouts  spaces.HelmTimeouts
	healthURL string
	health    string // path
	selectors map[string]string
	opts      Options

	flags    *genericclioptions.ConfigFlags
	settings *cli.EnvSettings
	cfg      *action.Configuration

	mu       sync.Mutex // guards the clients, made on first use
	kube     kubernetes.Interface
	metrics  metricsclient.Interface
	restCfg  *rest.Config
	kubeVers *chartutil.KubeVersion

	// State a study builds up: the baseline, its values (the base of every
	// overlay) and the last revision that rolled out.
	baseline     *release.Release
	userValues   map[string]any
	lastGood     int
	haveBaseline bool
	log          func(format string, a ...any)
}

// New prepares a Deployer for the space's target.helm, overridden by opts,
// and locates and loads the chart (downloading it from a repository or
// registry when needed). It does not contact the cluster: CheckPaths and
// Render work without one.
func New(ctx context.Context, sp *spaces.Space, opts Options) (*Deployer, error) {
	h := sp.Target.Helm
	if h == nil {
		h = &spaces.HelmTarget{}
	}
	d := &Deployer{
		space:     sp,
		release:   first(opts.Release, h.Release),
		chartRef:  h.Chart,
		timeouts:  h.Timeouts,
		healthURL: first(opts.HealthURL, h.Health.URL),
		health:    first(h.Health.Path, spaces.DefaultHealthPath),
		selectors: map[string]string{},
		opts:      opts,
	}
	if opts.Chart != nil {
		d.chartRef = *opts.Chart
	}
	if d.release == "" {
		return nil, fmt.Errorf("%s: no Helm release: set target.helm.release in the space or --release", spaceName(sp))
	}
	if d.chartRef == (spaces.Chart{}) {
		return nil, fmt.Errorf("%s: no chart: set target.helm.chart in the space", spaceName(sp))
	}
	d.timeouts.Rollout = firstDur(opts.Timeouts.Rollout, d.timeouts.Rollout, spaces.DefaultRolloutTimeout)
	d.timeouts.Settle = max(firstDur(opts.Timeouts.Settle, d.timeouts.Settle, 0), 0) // < 0 in opts: none
	d.timeouts.Health = firstDur(opts.Timeouts.Health, d.timeouts.Health, spaces.DefaultHealthTimeout)
	if d.opts.MaxHistory == 0 {
		d.opts.MaxHistory = DefaultMaxHistory
	}
	if d.opts.UnschedulableAfter == 0 {
		d.opts.UnschedulableAfter = DefaultUnschedulableAfter
	}
	if d.opts.RequestTimeout <= 0 {
		d.opts.RequestTimeout = DefaultRequestTimeout
	}
	for _, key := range componentKeys(sp) {
		d.selectors[key] = h.Selector(key)
	}
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	d.log = func(format string, a ...any) { fmt.Fprintf(logw, "helm: "+format+"\n", a...) }
	helmLog := func(string, ...any) {}
	if opts.Debug {
		helmLog = func(format string, a ...any) { fmt.Fprintf(logw, "helm sdk: "+format+"\n", a...) }
	}

	for _, f := range h.ValuesFiles {
		d.files = append(d.files, sp.RelPath(f))
	}
	d.files = append(d.files, opts.ValuesFiles...)
	vals, err := readValuesFiles(d.files)
	if err != nil {
		return nil, err
	}
	d.fileVals = vals

	d.flags = genericclioptions.NewConfigFlags(true)
	timeout := d.opts.RequestTimeout.String()
	d.flags.Timeout = &timeout
	if opts.Kubeconfig != "" {
		d.flags.KubeConfig = &opts.Kubeconfig
	}
	if opts.Context != "" {
		d.flags.Context = &opts.Context
	}
	d.namespace = first(opts.Namespace, h.Namespace)
	if d.namespace == "" {
		// The context's namespace, as kubectl; a kubeconfig that cannot be
		// read shows up on first use of the cluster, not here.
		if ns, _, err := d.flags.ToRawKubeConfigLoader().Namespace(); err == nil && ns != "" {
			d.namespace = ns
		} else {
			d.namespace = "default"
		}
	}
	d.flags.Namespace = &d.namespace

	d.settings = cli.New()
	d.settings.SetNamespace(d.namespace)
	d.cfg = new(action.Configuration)
	if err := d.cfg.Init(d.flags, d.namespace, "secret", helmLog); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	if err := d.locateChart(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Release and Namespace name the release the Deployer manages.
func (d *Deployer) Release() string   { return d.release }
func (d *Deployer) Namespace() string { return d.namespace }

// Timeouts are the effective timeouts (space, options, defaults).
func (d *Deployer) Timeouts() spaces.HelmTimeouts { return d.timeouts }

// locateChart finds the chart through the SDK (repository index, OCI
// registry, local folder or .tgz) and checks that it loads.
func (d *Deployer) locateChart(ctx context.Context) error {
	c := d.chartRef
	name := c.Name
	switch {
	case c.Path != "":
		name = d.space.RelPath(c.Path)
		if _, err := os.Stat(name); err != nil {
			return fmt.Errorf("chart %s: %w", name, pathProblem(err))
		}
	case c.OCI != "":
		name = c.OCI
	}
	rc, err := registry.NewClient(
		registry.ClientOptCredentialsFile(d.settings.RegistryConfig),
		registry.ClientOptHTTPClient(&http.Client{Timeout: chartTimeout}),
		registry.ClientOptWriter(io.Discard),
	)
	if err != nil {
		return fmt.Errorf("helm registry client: %w", err)
	}
	d.cfg.RegistryClient = rc
	inst := action.NewInstall(d.cfg)
	inst.RepoURL = c.Repo
	inst.Version = c.Version
	type located struct {
		path string
		err  error
	}
	done := make(chan located, 1)
	go func() {
		p, err := inst.LocateChart(name, d.settings)
		done <- located{p, err}
	}()
	var l located
	select {
	case l = <-done:
	case <-ctx.Done():
		return fmt.Errorf("chart %s: %w", c, ctx.Err())
	case <-time.After(chartTimeout):
		return fmt.Errorf("chart %s: not found within %v", c, chartTimeout)
	}
	if l.err != nil {
		return fmt.Errorf("chart %s: %w", c, l.err)
	}
	d.chartPath = l.path
	ch, err := d.loadChart()
	if err != nil {
		return err
	}
	d.log("chart %s %s (%s)", ch.Name(), ch.Metadata.Version, d.chartPath)
	return nil
}

// loadChart loads the located chart afresh: Helm's dependency processing
// edits a loaded chart in place, so one load serves one render or apply.
func (d *Deployer) loadChart() (*chart.Chart, error) {
	ch, err := loader.Load(d.chartPath)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", d.chartPath, err)
	}
	if t := ch.Metadata.Type; t != "" && t != "application" {
		return nil, fmt.Errorf("chart %s: a %s chart cannot be installed", d.chartPath, t)
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		return nil, fmt.Errorf("chart %s: %w (run `helm dependency build` on it)", d.chartPath, err)
	}
	return ch, nil
}

// clients makes the client-go clients on first use.
func (d *Deployer) clients() (kubernetes.Interface, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kube != nil {
		return d.kube, nil
	}
	rc, err := d.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	rc = rest.CopyConfig(rc)
	rc.Timeout = d.opts.RequestTimeout
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	d.restCfg, d.kube = rc, kc
	return kc, nil
}

func (d *Deployer) metricsClient() (metricsclient.Interface, error) {
	if _, err := d.clients(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.metrics == nil {
		mc, err := metricsclient.NewForConfig(d.restCfg)
		if err != nil {
			return nil, fmt.Errorf("metrics client: %w", err)
		}
		d.metrics = mc
	}
	return d.metrics, nil
}

// reachable checks that the API server answers, as Helm's actions do first,
// and says so with ErrUnreachable when it does not.
func (d *Deployer) reachable() error {
	if _, err := d.clients(); err != nil {
		return err
	}
	if err := d.cfg.KubeClient.IsReachable(); err != nil {
		return &unreachable{err: requestError(err)}
	}
	return nil
}

// requestError is the request that failed inside err ("Get
// \"https://host/version\": dial tcp ...: connection refused"), without the
// wrappers' repetition; err itself when there is none.
func requestError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue
	}
	return err
}

// componentKeys are the values keys whose workloads the Deployer looks for:
// every service, every top-level key a parameter writes, and every key the
// space's workloads map names.
func componentKeys(sp *spaces.Space) []string {
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		if k != "" && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, sv := range sp.Services {
		add(sv.Name)
	}
	for _, p := range sp.Params {
		for _, t := range p.Values {
			top, _, _ := strings.Cut(t.Path, ".")
			add(top)
		}
	}
	if h := sp.Target.Helm; h != nil {
		for k := range h.Workloads {
			add(k)
		}
	}
	return keys
}

func spaceName(sp *spaces.Space) string {
	if sp.File != "" {
		return sp.File
	}
	return "space"
}

func pathProblem(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no such chart folder or .tgz")
	}
	return err
}

func first(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func firstDur(d ...time.Duration) time.Duration {
	for _, v := range d {
		if v != 0 {
			return v
		}
	}
	return 0
}
