package checks_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/healthd/healthd/internal/checks"
	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// s3ShortTimeout is the timeout of a check a test expects to time out (the
// others have checkstest.Timeout); the test waits for it.
const s3ShortTimeout = 400 * time.Millisecond

// newS3Check builds an s3 check with checkstest.Timeout; it is closed when
// the test ends.
func newS3Check(t *testing.T, keys map[string]any) *checkstest.Check {
	t.Helper()
	return checkstest.New(t, "s3", keys, checkstest.Options{})
}

// gwParams are the keys of a check against g's bucket.
func gwParams(g *testsvc.VersityGW, extra map[string]any) map[string]any {
	p := map[string]any{
		"bucket":            g.Bucket,
		"endpoint":          g.Endpoint,
		"path_style":        true,
		"access_key_id":     g.AccessKey,
		"secret_access_key": g.SecretKey,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func TestS3_HeadBucketPasses(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	t.Logf("versitygw started in %v", g.StartedIn)
	newS3Check(t, gwParams(g, nil)).Passes(t).NotHung(t)
}

func TestS3_WriteTestPassesAndLeavesNoObject(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	c := newS3Check(t, gwParams(g, map[string]any{"write_test": true, "prefix": "probes/healthd/"}))
	for range 3 {
		c.Passes(t).NotHung(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := g.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(g.Bucket), Prefix: aws.String("probes/")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, o := range out.Contents {
		t.Errorf("object left behind: %s", aws.ToString(o.Key))
	}
}

func TestS3_MissingBucketFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	newS3Check(t, gwParams(g, map[string]any{"bucket": "no-such-bucket"})).FailsWith(t, "unavailable: bucket no-such-bucket not found")
}

func TestS3_WriteTestOnMissingBucketFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	newS3Check(t, gwParams(g, map[string]any{"bucket": "gone", "write_test": true})).FailsWith(t, "unavailable: bucket gone not found")
}

func TestS3_WrongSecretFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	const secret = "healthd-known-S3CR3T-wrong"
	r := newS3Check(t, gwParams(g, map[string]any{"secret_access_key": secret})).FailsWith(t, "unavailable: access denied (check the credentials and s3:ListBucket)")
	assertNoSecret(t, r.Err, secret)

	r = newS3Check(t, gwParams(g, map[string]any{"secret_access_key": secret, "write_test": true})).Fails(t, "")
	assertNoSecret(t, r.Err, secret)
}

func TestS3_RefusedConnectionFails(t *testing.T) {
	addr := testsvc.RefusedAddr(t)
	c := newS3Check(t, map[string]any{"bucket": "b", "endpoint": "http://" + addr, "path_style": true,
		"access_key_id": "id", "secret_access_key": "secret-not-used"})
	c.FailsWith(t, fmt.Sprintf("unavailable: connection refused (%s)", addr))
}

func TestS3_HangingServerTimesOut(t *testing.T) {
	addr := testsvc.HangingAddr(t)
	c := checkstest.New(t, "s3", map[string]any{"bucket": "b", "endpoint": "http://" + addr, "path_style": true,
		"access_key_id": "id", "secret_access_key": "s"}, checkstest.Options{Timeout: s3ShortTimeout})
	c.FailsWith(t, fmt.Sprintf("unavailable: timed out after 400ms (%s)", addr))
}

func TestS3_BlackholedServerTimesOut(t *testing.T) {
	addr := testsvc.BlackholeAddr(t)
	c := checkstest.New(t, "s3", map[string]any{"bucket": "b", "endpoint": "http://" + addr, "path_style": true,
		"access_key_id": "id", "secret_access_key": "s", "write_test": true}, checkstest.Options{Timeout: s3ShortTimeout})
	c.FailsWith(t, fmt.Sprintf("unavailable: timed out after 400ms (%s)", addr))
}

func TestS3_HangingServerDuringWriteTestTimesOut(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	p := testsvc.NewProxy(t, g.Addr)
	params := gwParams(g, map[string]any{"endpoint": "http://" + p.Addr(), "write_test": true})
	c := newS3Check(t, params)
	c.Passes(t).NotHung(t)
	p.Hang()
	c.FailsWith(t, fmt.Sprintf("unavailable: timed out after %s (%s)", checkstest.Timeout, p.Addr()))
}

func assertNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Check passed, want a failure")
	}
	for _, s := range []string{err.Error(), checks.Message(err), fmt.Sprintf("%+v", err)} {
		if strings.Contains(s, secret) {
			t.Fatalf("error text contains the secret: %q", s)
		}
	}
}

