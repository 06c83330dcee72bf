package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/smtp"
	"os"
	"time"
)

// TLSCert checks the certificate a TLS server presents: it must verify
// (chain and host name) and must not expire within fail_days; within
// warn_days it warns. The days left are an observation.
type TLSCert struct {
	addr       string
	serverName string
	roots      *x509.CertPool // nil: the system pool
	warnDays   int
	failDays   int
	starttls   string
	timeout    time.Duration
	dialer     net.Dialer
	now        func() time.Time
}

type tlsCertConfig struct {
	Address    string `key:"address" required:"true" doc:"host:port of the TLS server (or of the SMTP or PostgreSQL server, with starttls)"`
	ServerName string `key:"server_name" default:"the address's host" doc:"the name the certificate must be valid for (sent as SNI)"`
	CAFile     string `key:"ca_file" default:"system roots" doc:"PEM file of the CA certificates to verify the chain against, instead of the system's"`
	WarnDays   int    `key:"warn_days" doc:"warn when the certificate expires in fewer days than this"`
	FailDays   int    `key:"fail_days" doc:"fail when the certificate expires in fewer days than this (and when it does not verify)"`
	StartTLS   string `key:"starttls" enum:"smtp,postgres" doc:"speak this protocol's plain-text opening, then upgrade to TLS (SMTP's STARTTLS, PostgreSQL's SSLRequest)"`
}

func newTLSCertConfig(Settings) Config { return &tlsCertConfig{WarnDays: 14, FailDays: 3} }

func (c *tlsCertConfig) Validate() error {
	var p Problems
	if c.Address != "" {
		if msg := checkHostPort(c.Address); msg != "" {
			p.Add("address", "%s", msg)
		}
	}
	if c.FailDays < 0 {
		p.Add("fail_days", "must be 0 or more")
	}
	if c.WarnDays < c.FailDays {
		p.Add("warn_days", "must be at least fail_days (%d)", c.FailDays)
	}
	return p.Err()
}

func (c *tlsCertConfig) Build(env Env) (Checker, error) {
	roots, err := loadCAFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	t := &TLSCert{
		addr: c.Address, serverName: serverNameFor(c.ServerName, c.Address), roots: roots,
		warnDays: c.WarnDays, failDays: c.FailDays, starttls: c.StartTLS, timeout: env.Timeout, now: time.Now,
	}
	t.dialer.Timeout = env.Timeout
	return t, nil
}

// serverNameFor is name, or the host of addr when name is empty.
func serverNameFor(name, addr string) string {
	if name != "" {
		return name
	}
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// loadCAFile reads a PEM bundle into a pool; "" is nil, the system pool.
// Build reads it, never Validate, so validating a config opens no file.
func loadCAFile(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &KeyError{Key: "ca_file", Msg: "cannot be read: " + innermost(err).Error()}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, &KeyError{Key: "ca_file", Msg: "holds no PEM certificate"}
	}
	return pool, nil
}

// dialBound dials addr and bounds every later read and write on the
// connection by ctx: its deadline, and its cancellation (which sets a
// deadline in the past). stop releases the cancellation hook.
func dialBound(ctx context.Context, d *net.Dialer, addr string) (net.Conn, func(), error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return conn, func() { stop() }, nil
}

// Check connects, upgrades to TLS, and verifies the certificate.
func (t *TLSCert) Check(ctx context.Context) error {
	conn, stop, err := dialBound(ctx, &t.dialer, t.addr)
	if err != nil {
		return dialFailure(ctx, err, t.timeout, t.addr)
	}
	defer stop()
	defer conn.Close()
	// The handshake accepts any certificate so that a bad one can be
	// described (and its days counted); verifyChain below decides.
	cfg := &tls.Config{ServerName: t.serverName, InsecureSkipVerify: true} //nolint:gosec // verified by verifyChain
	var state tls.ConnectionState
	switch t.starttls {
	case "smtp":
		c, err := smtp.NewClient(conn, t.serverName)
		if err != nil {
			return smtpFailure(ctx, err, t.timeout, t.addr, "banner", nil)
		}
		if err := c.Hello("healthd"); err != nil {
			return smtpFailure(ctx, err, t.timeout, t.addr, "EHLO", nil)
		}
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Unexpected("server does not offer STARTTLS (%s)", t.addr)
		}
		if err := c.StartTLS(cfg); err != nil {
			return smtpFailure(ctx, err, t.timeout, t.addr, "STARTTLS", nil)
		}
		state, _ = c.TLSConnectionState()
		c.Quit()
	case "postgres":
		tc, err := postgresStartTLS(conn, cfg)
		if err != nil {
			if nf := netFailure(ctx, err, t.timeout, t.addr); nf != nil {
				return nf
			}
			return &Error{Kind: KindUnexpected, Msg: err.Error() + " (" + t.addr + ")", Err: err}
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			return dialFailure(ctx, err, t.timeout, t.addr)
		}
		state = tc.ConnectionState()
	default:
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return dialFailure(ctx, err, t.timeout, t.addr)
		}
		state = tc.ConnectionState()
	}
	return t.judge(ctx, state)
}

