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
	"github.com/healthd/healthd/internal/testsvc"
)

// s3TestTimeout is the timeout of the checks the tests build: a deadline
// that must not fire however busy the machine is. A test that expects a
// check to time out gives it s3ShortTimeout, and waits for it.
const (
	s3TestTimeout  = testsvc.AnswerTimeout
	s3ShortTimeout = 400 * time.Millisecond
)

// newS3Check builds an s3 check through the registry, as the config loader does.
func newS3Check(t *testing.T, params map[string]any) checks.Checker {
	t.Helper()
	return newS3CheckWithin(t, params, s3TestTimeout)
}

// newS3CheckWithin is newS3Check with the check's timeout.
func newS3CheckWithin(t *testing.T, params map[string]any, timeout time.Duration) checks.Checker {
	t.Helper()
	typ, ok := checks.Builtin().Lookup("s3")
	if !ok {
		t.Fatal("type s3 is not registered")
	}
	c, err := typ.Build(params, checks.Env{Name: "s3", Timeout: timeout})
	if err != nil {
		t.Fatalf("new s3 check: %v", err)
	}
	t.Cleanup(func() { c.(io.Closer).Close() })
	return c
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

// probe runs one Check with the test timeout and fails if it hangs past it.
func probe(t *testing.T, c checks.Checker) error {
	t.Helper()
	return probeWithin(t, c, s3TestTimeout)
}

// probeWithin is probe for a check built with timeout.
func probeWithin(t *testing.T, c checks.Checker, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	err := c.Check(ctx)
	testsvc.NotHung(t, "Check", time.Since(start), timeout)
	return err
}

func wantMessage(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Check passed, want %q", want)
	}
	if got := checks.Message(err); got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
}

func TestS3_HeadBucketPasses(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	t.Logf("versitygw started in %v", g.StartedIn)
	c := newS3Check(t, gwParams(g, nil))
	if err := probe(t, c); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestS3_WriteTestPassesAndLeavesNoObject(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	c := newS3Check(t, gwParams(g, map[string]any{"write_test": true, "prefix": "probes/healthd/"}))
	for i := 0; i < 3; i++ {
		if err := probe(t, c); err != nil {
			t.Fatalf("Check %d: %v", i, err)
		}
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
	c := newS3Check(t, gwParams(g, map[string]any{"bucket": "no-such-bucket"}))
	wantMessage(t, probe(t, c), "unavailable: bucket no-such-bucket not found")
}

func TestS3_WriteTestOnMissingBucketFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	c := newS3Check(t, gwParams(g, map[string]any{"bucket": "gone", "write_test": true}))
	wantMessage(t, probe(t, c), "unavailable: bucket gone not found")
}

func TestS3_WrongSecretFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	const secret = "healthd-known-S3CR3T-wrong"
	c := newS3Check(t, gwParams(g, map[string]any{"secret_access_key": secret}))
	err := probe(t, c)
	wantMessage(t, err, "unavailable: access denied (check the credentials and s3:ListBucket)")
	assertNoSecret(t, err, secret)

	c = newS3Check(t, gwParams(g, map[string]any{"secret_access_key": secret, "write_test": true}))
	assertNoSecret(t, probe(t, c), secret)
}

func TestS3_RefusedConnectionFails(t *testing.T) {
	addr := testsvc.RefusedAddr(t)
	c := newS3Check(t, map[string]any{"bucket": "b", "endpoint": "http://" + addr, "path_style": true,
		"access_key_id": "id", "secret_access_key": "secret-not-used"})
	wantMessage(t, probe(t, c), fmt.Sprintf("unavailable: connection refused (%s)", addr))
}

func TestS3_HangingServerTimesOut(t *testing.T) {
	addr := testsvc.HangingAddr(t)
	c := newS3CheckWithin(t, map[string]any{"bucket": "b", "endpoint": "http://" + addr, "path_style": true,
		"access_key_id": "id", "secret_access_key": "s"}, s3ShortTimeout)
	wantMessage(t, probeWithin(t, c, s3ShortTimeout), fmt.Sprintf("unavailable: timed out after 400ms (%s)", addr))
}

