package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/healthd/healthd/internal/checks"
)

// deps are the dependencies the harness starts for one run, on top of the
// machine's PostgreSQL (5432), Redis (6379), RabbitMQ (5672) and MariaDB
// (3306).
type deps struct {
	dir        string
	memcached  *proc
	mcAddr     string
	s3         *proc
	s3Endpoint string
	s3Key      string
	s3Secret   string
	celery     *proc // nil when the celery type or worker is not available
	celeryNote string
	httpSrv    *http.Server
	httpURL    string
	pgProxy    *proxy
	amqpProxy  *proxy
	redisProxy *proxy
	myCounter  *mysqlCounter
}

const (
	pgDB        = "healthd_bench"
	celeryVhost = "healthd_bench" // its own: a bench worker must never answer a test's ping
	s3Bucket    = "healthd-bench"
)

func startDeps() (*deps, error) {
	d := &deps{}
	var err error
	if d.dir, err = os.MkdirTemp("", "healthd-bench-"); err != nil {
		return nil, err
	}
	fail := func(err error) (*deps, error) { d.stop(); return nil, err }

	if err := ensureDatabase(pgDB); err != nil {
		return fail(err)
	}
	for _, p := range []struct {
		dst    **proxy
		target string
	}{{&d.pgProxy, "127.0.0.1:5432"}, {&d.amqpProxy, "127.0.0.1:5672"}, {&d.redisProxy, "127.0.0.1:6379"}} {
		if *p.dst, err = newProxy(p.target); err != nil {
			return fail(err)
		}
	}

	if d.myCounter, err = newMySQLCounter(); err != nil {
		return fail(err)
	}

	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	d.mcAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if d.memcached, err = start("memcached", nil, "-l", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "0", "-u", "root"); err != nil {
		return fail(err)
	}
	if err := waitTCP(d.mcAddr); err != nil {
		return fail(fmt.Errorf("memcached: %w\n%s", err, d.memcached.Log()))
	}

	if err := d.startS3(); err != nil {
		return fail(fmt.Errorf("versitygw: %w", err))
	}
	d.startCelery()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	d.httpSrv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })}
	go d.httpSrv.Serve(ln)
	d.httpURL = "http://" + ln.Addr().String() + "/"
	return d, nil
}

// ensureDatabase creates the PostgreSQL database name on the machine's
// server unless it exists.
func ensureDatabase(name string) error {
	out, err := psql("SELECT 1 FROM pg_database WHERE datname = '" + name + "'")
	if err != nil || out == "1" {
		return err
	}
	_, err = psql("CREATE DATABASE " + name)
	return err
}

func (d *deps) startS3() error {
	// Where scripts/test-setup.sh put it: $HEALTHD_CACHE, by default the
	// checkout's .cache.
	cache := os.Getenv("HEALTHD_CACHE")
	if cache == "" {
		cache = filepath.Join(repoRoot(), ".cache")
	}
	bin := filepath.Join(cache, "bin", "versitygw")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s not built: run scripts/test-setup.sh", bin)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	root := filepath.Join(d.dir, "s3")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	d.s3Key, d.s3Secret = "healthdbench", fmt.Sprintf("bench-secret-%d", time.Now().UnixNano())
	d.s3, err = start(bin, []string{"ROOT_ACCESS_KEY_ID=" + d.s3Key, "ROOT_SECRET_ACCESS_KEY=" + d.s3Secret},
		"--port", addr, "--quiet", "--keep-alive", "--region", "us-east-1", "posix", root)
	if err != nil {
		return err
	}
	d.s3Endpoint = "http://" + addr
	if err := waitHTTP(d.s3Endpoint+"/", d.s3); err != nil {
		return err
	}
	client := s3.New(s3.Options{
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, Region: "us-east-1",
		BaseEndpoint: aws.String(d.s3Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(d.s3Key, d.s3Secret, ""),
	})
	return withTimeout(10*time.Second, func(ctx context.Context) error {
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s3Bucket)})
		return err
	})
}

// startCelery starts a worker of the celery check's test app on the
// healthd_bench vhost (scripts/setup/celery.sh), when this build has the
// celery type and Debian's python3-celery is installed.
func (d *deps) startCelery() {
	if _, ok := checks.Builtin().Lookup("celery"); !ok {
		d.celeryNote = "this build has no celery check type"
		return
	}
	app := filepath.Join(repoRoot(), "internal", "checks", "testdata")
	if _, err := os.Stat(filepath.Join(app, "celeryapp.py")); err != nil {
		d.celeryNote = "no celery test app"
		return
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", "import celery").CombinedOutput(); err != nil {
		d.celeryNote = fmt.Sprintf("python3-celery is not installed (%v: %s)", err, strings.TrimSpace(string(out)))
		return
	}
	host, _ := os.Hostname()
	node := fmt.Sprintf("healthd-bench-%d", os.Getpid())
	p, err := startDir(app, "/usr/bin/python3", []string{"HEALTHD_CELERY_BROKER=amqp://guest:guest@127.0.0.1:5672/" + celeryVhost, "PYTHONUNBUFFERED=1"},
		"-m", "celery", "-A", "celeryapp", "worker", "-P", "solo", "-n", node+"@%h",
		"--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info")
	if err != nil {
		d.celeryNote = err.Error()
		return
	}
	d.celery = p
	d.celeryNote = "worker " + node + "@" + host
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(d.celery.Log(), " ready.") {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.celeryNote = "celery worker not ready after 30s: " + d.celery.Log()
	d.celery.stop()
	d.celery = nil
}

func (d *deps) stop() {
	for _, p := range []*proc{d.memcached, d.s3, d.celery} {
		p.stop()
	}
	for _, p := range []*proxy{d.pgProxy, d.amqpProxy, d.redisProxy} {
		if p != nil {
			p.Close()
		}
	}
	if d.myCounter != nil {
		d.myCounter.Close()
	}
	if d.httpSrv != nil {
		d.httpSrv.Close()
	}
	if d.dir != "" {
		os.RemoveAll(d.dir)
	}
}
