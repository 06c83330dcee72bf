package hardening

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidate_OpensNoSocket runs `healthd validate` under strace on a
// config whose every network check names a host that would need a DNS
// look-up (and would hang if dialled): validating is decoding and checking
// keys, and never opens a socket or resolves a name.
func TestValidate_OpensNoSocket(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed (scripts/setup/strace.sh installs it)")
	}
	bin := buildHealthd(t)
	cfg := filepath.Join(t.TempDir(), "healthd.yaml")
	const host = "db.validate-must-not-dial.example"
	yaml := `checks:
  - {name: pg, type: postgres, dsn: "postgres://app:pw@` + host + `:5432/app"}
  - {name: redis, type: redis, url: "redis://` + host + `:6379/0"}
  - {name: cache, type: memcached, servers: ["` + host + `:11211"]}
  - {name: broker, type: rabbitmq, url: "amqp://guest:guest@` + host + `:5672/"}
  - {name: celery, type: celery, broker: "amqp://guest:guest@` + host + `:5672/"}
  - {name: s3, type: s3, bucket: b, region: us-east-1, endpoint: "http://` + host + `:9000", access_key_id: a, secret_access_key: s}
  - {name: web, type: http, url: "http://` + host + `/healthz"}
  - {name: tcp, type: tcp, address: "` + host + `:80"}
  - {name: disk, type: disk}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(t.TempDir(), "trace")
	out, err := exec.Command(strace, "-f", "-qq", "-o", trace, "-e", "trace=socket,connect,sendto,sendmsg",
		bin, "validate", "--config", cfg).CombinedOutput()
	if err != nil {
		t.Fatalf("healthd validate: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "valid, 9 checks") {
		t.Fatalf("healthd validate: %s", out)
	}
	calls, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(calls), "socket(") || strings.Contains(string(calls), "connect(") {
		t.Errorf("healthd validate opened a socket:\n%s", calls)
	}

	// The same trace of `healthd check`, which builds and runs the checks,
	// does show sockets: the trace would see validate's.
	if err := os.WriteFile(cfg, []byte("checks: [{name: tcp, type: tcp, address: \"127.0.0.1:1\", timeout: 1s}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = exec.Command(strace, "-f", "-qq", "-o", trace, "-e", "trace=socket,connect", bin, "check", "--config", cfg).Run()
	if calls, _ := os.ReadFile(trace); !strings.Contains(string(calls), "connect(") {
		t.Errorf("the trace of healthd check shows no connect: the trace does not work:\n%s", calls)
	}
}
