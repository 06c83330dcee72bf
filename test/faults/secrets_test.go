package faults

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/healthd/healthd/internal/testsvc"
)

// knownPassword is put in every credential field; alphanumeric so that its
// URL-escaped forms are the same text.
const knownPassword = "Zq7HunterTwoX9secretPW"

// leakForms are the forms the password could leak in: itself, and inside a
// basic-auth header for each user name the config uses.
func leakForms() []string {
	forms := []string{knownPassword}
	for _, u := range []string{"", "postgres", "default", "monitor", "hook", "guest", "healthd", "AKIAHEALTHDTEST"} {
		forms = append(forms, base64.StdEncoding.EncodeToString([]byte(u+":"+knownPassword)))
	}
	return forms
}

func leaked(s string) string {
	for _, f := range leakForms() {
		if strings.Contains(s, f) {
			return f
		}
	}
	return ""
}

// echoServer answers every request with the failure status given and a
// body quoting the request's Authorization header and URL: a hostile or
// careless server that repeats credentials back.
func echoServer(t *testing.T, status int) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		fmt.Fprintf(w, "you sent Authorization=%q to %s", r.Header.Get("Authorization"), r.URL.String())
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// secretConfig has the password in every DSN, URL and credential field, and
// every connection fails: wrong password where a server checks it, refused
// or an error status elsewhere.
//
// The mysql checks use the machine's MariaDB, whose root has no password:
// any password is the wrong one.
func secretConfig(t *testing.T, logFormat string, pg *testsvc.Postgres, rd *testsvc.Redis, gw *testsvc.VersityGW, mail *testsvc.SMTP, mailCA, echo, hook string, br brokers) string {
	pw := knownPassword
	testsvc.MachineMySQL(t)
	mysqlAddr := testsvc.MachineMySQLAddr
	return brokerSecretChecks(t, br, fmt.Sprintf(`server:

  listen: 127.0.0.1:0
  log_format: %[1]s
  log_level: debug
  failure_status: 503
  auth:
    tokens: ["${HEALTHD_FAULTS_TOKEN}"]
defaults: {timeout: 500ms, cache_ttl: 1m, max_stale: 0s}
notify:
  - url: http://hook:%[2]s@%[3]s/hook?token=%[2]s
    headers: {Authorization: "Bearer %[2]s", X-Api-Key: "%[2]s"}
    retries: 0
    timeout: 300ms
  - url: http://hook:%[2]s@%[4]s/hook
    retries: 0
    timeout: 300ms
checks:
  - {name: pg-url, type: postgres, groups: [deps], dsn: "postgres://postgres:%[2]s@%[5]s/postgres?sslmode=disable"}
  - {name: pg-kv, type: postgres, groups: [deps], dsn: "host=127.0.0.1 port=%[6]d user=postgres password=%[2]s dbname=postgres sslmode=disable"}
  - {name: pg-refused, type: postgres, groups: [deps], dsn: "postgres://postgres:%[2]s@%[7]s/postgres?sslmode=disable"}
  - {name: redis-pass, type: redis, groups: [deps], url: "redis://:%[2]s@%[8]s/0"}
  - {name: redis-user, type: redis, groups: [deps], url: "redis://default:%[2]s@%[8]s/0"}
  - {name: redis-refused, type: redis, groups: [deps], url: "redis://:%[2]s@%[7]s/0"}
  - {name: sentinel-pass, type: redis, groups: [deps], sentinels: ["%[8]s"], master_name: m, sentinel_password: "%[2]s", password: "%[2]s"}
  - {name: sentinel-refused, type: redis, groups: [deps], sentinels: ["%[7]s"], master_name: m, sentinel_password: "%[2]s", password: "%[2]s"}
  - {name: cluster-pass, type: redis, groups: [deps], cluster_nodes: ["%[8]s"], username: default, password: "%[2]s"}
  - {name: cluster-refused, type: redis, groups: [deps], cluster_nodes: ["%[7]s"], password: "%[2]s"}
  - {name: web, type: http, groups: [deps], url: "http://monitor:%[2]s@%[3]s/private?password=%[2]s"}
  - {name: web-refused, type: http, groups: [deps], url: "http://monitor:%[2]s@%[7]s/"}
  - {name: mq, type: rabbitmq, groups: [deps], url: "amqp://guest:%[2]s@%[9]s/"}
  - {name: mq-refused, type: rabbitmq, groups: [deps], url: "amqp://guest:%[2]s@%[7]s/"}
  - {name: workers, type: celery, groups: [deps], broker: "amqp://guest:%[2]s@%[9]s/", min_workers: 0}
  - {name: workers-redis, type: celery, groups: [deps], broker: "redis://:%[2]s@%[8]s/0", queues: [{name: celery, max_messages: 10}]}
  - {name: bucket, type: s3, groups: [deps], bucket: %[10]s, endpoint: "http://%[11]s", path_style: true, access_key_id: %[12]s, secret_access_key: %[2]s}
  - {name: sql-pg, type: sql, groups: [deps], dsn: "postgres://postgres:%[2]s@%[5]s/postgres?sslmode=disable", query: "SELECT 1"}
  - {name: sql-mysql, type: sql, groups: [deps], dsn: "mysql://root:%[2]s@127.0.0.1:3306/test", query: "SELECT 1"}
  - {name: sql-refused, type: sql, groups: [deps], dsn: "mysql://root:%[2]s@%[7]s/test", query: "SELECT 1"}
  - {name: bucket-refused, type: s3, groups: [deps], bucket: %[10]s, endpoint: "http://%[7]s", path_style: true, access_key_id: %[12]s, secret_access_key: %[2]s}
  - {name: my-dsn, type: mysql, groups: [deps], dsn: "root:%[2]s@tcp(%[13]s)/test"}
  - {name: my-url, type: mysql, groups: [deps], dsn: "mysql://root:%[2]s@%[13]s/test"}
  - {name: my-refused, type: mysql, groups: [deps], dsn: "root:%[2]s@tcp(%[7]s)/test"}
  - {name: plugin, type: exec, groups: [deps], command: 'echo "CRITICAL - login failed with $API_CREDENTIAL and $DB_PASS"; echo "$DB_PASS" >&2; exit 2', shell: true, env: {API_CREDENTIAL: "%[2]s", DB_PASS: "%[2]s"}}
  - {name: plugin-argv, type: exec, groups: [deps], command: [/bin/sh, -c, 'echo "CRITICAL - refused, connected as monitor:$MONITOR_LOGIN"; exit 2'], env: {MONITOR_LOGIN: "%[2]s"}}
  - {name: mail, type: smtp, groups: [deps], address: "%[14]s", starttls: true, ca_file: "%[15]s", username: healthd, password: %[2]s}
  - {name: mail-refused, type: smtp, groups: [deps], address: "%[7]s", starttls: true, username: healthd, password: %[2]s}
`, logFormat, pw, echo, hook, pg.Addr(), pg.Port(), testsvc.RefusedAddr(t), rd.Addr(), testsvc.RabbitMQ(t), gw.Bucket, gw.Addr, gw.AccessKey, mysqlAddr,
		mail.Addr, mailCA))
}

