package testcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parseCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("no PEM in %q", b)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPKI(t *testing.T) {
	p, err := newPKI(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, p.CA.Cert))

	server := parseCert(t, p.Server.Cert)
	for _, name := range []string{"127.0.0.1", "10.96.0.1", "localhost", "kubernetes.default.svc"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}

	clients := []struct {
		name  string
		kp    keyPair
		user  string
		group string
	}{
		{"admin", p.Admin, "tune-e2e-admin", "system:masters"},
		{"controller-manager", p.ControllerManager, "system:kube-controller-manager", ""},
		{"scheduler", p.Scheduler, "system:kube-scheduler", ""},
		{"kwok", p.Kwok, "kwok", "system:masters"},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			cert := parseCert(t, c.kp.Cert)
			opts := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
			if _, err := cert.Verify(opts); err != nil {
				t.Error(err)
			}
			if cert.Subject.CommonName != c.user {
				t.Errorf("user %q, want %q", cert.Subject.CommonName, c.user)
			}
			if got := strings.Join(cert.Subject.Organization, ","); got != c.group {
				t.Errorf("groups %q, want %q", got, c.group)
			}
			if _, err := tls.X509KeyPair(c.kp.Cert, c.kp.Key); err != nil {
				t.Errorf("key does not match certificate: %v", err)
			}
		})
	}

	block, _ := pem.Decode(p.ServiceAccountPublicKey)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("service-account public key: %q", p.ServiceAccountPublicKey)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Error(err)
	}
}

// TestClient has the REST client talk to a server that checks client
// certificates the way kube-apiserver does.
func TestClient(t *testing.T) {
	p, err := newPKI(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CA.Cert)
	serverCert, err := tls.X509KeyPair(p.Server.Cert, p.Server.Key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user := r.TLS.PeerCertificates[0].Subject.CommonName
		if r.URL.Path == "/missing" {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		w.Write([]byte(`{"user":"` + user + `"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()

	c, err := newClient(srv.URL, p.CA.Cert, p.Admin)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ User string }
	if err := c.do(context.Background(), http.MethodGet, "/", nil, &got); err != nil {
		t.Fatal(err)
	}
	if got.User != "tune-e2e-admin" {
		t.Errorf("server saw user %q", got.User)
	}
	err = c.do(context.Background(), http.MethodGet, "/missing", nil, nil)
	if se, ok := err.(*StatusError); !ok || se.Code != http.StatusNotFound {
		t.Errorf("got %v, want a 404 StatusError", err)
	}
}

func TestKubeconfig(t *testing.T) {
	p, err := newPKI(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := writeKubeconfig(path, "https://127.0.0.1:6443", p.CA.Cert, p.Admin); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if ok {
			fields[strings.TrimPrefix(k, "- ")] = v
		}
	}
	b64 := base64.StdEncoding.EncodeToString
	want := map[string]string{
		"server":                     "https://127.0.0.1:6443",
		"certificate-authority-data": b64(p.CA.Cert),
		"client-certificate-data":    b64(p.Admin.Cert),
		"client-key-data":            b64(p.Admin.Key),
		"current-context":            "tune-e2e",
		"cluster":                    "tune-e2e",
		"user":                       "tune-e2e",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s: %q, want %q", k, fields[k], v)
		}
	}
}

// TestBinDirMatchesBuildScript checks that the package looks for the binaries
// where e2e/build.sh puts them.
func TestBinDirMatchesBuildScript(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	t.Setenv("TUNE_E2E_CACHE", cache)
	out, err := exec.Command("bash", filepath.Join(root, "e2e", "build.sh"), "--print-bin-dir").Output()
	if err != nil {
		t.Fatalf("e2e/build.sh --print-bin-dir: %v", err)
	}
	got, err := cacheBinDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(out)); got != want {
		t.Errorf("bin dir %s, e2e/build.sh says %s", got, want)
	}
	if !strings.HasPrefix(got, cache) {
		t.Errorf("bin dir %s is not under TUNE_E2E_CACHE %s", got, cache)
	}
}

func TestMissingBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := Start(context.Background(), Options{BinDir: dir})
	want := "e2e binaries not found in " + dir + ": run `make e2e-build`"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if err := os.WriteFile(path, []byte("first line\nsecond line\nthird\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := tail(path, 14); got != "third\n" {
		t.Errorf("tail 14 = %q, want the last whole line", got)
	}
	if got := tail(path, 1000); got != "first line\nsecond line\nthird\n" {
		t.Errorf("tail 1000 = %q", got)
	}
}
