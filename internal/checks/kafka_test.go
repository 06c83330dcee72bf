package checks_test

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

// The Kafka tests run against kfake, franz-go's in-process Kafka broker
// (testsvc.StartKafka): no Kafka broker runs on this machine.

const kafkaShortTimeout = 300 * time.Millisecond

func kafkaKeys(addr string, extra map[string]any) map[string]any {
	keys := map[string]any{"brokers": []any{addr}}
	for k, v := range extra {
		keys[k] = v
	}
	return keys
}

func TestKafka_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "kafka", []checkstest.ConfigCase{
		{Name: "valid", Keys: map[string]any{"brokers": []any{"k1:9092", "k2:9092"}, "topics": []any{"orders"}, "round_trip_topic": "healthd",
			"sasl": map[string]any{"mechanism": "scram-sha-512", "username": "u", "password": "s3cr3t"}, "tls": map[string]any{"server_name": "kafka"}}},
		{Name: "brokers required", Keys: map[string]any{}, Want: `key "brokers": is required`},
		{Name: "empty brokers", Keys: map[string]any{"brokers": []any{}}, Want: `key "brokers": must list at least one host:port`},
		{Name: "no port", Keys: map[string]any{"brokers": []any{"kafka"}}, Want: `key "brokers[0]": must be host:port, such as 127.0.0.1:5432 or db.internal:5432`},
		{Name: "bad topic", Keys: map[string]any{"brokers": "k:9092", "topics": []any{"a b"}}, Want: `key "topics[0]": may hold only letters, digits, '.', '_' and '-'`},
		{Name: "bad round trip topic", Keys: map[string]any{"brokers": "k:9092", "round_trip_topic": ".."}, Want: `key "round_trip_topic": must not be "." or ".."`},
		{Name: "bad mechanism", Keys: map[string]any{"brokers": "k:9092", "sasl": map[string]any{"mechanism": "gssapi", "username": "u", "password": "s3cr3t"}}, Want: `key "sasl.mechanism"`, Contains: true},
		{Name: "sasl without password", Keys: map[string]any{"brokers": "k:9092", "sasl": map[string]any{"username": "u"}}, Want: `key "sasl.password": is required`},
	})
}

func TestKafka_MetadataAndTopicsPass(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(3, "orders", "payments"))
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"topics": []any{"orders", "payments"}}), checkstest.Options{})
	r := c.Passes(t)
	if n := r.Observation(t, "brokers", "brokers"); n != 1 {
		t.Errorf("brokers = %v, want 1", n)
	}
	if n := r.Observation(t, "partitionsWithoutLeader", "partitions"); n != 0 {
		t.Errorf("partitionsWithoutLeader = %v, want 0", n)
	}
	c.Passes(t)
}

func TestKafka_MissingTopicFails(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(1, "orders"))
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"topics": []any{"orders", "nosuch"}}), checkstest.Options{})
	r := c.Fails(t, "unexpected result: topic nosuch does not exist ("+k.Addr()+")")
	if r.Message != "unexpected result: topic nosuch does not exist ("+k.Addr()+")" {
		t.Errorf("message = %q", r.Message)
	}
}

// TestKafka_PartitionWithoutLeaderFails: kfake always has a leader, so its
// metadata answer is replaced by one where partition 1 of 3 has none
// (leader -1, LEADER_NOT_AVAILABLE), as Kafka answers while a broker is
// down and no replica is in sync.
func TestKafka_PartitionWithoutLeaderFails(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(3, "orders"))
	k.Cluster.ControlKey(kmsg.Metadata.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.Cluster.KeepControl()
		resp := req.ResponseKind().(*kmsg.MetadataResponse)
		resp.Version = req.GetVersion()
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = 0, "127.0.0.1", int32(kafkaPort(t, k.Addr()))
		resp.Brokers = append(resp.Brokers, b)
		topic := kmsg.NewMetadataResponseTopic()
		topic.Topic = kmsg.StringPtr("orders")
		for i := range int32(3) {
			p := kmsg.NewMetadataResponseTopicPartition()
			p.Partition, p.Leader = i, 0
			if i == 1 {
				p.Leader, p.ErrorCode = -1, 5 // LEADER_NOT_AVAILABLE
			}
			topic.Partitions = append(topic.Partitions, p)
		}
		resp.Topics = append(resp.Topics, topic)
		return resp, nil, true
	})
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"topics": []any{"orders"}}), checkstest.Options{})
	want := "unexpected result: topic orders: 1 of 3 partitions have no leader (" + k.Addr() + ")"
	r := c.Fails(t, want)
	if r.Message != want {
		t.Errorf("message = %q, want %q", r.Message, want)
	}
	if n := r.Observation(t, "partitionsWithoutLeader", "partitions"); n != 1 {
		t.Errorf("partitionsWithoutLeader = %v, want 1", n)
	}
}

