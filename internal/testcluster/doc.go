// Package testcluster runs a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and kwok, which plays
// the kubelet for fake nodes (pods become Running and Ready; nothing runs in
// them). The binaries come from e2e/build.sh (`make e2e-build`).
//
// A test package starts one cluster in TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testcluster.Run(m, testcluster.Options{}, nil)) }
//
// Every process listens on free loopback ports, so several test packages can
// each run a cluster at once.
//
// It owns the processes, their certificates and the cluster's temp dir. It
// imports the standard library only: the main module must not pull in
// Kubernetes' dependencies for its tests' sake, so nodes are created through
// raw REST calls.
//
// Imports of this module: nothing.
package testcluster
