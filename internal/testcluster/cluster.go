package testcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds Start and StartAPIServer even when ctx has no deadline.
// Start takes about 3 s on 2 cores.
const startTimeout = 2 * time.Minute

// pollInterval is how often readiness is checked.
const pollInterval = 100 * time.Millisecond

// kwokAnnotation marks the nodes kwok plays the kubelet for.
const kwokAnnotation = "kwok.x-k8s.io/node"

// serviceCIDR holds the kubernetes Service's address, 10.96.0.1, named in the
// serving certificate.
const serviceCIDR = "10.96.0.0/16"

// Taint is a node taint; Effect is NoSchedule, PreferNoSchedule or NoExecute.
type Taint struct{ Key, Value, Effect string }

// Node is a fake node that kwok keeps Ready.
type Node struct {
	Name        string
	CPU, Memory string // capacity and allocatable, as quantities: "16", "32Gi"
	// Labels are added to kubernetes.io/hostname, kubernetes.io/os and
	// kubernetes.io/arch, and override them.
	Labels map[string]string
	Taints []Taint
}

// Options configure Start.
type Options struct {
	Nodes  []Node // default: one node "kwok-node-0" with 16 CPU and 32Gi
	BinDir string // default: $TUNE_E2E_BIN, else e2e/build.sh's cache dir
}

// defaultNode is the node a cluster gets when Options.Nodes is empty.
var defaultNode = Node{Name: "kwok-node-0", CPU: "16", Memory: "32Gi"}

// Cluster is a running control plane.
type Cluster struct {
	Kubeconfig string // admin kubeconfig file, context "tune-e2e"
	Host       string // https://127.0.0.1:<port>
	// PEM: the CA, the admin client certificate (group system:masters), its key.
	CAData, CertData, KeyData []byte
	Dir                       string // certificates, etcd's data and one <binary>.log per process

	mu        sync.Mutex
	stopped   bool
	client    *client
	etcd      *process
	apiserver *process
	others    []*process // controller-manager, scheduler, kwok
}

// Start runs etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok, creates opts.Nodes and returns once every node is Ready and the
// default namespace has its service account, so pods can be created at once.
// On error nothing is left running; Dir is kept for its logs, and a
// *ProcessError carries the tail of the failing process's log.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	nodes := opts.Nodes
	if len(nodes) == 0 {
		nodes = []Node{defaultNode}
	}
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = binDir(); err != nil {
			return nil, err
		}
	}
	if err := checkBinaries(bin); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tune-e2e-")
	if err != nil {
		return nil, err
	}
	c, err := start(ctx, bin, dir, nodes)
	if err != nil {
		if c != nil {
			_ = c.stop(true)
		}
		return nil, fmt.Errorf("start cluster in %s: %w", dir, err)
	}
	return c, nil
}

