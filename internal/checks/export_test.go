package checks

// The few internals the tests in package checks_test read or set (this file
// is compiled into the test binary only). Everything else they do through
// the exported API and checkstest, as the daemon does.

import (
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Hostname is the host name the disk and memory checks' messages start with.
var Hostname = hostname

// HTTPMaxBody is how much of a response body the http check reads.
const HTTPMaxBody = httpMaxBody

// MiB is the memory check's megabyte.
const MiB = mib

// SetMemoryCgroup points the memory check c at a cgroup tree other than the
// machine's: the mount point of the cgroup file systems and the file that
// lists the process's cgroups (/proc/self/cgroup).
func SetMemoryCgroup(c Checker, root, procCgroup string) {
	m := c.(*Memory)
	m.cgroupRoot, m.procCgroup = root, procCgroup
}

// RabbitMQConnection is the broker connection the rabbitmq check c holds
// now (nil before its first probe).
func RabbitMQConnection(c Checker) *amqp.Connection { return c.(*RabbitMQ).conn.current() }

// SetTLSClock makes the tls check c judge certificates at the times now
// returns instead of the wall clock's.
func SetTLSClock(c Checker, now func() time.Time) { c.(*TLSCert).now = now }
