package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runBounded runs the CLI and fails the test if it has not returned within
// a did-not-hang bound; a serve that wrongly started is stopped with SIGINT
// (caught by serve's signal context, so the test binary lives on).
func runBounded(t *testing.T, args ...string) (int, string) {
	t.Helper()
	type result struct {
		code   int
		stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, _, stderr := runCLI(t, args...)
		done <- result{code, stderr}
	}()
	select {
	case r := <-done:
		return r.code, r.stderr
	case <-time.After(20 * time.Second):
		if args[0] == "serve" {
			syscall.Kill(os.Getpid(), syscall.SIGINT) // a serve that started ends on it
			select {
			case <-done:
			case <-time.After(5 * time.Second):
			}
		}
		t.Fatalf("healthd %s still running after 20 s", strings.Join(args, " "))
		return 0, ""
	}
}

// writeKeyPair writes a self-signed certificate and its key under dir.
func writeKeyPair(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// Whatever would stop serve, validate reports too, naming the file, line
// and key, and serve exits 2 (a config error) for it, as validate does.
func TestValidate_RejectsWhatServeRejects(t *testing.T) {
	dir := t.TempDir()
	certA, keyA := writeKeyPair(t, dir, "a")
	_, keyB := writeKeyPair(t, dir, "b")
	badTemplate := filepath.Join(dir, "bad.html")
	os.WriteFile(badTemplate, []byte("<html>{{range .Checks}}</html>\n"), 0o644)
	inlineStyle := filepath.Join(dir, "inline.html")
	os.WriteFile(inlineStyle, []byte("<!doctype html><html><body><p style=\"color:red\">down</p></body></html>\n"), 0o644)

	const checks = "checks:\n  - {name: disk, type: disk}\n"
	cases := []struct{ name, server, want string }{
		{"listen not an address", "  listen: not an address\n",
			`:2: key "server.listen": must be host:port or :port, such as :8000 or 127.0.0.1:8000, not "not an address"`},
		{"listen port out of range", "  listen: 127.0.0.1:70000\n", `:2: key "server.listen": port 70000 is out of range`},
		{"missing template", "  listen: 127.0.0.1:0\n  template: " + filepath.Join(dir, "none.html") + "\n",
			`:3: key "server.template": cannot read the template: no such file or directory`},
		{"template that does not parse", "  listen: 127.0.0.1:0\n  template: " + badTemplate + "\n",
			`:3: key "server.template": the template does not parse: ` + badTemplate + `:2: unexpected EOF`},
		{"template the page's CSP would block", "  listen: 127.0.0.1:0\n  template: " + inlineStyle + "\n",
			`: server.template ` + inlineStyle + `: line 1: style="…" attribute`},
		{"missing certificate", "  listen: 127.0.0.1:0\n  tls: {cert_file: " + filepath.Join(dir, "none.crt") + ", key_file: " + keyA + "}\n",
			`:3: key "server.tls.cert_file": cannot read the certificate: no such file or directory`},
		{"certificate and key that do not match", "  listen: 127.0.0.1:0\n  tls: {cert_file: " + certA + ", key_file: " + keyB + "}\n",
			`:3: key "server.tls": cert_file and key_file are not a certificate and its key: private key does not match public key`},
		{"path shadowing /metrics", "  listen: 127.0.0.1:0\n  path: /metrics\n",
			`:3: key "server.path": must not be /metrics: healthd serves /metrics there itself`},
		{"path shadowing /ping", "  listen: 127.0.0.1:0\n  path: /ping/\n",
			`:3: key "server.path": must not be /ping: healthd serves /ping there itself`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "server:\n"+c.server+checks)
			for _, cmd := range []string{"validate", "serve"} {
				code, stderr := runBounded(t, cmd, "--config", path)
				if code != 2 || !strings.Contains(stderr, path+c.want) {
					t.Errorf("%s: exit %d, stderr:\n%s\nwant exit 2 and %q", cmd, code, stderr, path+c.want)
				}
			}
		})
	}
	ok := writeFile(t, "server:\n  listen: 127.0.0.1:0\n  tls: {cert_file: "+certA+", key_file: "+keyA+"}\n"+checks)
	if code, stderr := runBounded(t, "validate", "--config", ok); code != 0 {
		t.Errorf("a matching certificate and key: exit %d: %s", code, stderr)
	}
}