// brokers are the message brokers of secretConfig, each with its own
// credentials, which the checks' (knownPassword) do not match.
type brokers struct {
	kafka *testsvc.Kafka
	nats  *testsvc.NATS
	mqtt  *testsvc.Mosquitto
}

func startBrokers(t *testing.T) brokers {
	return brokers{
		kafka: testsvc.StartKafka(t, kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "healthd", "the-right-password")),
		nats:  testsvc.StartNATS(t, "healthd", "the-right-password"),
		mqtt:  testsvc.StartMosquitto(t, "healthd", "the-right-password"),
	}
}

// brokerSecretChecks appends the broker checks to a config's checks.
func brokerSecretChecks(t *testing.T, br brokers, cfg string) string {
	pw, refused := knownPassword, testsvc.RefusedAddr(t)
	return cfg + fmt.Sprintf(`  - {name: kafka-sasl, type: kafka, groups: [deps], brokers: ["%[2]s"], sasl: {mechanism: scram-sha-256, username: healthd, password: %[1]s}}
  - {name: kafka-plain-refused, type: kafka, groups: [deps], brokers: ["%[5]s"], sasl: {mechanism: plain, username: healthd, password: %[1]s}}
  - {name: nats-url, type: nats, groups: [deps], url: "nats://healthd:%[1]s@%[3]s"}
  - {name: nats-keys, type: nats, groups: [deps], url: "nats://%[3]s", username: healthd, password: %[1]s}
  - {name: nats-token-refused, type: nats, groups: [deps], url: "nats://%[5]s", token: %[1]s}
  - {name: mqtt-pass, type: mqtt, groups: [deps], url: "mqtt://%[4]s", username: healthd, password: %[1]s, round_trip_topic: healthd/secrets}
  - {name: mqtt-refused, type: mqtt, groups: [deps], url: "mqtt://%[5]s", username: healthd, password: %[1]s}
`, pw, br.kafka.Addr(), br.nats.Addr(), br.mqtt.Addr(), refused)

}

// checkNames are the checks of secretConfig.
var checkNames = []string{"pg-url", "pg-kv", "pg-refused", "redis-pass", "redis-user", "redis-refused", "web", "web-refused",
	"mq", "mq-refused", "workers", "workers-redis", "bucket", "bucket-refused", "sql-pg", "sql-mysql", "sql-refused",
	"my-dsn", "my-url", "my-refused", "plugin", "plugin-argv", "mail", "mail-refused",
	"kafka-sasl", "kafka-plain-refused", "nats-url", "nats-keys", "nats-token-refused", "mqtt-pass", "mqtt-refused"}