func kafkaPort(t *testing.T, addr string) int {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	n, err2 := strconv.Atoi(port)
	if err != nil || err2 != nil {
		t.Fatalf("bad address %q", addr)
	}
	return n
}

func TestKafka_RoundTripPasses(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(2, "healthd"))
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"round_trip_topic": "healthd"}), checkstest.Options{})
	for range 3 {
		r := c.Passes(t)
		if ms := r.Observation(t, "roundTripTime", "ms"); ms <= 0 {
			t.Errorf("roundTripTime = %v", ms)
		}
	}
}

func TestKafka_RoundTripOnMissingTopicFails(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t)
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"round_trip_topic": "nosuch"}), checkstest.Options{Timeout: 2 * time.Second})
	c.Fails(t, "unexpected result: round-trip topic nosuch does not exist ("+k.Addr()+")")
}

func TestKafka_SASL(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plainuser", checkstest.Secret+"-plain"),
		kfake.Superuser("SCRAM-SHA-256", "scram256", checkstest.Secret+"-256"),
		kfake.Superuser("SCRAM-SHA-512", "scram512", checkstest.Secret+"-512"))
	for _, tc := range []struct{ mech, user, suffix string }{
		{"plain", "plainuser", "-plain"}, {"scram-sha-256", "scram256", "-256"}, {"scram-sha-512", "scram512", "-512"},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			sasl := func(pw string) map[string]any {
				return map[string]any{"sasl": map[string]any{"mechanism": tc.mech, "username": tc.user, "password": pw}}
			}
			checkstest.New(t, "kafka", kafkaKeys(k.Addr(), sasl(checkstest.Secret+tc.suffix)), checkstest.Options{}).Passes(t)
			// kfake hangs up on a wrong password; Kafka answers
			// SASL_AUTHENTICATION_FAILED first, as this control does.
			bad := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), sasl(checkstest.Secret+"-wrong")), checkstest.Options{})
			r := bad.Fails(t, "unavailable: connection closed by server")
			t.Logf("kfake's hang-up: %s", r.Message)
			k.Cluster.ControlKey(kmsg.SASLAuthenticate.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
				resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
				resp.Version = req.GetVersion()
				resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
				resp.ErrorMessage = kmsg.StringPtr("Authentication failed during authentication due to invalid credentials with SASL mechanism")
				return resp, nil, true
			})
			bad = checkstest.New(t, "kafka", kafkaKeys(k.Addr(), sasl(checkstest.Secret+"-wrong")), checkstest.Options{})
			want := "unavailable: SASL authentication failed (" + k.Addr() + ")"
			if r := bad.Fails(t, want); r.Message != want {
				t.Errorf("message = %q, want %q", r.Message, want)
			}
		})
	}
}

func TestKafka_UnreachableBrokerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 3, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "kafka", kafkaKeys(addr, map[string]any{"topics": []any{"orders"}}), checkstest.Options{Timeout: kafkaShortTimeout})
	})
}

func TestKafka_RecoversAfterTheBrokerIsStoppedAndRestarted(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(1, "orders"))
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"topics": []any{"orders"}}), checkstest.Options{})
	c.RecoversFromRestart(t, k.Addr(), k.Stop, k.Start)
	c.RestartBetweenProbes(t, k.Stop, k.Start)
}

