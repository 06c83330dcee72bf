package checks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"slices"
	"strings"
	"time"
)

// SMTP holds the opening of an SMTP session: banner, EHLO, optionally
// STARTTLS (or TLS from the start) and AUTH, then QUIT. It never sends mail.
// Each probe is one connection, as each session is.
type SMTP struct {
	addr         string
	implicitTLS  bool
	startTLS     bool
	tls          *tls.Config
	helo         string
	username     string
	password     string
	insecureAuth bool
	timeout      time.Duration
	dialer       net.Dialer
	secrets      []string
}

type smtpConfig struct {
	Address           string `key:"address" required:"true" doc:"host:port of the SMTP server (25, 587 with starttls, 465 with tls)"`
	StartTLS          bool   `key:"starttls" doc:"upgrade with STARTTLS after EHLO and verify the certificate; fails when the server does not offer it"`
	TLS               bool   `key:"tls" doc:"TLS from the first byte (SMTPS, port 465), certificate verified; not with starttls"`
	ServerName        string `key:"server_name" default:"the address's host" doc:"the name the certificate must be valid for"`
	CAFile            string `key:"ca_file" default:"system roots" doc:"PEM file of the CA certificates to verify the server's against"`
	HeloName          string `key:"helo_name" default:"this host's name" doc:"the name sent with EHLO"`
	Username          string `key:"username" doc:"log in with AUTH PLAIN (or LOGIN) as this user; needs password"`
	Password          string `key:"password" secret:"true" doc:"the user's password; never shown"`
	AllowInsecureAuth bool   `key:"allow_insecure_auth" doc:"allow AUTH without TLS, which sends the password in clear text"`
}

func newSMTPConfig(Settings) Config { return &smtpConfig{} }

func (c *smtpConfig) Validate() error {
	var p Problems
	if c.Address != "" {
		if msg := checkHostPort(c.Address); msg != "" {
			p.Add("address", "%s", msg)
		}
	}
	if c.StartTLS && c.TLS {
		p.Add("tls", "cannot be used with starttls: tls is TLS from the start (port 465), starttls an upgrade (port 587)")
	}
	if (c.Username == "") != (c.Password == "") {
		if c.Username == "" {
			p.Add("username", "is required with password")
		} else {
			p.Add("password", "is required with username")
		}
	}
	if c.Username != "" && !c.StartTLS && !c.TLS && !c.AllowInsecureAuth {
		p.Add("username", "needs starttls: true or tls: true, so the password is not sent in clear text (or allow_insecure_auth: true)")
	}
	if (c.ServerName != "" || c.CAFile != "") && !c.StartTLS && !c.TLS {
		key := "server_name"
		if c.CAFile != "" {
			key = "ca_file"
		}
		p.Add(key, "has no effect without starttls: true or tls: true")
	}
	return p.Err()
}

func (c *smtpConfig) Build(env Env) (Checker, error) {
	roots, err := loadCAFile(c.CAFile)
	if err != nil {
		return nil, err
	}
	helo := c.HeloName
	if helo == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			helo = h
		} else {
			helo = "localhost"
		}
	}
	s := &SMTP{
		addr: c.Address, implicitTLS: c.TLS, startTLS: c.StartTLS,
		tls:  &tls.Config{ServerName: serverNameFor(c.ServerName, c.Address), RootCAs: roots, MinVersion: tls.VersionTLS12},
		helo: helo, username: c.Username, password: c.Password, insecureAuth: c.AllowInsecureAuth,
		timeout: env.Timeout, secrets: []string{c.Password},
	}
	s.dialer.Timeout = env.Timeout
	return s, nil
}

// Check holds one session.
func (s *SMTP) Check(ctx context.Context) error {
	start := time.Now()
	conn, stop, err := dialBound(ctx, &s.dialer, s.addr)
	if err != nil {
		return dialFailure(ctx, err, s.timeout, s.addr)
	}
	defer stop()
	defer conn.Close()
	if s.implicitTLS {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return dialFailure(ctx, err, s.timeout, s.addr)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.tls.ServerName)
	if err != nil {
		return smtpFailure(ctx, err, s.timeout, s.addr, "banner", s.secrets)
	}
	if err := c.Hello(s.helo); err != nil {
		return smtpFailure(ctx, err, s.timeout, s.addr, "EHLO", s.secrets)
	}
	if s.startTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Unexpected("server does not offer STARTTLS (%s)", s.addr)
		}
		if err := c.StartTLS(s.tls); err != nil {
			return smtpFailure(ctx, err, s.timeout, s.addr, "STARTTLS", s.secrets)
		}
	}
	if s.username != "" {
		if err := s.auth(c); err != nil {
			return smtpFailure(ctx, err, s.timeout, s.addr, "AUTH", s.secrets)
		}
	}
	if err := c.Quit(); err != nil {
		return smtpFailure(ctx, err, s.timeout, s.addr, "QUIT", s.secrets)
	}
	ms := float64(time.Since(start).Microseconds()) / 1000
	Observe(ctx, "sessionTime", ms, "ms")
	Note(ctx, "%s answered %s in %.1f ms", s.addr, s.steps(), ms)
	return nil
}