// topologyCheckNames are the checks of secretConfig for the redis type's
// Sentinel and Cluster topologies.
var topologyCheckNames = []string{"sentinel-pass", "sentinel-refused", "cluster-pass", "cluster-refused"}

// badConfigs are reloads that fail, each error near a password.
func badConfigs(good string) map[string]string {
	pw := knownPassword
	head := good[:strings.Index(good, "checks:")]
	return map[string]string{
		"invalid values": head + fmt.Sprintf(`checks:
  - {name: pg, type: postgres, dsn: "postgres://postgres:%[1]s@127.0.0.1:notaport/postgres"}
  - {name: pg-kv, type: postgres, dsn: "host=127.0.0.1 port=x password=%[1]s"}
  - {name: rd, type: redis, url: "redis://:%[1]s@127.0.0.1:6379/notadb"}
  - {name: rd2, type: redis, url: "rediss://:%[1]s@:6379:x/0"}
  - {name: web, type: http, url: "ftp://monitor:%[1]s@127.0.0.1/"}
  - {name: web2, type: http, url: "http://monitor:%[1]s@[::1/"}
  - {name: web3, type: http, url: "http://monitor:%[1]s@127.0.0.1/", method: POST}
  - {name: mq, type: rabbitmq, url: "amqp://guest:%[1]s@127.0.0.1:notaport/"}
  - {name: cel, type: celery, broker: "amqps://guest:%[1]s@[::1/"}
  - {name: s3, type: s3, bucket: "a/b", endpoint: "http://k:%[1]s@127.0.0.1/", secret_access_key: %[1]s}
  - {name: sql-pg, type: sql, dsn: "postgres://postgres:%[1]s@127.0.0.1:notaport/postgres", query: "SELECT 1"}
  - {name: sql-my, type: sql, dsn: "mysql://root:%[1]s@[::1/test", query: "SELECT 1"}
  - {name: sql-my2, type: sql, dsn: "mysql://root:%[1]s@127.0.0.1/test?parseTime=%[1]s", query: "SELECT 1"}
  - {name: my, type: mysql, dsn: "root:%[1]s@tcp(127.0.0.1:3306/test"}
  - {name: my-url, type: mysql, dsn: "mysql://root:%[1]s@127.0.0.1:notaport/test"}
  - {name: extra, type: redis, url: "redis://:%[1]s@127.0.0.1:6379/0", password_typo: "%[1]s"}
  - {name: ex, type: exec, command: [], shell: yes, dir: "rel/%[1]s", env: {DB_PASS: "%[1]s", "1X": "%[1]s"}}
  - {name: mail, type: smtp, address: "mail.internal", username: healthd, password: %[1]s, pasword: %[1]s}
  - {name: sentinel, type: redis, sentinels: ["127.0.0.1:26379"], sentinel_password: "%[1]s", password: "%[1]s"}
  - {name: cluster, type: redis, cluster_nodes: ["127.0.0.1"], url: "redis://:%[1]s@127.0.0.1:6379/0", password: "%[1]s"}
  - {name: kafka, type: kafka, brokers: ["k:%[1]s"], sasl: {mechanism: "%[1]s", username: u, password: "%[1]s"}}
  - {name: nats, type: nats, url: "nats://u:%[1]s@[::1/", token: "%[1]s"}
  - {name: nats2, type: nats, url: "http://u:%[1]s@127.0.0.1:4222"}
  - {name: mqtt, type: mqtt, url: "mqtt://u:%[1]s@127.0.0.1:1883", password: "%[1]s"}

`, pw),
		"not YAML": head + fmt.Sprintf("checks:\n  - {name: pg, type: postgres, dsn: \"postgres://postgres:%[1]s@h/db\"\n  - [%[1]s: {\n", pw),
	}
}

