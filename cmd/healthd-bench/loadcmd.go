package main

import (
	"flag"
	"fmt"
	"time"
)

// runLoad is healthd-bench load: the load generator of make bench against a
// server that is already running, for a quick A/B comparison while working
// on the request path (make bench remains the measurement). With -pid, the
// server's CPU time per request is given beside, from /proc/<pid>/stat.
func runLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8000", "host:port of the server")
	path := fs.String("path", "/ht/", "request path (sent with Accept: application/json)")
	conns := fs.Int("conns", 16, "keep-alive connections, one request in flight on each")
	dur := fs.Duration("duration", 5*time.Second, "length of the run, after a 1 s warm-up")
	pid := fs.Int("pid", 0, "the server's process id, for its CPU time per request")
	fs.Parse(args)
	load(*addr, *path, *conns, time.Second, nil)
	cpu0 := cpuSeconds(*pid)
	r := load(*addr, *path, *conns, *dur, nil)
	fmt.Printf("%s%s, %d conns: %.0f requests/s, p50 %s, p99 %s, %d socket errors, codes %v",
		*addr, *path, *conns, r.RPS(), ms(r.Pct(.5)), ms(r.Pct(.99)), r.SockErrors, r.Codes)
	if *pid > 0 && r.Requests > 0 {
		fmt.Printf(", server CPU %.2f µs per request", (cpuSeconds(*pid)-cpu0)*1e6/float64(r.Requests))
	}
	fmt.Println()
	return nil
}
