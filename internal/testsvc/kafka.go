package testsvc

import (
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka is an in-process Kafka broker (franz-go's kfake, which speaks the
// real wire protocol) on a fixed loopback port: no Kafka broker runs on this
// machine, and no Kafka distribution can be fetched here (docs/checks/kafka.md).
// The test may stop it and start it again on the same port (its topics are
// seeded again; records are not kept).
// It is a loopback listener of the test's own process, so it runs under
// -short too.
type Kafka struct {
	t       testing.TB
	port    int
	opts    []kfake.Opt
	Cluster *kfake.Cluster // nil while stopped
}

// StartKafka starts a one-broker kfake cluster with opts (SeedTopics, SASL…).
func StartKafka(t testing.TB, opts ...kfake.Opt) *Kafka {
	t.Helper()
	k := &Kafka{t: t, opts: opts} // port 0: the first start takes a free one
	t.Cleanup(k.Stop)
	k.Start()
	return k
}

// Addr is the broker's host:port, which it also advertises in metadata.
func (k *Kafka) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(k.port)) }

// Start starts the broker (again) on its port.
func (k *Kafka) Start() {
	k.t.Helper()
	if k.Cluster != nil {
		k.t.Fatalf("testsvc: kfake already running")
	}
	opts := append([]kfake.Opt{kfake.NumBrokers(1), kfake.Ports(k.port)}, k.opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		k.t.Fatalf("testsvc: start kfake on %s: %v", k.Addr(), err)
	}
	k.Cluster = c
	if k.port == 0 {
		_, port, _ := net.SplitHostPort(c.ListenAddrs()[0])
		k.port, _ = strconv.Atoi(port)
	}
}

// Stop closes the broker's listener and connections.
func (k *Kafka) Stop() {
	if k.Cluster == nil {
		return
	}
	k.Cluster.Close()
	k.Cluster = nil
}
