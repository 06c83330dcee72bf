// Package hardening holds healthd's hardening suites and no code of its own:
// bad HTTP input (oversized headers, long URLs, unknown methods, path
// tricks) against a real daemon.Serve listener, security headers, the
// server's connection timeouts, the Docker image's user and HEALTHCHECK, and
// SIGTERM under load against the real binary. See docs/reliability.md.
package hardening
