package testcluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// certValidity outlives any test run; a cluster is never kept longer.
const certValidity = 365 * 24 * time.Hour

// keyPair is a PEM certificate and its PEM private key.
type keyPair struct {
	Cert, Key []byte
}

// pki is every credential a cluster needs.
type pki struct {
	CA                      keyPair
	Server                  keyPair // kube-apiserver's serving certificate
	Admin                   keyPair // system:masters
	ControllerManager       keyPair // system:kube-controller-manager
	Scheduler               keyPair // system:kube-scheduler
	Kwok                    keyPair // system:masters: kwok patches any node and pod
	ServiceAccountKey       []byte  // PEM private key that signs service-account tokens
	ServiceAccountPublicKey []byte  // PEM public key that verifies them
}

// serverSANs are the names a client may use for kube-apiserver: the loopback
// address, and the kubernetes Service (first address of 10.96.0.0/16).
var (
	serverIPs   = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")}
	serverNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
)

// newPKI makes a CA and signs the server and client certificates with it.
// ECDSA P-256 keeps generation in the milliseconds.
func newPKI(now time.Time) (*pki, error) {
	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "tune-e2e-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	ca, caCert, err := sign(caTmpl, caKey, nil, nil, now)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	p := &pki{CA: ca}

	server := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: serverIPs,
		DNSNames:    serverNames,
	}
	if p.Server, err = newSigned(server, caCert, caKey, now); err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}

	clients := []struct {
		to          *keyPair
		user, group string
	}{
		{&p.Admin, "tune-e2e-admin", "system:masters"},
		{&p.ControllerManager, "system:kube-controller-manager", ""},
		{&p.Scheduler, "system:kube-scheduler", ""},
		{&p.Kwok, "kwok", "system:masters"},
	}
	for _, c := range clients {
		tmpl := &x509.Certificate{
			Subject:     pkix.Name{CommonName: c.user},
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}
		if c.group != "" {
			tmpl.Subject.Organization = []string{c.group}
		}
		if *c.to, err = newSigned(tmpl, caCert, caKey, now); err != nil {
			return nil, fmt.Errorf("client certificate %s: %w", c.user, err)
		}
	}

	saKey, err := newKey()
	if err != nil {
		return nil, err
	}
	if p.ServiceAccountKey, err = encodeKey(saKey); err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}
	p.ServiceAccountPublicKey = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	return p, nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func newSigned(tmpl *x509.Certificate, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (keyPair, error) {
	key, err := newKey()
	if err != nil {
		return keyPair{}, err
	}
	kp, _, err := sign(tmpl, key, ca, caKey, now)
	return kp, err
}

// sign fills in serial and validity and signs tmpl's certificate for key with
// caKey, or self-signs it when ca is nil.
func sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey, ca *x509.Certificate, caKey crypto.Signer, now time.Time) (keyPair, *x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return keyPair{}, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-time.Hour) // tolerate a clock a little behind
	tmpl.NotAfter = now.Add(certValidity)
	if ca == nil {
		ca, caKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return keyPair{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return keyPair{}, nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return keyPair{}, nil, err
	}
	return keyPair{Cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: keyPEM}, cert, nil
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}
