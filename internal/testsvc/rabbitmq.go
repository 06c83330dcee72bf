package testsvc

import (
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RabbitMQAddr is the machine's RabbitMQ (guest/guest), started by
// scripts/setup/rabbitmq.sh.
const RabbitMQAddr = "127.0.0.1:5672"

// RabbitMQ returns the machine's RabbitMQ address after checking that it
// accepts connections; the test fails when it does not.
func RabbitMQ(t testing.TB) string {
	NeedsServer(t)
	t.Helper()
	c, err := net.DialTimeout("tcp", RabbitMQAddr, 2*time.Second)
	if err != nil {
		t.Fatalf("testsvc: RabbitMQ is not reachable on %s (%v); run scripts/test-setup.sh", RabbitMQAddr, err)
	}
	c.Close()
	return RabbitMQAddr
}

// RabbitMQConn is one connection as rabbitmqctl lists it.
type RabbitMQConn struct {
	Name     string
	Channels int
}

// RabbitMQConnections lists the broker's connections whose client property
// connection_name equals name. It runs rabbitmqctl, which takes about a
// second: call it sparingly.
func RabbitMQConnections(t testing.TB, name string) []RabbitMQConn {
	NeedsServer(t)
	t.Helper()
	out, err := exec.Command("rabbitmqctl", "-q", "list_connections", "name", "channels", "client_properties", "--formatter", "json").Output()
	if err != nil {
		t.Fatalf("testsvc: rabbitmqctl list_connections: %v", err)
	}
	var rows []struct {
		Name     string          `json:"name"`
		Channels int             `json:"channels"`
		Props    json.RawMessage `json:"client_properties"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("testsvc: rabbitmqctl list_connections: %v in %q", err, out)
	}
	want, _ := json.Marshal(name)
	var conns []RabbitMQConn
	for _, r := range rows {
		if strings.Contains(string(r.Props), `"connection_name"`) && strings.Contains(string(r.Props), string(want)) {
			conns = append(conns, RabbitMQConn{Name: r.Name, Channels: r.Channels})
		}
	}
	return conns
}

// Rabbitmqctl runs rabbitmqctl with args and fails the test on error.
func Rabbitmqctl(t testing.TB, args ...string) string {
	NeedsServer(t)
	t.Helper()
	out, err := exec.Command("rabbitmqctl", append([]string{"-q"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("testsvc: rabbitmqctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