// postgresStartTLS sends PostgreSQL's SSLRequest and, when the server
// answers 'S', returns the connection as a TLS client.
func postgresStartTLS(conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], 80877103) // SSLRequest
	if _, err := conn.Write(req[:]); err != nil {
		return nil, err
	}
	var answer [1]byte
	if _, err := io.ReadFull(conn, answer[:]); err != nil {
		return nil, err
	}
	switch answer[0] {
	case 'S':
		return tls.Client(conn, cfg), nil
	case 'N':
		return nil, errors.New("server does not accept SSL (ssl = off)")
	}
	return nil, fmt.Errorf("server answered SSLRequest with %q: not PostgreSQL?", answer[0])
}

// judge verifies the chain the server sent and compares its expiry with
// the thresholds.
func (t *TLSCert) judge(ctx context.Context, state tls.ConnectionState) error {
	if len(state.PeerCertificates) == 0 {
		return Unexpected("server sent no certificate (%s)", t.addr)
	}
	now := t.now()
	leaf := state.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{DNSName: t.serverName, Roots: t.roots, Intermediates: inter, CurrentTime: now})
	// The chain expires when its first certificate does: the leaf or an
	// intermediate (the root, the client's own trust anchor, is not counted).
	expires := leaf.NotAfter
	if err == nil && len(chains) > 0 {
		for _, c := range chains[0][:max(1, len(chains[0])-1)] {
			if c.NotAfter.Before(expires) {
				expires = c.NotAfter
			}
		}
	}
	// Tenths of a day, rounded down: "expires in 9.9 days", never 10.0
	// for a certificate that has less than ten days left.
	days := math.Floor(expires.Sub(now).Hours()/24*10) / 10
	Observe(ctx, "daysLeft", days, "days")
	if err != nil {
		return &Error{Kind: KindUnavailable, Msg: certProblem(err, t.serverName, now) + " (" + t.addr + ")", Err: err}
	}
	when := expires.UTC().Format("2006-01-02 15:04 MST")
	switch {
	case days < float64(t.failDays):
		return Unavailable("certificate expires in %.1f days, on %s; fail_days is %d (%s)", days, when, t.failDays, t.addr)
	case days < float64(t.warnDays):
		return Warn("certificate expires in %.1f days, on %s; warn_days is %d (%s)", days, when, t.warnDays, t.addr)
	}
	Note(ctx, "certificate for %s valid for %.0f more days, until %s", t.serverName, math.Floor(days), when)
	return nil
}

// certProblem words a verification error: what a client would refuse. now
// is the time the chain was verified at, so "not yet valid" and "expired"
// are told apart by the same clock that found the certificate invalid.
func certProblem(err error, serverName string, now time.Time) string {
	var inv x509.CertificateInvalidError
	var host x509.HostnameError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired && inv.Cert != nil:
		if now.Before(inv.Cert.NotBefore) {
			return "certificate is not valid before " + inv.Cert.NotBefore.UTC().Format("2006-01-02 15:04 MST")
		}
		return "certificate expired on " + inv.Cert.NotAfter.UTC().Format("2006-01-02 15:04 MST")
	case errors.As(err, &host):
		return "certificate is not valid for " + serverName + " (it names " + certNames(host.Certificate) + ")"
	case errors.As(err, &unknown):
		if c := unknown.Cert; c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return "certificate is self-signed and not trusted (unknown authority)"
		}
		return "certificate signed by unknown authority"
	}
	return "certificate not accepted: " + err.Error()
}

func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no host name"
	}
	if len(names) > 3 {
		return fmt.Sprintf("%s, %s, %s and %d more", names[0], names[1], names[2], len(names)-3)
	}
	out := names[0]
	for _, n := range names[1:] {
		out += ", " + n
	}
	return out
}
