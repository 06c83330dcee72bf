//go:build linked

package main

// Built with -tags linked, the ceiling links every package healthd links,
// so their initialisers run and their heap is live (the AWS SDK's endpoint
// tables, the Prometheus client, gRPC...), and answers as the plain ceiling
// does: what healthd's libraries cost a health endpoint before it checks
// anything. The daemon package imports all of them.
import _ "github.com/healthd/healthd/internal/daemon"