func TestS3_NoSecretInMessages(t *testing.T) {
	const secret = "healthd-known-S3CR3T-value"
	for name, endpoint := range map[string]string{
		"refused": "http://" + testsvc.RefusedAddr(t),
		"hanging": "http://" + testsvc.HangingAddr(t),
	} {
		t.Run(name, func(t *testing.T) {
			for _, write := range []bool{false, true} {
				c := checkstest.New(t, "s3", map[string]any{"bucket": "b", "endpoint": endpoint, "path_style": true,
					"access_key_id": "AKIDHEALTHD", "secret_access_key": secret, "write_test": write}, checkstest.Options{Timeout: s3ShortTimeout})
				assertNoSecret(t, c.Fails(t, "").Err, secret)
			}
		})
	}
}

func TestS3_RecoversAfterProxyRestore(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	p := testsvc.NewProxy(t, g.Addr)
	c := newS3Check(t, gwParams(g, map[string]any{"endpoint": "http://" + p.Addr(), "write_test": true}))
	c.Passes(t).NotHung(t)
	p.Cut()
	c.FailsWith(t, fmt.Sprintf("unavailable: connection refused (%s)", p.Addr()))
	p.Restore()
	c.Passes(t).NotHung(t)
}

func TestS3_RecoversAfterServerRestart(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	c := newS3Check(t, gwParams(g, map[string]any{"write_test": true}))
	c.Passes(t).NotHung(t)
	g.Stop()
	c.FailsWith(t, fmt.Sprintf("unavailable: connection refused (%s)", g.Addr))
	g.Restart()
	c.Passes(t).NotHung(t)
}

func TestS3_ReusesConnections(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	before := establishedTo(t, g.Port())
	c := newS3Check(t, gwParams(g, map[string]any{"write_test": true}))
	for range 30 {
		c.Passes(t).NotHung(t)
	}
	if n := establishedTo(t, g.Port()) - before; n > 2 {
		t.Fatalf("%d more connections open to the server after 30 probes, want at most 2", n)
	}
	c.Close()
	time.Sleep(50 * time.Millisecond)
	if n := establishedTo(t, g.Port()) - before; n > 0 {
		t.Fatalf("%d more connections open to the server after Close, want none", n)
	}
}

// establishedTo counts this process's established TCP connections to port.
// Only sockets among our own file descriptors count: on a busy machine
// another process's connection can have the same number as its ephemeral
// (remote) port.
func establishedTo(t *testing.T, port int) int {
	t.Helper()
	own := map[string]bool{}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:[") {
			own[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatalf("open /proc/net/tcp: %v", err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "01" || !own[fields[9]] { // ESTABLISHED, ours
			continue
		}
		_, rp, ok := strings.Cut(fields[2], ":")
		if !ok {
			continue
		}
		if p, err := strconv.ParseUint(rp, 16, 16); err == nil && int(p) == port {
			n++
		}
	}
	return n
}

func TestS3_ConstructorValidation(t *testing.T) {
	// Exact errors; ConfigTable also fails one that shows checkstest.Secret
	// (the endpoint's password).
	checkstest.ConfigTable(t, "s3", []checkstest.ConfigCase{
		{Name: "bucket missing", Keys: map[string]any{}, Want: `key "bucket": is required`},
		{Name: "bucket empty", Keys: map[string]any{"bucket": ""}, Want: `key "bucket": must not be empty`},
		{Name: "bucket with slash", Keys: map[string]any{"bucket": "b/x"}, Want: `key "bucket": must be a bucket name without "/" (object paths go in prefix)`},
		{Name: "region empty", Keys: map[string]any{"bucket": "b", "region": ""}, Want: `key "region": must not be empty`},
		{Name: "endpoint not a URL", Keys: map[string]any{"bucket": "b", "endpoint": "127.0.0.1:7070"}, Want: `key "endpoint": must be a URL such as http://127.0.0.1:7070`},
		{Name: "endpoint without host", Keys: map[string]any{"bucket": "b", "endpoint": "http://"}, Want: `key "endpoint": must be a URL such as http://127.0.0.1:7070`},
		{Name: "endpoint bad scheme", Keys: map[string]any{"bucket": "b", "endpoint": "ftp://h:21"}, Want: `key "endpoint": must be an http or https URL, not "ftp"`},
		{Name: "endpoint with credentials", Keys: map[string]any{"bucket": "b", "endpoint": "http://id:" + checkstest.Secret + "@h:9000"}, Want: `key "endpoint": must not contain credentials; use access_key_id and secret_access_key`},
		{Name: "access key without secret", Keys: map[string]any{"bucket": "b", "access_key_id": "id"}, Want: `key "secret_access_key": is required when access_key_id is set`},
		{Name: "secret without access key", Keys: map[string]any{"bucket": "b", "secret_access_key": "s"}, Want: `key "access_key_id": is required when secret_access_key is set`},
		{Name: "path_style not bool", Keys: map[string]any{"bucket": "b", "path_style": "maybe"}, Want: `key "path_style": must be true or false, not "maybe"`},
		{Name: "write_test not bool", Keys: map[string]any{"bucket": "b", "write_test": 3}, Want: `key "write_test": must be true or false, not a number`},
		{Name: "prefix absolute", Keys: map[string]any{"bucket": "b", "prefix": "/x/"}, Want: `key "prefix": must not start with "/"`},
		{Name: "unknown key", Keys: map[string]any{"bucket": "b", "regoin": "eu-west-1"}, Want: `key "regoin": unknown key (did you mean "region"?)`},
		{Name: "several problems", Keys: map[string]any{"access_key_id": "id", "endpoint": "gopher://x"},
			Want: "key \"bucket\": is required\nkey \"endpoint\": must be an http or https URL, not \"gopher\"\nkey \"secret_access_key\": is required when access_key_id is set"},
	})
}

func TestS3_ValidConfigsBuildWithoutNetwork(t *testing.T) {
	t.Setenv("AWS_DEFAULTS_MODE", "auto") // would query instance metadata if honoured
	metadata := testsvc.NewDialCounter(t)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+metadata.Addr())
	for _, params := range []map[string]any{
		{"bucket": "b"}, // default credential chain, us-east-1
		{"bucket": "b", "region": "eu-west-1", "write_test": true, "prefix": ""},
		{"bucket": "b", "endpoint": "https://minio.internal", "path_style": true, "access_key_id": "id", "secret_access_key": "s"},
	} {
		start := time.Now()
		c, err := checkstest.Build("s3", params, checkstest.Options{Timeout: time.Second})
		if err != nil {
			t.Fatalf("%v: %v", params, err)
		}
		testsvc.NotHung(t, fmt.Sprintf("the constructor of %v", params), time.Since(start), 0)
		if n := metadata.Count(t); n != 0 {
			t.Errorf("%v: the constructor made %d connections to the instance metadata service; it must not touch the network", params, n)
		}
		c.Close()
	}
}

// isolateAWSEnv points the SDK's default chain at an empty environment.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestS3_DefaultCredentialChainFromEnvironment(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", g.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", g.SecretKey)
	newS3Check(t, map[string]any{"bucket": g.Bucket, "endpoint": g.Endpoint, "path_style": true}).Passes(t).NotHung(t)
}