func start(ctx context.Context, bin, dir string, nodes []Node) (*Cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	host := fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	p, err := newPKI(time.Now())
	if err != nil {
		return nil, err
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	files := map[string][]byte{
		"ca.crt": p.CA.Cert, "server.crt": p.Server.Cert, "server.key": p.Server.Key,
		"admin.crt": p.Admin.Cert, "admin.key": p.Admin.Key,
		"sa.key": p.ServiceAccountKey, "sa.pub": p.ServiceAccountPublicKey,
	}
	for name, b := range files {
		if err := os.WriteFile(path(name), b, 0o600); err != nil {
			return nil, err
		}
	}
	kubeconfigs := map[string]keyPair{
		"kubeconfig": p.Admin, "controller-manager.kubeconfig": p.ControllerManager,
		"scheduler.kubeconfig": p.Scheduler, "kwok.kubeconfig": p.Kwok,
	}
	for name, kp := range kubeconfigs {
		if err := writeKubeconfig(path(name), host, p.CA.Cert, kp); err != nil {
			return nil, err
		}
	}
	cl, err := newClient(host, p.CA.Cert, p.Admin)
	if err != nil {
		return nil, err
	}

	c := &Cluster{
		Kubeconfig: path("kubeconfig"),
		Host:       host,
		CAData:     p.CA.Cert,
		CertData:   p.Admin.Cert,
		KeyData:    p.Admin.Key,
		Dir:        dir,
		client:     cl,
		etcd: newProcess(bin, dir, "etcd",
			"--name=tune-e2e",
			"--data-dir="+path("etcd"),
			"--listen-client-urls="+etcdURL,
			"--advertise-client-urls="+etcdURL,
			"--listen-peer-urls="+peerURL,
			"--initial-advertise-peer-urls="+peerURL,
			"--initial-cluster=tune-e2e="+peerURL,
			"--unsafe-no-fsync", // the data is thrown away: no fsync is much faster on a shared disk
		),
		apiserver: newProcess(bin, dir, "kube-apiserver",
			"--etcd-servers="+etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(ports[2]),
			"--cert-dir="+path("kube-apiserver"),
			"--tls-cert-file="+path("server.crt"),
			"--tls-private-key-file="+path("server.key"),
			"--client-ca-file="+path("ca.crt"),
			"--service-account-key-file="+path("sa.pub"),
			"--service-account-signing-key-file="+path("sa.key"),
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range="+serviceCIDR,
			"--authorization-mode=Node,RBAC",
			"--allow-privileged=true",
			// No kubelets and no kube-proxy: nothing would serve the endpoints.
			"--endpoint-reconciler-type=none",
			"--enable-priority-and-fairness=false",
		),
		others: []*process{
			newProcess(bin, dir, "kube-controller-manager",
				"--kubeconfig="+path("controller-manager.kubeconfig"),
				"--leader-elect=false",
				"--bind-address=127.0.0.1",
				"--secure-port=0",
				"--use-service-account-credentials=true",
				"--service-account-private-key-file="+path("sa.key"),
				"--root-ca-file="+path("ca.crt"),
				"--service-cluster-ip-range="+serviceCIDR,
				"--cluster-name=tune-e2e",
				// The default 20/s paces its start-up (a service account and a
				// token per controller) to about 5 s, and pod creation after.
				"--kube-api-qps=200",
				"--kube-api-burst=400",
				// kwok renews the nodes' heartbeats less often than the
				// default grace period of 50 s allows on a busy machine: the
				// nodes flapped NotReady for a few seconds every minute, and
				// rollouts in progress failed with NodeNotReady.
				"--node-monitor-grace-period=10m",
			),
			newProcess(bin, dir, "kube-scheduler",
				"--kubeconfig="+path("scheduler.kubeconfig"),
				"--leader-elect=false",
				"--bind-address=127.0.0.1",
				"--secure-port=0",
			),
			newProcess(bin, dir, "kwok",
				"--kubeconfig="+path("kwok.kubeconfig"),
				"--manage-all-nodes=false",
				"--manage-nodes-with-annotation-selector="+kwokAnnotation+"=fake",
				"--cidr=10.0.0.1/16", // pod IPs: kwok's default /24 runs out at 254 pods
			),
		},
	}

	if err := c.etcd.start(); err != nil {
		return c, err
	}
	// kube-apiserver retries an etcd that is not there yet with a backoff that
	// costs more than waiting here.
	err = c.waitFor(ctx, "etcd /health", c.etcd, func(ctx context.Context) (bool, error) {
		return etcdHealthy(ctx, etcdURL)
	})
	if err != nil {
		return c, err
	}
	if err := c.startAPIServer(ctx); err != nil {
		return c, err
	}
	for _, p := range c.others {
		if err := p.start(); err != nil {
			return c, err
		}
	}
	for _, n := range nodes {
		if err := c.client.do(ctx, http.MethodPost, "/api/v1/nodes", nodeObject(n), nil); err != nil {
			return c, fmt.Errorf("create node %s: %w", n.Name, err)
		}
	}
	kwok := c.others[2]
	for _, n := range nodes {
		if err := c.waitFor(ctx, "node "+n.Name+" Ready", kwok, func(ctx context.Context) (bool, error) {
			return c.nodeReady(ctx, n.Name)
		}); err != nil {
			return c, err
		}
	}
	cm := c.others[0]
	err = c.waitFor(ctx, "service account default/default", cm, func(ctx context.Context) (bool, error) {
		err := c.client.do(ctx, http.MethodGet, "/api/v1/namespaces/default/serviceaccounts/default", nil, nil)
		return err == nil, err
	})
	return c, err
}

// Stop kills every process and removes Dir. It is safe to call more than once.
func (c *Cluster) Stop() error {
	return c.stop(false)
}

// stop kills every process, youngest first, and removes Dir unless keep.
func (c *Cluster) stop(keep bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	for i := len(c.others) - 1; i >= 0; i-- {
		c.others[i].stop()
	}
	c.apiserver.stop()
	c.etcd.stop()
	if keep {
		return nil
	}
	return os.RemoveAll(c.Dir)
}

// StopAPIServer kills kube-apiserver, as if it went away in the middle of a
// study; etcd and the rest keep running. Stopping it twice does nothing.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("cluster stopped")
	}
	c.apiserver.stop()
	return nil
}

