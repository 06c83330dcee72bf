package checks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

const natsShortTimeout = 300 * time.Millisecond

func TestNATS_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "nats", []checkstest.ConfigCase{
		{Name: "valid", Keys: map[string]any{"url": "tls://u:s3cr3t@nats.internal", "jetstream": map[string]any{"stream": "ORDERS", "min_consumers": 1}, "tls": map[string]any{"server_name": "nats"}}},
		{Name: "url required", Keys: map[string]any{}, Want: `key "url": is required`},
		{Name: "wrong scheme", Keys: map[string]any{"url": "http://u:s3cr3t@127.0.0.1:4222"}, Want: `key "url": must start with nats://, tls://`},
		{Name: "not a URL", Keys: map[string]any{"url": "127.0.0.1:4222"}, Want: `key "url": must be a URL such as nats://host:port`},
		{Name: "bad port", Keys: map[string]any{"url": "nats://u:s3cr3t@127.0.0.1:99999"}, Want: `key "url": must end with a port number from 1 to 65535`},
		{Name: "token and password", Keys: map[string]any{"url": "nats://127.0.0.1", "token": "s3cr3t", "username": "u", "password": "s3cr3t"}, Want: `key "token": cannot be used with username and password`},
		{Name: "password without user", Keys: map[string]any{"url": "nats://127.0.0.1", "password": "s3cr3t"}, Want: `key "password": needs a username`},
		{Name: "stream required", Keys: map[string]any{"url": "nats://127.0.0.1", "jetstream": map[string]any{"min_consumers": 1}}, Want: `key "jetstream.stream": is required`},
		{Name: "bad stream", Keys: map[string]any{"url": "nats://127.0.0.1", "jetstream": map[string]any{"stream": "a.b"}}, Want: `key "jetstream.stream": must not contain spaces, '.', '*' or '>'`},
	})
}

// natsStream creates a stream with a unique name and n consumers on the
// server at addr, deleted when the test ends.
func natsStream(t *testing.T, addr string, consumers int) string {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := fmt.Sprintf("HEALTHD_TEST_%d", time.Now().UnixNano())
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"healthd.test." + name + ".>"}, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, name); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	for i := range consumers {
		if _, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: fmt.Sprintf("c%d", i)}); err != nil {
			t.Fatalf("create consumer: %v", err)
		}
	}
	return name
}

func TestNATS_MachineServerPassesWithJetStream(t *testing.T) {
	t.Parallel()
	addr := testsvc.MachineNATS(t)
	c := checkstest.New(t, "nats", map[string]any{"url": "nats://" + addr}, checkstest.Options{})
	r := c.Passes(t)
	r.Observation(t, "roundTripTime", "ms")
	c.Passes(t)

	stream := natsStream(t, addr, 2)
	js := func(min int) *checkstest.Check {
		return checkstest.New(t, "nats", map[string]any{"url": "nats://" + addr, "jetstream": map[string]any{"stream": stream, "min_consumers": min}}, checkstest.Options{})
	}
	r = js(2).Passes(t)
	if n := r.Observation(t, "consumers", "consumers"); n != 2 {
		t.Errorf("consumers = %v, want 2", n)
	}
	want := fmt.Sprintf("unexpected result: stream %s has 2 consumers, want at least 3 (%s)", stream, addr)
	if r := js(3).Fails(t, want); r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
	missing := checkstest.New(t, "nats", map[string]any{"url": "nats://" + addr, "jetstream": map[string]any{"stream": stream + "_NOSUCH"}}, checkstest.Options{})
	missing.Fails(t, "unexpected result: stream "+stream+"_NOSUCH does not exist ("+addr+")")
}

func TestNATS_Credentials(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartNATS(t, "healthd", checkstest.Secret+"-right")
	for name, keys := range map[string]map[string]any{
		"in the URL": {"url": "nats://healthd:" + checkstest.Secret + "-right@" + srv.Addr()},
		"as keys":    {"url": "nats://" + srv.Addr(), "username": "healthd", "password": checkstest.Secret + "-right"},
	} {
		t.Run(name, func(t *testing.T) { checkstest.New(t, "nats", keys, checkstest.Options{}).Passes(t) })
	}
	want := "unavailable: authorization failed: wrong user, password, token or nkey (" + srv.Addr() + ")"
	for name, keys := range map[string]map[string]any{
		"wrong password in the URL": {"url": "nats://healthd:" + checkstest.Secret + "-wrong@" + srv.Addr()},
		"wrong password as a key":   {"url": "nats://" + srv.Addr(), "username": "healthd", "password": checkstest.Secret + "-wrong"},
		"none":                      {"url": "nats://" + srv.Addr()},
	} {
		t.Run(name, func(t *testing.T) {
			if r := checkstest.New(t, "nats", keys, checkstest.Options{}).Fails(t, want); r.Message != want {
				t.Errorf("message = %q, want %q", r.Message, want)
			}
		})
	}
}