// TestKafka_BrokerClosedMidProbeFailsWithinTheDeadline: the broker holds
// the metadata request, and is closed while the probe waits for it.
func TestKafka_BrokerClosedMidProbeFailsWithinTheDeadline(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(1, "orders"))
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"topics": []any{"orders"}}), checkstest.Options{Timeout: 2 * time.Second})
	c.Passes(t)
	held := make(chan struct{})
	never := make(chan struct{})
	t.Cleanup(func() { close(never) })
	cl := k.Cluster
	cl.ControlKey(kmsg.Metadata.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		close(held)
		cl.SleepControl(func() { <-never })
		return nil, nil, false
	})
	done := make(chan checkstest.Result, 1)
	go func() { done <- c.Run() }()
	<-held
	k.Stop()
	r := <-done
	if r.Err == nil {
		t.Fatal("the probe passed while the broker closed under it")
	}
	t.Logf("closed mid-probe: %s in %v", r.Message, r.Took)
	r.NotHung(t)
	k.Start()
	if r := c.Run(); r.Err != nil {
		t.Fatalf("first probe after the broker is back: %s", r.Message)
	}
}

func TestKafka_TLS(t *testing.T) {
	t.Parallel()
	serverTLS, caFile := testCA(t)
	k := testsvc.StartKafka(t, kfake.TLS(serverTLS), kfake.SeedTopics(1, "orders"))
	keys := func(tlsKeys map[string]any) map[string]any {
		return kafkaKeys(k.Addr(), map[string]any{"topics": []any{"orders"}, "tls": tlsKeys})
	}
	checkstest.New(t, "kafka", keys(map[string]any{"ca_file": caFile}), checkstest.Options{}).Passes(t)
	checkstest.New(t, "kafka", keys(map[string]any{"ca_file": caFile, "server_name": "broker.test"}), checkstest.Options{}).Passes(t)
	checkstest.New(t, "kafka", keys(map[string]any{"insecure_skip_verify": true}), checkstest.Options{}).Passes(t)
	r := checkstest.New(t, "kafka", keys(map[string]any{}), checkstest.Options{}).Fails(t, "unavailable: TLS certificate not accepted: ")
	t.Logf("system roots: %s", r.Message)
	r = checkstest.New(t, "kafka", keys(map[string]any{"ca_file": caFile, "server_name": "other.test"}), checkstest.Options{}).Fails(t, "unavailable: TLS certificate not accepted: ")
	t.Logf("wrong name: %s", r.Message)
	r = checkstest.New(t, "kafka", kafkaKeys(k.Addr(), nil), checkstest.Options{Timeout: 2 * time.Second}).Fails(t, "unavailable: ")
	t.Logf("plain to a TLS broker: %s", r.Message)
	if _, err := checkstest.Build("kafka", keys(map[string]any{"ca_file": filepath.Join(t.TempDir(), "none.pem")}), checkstest.Options{}); err == nil ||
		!strings.Contains(err.Error(), `key "tls.ca_file": cannot read: no such file or directory`) {
		t.Errorf("missing ca_file: error %v", err)
	}
}

// TestKafka_RoundTripPassesOnTheFirstProbeAfterAStalledProduce: the broker
// holds every produce past the probes' deadlines, then lets them all go;
// the records those probes left behind must not fail the next probe.
func TestKafka_RoundTripPassesOnTheFirstProbeAfterAStalledProduce(t *testing.T) {
	t.Parallel()
	k := testsvc.StartKafka(t, kfake.SeedTopics(1, "healthd"))
	const timeout = 400 * time.Millisecond
	c := checkstest.New(t, "kafka", kafkaKeys(k.Addr(), map[string]any{"round_trip_topic": "healthd"}), checkstest.Options{Timeout: timeout})
	c.Passes(t)
	release := make(chan struct{})
	cl := k.Cluster
	cl.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case <-release:
			cl.DropControl()
		default:
			cl.KeepControl()
			cl.SleepControl(func() { <-release })
		}
		return nil, nil, false // then kfake answers it as usual
	})
	want := "unavailable: timed out after " + timeout.String() + " (" + k.Addr() + ")"
	for i := range 3 {
		r := c.FailsWith(t, want)
		if r.Took < timeout { // a deadline cannot pass early: the words would be false
			t.Errorf("probe %d while produce is held: %q after only %v", i, r.Message, r.Took)
		}
	}
	close(release)
	for i := range 3 {
		if r := c.Run(); r.Err != nil {
			t.Fatalf("probe %d after the stall cleared: %s (in %v)", i, r.Message, r.Took)
		}
	}
}
