package testsvc

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MachineRedisAddr is the machine's Redis server. Tests may use it but must
// never stop it.
const MachineRedisAddr = "127.0.0.1:6379"

// MachineRedis returns MachineRedisAddr after checking that it answers PING.
func MachineRedis(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: MachineRedisAddr, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("testsvc: the machine's Redis at %s does not answer (run scripts/test-setup.sh): %v", MachineRedisAddr, err)
	}
	return MachineRedisAddr
}

// Redis is a redis-server process of the test's own on a free loopback
// port, without persistence. Cleanup kills it.
type Redis struct {
	t        testing.TB
	port     int
	password string
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{}
	Startup  time.Duration
}

// StartRedis starts redis-server; a non-empty password sets --requirepass.
func StartRedis(t testing.TB, password string) *Redis {
	NeedsServer(t)
	t.Helper()
	began := time.Now()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testsvc: redis-server not found (run scripts/test-setup.sh): %v", err)
	}
	r := &Redis{t: t, port: FreePort(t), password: password, dir: t.TempDir()}
	t.Cleanup(r.Stop)
	r.Start()
	r.Startup = time.Since(began)
	return r
}

// Addr is the server's host:port.
func (r *Redis) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// Start starts the server (again, on the same port) and waits for PING.
func (r *Redis) Start() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatalf("testsvc: redis already running")
	}
	args := []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", r.dir, "--daemonize", "no", "--loglevel", "warning"}
	if r.password != "" {
		args = append(args, "--requirepass", r.password)
	}
	cmd := exec.Command("redis-server", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(r.dir, "redis.log"))
	if err != nil {
		r.t.Fatalf("testsvc: %v", err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testsvc: start redis-server: %v", err)
	}
	r.cmd = cmd
	r.exited = make(chan struct{})
	go func() { cmd.Wait(); close(r.exited) }()
	c := r.Client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-r.exited:
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.cmd = nil
			r.t.Fatalf("testsvc: redis-server exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testsvc: redis-server on %s not ready after 10s: %v", r.Addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL, like a crash) and waits until it is gone.
func (r *Redis) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.exited
	r.cmd = nil
}

// Client returns an admin client (with the password) for the server.
func (r *Redis) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: r.Addr(), Password: r.password, MaxRetries: -1,
		DialTimeout: time.Second, DisableIdentity: true})
}

// ClientsNamed counts the server's connections whose CLIENT SETNAME is name.
func (r *Redis) ClientsNamed(name string) int {
	r.t.Helper()
	c := r.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		r.t.Fatalf("testsvc: CLIENT LIST: %v", err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		for _, f := range strings.Fields(line) {
			if f == "name="+name {
				n++
			}
		}
	}
	return n
}