func (s *SMTP) steps() string {
	steps := []string{"EHLO"}
	if s.implicitTLS {
		steps = append([]string{"TLS"}, steps...)
	}
	if s.startTLS {
		steps = append(steps, "STARTTLS")
	}
	if s.username != "" {
		steps = append(steps, "AUTH")
	}
	return strings.Join(append(steps, "QUIT"), ", ")
}

// smtpFailure words a failed step: the shared words for network faults, the
// server's code and text for a refusal ("EHLO refused: 554 …").
func smtpFailure(ctx context.Context, err error, timeout time.Duration, where, step string, secrets []string) error {
	if nf := netFailure(ctx, err, timeout, where); nf != nil {
		return nf
	}
	var perr *textproto.Error
	if errors.As(err, &perr) {
		text := Redact(strings.TrimSpace(perr.Msg), secrets)
		if step == "AUTH" {
			return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("authentication failed: %d %s (%s)", perr.Code, text, where), Err: err}
		}
		return &Error{Kind: KindUnavailable, Msg: fmt.Sprintf("%s refused: %d %s (%s)", step, perr.Code, text, where), Err: err}
	}
	var aerr *smtpAuthError
	if errors.As(err, &aerr) {
		return &Error{Kind: KindUnexpected, Msg: aerr.msg + " (" + where + ")", Err: err}
	}
	var perr2 textproto.ProtocolError
	if errors.As(err, &perr2) {
		return &Error{Kind: KindUnexpected, Msg: fmt.Sprintf("%s: not an SMTP answer (%s)", step, where), Err: err}
	}
	var certErr x509.HostnameError
	if errors.As(err, &certErr) {
		return &Error{Kind: KindUnavailable, Msg: "TLS certificate not accepted: " + certErr.Error() + " (" + where + ")", Err: err}
	}
	return &Error{Kind: KindUnavailable, Msg: step + ": " + Redact(innermost(err).Error(), secrets) + " (" + where + ")", Err: err}
}

// auth sends AUTH PLAIN, or LOGIN where the server offers only that.
// net/smtp's Auth is not used: after a refusal it sends "*" to abort and
// waits for a 501 that servers not in an AUTH exchange (aiosmtpd) never
// send, and its PlainAuth decides on its own which hosts may get a
// password in clear text.
func (s *SMTP) auth(c *smtp.Client) error {
	if _, encrypted := c.TLSConnectionState(); !encrypted && !s.insecureAuth {
		return errSMTPClearAuth
	}
	ok, offered := c.Extension("AUTH")
	if !ok {
		return errSMTPNoAuth
	}
	mechs := strings.Fields(strings.ToUpper(offered))
	b64 := base64.StdEncoding.EncodeToString
	switch {
	case slices.Contains(mechs, "PLAIN"):
		return smtpExchange(c, 235, "AUTH PLAIN "+b64([]byte("\x00"+s.username+"\x00"+s.password)))
	case slices.Contains(mechs, "LOGIN"):
		if err := smtpExchange(c, 334, "AUTH LOGIN"); err != nil {
			return err
		}
		if err := smtpExchange(c, 334, b64([]byte(s.username))); err != nil {
			return err
		}
		return smtpExchange(c, 235, b64([]byte(s.password)))
	}
	return &smtpAuthError{"server offers neither AUTH PLAIN nor LOGIN (it offers " + offered + ")"}
}

// smtpExchange sends one line and expects code.
func smtpExchange(c *smtp.Client, code int, line string) error {
	id, err := c.Text.Cmd("%s", line)
	if err != nil {
		return err
	}
	c.Text.StartResponse(id)
	defer c.Text.EndResponse(id)
	_, _, err = c.Text.ReadResponse(code)
	return err
}

// smtpAuthError is a reason the check did not log in, found before
// sending anything.
type smtpAuthError struct{ msg string }

func (e *smtpAuthError) Error() string { return e.msg }

var (
	errSMTPClearAuth = &smtpAuthError{"AUTH not sent: the connection is not encrypted (set starttls or tls, or allow_insecure_auth)"}
	errSMTPNoAuth    = &smtpAuthError{"server does not offer AUTH"}
)