func TestS3_BlackholedServerTimesOut(t *testing.T) {
	addr := testsvc.BlackholeAddr(t)
	c := newS3CheckWithin(t, map[string]any{"bucket": "b", "endpoint": "http://" + addr, "path_style": true,
		"access_key_id": "id", "secret_access_key": "s", "write_test": true}, s3ShortTimeout)
	wantMessage(t, probeWithin(t, c, s3ShortTimeout), fmt.Sprintf("unavailable: timed out after 400ms (%s)", addr))
}

func TestS3_HangingServerDuringWriteTestTimesOut(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	p := testsvc.NewProxy(t, g.Addr)
	params := gwParams(g, map[string]any{"endpoint": "http://" + p.Addr(), "write_test": true})
	c := newS3Check(t, params)
	if err := probe(t, c); err != nil {
		t.Fatalf("Check through proxy: %v", err)
	}
	p.Hang()
	wantMessage(t, probe(t, c), fmt.Sprintf("unavailable: timed out after %s (%s)", s3TestTimeout, p.Addr()))
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
				c := newS3CheckWithin(t, map[string]any{"bucket": "b", "endpoint": endpoint, "path_style": true,
					"access_key_id": "AKIDHEALTHD", "secret_access_key": secret, "write_test": write}, s3ShortTimeout)
				assertNoSecret(t, probeWithin(t, c, s3ShortTimeout), secret)
			}
		})
	}
}

func TestS3_RecoversAfterProxyRestore(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	p := testsvc.NewProxy(t, g.Addr)
	c := newS3Check(t, gwParams(g, map[string]any{"endpoint": "http://" + p.Addr(), "write_test": true}))
	if err := probe(t, c); err != nil {
		t.Fatalf("Check before cut: %v", err)
	}
	p.Cut()
	wantMessage(t, probe(t, c), fmt.Sprintf("unavailable: connection refused (%s)", p.Addr()))
	p.Restore()
	if err := probe(t, c); err != nil {
		t.Fatalf("Check after restore: %v", err)
	}
}

func TestS3_RecoversAfterServerRestart(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	c := newS3Check(t, gwParams(g, map[string]any{"write_test": true}))
	if err := probe(t, c); err != nil {
		t.Fatalf("Check before kill: %v", err)
	}
	g.Stop()
	wantMessage(t, probe(t, c), fmt.Sprintf("unavailable: connection refused (%s)", g.Addr))
	g.Restart()
	if err := probe(t, c); err != nil {
		t.Fatalf("Check after restart: %v", err)
	}
}

func TestS3_ReusesConnections(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	before := establishedTo(t, g.Port())
	c := newS3Check(t, gwParams(g, map[string]any{"write_test": true}))
	for i := 0; i < 30; i++ {
		if err := probe(t, c); err != nil {
			t.Fatalf("Check %d: %v", i, err)
		}
	}
	if n := establishedTo(t, g.Port()) - before; n > 2 {
		t.Fatalf("%d more connections open to the server after 30 probes, want at most 2", n)
	}
	c.(io.Closer).Close()
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
	typ, _ := checks.Builtin().Lookup("s3")
	for _, tc := range []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"bucket missing", map[string]any{}, `key "bucket": is required`},
		{"bucket empty", map[string]any{"bucket": ""}, `key "bucket": must not be empty`},
		{"bucket with slash", map[string]any{"bucket": "b/x"}, `key "bucket": must be a bucket name without "/" (object paths go in prefix)`},
		{"region empty", map[string]any{"bucket": "b", "region": ""}, `key "region": must not be empty`},
		{"endpoint not a URL", map[string]any{"bucket": "b", "endpoint": "127.0.0.1:7070"}, `key "endpoint": must be a URL such as http://127.0.0.1:7070`},
		{"endpoint without host", map[string]any{"bucket": "b", "endpoint": "http://"}, `key "endpoint": must be a URL such as http://127.0.0.1:7070`},
		{"endpoint bad scheme", map[string]any{"bucket": "b", "endpoint": "ftp://h:21"}, `key "endpoint": must be an http or https URL, not "ftp"`},
		{"endpoint with credentials", map[string]any{"bucket": "b", "endpoint": "http://id:hunter2@h:9000"}, `key "endpoint": must not contain credentials; use access_key_id and secret_access_key`},
		{"access key without secret", map[string]any{"bucket": "b", "access_key_id": "id"}, `key "secret_access_key": is required when access_key_id is set`},
		{"secret without access key", map[string]any{"bucket": "b", "secret_access_key": "s"}, `key "access_key_id": is required when secret_access_key is set`},
		{"path_style not bool", map[string]any{"bucket": "b", "path_style": "maybe"}, `key "path_style": must be true or false, not "maybe"`},
		{"write_test not bool", map[string]any{"bucket": "b", "write_test": 3}, `key "write_test": must be true or false, not a number`},
		{"prefix absolute", map[string]any{"bucket": "b", "prefix": "/x/"}, `key "prefix": must not start with "/"`},
		{"unknown key", map[string]any{"bucket": "b", "regoin": "eu-west-1"}, `key "regoin": unknown key (did you mean "region"?)`},
		{"several problems", map[string]any{"access_key_id": "id", "endpoint": "gopher://x"},
			"key \"bucket\": is required\nkey \"endpoint\": must be an http or https URL, not \"gopher\"\nkey \"secret_access_key\": is required when access_key_id is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := typ.Build(tc.params, checks.Env{Name: "s3", Timeout: time.Second})
			if err == nil {
				t.Fatalf("want error %q, got none", tc.want)
			}
			if err.Error() != tc.want {
				t.Fatalf("error = %q, want %q", err.Error(), tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error echoes the password: %q", err.Error())
			}
		})
	}
}

