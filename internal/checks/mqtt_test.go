package checks_test

import (
	"testing"
	"time"

	"github.com/healthd/healthd/internal/checks/checkstest"
	"github.com/healthd/healthd/internal/testsvc"
)

const mqttShortTimeout = 300 * time.Millisecond

func TestMQTT_ConfigErrors(t *testing.T) {
	checkstest.ConfigTable(t, "mqtt", []checkstest.ConfigCase{
		{Name: "valid", Keys: map[string]any{"url": "mqtts://broker.internal", "username": "u", "password": "s3cr3t", "round_trip_topic": "healthd/check", "tls": map[string]any{"ca_file": "/etc/ca.pem"}}},
		{Name: "url required", Keys: map[string]any{}, Want: `key "url": is required`},
		{Name: "wrong scheme", Keys: map[string]any{"url": "http://127.0.0.1:1883"}, Want: `key "url": must start with mqtt://, mqtts://, ssl://, tcp://`},
		{Name: "credentials in the URL", Keys: map[string]any{"url": "mqtt://u:s3cr3t@127.0.0.1:1883"}, Want: `key "url": must not contain credentials; use username and password`},
		{Name: "password without user", Keys: map[string]any{"url": "mqtt://127.0.0.1", "password": "s3cr3t"}, Want: `key "password": needs a username`},
		{Name: "wildcard topic", Keys: map[string]any{"url": "mqtt://127.0.0.1", "round_trip_topic": "healthd/#"}, Want: `key "round_trip_topic": must be a plain topic: no wildcard (+, #) and not a $ topic`},
	})
}

func TestMQTT_MachineBrokerPassesWithRoundTrip(t *testing.T) {
	t.Parallel()
	addr := testsvc.MachineMosquitto(t)
	c := checkstest.New(t, "mqtt", map[string]any{"url": "mqtt://" + addr}, checkstest.Options{})
	c.Passes(t).Observation(t, "connectTime", "ms")
	rt := checkstest.New(t, "mqtt", map[string]any{"url": "tcp://" + addr, "round_trip_topic": "healthd/test/" + t.Name()}, checkstest.Options{})
	for range 3 {
		rt.Passes(t).Observation(t, "roundTripTime", "ms")
	}
}

func TestMQTT_Credentials(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartMosquitto(t, "healthd", checkstest.Secret+"-right")
	keys := func(pw string) map[string]any {
		return map[string]any{"url": "mqtt://" + srv.Addr(), "username": "healthd", "password": pw, "round_trip_topic": "healthd/test"}
	}
	checkstest.New(t, "mqtt", keys(checkstest.Secret+"-right"), checkstest.Options{}).Passes(t)
	for name, k := range map[string]map[string]any{
		"wrong password": keys(checkstest.Secret + "-wrong"),
		"none":           {"url": "mqtt://" + srv.Addr()},
	} {
		t.Run(name, func(t *testing.T) {
			r := checkstest.New(t, "mqtt", k, checkstest.Options{}).Fails(t, "unavailable: broker refused the connection: ")
			t.Logf("%s: %s", name, r.Message)
		})
	}
}

func TestMQTT_UnreachableBrokerFailsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	checkstest.Unreachable(t, 3, func(t *testing.T, addr string) *checkstest.Check {
		return checkstest.New(t, "mqtt", map[string]any{"url": "mqtt://" + addr, "username": "u", "password": checkstest.Secret}, checkstest.Options{Timeout: mqttShortTimeout})
	})
}

func TestMQTT_RecoversAfterTheBrokerIsStoppedAndRestarted(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartMosquitto(t, "", "")
	c := checkstest.New(t, "mqtt", map[string]any{"url": "mqtt://" + srv.Addr(), "round_trip_topic": "healthd/test"}, checkstest.Options{})
	c.RecoversFromRestart(t, srv.Addr(), srv.Stop, srv.Start)
	c.RestartBetweenProbes(t, srv.Stop, srv.Start)
}

func TestMQTT_HungBrokerTimesOutAndRecovers(t *testing.T) {
	t.Parallel()
	srv := testsvc.StartMosquitto(t, "", "")
	c := checkstest.New(t, "mqtt", map[string]any{"url": "mqtt://" + srv.Addr(), "round_trip_topic": "healthd/test"}, checkstest.Options{Timeout: mqttShortTimeout})
	c.Passes(t)
	srv.Hang()
	want := "unavailable: timed out after " + mqttShortTimeout.String() + " (" + srv.Addr() + ")"
	for range 2 {
		if r := c.Fails(t, want); r.Message != want {
			t.Errorf("message = %q, want %q", r.Message, want)
		}
	}
	srv.Resume()
	c.Eventually(t, time.Second)
}

func TestMQTT_TLS(t *testing.T) {
	t.Parallel()
	_, caFile, certFile, keyFile := testCAFiles(t)
	srv := testsvc.StartMosquitto(t, "", "", "certfile "+certFile, "keyfile "+keyFile)
	checkstest.New(t, "mqtt", map[string]any{"url": "mqtts://" + srv.Addr(), "tls": map[string]any{"ca_file": caFile}, "round_trip_topic": "healthd/tls"}, checkstest.Options{}).Passes(t)
	checkstest.New(t, "mqtt", map[string]any{"url": "mqtt://" + srv.Addr(), "tls": map[string]any{"ca_file": caFile, "server_name": "broker.test"}}, checkstest.Options{}).Passes(t)
	r := checkstest.New(t, "mqtt", map[string]any{"url": "ssl://" + srv.Addr()}, checkstest.Options{}).Fails(t, "unavailable: TLS certificate not accepted: ")
	t.Logf("system roots: %s", r.Message)
	r = checkstest.New(t, "mqtt", map[string]any{"url": "mqtt://" + srv.Addr()}, checkstest.Options{Timeout: 2 * time.Second}).Fails(t, "unavailable: ")
	t.Logf("plain to a TLS listener: %s", r.Message)
}

// The broker admits only client ids with a given prefix (mosquitto's
// clientid_prefixes), so a pass shows which id the check sent: client_id
// when set, else healthd-<check name>-<random>.
func TestMQTT_ClientIDIsSent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, prefix, clientID string
		passes                 bool
	}{
		{name: "client_id admitted", prefix: "orders-probe-", clientID: "orders-probe-1", passes: true},
		{name: "default id refused", prefix: "orders-probe-"},
		{name: "default id admitted", prefix: "healthd-mqtt-id-", passes: true},
		{name: "client_id refused", prefix: "healthd-mqtt-id-", clientID: "orders-probe-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testsvc.StartMosquitto(t, "", "", "clientid_prefixes "+tc.prefix)
			keys := map[string]any{"url": "mqtt://" + srv.Addr()}
			if tc.clientID != "" {
				keys["client_id"] = tc.clientID
			}
			c := checkstest.New(t, "mqtt", keys, checkstest.Options{Name: "mqtt-id"})
			if tc.passes {
				c.Passes(t)
				return
			}
			r := c.Fails(t, "unavailable: broker refused the connection: ")
			t.Logf("%s: %s", tc.name, r.Message)
		})
	}
}
