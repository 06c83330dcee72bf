package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/healthd/healthd/internal/daemon"
	"github.com/healthd/healthd/internal/testsvc"
)

// appEnv is the environment of a Django app's container whose dependencies
// are this machine's servers (and an S3 server, a memcached and a Celery
// worker the test starts): what healthd reads with no config file.
func appEnv(t *testing.T) map[string]string {
	t.Helper()
	testsvc.MachinePostgres(t)
	gw := testsvc.StartVersityGW(t)
	testsvc.LockCeleryVhost(t)
	testsvc.StartCeleryWorker(t, "../../internal/checks/testdata", "celeryapp")
	return map[string]string{
		"DATABASE_URL":            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"REDIS_URL":               "redis://" + testsvc.MachineRedis(t) + "/0",
		"CACHE_URL":               "memcache://" + testsvc.StartMemcached(t).Addr(),
		"CELERY_BROKER_URL":       testsvc.CeleryBrokerURL,
		"AWS_STORAGE_BUCKET_NAME": gw.Bucket,
		"AWS_S3_ENDPOINT_URL":     gw.Endpoint,
		"AWS_S3_REGION_NAME":      gw.Region,
		"AWS_S3_ADDRESSING_STYLE": "path",
		"AWS_ACCESS_KEY_ID":       gw.AccessKey,
		"AWS_SECRET_ACCESS_KEY":   gw.SecretKey,
		"DISK_USAGE_MAX":          "100",
		"MEMORY_MIN":              "0",
	}
}

// zeroConfig runs `healthd check --format json` in an empty directory with
// env as the only configuration, and returns its exit code and each check's
// status, or its message when it did not pass.
func zeroConfig(t *testing.T, env map[string]string, args ...string) (int, map[string]string, string) {
	t.Helper()
	t.Chdir(t.TempDir()) // no configs/healthd.yaml here
	t.Setenv("HEALTHD_CONFIG", "")
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "CACHE_URL", "CELERY_BROKER_URL", "BROKER_URL", "AWS_STORAGE_BUCKET_NAME",
		"AWS_S3_ENDPOINT_URL", "AWS_S3_REGION_NAME", "AWS_S3_ADDRESSING_STYLE", "DISK_USAGE_MAX", "MEMORY_MIN", "HEALTHD_FROM_ENV"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code := run(append([]string{"check", "--format", "json"}, args...), &out, &errb)
	got := map[string]string{}
	if code != daemon.ExitConfig {
		var doc struct {
			Checks []struct{ Name, Status, Message string }
		}
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatalf("exit %d, output is not healthd check's JSON: %v\n%s\n%s", code, err, out.String(), errb.String())
		}
		for _, c := range doc.Checks {
			got[c.Name] = c.Status
			if c.Status != "passing" {
				got[c.Name] = c.Message
			}
		}
	}
	return code, got, errb.String()
}

// With no config file, a Django app's environment builds one check per
// dependency, named as django-health-check names them, and each passes
// against the real server; a variable pointing at a stopped server fails
// that check only.
func TestZeroConfig_AppEnvironmentChecksEveryDependency(t *testing.T) {
	testsvc.NeedsServer(t)
	env := appEnv(t)
	code, got, stderr := zeroConfig(t, env)
	want := []string{"Cache backend: default", "CeleryPingHealthCheck", "DatabaseBackend", "DiskUsage", "MemoryUsage", "RabbitMQHealthCheck",
		"RedisHealthCheck", "S3Boto3StorageHealthCheck"}
	if keys := slices.Sorted(maps.Keys(got)); fmt.Sprint(keys) != fmt.Sprint(want) {
		t.Errorf("checks = %v\nwant     %v", keys, want)
	}
	for name, status := range got {
		if status != "passing" {
			t.Errorf("%s: %s", name, status)
		}
	}
	if code != daemon.ExitOK {
		t.Errorf("exit %d, want 0\n%s", code, stderr)
	}

	down := maps.Clone(env)
	down["REDIS_URL"] = "redis://" + testsvc.RefusedAddr(t) + "/0"
	code, got, stderr = zeroConfig(t, down)
	if code != daemon.ExitFailed {
		t.Errorf("with Redis stopped: exit %d, want 1\n%s", code, stderr)
	}
	for name, status := range got {
		switch {
		case name == "RedisHealthCheck" && !strings.Contains(status, "connection refused"):
			t.Errorf("RedisHealthCheck = %q, want connection refused", status)
		case name != "RedisHealthCheck" && status != "passing":
			t.Errorf("%s = %q with only Redis stopped", name, status)
		}
	}
}