// A file with a second YAML document is refused: healthd reads one, and
// would otherwise ignore the rest without a word.
func TestValidate_RejectsASecondDocument(t *testing.T) {
	path := writeFile(t, "checks:\n  - {name: disk, type: disk}\n---\nchecks:\n  - {name: memory, type: memory}\n")
	code, stderr := runBounded(t, "validate", "--config", path)
	want := path + ":3: the file holds 2 YAML documents (separated by ---); healthd reads one"
	if code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("exit %d, stderr %q\nwant exit 2 and %q", code, stderr, want)
	}
}

// A bad value from --listen or HEALTHD_SERVER_LISTEN is reported under
// that name, not as a line of the file, and serve exits 2 for it.
func TestOverrideErrorsNameTheFlagOrVariable(t *testing.T) {
	path := writeFile(t, "server:\n  listen: 127.0.0.1:0\nchecks:\n  - {name: disk, type: disk}\n")
	code, stderr := runBounded(t, "serve", "--config", path, "--listen", "not an address")
	want := `--listen: must be host:port or :port, such as :8000 or 127.0.0.1:8000, not "not an address"`
	if code != 2 || strings.TrimSpace(stderr) != want {
		t.Errorf("serve --listen: exit %d, stderr %q\nwant exit 2 and %q", code, stderr, want)
	}
	t.Setenv("HEALTHD_SERVER_LISTEN", "localhost")
	want = `HEALTHD_SERVER_LISTEN: must be host:port or :port, such as :8000 or 127.0.0.1:8000, not "localhost"`
	for _, cmd := range []string{"validate", "serve"} {
		code, stderr = runBounded(t, cmd, "--config", path)
		if code != 2 || strings.TrimSpace(stderr) != want {
			t.Errorf("%s: exit %d, stderr %q\nwant exit 2 and %q", cmd, code, stderr, want)
		}
	}
}

// Hostile files are refused quickly, by validate and by serve: a nested
// alias bomb of a few hundred bytes, and an endless file.
func TestHostileConfigsAreRefusedQuickly(t *testing.T) {
	var bomb strings.Builder
	bomb.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		bomb.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [" +
			strings.TrimSuffix(strings.Repeat("*a"+string(rune('0'+i-1))+", ", 9), ", ") + "]\n")
	}
	bomb.WriteString("checks: *a8\n")
	path := writeFile(t, bomb.String())
	for _, c := range []struct{ file, want string }{
		{path, path + `:7: key "a6[0]": the alias *a5 expands to more than 100000 values`},
		{"/dev/zero", "/dev/zero: cannot read config: the file is larger than 1048576 bytes"},
	} {
		for _, cmd := range []string{"validate", "serve"} {
			code, stderr := runBounded(t, cmd, "--config", c.file)
			if code != 2 || !strings.HasPrefix(stderr, c.want) {
				t.Errorf("%s --config %s: exit %d, stderr %q\nwant exit 2 and %q", cmd, c.file, code, stderr, c.want)
			}
		}
	}
}

// A "${" typed inside a password makes an expansion error that shows no
// character of the password, in validate and in serve.
func TestExpansionErrorShowsNoPartOfThePassword(t *testing.T) {
	path := writeFile(t, "server: {listen: '127.0.0.1:0'}\nchecks:\n  - name: db\n    type: postgres\n    dsn: \"postgres://app:Hunter${2@db.internal:5432/app\"\n")
	want := path + `:5: check "db": key "dsn": unclosed ${ at character 22 of the value (write $$ for a literal $)`
	for _, cmd := range []string{"validate", "serve"} {
		code, stderr := runBounded(t, cmd, "--config", path)
		if code != 2 || strings.TrimSpace(stderr) != want {
			t.Errorf("%s: exit %d, stderr %q\nwant exit 2 and %q", cmd, code, stderr, want)
		}
		if strings.Contains(stderr, "Hunter") {
			t.Errorf("%s shows part of the password: %s", cmd, stderr)
		}
	}
}
