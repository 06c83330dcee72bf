package testsvc

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// CeleryVhost is the RabbitMQ vhost of the Celery tests, created by
// scripts/setup/celery.sh, so test workers never meet real ones.
const CeleryVhost = "healthd_test"

// CeleryBrokerURL is the broker of the test workers.
const CeleryBrokerURL = "amqp://guest:guest@" + RabbitMQAddr + "/" + CeleryVhost

// CeleryWorker is a real Celery worker (Debian's python3-celery) running an
// app from testdata, consuming a queue of its own.
type CeleryWorker struct {
	Node    string        // node name as workers report it: name@host
	Queue   string        // the only queue it consumes
	Startup time.Duration // from exec to the "ready." log line
	name    string        // node name before @
	cmd     *exec.Cmd
	mu      sync.Mutex
	log     strings.Builder
	exited  chan struct{}
}

// LockCeleryVhost serialises test binaries that use CeleryVhost, so a worker
// of one run never answers another run's broadcast ping. The lock is held
// until the test ends.
func LockCeleryVhost(t testing.TB) {
	NeedsServer(t)
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "healthd-celery-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("testsvc: celery lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatalf("testsvc: celery lock: %v", err)
	}
	t.Cleanup(func() { f.Close() })
}

// StartCeleryWorker starts `python3 -m celery -A <app> worker -P solo` with
// broker CeleryBrokerURL, in dir (which holds the app module), and waits
// until it logs that it is ready. The worker is killed when the test ends,
// or when the test binary dies (Pdeathsig).
func StartCeleryWorker(t testing.TB, dir, app string) *CeleryWorker {
	NeedsServer(t)
	t.Helper()
	RabbitMQ(t)
	return StartCeleryWorkerOn(t, dir, app, CeleryBrokerURL)
}

// StartCeleryWorkerOn is StartCeleryWorker on another broker, such as a
// redis:// URL of the test's own redis-server.
func StartCeleryWorkerOn(t testing.TB, dir, app, broker string) *CeleryWorker {
	NeedsServer(t)
	t.Helper()
	python := "/usr/bin/python3" // Debian's python3-celery lives in the system Python
	if out, err := exec.Command(python, "-c", "import celery").CombinedOutput(); err != nil {
		t.Fatalf("testsvc: celery is not installed for %s (%v: %s); run scripts/test-setup.sh", python, err, out)
	}
	id := fmt.Sprintf("healthd-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	host, _ := os.Hostname()
	w := &CeleryWorker{Node: id + "@" + host, Queue: id, name: id, exited: make(chan struct{})}
	w.cmd = exec.Command(python, "-m", "celery", "-A", app, "worker", "-P", "solo", "-n", id+"@%h",
		"--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", id, "-l", "info")
	w.cmd.Dir = dir
	w.cmd.Env = append(os.Environ(), "HEALTHD_CELERY_BROKER="+broker, "PYTHONUNBUFFERED=1")
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stdout = w.cmd.Stderr
	start := time.Now()
	if err := w.cmd.Start(); err != nil {
		t.Fatalf("testsvc: start celery worker: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			w.log.WriteString(line + "\n")
			w.mu.Unlock()
			if strings.Contains(line, id+"@") && strings.HasSuffix(line, " ready.") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		w.cmd.Wait()
		close(w.exited)
	}()
	t.Cleanup(w.Stop)
	select {
	case <-ready:
		w.Startup = time.Since(start)
	case <-w.exited:
		t.Fatalf("testsvc: celery worker exited before it was ready:\n%s", w.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("testsvc: celery worker not ready after 30s:\n%s", w.Log())
	}
	return w
}

// Log returns what the worker printed so far.
func (w *CeleryWorker) Log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.String()
}

// Pattern is a regular expression that matches the worker's command line only.
func (w *CeleryWorker) Pattern() string { return `-n ` + w.name + `@` }

// Pause stops the worker (SIGSTOP) without closing its connections, as a
// worker stuck in a long task: it stays subscribed but does not answer.
func (w *CeleryWorker) Pause() { syscall.Kill(-w.cmd.Process.Pid, syscall.SIGSTOP) }

// Resume continues a paused worker (SIGCONT).
func (w *CeleryWorker) Resume() { syscall.Kill(-w.cmd.Process.Pid, syscall.SIGCONT) }

// Stop kills the worker (SIGKILL, as a crash would) and waits for it to exit.
func (w *CeleryWorker) Stop() {
	select {
	case <-w.exited:
		return
	default:
	}
	syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
	<-w.exited
}

// CeleryRedisAddr is the machine's Redis, used as a Celery broker by the
// redis:// tests (named apart from the redis check's own helpers).
const CeleryRedisAddr = "127.0.0.1:6379"

// CeleryRedis returns a client of the machine's Redis, failing the test
// when it does not answer.
func CeleryRedis(t testing.TB) *redis.Client {
	NeedsServer(t)
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: CeleryRedisAddr, DialTimeout: 2 * time.Second, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("testsvc: Redis is not reachable on %s (%v)", CeleryRedisAddr, err)
	}
	return c
}