// A variable that is set but unusable stops healthd with exit 2 and a
// message naming it, without its value; HEALTHD_FROM_ENV=false turns the
// derivation off; a config file wins over the environment.
func TestZeroConfig_BadVariableOffSwitchAndFile(t *testing.T) {
	code, _, stderr := zeroConfig(t, map[string]string{"DATABASE_URL": "oracle://app:s3cr3t@db/app"})
	if code != daemon.ExitConfig || !strings.Contains(stderr, `DATABASE_URL: has scheme "oracle"`) {
		t.Errorf("exit %d, stderr %q; want 2 naming DATABASE_URL", code, stderr)
	}
	if strings.Contains(stderr, "s3cr3t") {
		t.Errorf("stderr shows the value: %q", stderr)
	}

	code, _, stderr = zeroConfig(t, map[string]string{"HEALTHD_FROM_ENV": "false"})
	if code != daemon.ExitConfig || !strings.Contains(stderr, "configs/healthd.yaml") {
		t.Errorf("HEALTHD_FROM_ENV=false without a file: exit %d, stderr %q; want 2 naming the missing file", code, stderr)
	}

	dir, _ := os.Getwd()
	file := filepath.Join(dir, "own.yaml")
	if err := os.WriteFile(file, []byte("checks: [{name: mine, type: memory, min_available_mb: 0}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, got, stderr := zeroConfig(t, map[string]string{"DATABASE_URL": "oracle://x@y/z"}, "--config", file)
	if code != daemon.ExitOK || len(got) != 1 || got["mine"] != "passing" {
		t.Errorf("with --config: exit %d, %v, %s; want only the file's check", code, got, stderr)
	}
}

// healthd init writes the config the environment implies with every value
// as ${VAR}; it loads, and healthd config shows it as it runs, the
// password redacted.
func TestInitAndConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("HEALTHD_CONFIG", "")
	t.Setenv("DATABASE_URL", "postgres://app:s3cr3t-pw@db.internal:5432/app")
	t.Setenv("REDIS_URL", "redis://:s3cr3t-pw@cache:6379/0")
	var out, errb bytes.Buffer
	if code := run([]string{"init", "--output", "healthd.yaml"}, &out, &errb); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile("healthd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dsn: ${DATABASE_URL}", "url: ${REDIS_URL}", "name: DatabaseBackend", "name: RedisHealthCheck"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("init's file lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "db.internal") {
		t.Errorf("init wrote a value:\n%s", b)
	}
	if code := run([]string{"init", "--output", "healthd.yaml"}, &out, &errb); code == 0 {
		t.Error("init overwrote an existing file")
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"validate", "--config", "healthd.yaml"}, &out, &errb); code != 0 {
		t.Errorf("validate of init's file: exit %d: %s", code, errb.String())
	}
	for _, args := range [][]string{{"config", "--config", "healthd.yaml"}, {"config"}} {
		out.Reset()
		errb.Reset()
		if args[len(args)-1] == "config" {
			os.Remove("healthd.yaml") // from the environment, as with no file
		}
		if code := run(append(args, "--listen", ":9999"), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		got := out.String()
		for _, want := range []string{"postgres://app:****@db.internal:5432/app", `listen: ":9999" # from --listen`} {
			if !strings.Contains(got, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, got)
			}
		}
		if strings.Contains(got, "s3cr3t") {
			t.Errorf("%v shows a password:\n%s", args, got)
		}
	}
}

// With a Redis broker, the zero-config Celery check pings the workers as it
// does on AMQP: it passes with a worker up, and once the worker is gone it
// says so, non-critical unless HEALTHD_CELERY_CRITICAL=true.
func TestZeroConfig_RedisBrokerPingsTheWorkers(t *testing.T) {
	testsvc.NeedsServer(t)
	srv := testsvc.StartRedis(t, "")
	broker := "redis://" + srv.Addr() + "/0"
	w := testsvc.StartCeleryWorkerOn(t, "../../internal/checks/testdata", "celeryapp", broker)
	env := map[string]string{"CELERY_BROKER_URL": broker, "DISK_USAGE_MAX": "100", "MEMORY_MIN": "0"}
	code, got, stderr := zeroConfig(t, env)
	if code != daemon.ExitOK || got["CeleryPingHealthCheck"] != "passing" || got["CeleryBrokerHealthCheck"] != "passing" {
		t.Fatalf("worker up: exit %d, %v\n%s\nworker log:\n%s", code, got, stderr, w.Log())
	}

	w.Stop()
	admin := srv.Client()
	defer admin.Close()
	// Redis drops the dead worker's subscription when its socket closes.
	for i := 0; admin.PubSubNumPat(context.Background()).Val() != 0; i++ {
		if i == 100 {
			t.Fatal("the worker's subscription is still there 5s after it was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		critical string
		code     int
	}{{"", daemon.ExitOK}, {"true", daemon.ExitFailed}} {
		env["HEALTHD_CELERY_CRITICAL"] = tc.critical
		code, got, stderr = zeroConfig(t, env)
		if got["CeleryPingHealthCheck"] != "unavailable: no worker replied" || got["CeleryBrokerHealthCheck"] != "passing" {
			t.Errorf("HEALTHD_CELERY_CRITICAL=%q, worker stopped: %v", tc.critical, got)
		}
		if code != tc.code {
			t.Errorf("HEALTHD_CELERY_CRITICAL=%q, worker stopped: exit %d, want %d\n%s", tc.critical, code, tc.code, stderr)
		}
	}
}

// buildHealthd builds this command into the test's temporary directory.
func buildHealthd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "healthd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// serveBinary starts `healthd serve` in an empty directory with env as its
// whole environment (and args), waits for /ht/ to answer, and returns the
// JSON body /ht/ gave and what the process had logged by then.
func serveBinary(t *testing.T, bin string, env map[string]string, args ...string) (string, string) {
	t.Helper()
	dir := t.TempDir() // no configs/healthd.yaml here
	port := testsvc.FreePort(t)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port)}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs testsvc.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d/ht/", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Errorf("/ht/ answered %d", resp.StatusCode)
			}
			return string(b), logs.String()
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthd serve did not answer at %s: %v\n%s", url, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// `healthd serve`, the binary, with no config file answers /ht/ with a key
// per variable's check, and logs which variable built which check (and why
// a variable built none), never a value; with checks_from_env: true in a
// file it logs the derived checks the same way. The Django schemes
// postgis:// and rediscache:// reach the machine's PostgreSQL and Redis.
func TestServe_ChecksFromTheEnvironmentAnswerAndAreLogged(t *testing.T) {
	testsvc.NeedsServer(t)
	testsvc.MachinePostgres(t)
	const password = "s3cr3t-pw" // PostgreSQL here trusts local logins: any password works
	env := map[string]string{
		"DATABASE_URL":   "postgis://postgres:" + password + "@127.0.0.1:5432/postgres?sslmode=disable",
		"CACHE_URL":      "rediscache://" + testsvc.MachineRedis(t) + "/0",
		"DISK_USAGE_MAX": "100",
		"MEMORY_MIN":     "0",
	}
	bin := buildHealthd(t)
	file := filepath.Join(t.TempDir(), "healthd.yaml")
	if err := os.WriteFile(file, []byte("checks_from_env: true\nchecks: [{name: mine, type: memory, min_available_mb: 0}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		body string
		logs []string
	}{
		{"zero-config", env, nil,
			`{"Cache backend: default": "working", "DatabaseBackend": "working", "DiskUsage": "working", "MemoryUsage": "working"}`,
			[]string{
				`msg="check from the environment" check=DiskUsage type=disk variable=(always)`,
				`msg="check from the environment" check=MemoryUsage type=memory variable=(always)`,
				`msg="check from the environment" check=DatabaseBackend type=postgres variable=DATABASE_URL`,
				`msg="check from the environment" check="Cache backend: default" type=redis variable=CACHE_URL`,
			}},
		{"checks_from_env", map[string]string{"DATABASE_URL": env["DATABASE_URL"], "CACHE_URL": "locmemcache://", "DISK_USAGE_MAX": "100", "MEMORY_MIN": "0"},
			[]string{"--config", file},
			`{"DatabaseBackend": "working", "DiskUsage": "working", "MemoryUsage": "working", "mine": "working"}`,
			[]string{
				`msg="check from the environment" check=DatabaseBackend type=postgres variable=DATABASE_URL`,
				`msg="no check from the environment" variable=CACHE_URL why="locmemcache://: a cache in the app's own process, nothing to reach over the network"`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, logs := serveBinary(t, bin, tc.env, tc.args...)
			if body != tc.body {
				t.Errorf("/ht/ = %s\nwant   %s", body, tc.body)
			}
			for _, want := range tc.logs {
				if !strings.Contains(logs, want) {
					t.Errorf("the log lacks %s\n%s", want, logs)
				}
			}
			// No URL, host or password; a scheme in a note is not a value.
			for _, v := range []string{env["DATABASE_URL"], env["CACHE_URL"], password, "127.0.0.1:5432", testsvc.MachineRedisAddr} {
				if strings.Contains(logs, v) {
					t.Errorf("the log shows a value (%q):\n%s", v, logs)
				}
			}
		})
	}
}

// healthd config with checks_from_env: true prints every check that runs:
// the file's and the derived ones, each with the variable it came from,
// the password redacted; as many checks as validate counts.
func TestConfig_ChecksFromEnvPrintsTheDerivedChecks(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("HEALTHD_CONFIG", "")
	t.Setenv("HEALTHD_FROM_ENV", "")
	t.Setenv("DATABASE_URL", "postgis://app:s3cr3t-pw@db.internal:5432/app")
	t.Setenv("CACHE_URL", "")
	if err := os.WriteFile("healthd.yaml", []byte("checks_from_env: true\nchecks: [{name: mine, type: memory, min_available_mb: 0}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"config", "--config", "healthd.yaml"}, &out, &errb); code != 0 {
		t.Fatalf("config: exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, want := range []string{"name: mine", "name: DatabaseBackend # from DATABASE_URL", `dsn: "postgis://app:****@db.internal:5432/app"`,
		"name: DiskUsage # always", "name: MemoryUsage # always"} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("config shows the password:\n%s", got)
	}
	var validate bytes.Buffer
	if code := run([]string{"validate", "--config", "healthd.yaml"}, &validate, &errb); code != 0 {
		t.Fatalf("validate: exit %d: %s", code, errb.String())
	}
	if n := strings.Count(got, "name: "); !strings.Contains(validate.String(), fmt.Sprintf("valid, %d checks", n)) {
		t.Errorf("config lists %d checks; validate says %s", n, validate.String())
	}
}

// HEALTHD_FROM_ENV takes the spellings of a container's env in any case;
// anything else stops healthd with exit 2 naming the variable.
func TestZeroConfig_FromEnvSwitchSpellings(t *testing.T) {
	for _, tc := range []struct {
		value string
		on    bool
		err   bool
	}{
		{"", true, false}, {"true", true, false}, {"TRUE", true, false}, {"1", true, false}, {"yes", true, false}, {"YES", true, false}, {"on", true, false},
		{"false", false, false}, {"FALSE", false, false}, {"0", false, false}, {"no", false, false}, {"No", false, false}, {"off", false, false},
		{"flase", false, true}, {"2", false, true},
	} {
		on, err := fromEnvSwitch(envLookup(map[string]string{"HEALTHD_FROM_ENV": tc.value}))
		if on != tc.on || (err != nil) != tc.err {
			t.Errorf("HEALTHD_FROM_ENV=%q: on %v, err %v; want on %v, error %v", tc.value, on, err, tc.on, tc.err)
		}
	}
	code, _, stderr := zeroConfig(t, map[string]string{"HEALTHD_FROM_ENV": "flase"})
	if want := `HEALTHD_FROM_ENV must be true or false (1/0, yes/no, on/off), not "flase"`; code != daemon.ExitConfig || !strings.Contains(stderr, want) {
		t.Errorf("HEALTHD_FROM_ENV=flase: exit %d, %q; want 2 and %q", code, stderr, want)
	}
	code, _, stderr = zeroConfig(t, map[string]string{"HEALTHD_FROM_ENV": "FALSE"})
	if code != daemon.ExitConfig || !strings.Contains(stderr, "configs/healthd.yaml") {
		t.Errorf("HEALTHD_FROM_ENV=FALSE: exit %d, %q; want 2 naming the missing file", code, stderr)
	}
	code, got, stderr := zeroConfig(t, map[string]string{"HEALTHD_FROM_ENV": "YES", "DISK_USAGE_MAX": "100", "MEMORY_MIN": "0"})
	if code != daemon.ExitOK || got["DiskUsage"] != "passing" {
		t.Errorf("HEALTHD_FROM_ENV=YES: exit %d, %v, %s; want the checks from the environment", code, got, stderr)
	}
}

func envLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// DISK_USAGE_MAX and MEMORY_MIN reach the checks: a disk limit of 1% and a
// memory floor no machine has make both warn here (and /ht/ fail, as
// WARNINGS_AS_ERRORS is django-health-check's default), each naming its
// threshold.
func TestZeroConfig_ThresholdsFromTheEnvironment(t *testing.T) {
	code, got, stderr := zeroConfig(t, map[string]string{"DISK_USAGE_MAX": "1", "MEMORY_MIN": "500000"})
	if code != daemon.ExitFailed {
		t.Errorf("exit %d, want 1\n%s", code, stderr)
	}
	if !strings.Contains(got["DiskUsage"], "disk usage exceeds 1%") {
		t.Errorf("DiskUsage = %q, want a warning at 1%%", got["DiskUsage"])
	}
	if !strings.Contains(got["MemoryUsage"], "below 500000 MB") {
		t.Errorf("MemoryUsage = %q, want a warning below 500000 MB", got["MemoryUsage"])
	}
}
