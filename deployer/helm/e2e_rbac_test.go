//go:build e2e

package helm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/tune-dify/tune/spaces"
)

// rbac.yaml's Role is enough for every step of a study: baseline, apply,
// a volume switch, a failed rollout and its rollback, read back, observe,
// restore.
func TestE2EWithTheDocumentedRole(t *testing.T) {
	const ns = "t-rbac"
	ctx := ctxFor(t, 5*time.Minute)
	kubeconfig := restrictedKubeconfig(t, ctx, ns)

	d, sp := online(t, ns, Options{Kubeconfig: kubeconfig, RecreateVolumes: true, UnschedulableAfter: 3 * time.Second})
	base, err := d.Baseline(ctx)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, d, sp, nil)
	apply(t, d, sp, spaces.Config{"postgresql.storageClass": "local-ssd", "api.replicas": 2})
	sameSystem(t, d, sp, spaces.Config{"postgresql.storageClass": "local-ssd", "api.replicas": 2})
	_, err = d.Apply(ctx, mustOverlay(t, d, sp, tooBig))
	var re *RolloutError
	if !errors.As(err, &re) || re.RollbackErr != nil || !strings.Contains(err.Error(), "Insufficient cpu") {
		t.Fatalf("got %v, want a rolled back *RolloutError", err)
	}
	o := d.Observe(ctx, 100*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	if obs := o.Stop(); obs.Err != nil || obs.Samples == 0 {
		t.Errorf("observe: %+v", obs)
	}
	if err := d.Restore(ctx, base); err != nil {
		t.Fatal(err)
	}
}

// restrictedKubeconfig makes namespace ns, the ServiceAccount and the Role
// and RoleBinding of rbac.yaml in it, and returns a kubeconfig holding a
// token of that ServiceAccount.
func restrictedKubeconfig(t *testing.T, ctx context.Context, ns string) string {
	t.Helper()
	kc, err := kubeClient(cluster.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tune"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("rbac.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeManifest(string(data))
	if err != nil || len(objs) != 2 {
		t.Fatalf("rbac.yaml: %d objects, %v", len(objs), err)
	}
	role, binding := objs[0].(*rbacv1.Role), objs[1].(*rbacv1.RoleBinding)
	role.Namespace, binding.Namespace, binding.Subjects[0].Namespace = ns, ns, ns
	if _, err := kc.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tok, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "tune", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: cluster.Host, CertificateAuthorityData: cluster.CAData}
	cfg.AuthInfos["tune"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts["tune"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "tune", Namespace: ns}
	cfg.CurrentContext = "tune"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