// StartAPIServer starts kube-apiserver again on the same port and etcd data,
// and waits until it is ready. The other components reconnect by themselves.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("cluster stopped")
	}
	if c.apiserver.running() {
		return errors.New("kube-apiserver is running")
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return c.startAPIServer(ctx)
}

func (c *Cluster) startAPIServer(ctx context.Context) error {
	if err := c.apiserver.start(); err != nil {
		return err
	}
	return c.waitFor(ctx, "kube-apiserver /readyz", c.apiserver, func(ctx context.Context) (bool, error) {
		err := c.client.do(ctx, http.MethodGet, "/readyz", nil, nil)
		return err == nil, err
	})
}

// waitFor polls ready until it holds. It fails as soon as any process has
// exited, or when ctx ends, then with the log of subject: the process whose
// work is awaited.
func (c *Cluster) waitFor(ctx context.Context, what string, subject *process, ready func(context.Context) (bool, error)) error {
	procs := append([]*process{c.etcd, c.apiserver}, c.others...)
	var last error
	for {
		for _, p := range procs {
			if exited, err := p.exited(); exited {
				if err == nil {
					err = errors.New("exit status 0")
				}
				return p.failure(fmt.Errorf("waiting for %s: exited: %w", what, err))
			}
		}
		ok, err := ready(ctx)
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return subject.failure(fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last))
		case <-time.After(pollInterval):
		}
	}
}

// Run is for TestMain: it starts a cluster, points KUBECONFIG at it, calls
// setup (if not nil), runs the tests and stops the cluster. If tests fail, Dir
// is kept for its logs and named on stderr. If the cluster does not start, it
// says why and returns 1.
func Run(m *testing.M, opts Options, setup func(*Cluster)) (code int) {
	c, err := Start(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testcluster: %v\n", err)
		return 1
	}
	code = 1 // until m.Run returns: a panic in setup or a test keeps the logs
	defer func() {
		if code != 0 {
			_ = c.stop(true)
			fmt.Fprintf(os.Stderr, "testcluster: tests failed; the cluster's logs are in %s\n", c.Dir)
			return
		}
		if err := c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: %v\n", err)
		}
	}()
	if err := os.Setenv("KUBECONFIG", c.Kubeconfig); err != nil {
		fmt.Fprintf(os.Stderr, "testcluster: %v\n", err)
		return 1
	}
	if setup != nil {
		setup(c)
	}
	return m.Run()
}

// freePorts asks the kernel for n distinct free loopback ports. Another
// process may take one before ours binds it, but the kernel hands out ports
// in turn, so two clusters starting at once do not collide.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close() // held until all are chosen, so none repeats
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// etcdHealthy is whether etcd at url answers /health with "true".
func etcdHealthy(ctx context.Context, url string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var health struct{ Health string }
	if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
		return false, err
	}
	return health.Health == "true", nil
}

// nodeObject is the Node kube-apiserver is sent: kwok's annotation, standard
// labels, and the capacity a kubelet would report.
func nodeObject(n Node) map[string]any {
	labels := map[string]string{
		"kubernetes.io/hostname": n.Name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     runtime.GOARCH,
		"type":                   "kwok",
	}
	for k, v := range n.Labels {
		labels[k] = v
	}
	taints := []map[string]string{}
	for _, t := range n.Taints {
		taints = append(taints, map[string]string{"key": t.Key, "value": t.Value, "effect": t.Effect})
	}
	resources := map[string]string{"cpu": n.CPU, "memory": n.Memory, "pods": "110"}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata": map[string]any{
			"name":        n.Name,
			"labels":      labels,
			"annotations": map[string]string{kwokAnnotation: "fake"},
		},
		"spec":   map[string]any{"taints": taints},
		"status": map[string]any{"capacity": resources, "allocatable": resources},
	}
}

// nodeReady is whether the node's Ready condition is True and the node
// lifecycle controller has lifted its not-ready taint, so pods can land.
func (c *Cluster) nodeReady(ctx context.Context, name string) (bool, error) {
	var node struct {
		Spec struct {
			Taints []struct{ Key string }
		}
		Status struct {
			Conditions []struct{ Type, Status string }
		}
	}
	if err := c.client.do(ctx, http.MethodGet, "/api/v1/nodes/"+name, nil, &node); err != nil {
		return false, err
	}
	for _, t := range node.Spec.Taints {
		if t.Key == "node.kubernetes.io/not-ready" {
			return false, nil
		}
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == "Ready" {
			return cond.Status == "True", nil
		}
	}
	return false, nil
}
