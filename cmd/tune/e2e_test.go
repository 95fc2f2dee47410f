//go:build e2e

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/tune-dify/tune/deployer/helm"
	"github.com/tune-dify/tune/deployer/helm/helmtest"
	"github.com/tune-dify/tune/internal/testcluster"
	"github.com/tune-dify/tune/results"
	"github.com/tune-dify/tune/spaces"
	"github.com/tune-dify/tune/target/release"
)

var cluster *testcluster.Cluster

func TestMain(m *testing.M) { os.Exit(helmtest.Run(m, &cluster)) }

// studyArgs is a short helm study of the default space on the community
// chart, its load served by the emulator configured from the cluster's
// objects. It lets a trial move PostgreSQL's storage class
// (--recreate-volumes): TestHelmStudy checks that nothing else loses a
// volume.
func studyArgs(ns, out string, trials int, extra ...string) []string {
	return append([]string{"--target", "helm", "--emulate", "--budget", "8c16g", "--space", space,
		"--chart", testChart, "--kubeconfig", cluster.Kubeconfig, "--namespace", ns,
		"--trials", fmt.Sprint(trials), "--users", "10", "--duration", "2s", "--seed", "1",
		"--settle", "0s", "--rollout-timeout", "60s", "--recreate-volumes", "--out", out}, extra...)
}

// helmInputs readies a Helm test: the cluster's nodes up, Helm's cache and
// config in the test's own folders, the default space and the vendored
// chart's absolute path.
func helmInputs(t *testing.T) (*spaces.Space, string) {
	t.Helper()
	waitNodes(t)
	t.Setenv("HELM_CACHE_HOME", t.TempDir())
	t.Setenv("HELM_CONFIG_HOME", t.TempDir())
	sp, err := spaces.Load(space)
	if err != nil {
		t.Fatal(err)
	}
	chart, err := filepath.Abs(testChart)
	if err != nil {
		t.Fatal(err)
	}
	return sp, chart
}

