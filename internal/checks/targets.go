package checks

import (
	"net"
	"net/url"
)

// Targeter is a Checker that names the dependency it talks to, so the
// runner can bound how many runs hit one dependency at once
// (defaults.max_runs_per_target): a thousand checks of one PostgreSQL
// then queue instead of opening hundreds of connections together.
//
// Target is "host:port" for a network service (as the check dials it: the
// runner does not resolve names, so "localhost:5432" and "127.0.0.1:5432"
// are two targets), a socket path, or a file system path; "" when the check
// has no dependency to protect. Checks of different types with the same
// target (a postgres and a tcp check of 127.0.0.1:5432) share the bound,
// since they load the same server.
type Targeter interface {
	Target() string
}

// Every built-in check type names its target; the compiler holds them to it.
var (
	_ Targeter = (*CeleryAMQP)(nil)
	_ Targeter = (*CeleryRedis)(nil)
	_ Targeter = (*Disk)(nil)
	_ Targeter = (*DNS)(nil)
	_ Targeter = (*Exec)(nil)
	_ Targeter = (*GRPC)(nil)
	_ Targeter = (*HTTP)(nil)
	_ Targeter = (*Kafka)(nil)
	_ Targeter = (*Memcached)(nil)
	_ Targeter = (*Memory)(nil)
	_ Targeter = (*MQTT)(nil)
	_ Targeter = (*MySQL)(nil)
	_ Targeter = (*NATS)(nil)
	_ Targeter = (*Postgres)(nil)
	_ Targeter = (*Process)(nil)
	_ Targeter = (*RabbitMQ)(nil)
	_ Targeter = (*Redis)(nil)
	_ Targeter = (*RedisSentinel)(nil)
	_ Targeter = (*RedisCluster)(nil)
	_ Targeter = (*S3)(nil)
	_ Targeter = (*SMTP)(nil)
	_ Targeter = (*SQL)(nil)
	_ Targeter = (*Storage)(nil)
	_ Targeter = (*TCP)(nil)
	_ Targeter = (*TLSCert)(nil)
)

// Target is the first host of the DSN (the one messages name), or its
// socket path.
func (c *Postgres) Target() string { return c.addr }

// Target is the DSN's host:port or socket path.
func (c *MySQL) Target() string { return c.addr }

// Target is the database's: a sql check loads the server as a postgres or
// mysql check of the same DSN does.
func (c *SQL) Target() string {
	switch db := c.db.(type) {
	case *sqlPostgres:
		return db.pg.Target()
	case *sqlMy:
		return db.addr
	}
	return ""
}

// Target is the server's host:port, or "unix:" and the socket path.
func (c *Redis) Target() string { return c.addr }

// Target is the first sentinel of the list: the one every probe asks
// first. The master and replicas it names change with failovers.
func (c *RedisSentinel) Target() string { return first(c.sentinelAddrs) }

// Target is the first seed node of cluster_nodes, which every probe asks
// for the slot map first.
func (c *RedisCluster) Target() string { return first(c.seedAddrs) }

// Target is the first server of the list: a probe visits them all, one
// after another, so the first stands for the group.
func (c *Memcached) Target() string {
	if len(c.servers) == 0 {
		return ""
	}
	return c.servers[0].String()
}

// Target is the broker's host:port.
func (c *RabbitMQ) Target() string { return c.conn.addr }

// Target is the broker's host:port, as a rabbitmq or redis check of the
// same broker names it.
func (c *celeryBroker) Target() string { return c.addr }

// Target is the endpoint's host:port (the regional AWS endpoint unless
// endpoint is set).
func (c *S3) Target() string { return c.addr }

// Target is the directory written to.
func (c *Storage) Target() string { return c.dir }

// Target is the address dialled.
func (c *TCP) Target() string { return c.addr }

// Target is the address dialled.
func (c *TLSCert) Target() string { return c.addr }

// Target is the URL's host:port (80 or 443 when it names none).
func (c *HTTP) Target() string {
	u, err := url.Parse(c.url)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Target is the server's host:port.
func (c *GRPC) Target() string { return c.addr }

// Target is the server asked, or "" for the system resolver: its name
// servers are the machine's business, and every DNS check shares them.
func (c *DNS) Target() string { return c.server }

// Target is the server's host:port.
func (c *SMTP) Target() string { return c.addr }

// Target is the broker's host:port.
func (c *MQTT) Target() string { return c.addr }

// Target is the server's host:port.
func (c *NATS) Target() string { return c.addr }

// Target is the first seed broker: the client asks it for the metadata
// first; the partitions' leaders it then talks to change.
func (c *Kafka) Target() string { return first(c.brokers) }

// Target is "": what a program talks to is in its arguments, in its own
// syntax, and two plugins of one path (check_http host-a, check_http
// host-b) rarely share a dependency.
func (c *Exec) Target() string { return "" }

// Target is the path whose file system is measured: many checks of one
// mount share its statfs.
func (c *Disk) Target() string { return c.path }

// Target is "": the memory check reads this machine's counters.
func (c *Memory) Target() string { return "" }

// Target is "": the process check reads this machine's process table.
func (c *Process) Target() string { return "" }

func first(addrs []string) string {
	if len(addrs) == 0 {
		return ""
	}
	return addrs[0]
}
