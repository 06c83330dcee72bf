package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// netFailure is netFaultReason as a check failure naming where it happened:
// "connection refused (127.0.0.1:5432)", "timed out after 1s (…)". It is nil
// for errors that are not about the network.
func netFailure(err error, timeout time.Duration, where string) error {
	reason, ok := netFaultReason(err)
	if !ok {
		return nil
	}
	if reason == "timed out" {
		reason = "timed out after " + timeout.String()
	}
	return &Error{Kind: KindUnavailable, Msg: reason + " (" + where + ")", Err: err}
}

// netFaultReason names a network-level failure in plain words ("connection
// refused", "timed out"), from the error a client library returned. It
// reports false for errors that are not about the network, so each check can
// word its own protocol errors. The words never come from the error's text,
// so they cannot carry a URL or a password.
func netFaultReason(err error) (string, bool) {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case err == nil:
		return "", false
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timed out", true
	case errors.Is(err, context.Canceled):
		return "canceled", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by server", true
	case errors.Is(err, syscall.EPIPE), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed by server", true
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable", true
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable", true
	case errors.Is(err, syscall.ENOENT):
		return "no such socket", true
	case errors.Is(err, syscall.EACCES):
		return "permission denied", true
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host " + dnsErr.Name + " not found", true
		}
		return "cannot resolve host " + dnsErr.Name, true
	case errors.As(err, &certErr):
		return "TLS certificate not accepted: " + certErr.Err.Error(), true
	case errors.As(err, &recErr):
		return "TLS handshake failed: server does not speak TLS", true
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timed out", true
	}
	return "", false
}