func TestS3_NoCredentialsFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	isolateAWSEnv(t)
	c := newS3Check(t, map[string]any{"bucket": g.Bucket, "endpoint": g.Endpoint, "path_style": true})
	c.FailsWith(t, "unavailable: no usable AWS credentials (set access_key_id and secret_access_key, or the AWS environment)")
}

// probeReadFault puts a reverse proxy in front of g that interferes with
// reads of probe objects (GET …/probe-…): "hang" never answers them,
// "corrupt" flips their content. Everything else passes through unchanged.
func probeReadFault(t *testing.T, g *testsvc.VersityGW, fault string) string {
	t.Helper()
	target, _ := url.Parse(g.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the Host header, so signatures hold
	isProbeRead := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/probe-")
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if fault == "corrupt" && isProbeRead(resp.Request) && resp.StatusCode == http.StatusOK {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(bytes.ToUpper(b)))
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fault == "hang" && isProbeRead(r) {
			<-r.Context().Done()
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func assertNoProbeObjects(t *testing.T, g *testsvc.VersityGW) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := g.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(g.Bucket), Prefix: aws.String("healthd/")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	for _, o := range out.Contents {
		t.Errorf("object left behind: %s", aws.ToString(o.Key))
	}
}

func TestS3_WriteTestContentMismatchFailsAndDeletes(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	c := newS3Check(t, gwParams(g, map[string]any{"endpoint": probeReadFault(t, g, "corrupt"), "write_test": true}))
	r := c.Fails(t, "unexpected result: ") // a content mismatch
	want := regexp.MustCompile(`^unexpected result: object healthd/probe-[0-9a-f]{16} read back does not match what was written \((\d+) bytes written, (\d+) read\)$`)
	if !want.MatchString(r.Message) {
		t.Fatalf("message = %q, want %s", r.Message, want)
	}
	assertNoProbeObjects(t, g)
}

func TestS3_WriteTestHangingReadTimesOutAndStillDeletes(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	endpoint := probeReadFault(t, g, "hang")
	c := newS3Check(t, gwParams(g, map[string]any{"endpoint": endpoint, "write_test": true}))
	r := c.Fails(t, "unavailable: ") // a time-out
	host := strings.TrimPrefix(endpoint, "http://")
	want := regexp.MustCompile(`^unavailable: reading healthd/probe-[0-9a-f]{16}: timed out after ` + checkstest.Timeout.String() + ` \(` + regexp.QuoteMeta(host) + `\)$`)
	if !want.MatchString(r.Message) {
		t.Fatalf("message = %q, want %s", r.Message, want)
	}
	c.Close() // waits for the background delete
	assertNoProbeObjects(t, g)
}