// chartDefaults installs the community chart with its own defaults, as a
// user's `helm install dify dify/dify -n ns` does (no container bounded,
// claims with no storage class, passwords generated), and waits for it.
func chartDefaults(t *testing.T, ns string) (*helm.Deployer, *spaces.Space) {
	t.Helper()
	sp, chart := helmInputs(t)
	ch, err := loader.Load(chart)
	if err != nil {
		t.Fatal(err)
	}
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig, flags.Namespace = &cluster.Kubeconfig, &ns
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, ns, "secret", func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName, inst.Namespace, inst.CreateNamespace = "dify", ns, true
	inst.Wait, inst.Timeout = true, 2*time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := inst.RunWithContext(ctx, ch, nil); err != nil {
		t.Fatalf("helm install of the chart's defaults: %v", err)
	}
	d, err := helm.New(context.Background(), sp, helm.Options{Kubeconfig: cluster.Kubeconfig, Namespace: ns,
		Chart: &spaces.Chart{Path: chart}, Timeouts: spaces.HelmTimeouts{Rollout: time.Minute, Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Restore(context.Background(), helm.Baseline{Release: d.Release(), Namespace: ns}) })
	return d, sp
}

// watchPGBouncer polls the namespace for tune's pgbouncer until stop is
// closed, and says whether it ever saw it.
func watchPGBouncer(t *testing.T, ns string, stop <-chan struct{}) <-chan bool {
	t.Helper()
	kc, err := helmtest.Client(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan bool, 1)
	go func() {
		ever := false
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			list, err := kc.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=pgbouncer"})
			cancel()
			ever = ever || (err == nil && len(list.Items) > 0)
			select {
			case <-stop:
				seen <- ever
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return seen
}

// claimUIDs are the namespace's volume claims by name, with their UIDs.
func claimUIDs(t *testing.T, ns string) map[string]string {
	t.Helper()
	kc, err := helmtest.Client(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	out, err := helmtest.ClaimUIDs(context.Background(), kc, ns)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// baseline installs the space's current configuration as the release the
// study starts from, and returns a deployer to inspect it with.
func baseline(t *testing.T, ns string) (*helm.Deployer, *spaces.Space, int) {
	t.Helper()
	sp, chart := helmInputs(t)
	d, err := helm.New(context.Background(), sp, helm.Options{Kubeconfig: cluster.Kubeconfig, Namespace: ns,
		Chart: &spaces.Chart{Path: chart}, Timeouts: spaces.HelmTimeouts{Rollout: time.Minute, Settle: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := d.Baseline(ctx); err != nil {
		t.Fatal(err)
	}
	ov, err := d.Overlay(sp.Baseline())
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Apply(ctx, ov)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Restore(context.Background(), helm.Baseline{Release: d.Release(), Namespace: ns}) })
	return d, sp, a.Revision
}

// atBaseline fails t unless the cluster holds the space's current
// configuration again, in a revision after rev.
func atBaseline(t *testing.T, d *helm.Deployer, sp *spaces.Space, rev int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := d.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Revision <= rev || st.Status != "deployed" {
		t.Errorf("release at revision %d (%s), want a rollback after revision %d", st.Revision, st.Status, rev)
	}
	got, err := d.ReadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := release.ConfigDiff(sp, sp.Baseline(), got); diff != "" {
		t.Errorf("the cluster does not hold the baseline again: %s", diff)
	}
}

var readyRE = regexp.MustCompile(`deployed revision \d+: ready in ([0-9.]+)s`)

// TestHelmStudy is the full path on the community chart, installed with
// its own defaults as a user's release is: five trials (the second turns
// tune's pgbouncer on), each deployed through Helm to the API server (an
// upgrade Bitnami's password lookups accept), read back from the objects
// there, served by the emulator configured from them and loaded over HTTP;
// the user's release is back at the end, without tune's pgbouncer, and no
// volume claim was deleted but PostgreSQL's when a trial moved its storage
// class (--recreate-volumes).
func TestHelmStudy(t *testing.T) {
	ns := "study"
	d, sp := chartDefaults(t, ns)
	st, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := claimUIDs(t, ns)
	out := t.TempDir()
	preset := filepath.Join(t.TempDir(), "pgbouncer-on.yaml")
	if err := os.WriteFile(preset, []byte("pgbouncer.enabled: true\npgbouncer.poolSize: 50\napi.replicas: 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	seen := watchPGBouncer(t, ns, stop)
	stdout, stderr, code := runCLI(t, studyArgs(ns, out, 5, "--enqueue", preset)...)
	close(stop)
	t.Log(stdout)
	if code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !<-seen {
		t.Error("tune's pgbouncer never appeared, though trial 1 turned it on")
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) != 5 {
		t.Fatalf("trials.jsonl: %d trials, %v", len(trials), err)
	}
	for _, tr := range trials {
		// A trial whose objects differ from its configuration fails with
		// "the cluster does not hold the trial's configuration".
		if tr.State != results.StateComplete || tr.Metrics.TPS <= 0 {
			t.Errorf("trial %d: %s %s", tr.Number, tr.State, tr.Error)
		}
	}
	var ready []string
	for _, m := range readyRE.FindAllStringSubmatch(stdout, -1) {
		ready = append(ready, m[1]+"s")
	}
	t.Logf("deploy-and-ready per trial: %s", strings.Join(ready, ", "))
	if len(ready) != 5 || !strings.Contains(stdout, "helm: restored the baseline") {
		t.Errorf("want five deployments and the baseline restored:\n%s", stdout)
	}
	now, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if now.Revision <= st.Revision || now.Status != "deployed" || len(now.Values) != 0 {
		t.Errorf("after the study: %v with values %v, want the chart's defaults again (revision %d's)", now, now.Values, st.Revision)
	}
	kc, err := helmtest.Client(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := kc.AppsV1().Deployments(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=pgbouncer"}); err != nil || len(list.Items) > 0 {
		t.Errorf("tune's pgbouncer after the study: %d Deployments (%v), want none", len(list.Items), err)
	}
	moved := false
	for _, tr := range trials {
		moved = moved || tr.Params["postgresql.storageClass"] != sp.Baseline()["postgresql.storageClass"]
	}
	after := claimUIDs(t, ns)
	for name, uid := range before {
		if after[name] == uid {
			continue
		}
		if moved && strings.HasPrefix(name, "data-dify-postgresql-primary-") {
			t.Logf("claim %s recreated: a trial moved PostgreSQL's storage class and the test asked for it", name)
			continue
		}
		t.Errorf("volume claim %s deleted by the study (uid %s, now %q)", name, uid, after[name])
	}
	if _, err := os.Stat(filepath.Join(out, results.BaselineJSON)); !os.IsNotExist(err) {
		t.Errorf("%s left behind after a restore: %v", results.BaselineJSON, err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the study writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runUntil runs a study in the background and calls at once its output
// contains marker; it returns the exit code and output.
func runUntil(t *testing.T, ctx context.Context, args []string, marker string, at func()) (int, string) {
	t.Helper()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() { done <- exitCode(run(ctx, args, &out, &errb)) }()
	fired := false
	for {
		select {
		case code := <-done:
			if !fired {
				t.Errorf("the study ended before %q\n%s%s", marker, out.String(), errb.String())
			}
			return code, out.String() + errb.String()
		case <-time.After(50 * time.Millisecond):
		}
		if !fired && strings.Contains(out.String(), marker) {
			fired = true
			at()
		}
	}
}

// TestHelmStudyInterruptedDuringRollout: an interrupt while a trial rolls
// out ends the study, keeps what was recorded and restores the baseline.
func TestHelmStudyInterruptedDuringRollout(t *testing.T) {
	ns := "interrupt"
	d, sp, rev := baseline(t, ns)
	out := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, text := runUntil(t, ctx, studyArgs(ns, out, 4), " 1/4  baseline", func() {
		time.Sleep(300 * time.Millisecond) // into trial 2's upgrade and wait
		cancel()
	})
	t.Log(text)
	if code != exitFailed || !strings.Contains(text, "interrupted after") || !strings.Contains(text, "helm: restored the baseline") {
		t.Errorf("exit %d, want 1, interrupted, baseline restored", code)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) < 1 {
		t.Fatalf("the trial finished before the interrupt is lost: %d (%v)", len(trials), err)
	}
	atBaseline(t, d, sp, rev)
}

// TestHelmStudySurvivesTheAPIServerGoing: the API server stops while the
// second trial's load runs; the study stops with a clear message and no
// failed trial, and the same command resumes it once the server is back,
// restoring the baseline it recorded the first time.
func TestHelmStudySurvivesTheAPIServerGoing(t *testing.T) {
	ns := "outage"
	d, sp, rev := baseline(t, ns)
	out := t.TempDir()
	code, text := runUntil(t, context.Background(), studyArgs(ns, out, 3), "deployed revision 3", func() {
		if err := cluster.StopAPIServer(); err != nil {
			t.Fatal(err)
		}
	})
	t.Log(text)
	if code != exitFailed || !strings.Contains(text, "unreachable") || !strings.Contains(text, "rerun the same command") {
		t.Errorf("exit %d, want 1 with the API server named and the way to resume", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cluster.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitNodes(t)
	if fi, err := os.Stat(filepath.Join(out, results.BaselineJSON)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s after the outage: %v, want it kept, owner-only", results.BaselineJSON, err)
	}
	trials, err := results.ReadJSONL(filepath.Join(out, "trials.jsonl"))
	if err != nil || len(trials) != 1 || trials[0].State != results.StateComplete {
		t.Fatalf("after the outage: %d trials (%v), want the one finished before it", len(trials), err)
	}
	stdout, stderr, code := runCLI(t, studyArgs(ns, out, 3)...)
	t.Log(stdout)
	if code != exitOK || !strings.Contains(stdout, "resuming study") || !strings.Contains(stdout, "recorded by the interrupted run") {
		t.Fatalf("resume: exit %d\n%s%s", code, stdout, stderr)
	}
	atBaseline(t, d, sp, rev)
}

// waitNodes waits until the nodes are Ready and untainted (after the API
// server was away the node lifecycle controller marks them for a while).
func waitNodes(t *testing.T) {
	t.Helper()
	kc, err := helmtest.Client(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		list, err := kc.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		ok := err == nil
		for _, n := range list.Items {
			ready := false
			for _, c := range n.Status.Conditions {
				ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
			}
			ok = ok && ready
			for _, taint := range n.Spec.Taints {
				ok = ok && !strings.HasPrefix(taint.Key, "node.kubernetes.io/")
			}
		}
		if ok {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("nodes still tainted a minute after the API server came back")
}
