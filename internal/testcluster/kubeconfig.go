package testcluster

import (
	"encoding/base64"
	"fmt"
	"os"
)

// contextName names the cluster, user and context in every kubeconfig written.
const contextName = "tune-e2e"

// kubeconfig is a kubeconfig file for host, trusting ca and authenticating with
// the client certificate kp; the credentials are embedded, so the file stands
// alone.
func kubeconfig(host string, ca []byte, kp keyPair) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority-data: %[3]s
users:
- name: %[1]s
  user:
    client-certificate-data: %[4]s
    client-key-data: %[5]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: %[1]s
current-context: %[1]s
`, contextName, host, b64(ca), b64(kp.Cert), b64(kp.Key))
}

func writeKubeconfig(path, host string, ca []byte, kp keyPair) error {
	return os.WriteFile(path, kubeconfig(host, ca, kp), 0o600)
}