func TestS3_ValidConfigsBuildWithoutNetwork(t *testing.T) {
	typ, _ := checks.Builtin().Lookup("s3")
	t.Setenv("AWS_DEFAULTS_MODE", "auto") // would query instance metadata if honoured
	metadata := testsvc.NewDialCounter(t)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://"+metadata.Addr())
	for _, params := range []map[string]any{
		{"bucket": "b"}, // default credential chain, us-east-1
		{"bucket": "b", "region": "eu-west-1", "write_test": true, "prefix": ""},
		{"bucket": "b", "endpoint": "https://minio.internal", "path_style": true, "access_key_id": "id", "secret_access_key": "s"},
	} {
		start := time.Now()
		c, err := typ.Build(params, checks.Env{Name: "s3", Timeout: time.Second})
		if err != nil {
			t.Fatalf("%v: %v", params, err)
		}
		testsvc.NotHung(t, fmt.Sprintf("the constructor of %v", params), time.Since(start), 0)
		if n := metadata.Count(t); n != 0 {
			t.Errorf("%v: the constructor made %d connections to the instance metadata service; it must not touch the network", params, n)
		}
		c.(io.Closer).Close()
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
	c := newS3Check(t, map[string]any{"bucket": g.Bucket, "endpoint": g.Endpoint, "path_style": true})
	if err := probe(t, c); err != nil {
		t.Fatalf("Check with credentials from the environment: %v", err)
	}
}

func TestS3_NoCredentialsFails(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	isolateAWSEnv(t)
	c := newS3Check(t, map[string]any{"bucket": g.Bucket, "endpoint": g.Endpoint, "path_style": true})
	wantMessage(t, probe(t, c), "unavailable: no usable AWS credentials (set access_key_id and secret_access_key, or the AWS environment)")
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
	err := probe(t, c)
	if err == nil {
		t.Fatal("Check passed, want a content mismatch")
	}
	want := regexp.MustCompile(`^unexpected result: object healthd/probe-[0-9a-f]{16} read back does not match what was written \((\d+) bytes written, (\d+) read\)$`)
	if !want.MatchString(checks.Message(err)) {
		t.Fatalf("message = %q, want %s", checks.Message(err), want)
	}
	assertNoProbeObjects(t, g)
}

func TestS3_WriteTestHangingReadTimesOutAndStillDeletes(t *testing.T) {
	g := testsvc.StartVersityGW(t)
	endpoint := probeReadFault(t, g, "hang")
	c := newS3Check(t, gwParams(g, map[string]any{"endpoint": endpoint, "write_test": true}))
	err := probe(t, c)
	if err == nil {
		t.Fatal("Check passed, want a time-out")
	}
	host := strings.TrimPrefix(endpoint, "http://")
	want := regexp.MustCompile(`^unavailable: reading healthd/probe-[0-9a-f]{16}: timed out after ` + s3TestTimeout.String() + ` \(` + regexp.QuoteMeta(host) + `\)$`)
	if !want.MatchString(checks.Message(err)) {
		t.Fatalf("message = %q, want %s", checks.Message(err), want)
	}
	c.(io.Closer).Close() // waits for the background delete
	assertNoProbeObjects(t, g)
}
