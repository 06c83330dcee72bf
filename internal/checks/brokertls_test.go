package checks_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/testsvc"
)

// testCA makes a CA and a server certificate it signed for 127.0.0.1 and
// the name "broker.test", and returns the server's TLS config and the CA's
// PEM file.
func testCA(t *testing.T) (*tls.Config, string) {
	cfg, ca, _, _ := testCAFiles(t)
	return cfg, ca
}

// testCAFiles is testCA, with the server's certificate and key in PEM
// files too, for servers that read files.
func testCAFiles(t *testing.T) (cfg *tls.Config, caFile, certFile, keyFile string) {
	t.Helper()
	ca := testsvc.NewCA(t)
	leaf := ca.Issue([]string{"broker.test", "127.0.0.1"}, time.Now().Add(time.Hour))
	return &tls.Config{Certificates: []tls.Certificate{leaf.TLS}}, ca.File, leaf.CertFile, leaf.KeyFile
}
