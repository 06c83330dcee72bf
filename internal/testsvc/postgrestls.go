package testsvc

import (
	"net"
	"os"
	"path/filepath"
	"time"
)

// EnableSSL turns ssl on in the instance with the given certificate and key
// (PEM files), by ALTER SYSTEM and a reload, and waits until the server
// answers an SSLRequest with 'S'. Sessions without TLS still work.
func (p *Postgres) EnableSSL(certFile, keyFile string) {
	p.t.Helper()
	for _, f := range []struct{ from, to string }{{certFile, "server.crt"}, {keyFile, "server.key"}} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			p.t.Fatalf("testsvc: %v", err)
		}
		to := filepath.Join(p.dir, f.to)
		if err := os.WriteFile(to, b, 0o600); err != nil {
			p.t.Fatalf("testsvc: %v", err)
		}
		if p.cred != nil {
			os.Chown(to, int(p.cred.Uid), int(p.cred.Gid))
		}
	}
	p.Exec("ALTER SYSTEM SET ssl_cert_file = '" + filepath.Join(p.dir, "server.crt") + "'")
	p.Exec("ALTER SYSTEM SET ssl_key_file = '" + filepath.Join(p.dir, "server.key") + "'")
	p.Exec("ALTER SYSTEM SET ssl = on")
	p.Exec("SELECT pg_reload_conf()")
	deadline := time.Now().Add(10 * time.Second)
	for !p.acceptsSSL() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
			p.t.Fatalf("testsvc: postgres on %s does not accept SSL after 10s:\n%s", p.Addr(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *Postgres) acceptsSSL() bool {
	c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}); err != nil { // SSLRequest
		return false
	}
	var b [1]byte
	_, err = c.Read(b[:])
	return err == nil && b[0] == 'S'
}
