package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"
)

// The words for network failures, shared by every check type so one fault
// reads the same whatever the check. A message is one of these, then the
// place in parentheses: "connection refused (127.0.0.1:5432)".
const (
	reasonRefused     = "connection refused"
	reasonReset       = "connection reset by server"
	reasonClosed      = "connection closed by server"
	reasonTimedOut    = "timed out" // netFailure adds "after <timeout>"
	reasonCanceled    = "canceled"
	reasonHostUnreach = "host unreachable"
	reasonNetUnreach  = "network unreachable"
	reasonNoSocket    = "no such socket"
	reasonPermission  = "permission denied"
	reasonNotTLS      = "TLS handshake failed: server does not speak TLS"
)

// netFailure words a failed network operation as a check failure naming
// where it happened: "connection refused (127.0.0.1:5432)", "timed out after
// 1s (…)". A done ctx makes it a timeout (or a cancellation) whatever err
// says, since the failure is then the deadline's. It is nil for errors that
// are not about the network, so each check can word its protocol errors.
// where is host:port (or a socket path), never a URL: it must not carry a
// password.
func netFailure(ctx context.Context, err error, timeout time.Duration, where string) error {
	if ctx.Err() != nil {
		return timeoutFailure(ctx, err, timeout, where)
	}
	reason, ok := netFaultReason(err)
	if !ok {
		return nil
	}
	if reason == reasonTimedOut {
		return timeoutFailure(ctx, err, timeout, where)
	}
	return &Error{Kind: KindUnavailable, Msg: reason + " (" + where + ")", Err: err}
}

// timeoutFailure is "timed out after <timeout> (where)", or "canceled
// (where)" when ctx was canceled rather than out of time.
func timeoutFailure(ctx context.Context, err error, timeout time.Duration, where string) error {
	msg := reasonTimedOut + " after " + timeout.String()
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled) {
		msg = reasonCanceled
	}
	return &Error{Kind: KindUnavailable, Msg: msg + " (" + where + ")", Err: err}
}

// againIfClosed runs probe, and once more when it failed because the server
// closed the connection (closed or reset) while time is left in ctx. Checks
// that keep connections between probes use it: a driver tests an idle
// connection before reusing it, but a close still on its way (a server
// restarted between two probes, a proxy dropping idle sessions) passes that
// test and breaks the first request. A second try, on a new connection,
// tells a server that is gone from a connection that was.
func againIfClosed(ctx context.Context, probe func() error) error {
	err := probe()
	var e *Error
	if err == nil || ctx.Err() != nil || !errors.As(err, &e) || e.Kind != KindUnavailable ||
		!(strings.HasPrefix(e.Msg, reasonClosed) || strings.HasPrefix(e.Msg, reasonReset)) {
		return err
	}
	return probe()
}

// netFaultReason names a network-level failure in plain words ("connection
// refused", "timed out"), from the error a client library returned. It
// reports false for errors that are not about the network. The words never
// come from the error's text (but for a certificate's fault, which names no
// secret), so they cannot carry a URL or a password.
func netFaultReason(err error) (string, bool) {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return reasonTimedOut, true
	case errors.Is(err, context.Canceled):
		return reasonCanceled, true
	case errors.Is(err, syscall.ECONNREFUSED):
		return reasonRefused, true
	case errors.Is(err, syscall.ECONNRESET):
		return reasonReset, true
	case errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return reasonClosed, true
	case errors.Is(err, syscall.EHOSTUNREACH):
		return reasonHostUnreach, true
	case errors.Is(err, syscall.ENETUNREACH):
		return reasonNetUnreach, true
	case errors.Is(err, syscall.ENOENT):
		return reasonNoSocket, true
	case errors.Is(err, syscall.EACCES):
		return reasonPermission, true
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host " + dnsErr.Name + " not found", true
		}
		return "cannot resolve host " + dnsErr.Name, true
	case errors.As(err, &certErr):
		return "TLS certificate not accepted: " + certErr.Err.Error(), true
	case errors.As(err, &recErr):
		return reasonNotTLS, true
	case errors.As(err, &netErr) && netErr.Timeout():
		return reasonTimedOut, true
	}
	return "", false
}

// requestAddr is the host:port of the request that err (a *url.Error)
// failed on, which a redirect may have moved from fallback. It is never the
// URL, which can carry a password.
func requestAddr(err error, fallback string) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil && u.Host != "" {
			return hostPort(u)
		}
	}
	return fallback
}