func TestNATS_UnreachableServerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 3, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "nats", map[string]any{"url": "nats://healthd:" + checkstest.Secret + "@" + addr}, checkstest.Options{Timeout: natsShortTimeout})
	})
}

func TestNATS_RecoversAfterTheServerIsStoppedAndRestarted(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartNATS(t, "", "")
	c := checkstest.New(t, "nats", map[string]any{"url": "nats://" + srv.Addr()}, checkstest.Options{})
	c.RecoversFromRestart(t, srv.Addr(), srv.Stop, srv.Start)
	c.RestartBetweenProbes(t, srv.Stop, srv.Start)
}

// TestNATS_HungServerTimesOutAndRecovers: SIGSTOP, the open connection's
// PING is never answered; SIGCONT, the next probe passes.
func TestNATS_HungServerTimesOutAndRecovers(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartNATS(t, "", "")
	c := checkstest.New(t, "nats", map[string]any{"url": "nats://" + srv.Addr()}, checkstest.Options{Timeout: natsShortTimeout})
	c.Passes(t)
	srv.Hang()
	want := "unavailable: timed out after " + natsShortTimeout.String() + " (" + srv.Addr() + ")"
	for range 2 { // the open connection, then a new one whose greeting never comes
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	}
	srv.Resume()
	c.Eventually(t, time.Second)
}

func TestNATS_TokenAndNkey(t *testing.T) {
	t.Parallel()
	tok := testsvc.StartNATS(t, "", "", "--auth", checkstest.Secret+"-token")
	checkstest.New(t, "nats", map[string]any{"url": "nats://" + tok.Addr(), "token": checkstest.Secret + "-token"}, checkstest.Options{}).Passes(t)
	want := "unavailable: authorization failed: wrong user, password, token or nkey (" + tok.Addr() + ")"
	if r := checkstest.New(t, "nats", map[string]any{"url": "nats://" + tok.Addr(), "token": checkstest.Secret + "-wrong"}, checkstest.Options{}).Fails(t, want); r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}

	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	seed, _ := user.Seed()
	dir := t.TempDir()
	seedFile, conf := filepath.Join(dir, "user.nk"), filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte("authorization { users = [ { nkey: "+pub+" } ] }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nk := testsvc.StartNATS(t, "", "", "-c", conf)
	checkstest.New(t, "nats", map[string]any{"url": "nats://" + nk.Addr(), "nkey_seed_file": seedFile}, checkstest.Options{}).Passes(t)
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	otherFile := filepath.Join(dir, "other.nk")
	os.WriteFile(otherFile, otherSeed, 0o600)
	want = "unavailable: authorization failed: wrong user, password, token or nkey (" + nk.Addr() + ")"
	if r := checkstest.New(t, "nats", map[string]any{"url": "nats://" + nk.Addr(), "nkey_seed_file": otherFile}, checkstest.Options{}).Fails(t, want); r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
	if _, err := checkstest.Build("nats", map[string]any{"url": "nats://" + nk.Addr(), "nkey_seed_file": filepath.Join(dir, "missing.nk")}, checkstest.Options{}); err == nil ||
		!strings.Contains(err.Error(), `key "nkey_seed_file": cannot read an nkey seed from the file`) {
		t.Errorf("missing seed file: error %v", err)
	}
}

func TestNATS_TLS(t *testing.T) {
	t.Parallel()
	_, caFile, certFile, keyFile := testCAFiles(t)
	srv := testsvc.StartNATS(t, "", "", "--tls", "--tlscert", certFile, "--tlskey", keyFile)
	checkstest.New(t, "nats", map[string]any{"url": "tls://" + srv.Addr(), "tls": map[string]any{"ca_file": caFile}}, checkstest.Options{}).Passes(t)
	checkstest.New(t, "nats", map[string]any{"url": "nats://" + srv.Addr(), "tls": map[string]any{"ca_file": caFile, "server_name": "broker.test"}}, checkstest.Options{}).Passes(t)
	r := checkstest.New(t, "nats", map[string]any{"url": "tls://" + srv.Addr()}, checkstest.Options{}).Fails(t, "unavailable: TLS certificate not accepted: ")
	t.Logf("system roots: %s", r.Message)
	r = checkstest.New(t, "nats", map[string]any{"url": "nats://" + srv.Addr()}, checkstest.Options{}).Fails(t, "unavailable: ")
	t.Logf("plain to a TLS server: %s", r.Message)
}
