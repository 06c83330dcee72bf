package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// runSoak loads /ht/ at 256 connections while Redis, behind a proxy, is cut
// and restored every few seconds; every answer's body is parsed.
func runSoak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	bin := fs.String("healthd", "bin/healthd", "healthd binary")
	out := fs.String("out", "docs/benchmarks.md", "report file")
	dur := fs.Duration("duration", 60*time.Second, "length of the load")
	flap := fs.Duration("flap", 3*time.Second, "time between cutting and restoring Redis")
	command := fs.String("command", "make soak", "command shown in the report")
	fs.Parse(args)

	redis, err := newProxy("127.0.0.1:6379")
	if err != nil {
		return err
	}
	defer redis.Close()
	dir, err := os.MkdirTemp("", "healthd-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lines := []checkLine{
		{"redis", fmt.Sprintf(`{name: redis, type: redis, url: "redis://%s/0", timeout: 1s}`, redis.Addr())},
		{"postgres", `{name: postgres, type: postgres, dsn: "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"}`},
		{"tcp", fmt.Sprintf(`{name: redis-port, type: tcp, address: "%s", timeout: 1s}`, redis.Addr())},
		{"disk", `{name: disk, type: disk, path: /}`},
		{"memory", `{name: memory, type: memory}`},
	}
	cfgPath, _, err := writeConfig(dir, "soak.yaml", "", lines)
	if err != nil {
		return err
	}
	h, addr, err := startHealthd(*bin, cfgPath)
	if err != nil {
		return err
	}
	defer h.stop()
	time.Sleep(time.Second)
	base := "http://" + addr
	_, first, err := fetch(base + "/ht/?format=json")
	if err != nil {
		return err
	}
	var names []string
	var m map[string]string
	if err := json.Unmarshal(first, &m); err != nil {
		return fmt.Errorf("first body %s: %w", first, err)
	}
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	idleG0 := leastGoroutines(base)
	idleRSS0 := rss(h.Pid())

	// Flap Redis.
	stop := make(chan struct{})
	flaps := 0
	go func() {
		t := time.NewTicker(*flap)
		defer t.Stop()
		for {
			select {
			case <-stop:
				redis.Restore()
				return
			case <-t.C:
			}
			if redis.cut.Load() {
				redis.Restore()
			} else {
				redis.Cut()
			}
			flaps++
		}
	}()
	// Samples under load, a few seconds in and near the end.
	type sample struct {
		g   float64
		rss int64
	}
	var early, late sample
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		time.Sleep(5 * time.Second)
		early.g = leastGoroutines(base)
		early.rss = rss(h.Pid())
		time.Sleep(*dur - 8*time.Second)
		late.g = leastGoroutines(base)
		late.rss = rss(h.Pid())
	}()
	s := sampleMemory(h.Pid())
	res := load(addr, "/ht/", 256, *dur, func(code int, b []byte) error {
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if len(m) != len(names) {
			return fmt.Errorf("%d checks, want %d", len(m), len(names))
		}
		all := true
		for _, n := range names {
			v, ok := m[n]
			if !ok || v == "" {
				return fmt.Errorf("no value for %s", n)
			}
			all = all && v == "working"
		}
		switch {
		case code == 200 && all, code == 500 && !all:
			return nil
		}
		return fmt.Errorf("status %d does not agree with the body", code)
	})
	maxRSS := s.Stop().rss
	close(stop)
	<-sampled
	time.Sleep(2 * time.Second) // the load's connections are closed
	idleG1 := leastGoroutines(base)
	idleRSS1 := rss(h.Pid())

	gFlat := late.g <= early.g+32 && idleG1 <= idleG0+5
	rssFlat := float64(late.rss) <= 1.25*float64(early.rss)
	other := res.Requests - res.Codes[200] - res.Codes[500]
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## `make soak`\n\n- Date: %s\n- Machine: %s (host %s)\n- Command: `%s` (cmd/healthd-bench soak: %s at 256 connections on /ht/ (JSON); Redis behind a TCP proxy cut (every connection closed, new ones refused) and restored every %s, %d flaps; checks: %s; cache_ttl 1s, timeout 1s for Redis)\n- Every body was parsed (JSON object with every check, status 200 exactly when every value is \"working\", else 500)\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine(), host, *command, *dur, *flap, flaps, strings.Join(names, ", "))
	b.WriteString("| figure | value | result |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| requests | %d (%.0f/s; %d × 200, %d × 500, %d other) | |\n", res.Requests, res.RPS(), res.Codes[200], res.Codes[500], other)
	fmt.Fprintf(&b, "| latency p50 / p99 / max | %s / %s / %s | |\n", ms(res.Pct(.5)), ms(res.Pct(.99)), ms(res.Pct(1)))
	fmt.Fprintf(&b, "| socket errors | %d | %s |\n", res.SockErrors, passFail(res.SockErrors == 0))
	badNote := ""
	if res.FirstBad != "" {
		badNote = " (first: " + strings.ReplaceAll(res.FirstBad, "|", "\\|") + ")"
	}
	fmt.Fprintf(&b, "| answers not 200/500 with a well-formed, agreeing body | %d%s | %s |\n", res.BadBodies+other, badNote, passFail(res.BadBodies+other == 0))
	fmt.Fprintf(&b, "| goroutines (go_goroutines, the least of 5 samples 200 ms apart): idle before → idle after; under load at 5 s → at %s | %.0f → %.0f; %.0f → %.0f | %s |\n", *dur-2*time.Second, idleG0, idleG1, early.g, late.g, passFail(gFlat))
	fmt.Fprintf(&b, "| resident memory (VmRSS): idle before → idle after; under load at 5 s → at %s; max | %s → %s; %s → %s; %s | %s |\n", *dur-2*time.Second, mb(idleRSS0), mb(idleRSS1), mb(early.rss), mb(late.rss), mb(maxRSS), passFail(rssFlat))
	fmt.Fprintf(&b, "\nFlat means: goroutines under load at the end at most 32 above the early sample and idle at most 5 above idle before; RSS at the end at most 1.25x the early sample.\n")
	fmt.Print(b.String())
	if err := writeSection(*out, "soak", b.String()); err != nil {
		return err
	}
	if res.SockErrors != 0 || res.BadBodies+other != 0 || !gFlat || !rssFlat {
		return fmt.Errorf("soak failed (see above)")
	}
	return nil
}

// leastGoroutines is the least go_goroutines of five samples 200ms apart:
// a leak persists, while the goroutines of a run or a reconnect in flight
// at one instant come and go.
func leastGoroutines(base string) float64 {
	least := -1.0
	for i := range 5 {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		if g, err := metric(base+"/metrics", "go_goroutines"); err == nil && (least < 0 || g < least) {
			least = g
		}
	}
	return least
}
