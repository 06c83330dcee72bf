package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityGW is a versitygw S3 gateway (posix backend) run by a test: its own
// process on a loopback port, its own temporary directory, one bucket.
type VersityGW struct {
	Addr      string // 127.0.0.1:port
	Endpoint  string // http://127.0.0.1:port
	Region    string
	AccessKey string
	SecretKey string
	Bucket    string
	Dir       string // the posix backend's root; each sub-directory is a bucket
	StartedIn time.Duration

	t   testing.TB
	bin string
	mu  sync.Mutex
	cmd *exec.Cmd
	out *Buffer
}

// VersityGWBinary returns the path of the versitygw binary built by
// scripts/setup/versitygw.sh, or fails the test.
func VersityGWBinary(t testing.TB) string {
	t.Helper()
	return CacheBinary(t, "versitygw", "scripts/setup/versitygw.sh")
}

func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// StartVersityGW starts a versitygw on a free loopback port with a fresh
// temporary directory, creates a bucket, and stops it when the test ends.
func StartVersityGW(t testing.TB) *VersityGW {
	NeedsServer(t)
	t.Helper()
	g := &VersityGW{
		Region:    "us-east-1",
		AccessKey: "healthdtest",
		SecretKey: "vgw-secret-" + randomHex(t, 12),
		Bucket:    "healthd-test",
		Dir:       t.TempDir(),
		t:         t,
		bin:       VersityGWBinary(t),
	}
	t.Cleanup(g.Stop)
	var err error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		g.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
		g.Endpoint = "http://" + g.Addr
		begin := time.Now()
		if err = g.start(); err == nil {
			g.StartedIn = time.Since(begin)
			break
		}
	}
	if err != nil {
		t.Fatalf("testsvc: versitygw: %v\n%s", err, g.out)
	}
	if err := g.createBucket(); err != nil {
		t.Fatalf("testsvc: versitygw: create bucket %s: %v\n%s", g.Bucket, err, g.out)
	}
	return g
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testsvc: random: %v", err)
	}
	return hex.EncodeToString(b)
}

// start runs the process on g.Addr and waits until it answers HTTP.
func (g *VersityGW) start() error {
	out := &Buffer{}
	cmd := exec.Command(g.bin, "--port", g.Addr, "--quiet", "--keep-alive", "--region", g.Region, "posix", g.Dir)
	// Keys through the environment, not argv, so they stay out of ps.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+g.AccessKey, "ROOT_SECRET_ACCESS_KEY="+g.SecretKey)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	g.mu.Lock()
	g.cmd, g.out = cmd, out
	g.mu.Unlock()

	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			g.mu.Lock()
			g.cmd = nil
			g.mu.Unlock()
			return errors.New("exited during start-up: " + errString(err))
		default:
		}
		resp, err := hc.Get(g.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			g.mu.Lock()
			g.cmd = cmd
			g.mu.Unlock()
			go func() { <-exited }()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	return errors.New("not answering on " + g.Addr + " after 15s")
}

func errString(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// Client returns an S3 client for the gateway with the root credentials. It
// keeps no idle connections, so it does not disturb connection counts.
func (g *VersityGW) Client() *s3.Client {
	return s3.New(s3.Options{
		HTTPClient:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		Region:       g.Region,
		BaseEndpoint: aws.String(g.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(g.AccessKey, g.SecretKey, ""),
	})
}

func (g *VersityGW) createBucket() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := g.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(g.Bucket)})
	return err
}

// Stop kills the gateway and waits for it to exit. The directory (and so
// the bucket and its objects) stays for Restart.
func (g *VersityGW) Stop() {
	g.mu.Lock()
	cmd := g.cmd
	g.cmd = nil
	g.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	// Wait until the port is free again, so a restart can bind it.
	for i := 0; i < 250; i++ {
		c, err := net.DialTimeout("tcp", g.Addr, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart starts the gateway again on the same port with the same directory.
func (g *VersityGW) Restart() {
	g.t.Helper()
	g.Stop()
	if err := g.start(); err != nil {
		g.t.Fatalf("testsvc: versitygw restart on %s: %v\n%s", g.Addr, err, g.out)
	}
}

// Port is the gateway's port.
func (g *VersityGW) Port() int {
	_, p, _ := net.SplitHostPort(g.Addr)
	n, _ := strconv.Atoi(p)
	return n
}