// TestSecrets_KnownPasswordAppearsInNoResponseMetricOrLogLine puts one
// password in every credential of a config whose connections all fail, and
// searches for it in every endpoint's answer in every format, with and
// without a token, in the answers to failed reloads, in /metrics, and in
// every log line, in both log formats.
func TestSecrets_KnownPasswordAppearsInNoResponseMetricOrLogLine(t *testing.T) {
	t.Setenv("HEALTHD_FAULTS_TOKEN", knownPassword)
	pg := testsvc.StartPostgres(t)
	rd := testsvc.StartRedis(t, "the-right-password")
	echo := echoServer(t, http.StatusUnauthorized)
	hook := echoServer(t, http.StatusInternalServerError)
	gw := testsvc.StartVersityGW(t)
	// The smtp server knows another password: the check's, sent after
	// STARTTLS, is refused with 535.
	mailCA := testsvc.NewCA(t)
	mail := testsvc.StartSMTP(t, testsvc.SMTPOptions{Leaf: mailCA.Issue([]string{"127.0.0.1"}, time.Now().Add(30*24*time.Hour)),
		User: "healthd", Password: "the-right-password"})

	br := startBrokers(t)

	for _, format := range []string{"json", "text"} {
		t.Run(format+" logs", func(t *testing.T) {
			good := secretConfig(t, format, pg, rd, gw, mail, mailCA.File, echo, hook, br)

			path := filepath.Join(t.TempDir(), "healthd.yaml")
			if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
				t.Fatal(err)
			}
			logs := &testsvc.Buffer{}
			base, stop := serveFile(t, path, logs)

			client := &http.Client{Timeout: 10 * time.Second}
			var answers []string
			get := func(method, path, token, accept string) (int, string) {
				req, _ := http.NewRequest(method, base+path, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				var hdr bytes.Buffer
				resp.Header.Write(&hdr)
				whole := hdr.String() + "\n" + string(body)
				answers = append(answers, whole)
				if f := leaked(whole); f != "" {
					t.Errorf("%s %s (token %t, Accept %q): answer %d contains the password (as %q):\n%s", method, path, token != "", accept, resp.StatusCode, f, whole)
				}
				return resp.StatusCode, string(body)
			}

			// Every check must have failed its connection first.
			code, body := get("GET", "/ht/?format=json", knownPassword, "")
			if code != 503 {
				t.Fatalf("/ht/ answered %d, want 503 with every connection failing: %s", code, body)
			}
			for _, name := range append(checkNames, topologyCheckNames...) {
				if !strings.Contains(body, `"`+name+`": "unavailable: `) && !strings.Contains(body, `"`+name+`": "unexpected result: `) {
					t.Errorf("check %s did not fail: %s", name, body)
				}
			}
			t.Logf("what the checks said: %s", body)

			paths := []string{"/ht/", "/ht", "/ht/deps/", "/ht/nosuchgroup/", "/ht/check/nosuch/", "/ht/?check=pg-url,redis-pass", "/ht/?skip=web", "/ht/?check=nosuch", "/ht/?format=nosuch", "/ping", "/nosuchpage"}
			for _, c := range append(checkNames, topologyCheckNames...) {
				paths = append(paths, "/ht/check/"+c+"/")
			}
			for _, token := range []string{"", knownPassword, "wrong-token"} {
				for _, p := range paths {
					for _, f := range []string{"html", "json", "health", "text", "openmetrics"} {
						sep := "?"
						if strings.Contains(p, "?") {
							sep = "&"
						}
						get("GET", p+sep+"format="+f, token, "")
					}
					for _, accept := range []string{"", "text/html", "application/json", "application/health+json", "text/plain", "application/openmetrics-text", "image/png"} {
						get("GET", p, token, accept)
					}
				}
				get("GET", "/metrics", token, "")
				get("GET", "/metrics", token, "application/openmetrics-text; version=1.0.0")
				get("POST", "/ht/", token, "")
			}
			if code, body := get("GET", "/metrics", knownPassword, ""); code != 200 || !strings.Contains(body, "healthd_check") {
				t.Errorf("/metrics with the token: %d, want 200 with the check series:\n%s", code, body)
			}

			// Failed reloads answer with every error, none with the password.
			names := make([]string, 0, 2)
			bad := badConfigs(good)
			for n := range bad {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				if err := os.WriteFile(path, []byte(bad[n]), 0o600); err != nil {
					t.Fatal(err)
				}
				for _, token := range []string{"", knownPassword} {
					code, body := get("POST", "/-/reload", token, "")
					if token != "" && code != http.StatusInternalServerError {
						t.Errorf("reload with %s: %d, want 500: %s", n, code, body)
					}
					if token != "" {
						t.Logf("reload with %s answered: %s", n, body)
					}
				}
			}
			if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, body := get("POST", "/-/reload", knownPassword, ""); code != 200 {
				t.Errorf("reload of the good config: %d %s", code, body)
			}

			// Both webhooks are tried (one refuses, one answers 500
			// quoting the credentials) before the logs are read.
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(logs.String(), "notification failed") < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			stop()

			out := logs.String()
			for _, want := range []string{"check failing", "notification failed", "reload: config error", "healthd stopped"} {
				if !strings.Contains(out, want) {
					t.Errorf("the log has no %q line; the test did not exercise that path:\n%s", want, out)
				}
			}
			for i, line := range strings.Split(out, "\n") {
				if f := leaked(line); f != "" {
					t.Errorf("log line %d contains the password (as %q): %s", i+1, f, line)
				}
			}
			t.Logf("%d answers and %d log lines searched", len(answers), strings.Count(out, "\n"))
		})
	}
}
