package mqtttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
)

// TLSBroker starts a broker that speaks only TLS with cfg (see Cert), on a
// free port of 127.0.0.1, with hook deciding who may connect and publish
// (it must provide OnConnectAuthenticate and OnACLCheck). It closes the
// broker when the test ends and returns it with its URL, e.g.
// "ssl://127.0.0.1:41234".
func TLSBroker(t testing.TB, cfg *tls.Config, hook mochi.Hook) (*mochi.Server, string) {
	t.Helper()
	srv, addr := serve(t, cfg, hook)
	return srv, "ssl://" + addr
}

// Cert makes a fresh self-signed certificate for hosts (DNS names or IP
// addresses) and returns a server config presenting it (TLS 1.2 or later)
// and a pool that trusts it, for the client.
func Cert(t testing.TB, hosts ...string) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "mqtttest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("cert: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
	}, pool
}
