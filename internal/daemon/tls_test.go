package daemon_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/testsvc"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "healthd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServe_TLSWithTokenFromEnvironment(t *testing.T) {
	const token = "tok-from-env-91c2"
	t.Setenv("HEALTHD_TEST_TOKEN", token)
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	yaml := "server:\n  listen: '127.0.0.1:0'\n  auth: {tokens: ['${HEALTHD_TEST_TOKEN}']}\n" +
		"  tls: {cert_file: '" + certFile + "', key_file: '" + keyFile + "'}\n" +
		"checks: [{name: db, type: fake}]\n"

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	done := make(chan error, 1)
	logs := &testsvc.Buffer{}
	go func() {
		done <- daemon.Serve(ctx, daemon.Options{ConfigPath: writeConfig(t, yaml), Registry: checkstest.Registry(),
			Version: "test", Stderr: logs, Ready: func(a string) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "https://" + a
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	fetch := func(path, auth string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s over TLS: %v", path, err)
		}
		defer resp.Body.Close()
		if resp.TLS == nil {
			t.Errorf("GET %s was not served over TLS", path)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, body := fetch("/ht/?format=json", token); code != 200 || body != `{"db": "working"}` {
		t.Errorf("with the token: %d %s", code, body)
	}
	if code, body := fetch("/ht/?format=json", ""); code != 200 || body != `{"status": "working"}` {
		t.Errorf("without a token: %d %s", code, body)
	}
	if code, body := fetch("/metrics", token); code != 200 ||
		!strings.Contains(body, `healthd_check_state{check="db",type="fake"}`) ||
		!strings.Contains(body, "healthd_config_last_reload_successful 1") ||
		!strings.Contains(body, `healthd_build_info{goversion=`) {
		t.Errorf("/metrics: %d %.400s", code, body)
	}
	if code, _ := fetch("/metrics", ""); code != 401 {
		t.Errorf("/metrics without a token: %d", code)
	}

	// Plain HTTP to the TLS port gets no health answer.
	if resp, err := http.Get("http://" + strings.TrimPrefix(base, "https://") + "/ht/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served on the TLS listener")
		}
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the token is in the log:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "tls=true") {
		t.Errorf("the start line does not say TLS is on:\n%s", logs)
	}
}
