package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The 1,000-check run (healthd-bench scale, part of make bench): healthd
// with a fleet-sized config against local listeners and the machine's
// PostgreSQL and Redis, each behind a counting proxy, measured from the
// exec to the first complete answer, then with every check's history full.

// scaleFleet is the shape of the generated config.
const (
	scaleListeners = 4   // in-process net/http servers
	scaleHTTP      = 200 // http checks, spread over the listeners
	scaleTCP       = 200 // tcp checks, spread over the listeners
	scalePostgres  = 300 // postgres checks over scaleDSNs distinct DSNs
	scaleRedis     = 300 // redis checks over scaleDSNs distinct URLs
	scaleDSNs      = 3
	scaleGroups    = 10
	scaleChecks    = scaleHTTP + scaleTCP + scalePostgres + scaleRedis
)

// Figures of gatus at 1,000 checks, as issue 19 gives them: not measured
// by this harness.
const (
	gatusRSS     = "140 MB"
	gatusStartup = "223 s"
)

// unavailableEarly starts the message of a result the request gave up
// waiting for: not a result of the check.
const unavailableEarly = "unavailable: the request ended before"

// countingListener counts the connections a listener accepts and how many
// are open at once.
type countingListener struct {
	net.Listener
	opened atomic.Int64
	live   connGauge
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.opened.Add(1)
	l.live.add(0)
	return &countedConn{Conn: c, live: &l.live}, nil
}

type countedConn struct {
	net.Conn
	live *connGauge
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(c.live.done)
	return c.Conn.Close()
}

// scaleServer is one server the fleet's checks reach, and how its
// connections are counted.
type scaleServer struct {
	name   string
	checks int
	live   *connGauge
	opened *atomic.Int64
	// refused and limit are the proxy's cap (0 for a listener).
	refused *atomic.Int64
	limit   int64
	// atFirst is the peak when the first complete answer came.
	atFirst int64
}

type scaleRun struct {
	interval, timeout time.Duration
	history           int
	servers           []*scaleServer
	lines             []string
}

// fleet builds the config's check lines and the servers they reach.
func fleet(listeners []*countingListener, pg, redis *proxy, interval time.Duration, history int) *scaleRun {
	r := &scaleRun{interval: interval, timeout: 2 * time.Second, history: history}
	// add appends a check, in the next of the groups in turn.
	add := func(format string, a ...any) {
		r.lines = append(r.lines, fmt.Sprintf("{"+format+", groups: [g%d]}", append(a, len(r.lines)%scaleGroups)...))
	}
	per := make([]int, len(listeners))
	for i := range scaleHTTP {
		k := i % len(listeners)
		per[k]++
		add(`name: api-%03d, type: http, url: "http://%s/svc/%d"`, i, listeners[k].Addr(), i)
	}
	for i := range scaleTCP {
		k := i % len(listeners)
		per[k]++
		add(`name: port-%03d, type: tcp, address: "%s"`, i, listeners[k].Addr())
	}
	for i := range scalePostgres {
		add(`name: pg-%03d, type: postgres, dsn: "postgres://postgres@%s/%s?sslmode=disable&application_name=healthd-scale-%d"`, i, pg.Addr(), pgDB, i%scaleDSNs)
	}
	for i := range scaleRedis {
		add(`name: redis-%03d, type: redis, url: "redis://%s/%d"`, i, redis.Addr(), i%scaleDSNs)
	}
	r.servers = append(r.servers,
		&scaleServer{name: fmt.Sprintf("PostgreSQL (%d DSNs, bench cap %d)", scaleDSNs, pg.limit), checks: scalePostgres,
			live: &pg.live, opened: &pg.opened, refused: &pg.refused, limit: pg.limit},
		&scaleServer{name: fmt.Sprintf("Redis (%d URLs)", scaleDSNs), checks: scaleRedis, live: &redis.live, opened: &redis.opened, refused: &redis.refused})
	for k, l := range listeners {
		r.servers = append(r.servers, &scaleServer{name: fmt.Sprintf("listener %d (http + tcp)", k+1), checks: per[k], live: &l.live, opened: &l.opened})
	}
	return r
}

func (r *scaleRun) writeConfig(path string) error {
	var b strings.Builder
	b.WriteString("server: {log_level: warn}\n")
	fmt.Fprintf(&b, "defaults: {timeout: %s, interval: %s, history: %d}\nchecks:\n", r.timeout, r.interval, r.history)
	for _, l := range r.lines {
		b.WriteString("  - " + l + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// scaleResult is what the run measured.
type scaleResult struct {
	firstComplete   time.Duration
	firstNotWorking int // checks not "working" in the first complete answer
	allWorking      time.Duration
	notWorking      int    // at the last poll, when never all working
	notWorkingWhy   string // the commonest messages then
	fillWait        time.Duration
	runsMin         int // the fewest runs of a check when memory was read
	historyMin      int // the fewest and most results in a check's history, just after
	historyMax      int
	full            memPeak // read when every history was full
	heapInuse       float64 // go_memstats_heap_inuse_bytes then
	goroutines      float64
	fds             int
	cpuFill         float64 // healthd's CPU seconds per second while filling
	bodies          map[string]int
	lat             []scaleLoad
	loadMem         memPeak
	wholeMem        memPeak
}

type scaleLoad struct {
	format string
	conns  int
	res    loadResult
	cpu    float64 // healthd's CPU seconds per second meanwhile
}

func runScale(args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	bin := fs.String("healthd", "bin/healthd", "healthd binary")
	out := fs.String("out", "docs/benchmarks.md", "report file")
	command := fs.String("command", "make bench", "command shown in the report")
	interval := fs.Duration("interval", 500*time.Millisecond, "every check's interval: history x interval is the least time to a full history")
	history := fs.Int("history", 100, "results kept per check (100 is healthd's default)")
	loadDur := fs.Duration("duration", 4*time.Second, "length of each load run")
	pgLimit := fs.Int64("pg-limit", 40, "most connections the PostgreSQL proxy forwards at once (the machine's server is shared)")
	wait := fs.Duration("wait", 60*time.Second, "longest wait for the first complete answer; twice this for full histories")
	note := fs.String("note", "", "a line for the report, e.g. which build was measured")
	fs.Parse(args)

	if err := ensureDatabase(pgDB); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "healthd-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var listeners []*countingListener
	for range scaleListeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		cl := &countingListener{Listener: ln}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })}
		go srv.Serve(cl)
		defer srv.Close()
		listeners = append(listeners, cl)
	}
	pg, err := newLimitedProxy("127.0.0.1:5432", *pgLimit, pgTooManyClients)
	if err != nil {
		return err
	}
	defer pg.Close()
	redis, err := newProxy("127.0.0.1:6379")
	if err != nil {
		return err
	}
	defer redis.Close()

	run := fleet(listeners, pg, redis, *interval, *history)
	cfgPath := filepath.Join(dir, "scale.yaml")
	if err := run.writeConfig(cfgPath); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	base := "http://" + addr + "/ht/"

	fmt.Printf("scale: %d checks, interval %s, history %d\n", scaleChecks, *interval, *history)
	t0 := time.Now()
	h, err := startEnv("", *bin, healthdEnviron(), "serve", "--config", cfgPath, "--listen", addr)
	if err != nil {
		return err
	}
	defer h.stop()
	whole := sync.OnceValue(sampleMemory(h.Pid()).Stop)
	defer whole()
	var res scaleResult
	client := &http.Client{Timeout: 30 * time.Second}

	// Start-up: poll until an answer holds a result for every check.
	var first map[string]string
	for first == nil {
		if time.Since(t0) > *wait {
			return fmt.Errorf("scale: no complete answer within %s\n%s", *wait, tail(h.Log(), 2000))
		}
		m, err := getJSON(client, base+"?format=json")
		if err != nil || !complete(m) {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		first = m
	}
	res.firstComplete = time.Since(t0)
	for _, s := range run.servers {
		s.atFirst = s.live.peak.Load()
	}
	res.firstNotWorking = len(notWorking(first))
	fmt.Printf("scale: first complete answer after %s (%d checks not working)\n", res.firstComplete.Round(time.Millisecond), res.firstNotWorking)

	// Until every check has run history times (its history is full): poll
	// for an answer where every check works, and, once the histories can
	// be full, the run counters on /metrics (a small body: reading the
	// histories themselves from health+json costs healthd tens of MB).
	cpu0, cpuT0 := cpuSeconds(h.Pid()), time.Now()
	last := first
	if res.firstNotWorking == 0 {
		res.allWorking = res.firstComplete
	}
	fullAt := t0.Add(time.Duration(*history) * *interval)
	for {
		if time.Since(t0) > 2**wait {
			return fmt.Errorf("scale: histories not full after %s (fewest runs of a check: %d)", 2**wait, res.runsMin)
		}
		if res.allWorking == 0 {
			if m, err := getJSON(client, base+"?format=json"); err == nil && complete(m) {
				last = m
				if len(notWorking(m)) == 0 {
					res.allWorking = time.Since(t0)
				}
			}
		}
		if time.Now().After(fullAt) {
			_, b, err := fetch("http://" + addr + "/metrics")
			if err != nil {
				return fmt.Errorf("scale: /metrics: %w", err)
			}
			res.runsMin = leastRuns(b)
			if res.runsMin >= *history {
				res.full = memPeak{anon: statusBytes(h.Pid(), "RssAnon:"), rss: rss(h.Pid()), file: statusBytes(h.Pid(), "RssFile:")}
				res.fds = openFDs(h.Pid())
				res.heapInuse = sample(b, "go_memstats_heap_inuse_bytes")
				res.goroutines = sample(b, "go_goroutines")
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	res.fillWait = time.Since(t0)
	res.cpuFill = (cpuSeconds(h.Pid()) - cpu0) / time.Since(cpuT0).Seconds()
	if res.allWorking == 0 {
		why := notWorking(last)
		res.notWorking = len(why)
		res.notWorkingWhy = commonest(why, 3)
	}
	fmt.Printf("scale: every check ran %d times after %s; VmRSS %s, RssAnon %s\n", *history,
		res.fillWait.Round(time.Millisecond), mb(res.full.rss), mb(res.full.anon))
	_, healthBody, err := fetch(base + "?format=health")
	if err != nil {
		return fmt.Errorf("scale: health+json: %w", err)
	}
	if res.historyMin, res.historyMax, err = historyCounts(healthBody); err != nil {
		return err
	}

	// Body sizes.
	res.bodies = map[string]int{"health+json": len(healthBody)}
	for _, f := range []string{"html", "json"} {
		code, b, err := fetch(base + "?format=" + f)
		if err != nil || (code != 200 && code != 500) {
			return fmt.Errorf("scale: %s body: %d %v", f, code, err)
		}
		res.bodies[f] = len(b)
	}

	// Latency of JSON, health+json and HTML, one connection (the render
	// time) and 8.
	answered := func(code int, b []byte) error {
		if (code != 200 && code != 500) || len(b) == 0 {
			return fmt.Errorf("status %d, %d bytes", code, len(b))
		}
		return nil
	}
	ls := sampleMemory(h.Pid())
	for _, f := range []string{"json", "health", "html"} {
		path := "/ht/?format=" + f
		load(addr, path, 1, time.Second, nil) // warm-up
		for _, c := range []int{1, 8} {
			cpu := cpuSeconds(h.Pid())
			r := load(addr, path, c, *loadDur, answered)
			res.lat = append(res.lat, scaleLoad{f, c, r, (cpuSeconds(h.Pid()) - cpu) / r.Elapsed.Seconds()})
			fmt.Printf("scale: %s at %d conns: p50 %s, p99 %s\n", f, c, ms(r.Pct(.5)), ms(r.Pct(.99)))
		}
	}
	res.loadMem = ls.Stop()
	res.wholeMem = whole()
	h.stop()

	report := run.report(res, *command, *note, *loadDur)
	fmt.Print(report)
	return writeSection(*out, "scale", report)
}

func (r *scaleRun) report(res scaleResult, command, note string, loadDur time.Duration) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "## `make bench`: 1,000 checks\n\n")
	if note != "" {
		fmt.Fprintf(&b, "**%s**\n\n", note)
	}
	fmt.Fprintf(&b, "- Date: %s\n- Machine: %s (host %s)\n- Command: `%s` (cmd/healthd-bench scale)\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), machine(), host, command)
	fmt.Fprintf(&b, "- Config: %d checks in %d groups: %d http and %d tcp against %d in-process net/http listeners, %d postgres (%d DSNs differing in application_name, database %s) through a counting proxy to 127.0.0.1:5432, %d redis (%d URLs differing in the database number) through a counting proxy to 127.0.0.1:6379; every check with interval %s, history %d (the default), timeout %s, so histories are full after about %s\n",
		scaleChecks, scaleGroups, scaleHTTP, scaleTCP, scaleListeners, scalePostgres, scaleDSNs, pgDB, scaleRedis, scaleDSNs, r.interval, r.history, r.timeout,
		(time.Duration(r.history) * r.interval).Round(time.Second))
	fmt.Fprintf(&b, "- gatus figures: as issue 19 gives them for 1,000 checks; not measured here\n\n")

	b.WriteString("| figure | healthd | gatus (issue 19) | target | result |\n|---|---|---|---|---|\n")
	startNote := "every check working"
	if res.firstNotWorking > 0 {
		startNote = fmt.Sprintf("%d of %d not working", res.firstNotWorking, scaleChecks)
	}
	fmt.Fprintf(&b, "| start-up: exec to the first JSON answer with a result for every check | %s (%s) | %s | | |\n", secs(res.firstComplete), startNote, gatusStartup)
	if res.allWorking > 0 {
		fmt.Fprintf(&b, "| start-up: exec to the first JSON answer with every check working | %s | | every check works | **pass** |\n", secs(res.allWorking))
	} else {
		fmt.Fprintf(&b, "| start-up: exec to the first JSON answer with every check working | never in %s: %d not working (%s) | | every check works | **FAIL** |\n",
			secs(res.fillWait), res.notWorking, strings.ReplaceAll(res.notWorkingWhy, "|", "\\|"))
	}
	for _, s := range r.servers {
		refused := ""
		if s.refused != nil && s.refused.Load() > 0 {
			refused = fmt.Sprintf("; %d refused above the bench's cap of %d: healthd asked for more", s.refused.Load(), s.limit)
		}
		fmt.Fprintf(&b, "| connections to %s, %d checks: most open at once by the first complete answer; over the run; opened in all | %d; %d; %d%s | | | |\n",
			s.name, s.checks, s.atFirst, s.live.peak.Load(), s.opened.Load(), refused)
	}
	fmt.Fprintf(&b, "| body size: HTML (the dashboard) | %s | | <= 1 MB | %s |\n", kb(res.bodies["html"]), passFail(res.bodies["html"] <= 1<<20))
	fmt.Fprintf(&b, "| body size: JSON | %s | | | |\n", kb(res.bodies["json"]))
	fmt.Fprintf(&b, "| body size: health+json (with every check's history) | %s | | | |\n", kb(res.bodies["health+json"]))
	targets := map[string]time.Duration{"html": 50 * time.Millisecond, "json": 20 * time.Millisecond, "health": 20 * time.Millisecond}
	for _, l := range res.lat {
		name := map[string]string{"html": "HTML", "json": "JSON", "health": "health+json"}[l.format]
		bad := ""
		if n := l.res.BadBodies + l.res.SockErrors; n > 0 {
			bad = fmt.Sprintf("; %d bad answers or socket errors", n)
		}
		fig := fmt.Sprintf("%s / %s (%.1f requests/s, healthd at %.0f%% of one core%s)", ms(l.res.Pct(.5)), ms(l.res.Pct(.99)), l.res.RPS(), 100*l.cpu, bad)
		if l.conns == 1 {
			t := targets[l.format]
			fmt.Fprintf(&b, "| %s latency p50 / p99, 1 connection (the render time) | %s | | p99 <= %s | %s |\n", name, fig, ms(t),
				passFail(l.res.Pct(.99) <= t && bad == ""))
		} else {
			fmt.Fprintf(&b, "| %s latency p50 / p99, %d connections | %s | | | |\n", name, l.conns, fig)
		}
	}
	fmt.Fprintf(&b, "| memory with every history full (every check run %d times or more; histories then held %d to %d results): VmRSS (RssAnon) | %s (%s); Go heap in use %s, %.0f goroutines | %s | RssAnon <= 60 MB | %s |\n",
		res.runsMin, res.historyMin, res.historyMax, mb(res.full.rss), mb(res.full.anon), mb(int64(res.heapInuse)), res.goroutines, gatusRSS,
		passFail(res.full.anon <= 60<<20 && res.runsMin >= r.history))
	fmt.Fprintf(&b, "| memory: peak VmRSS (RssAnon) during the load runs | %s (%s) | | | |\n", mb(res.loadMem.rss), mb(res.loadMem.anon))
	fmt.Fprintf(&b, "| memory: peak VmRSS (RssAnon) over the whole run | %s (%s) | | | |\n", mb(res.wholeMem.rss), mb(res.wholeMem.anon))
	fmt.Fprintf(&b, "| open file descriptors of healthd with every history full | %d | | | |\n", res.fds)
	fmt.Fprintf(&b, "| healthd's CPU while the histories fill (%d runs/s) | %.0f%% of one core | | | |\n",
		int(float64(scaleChecks)/r.interval.Seconds()), 100*res.cpuFill)
	fmt.Fprintf(&b, "\nLoad runs: %s each after a 1 s warm-up, the load generator of `make bench` with `?format=json`, `?format=health` or `?format=html`, while every check still runs every %s; a 500 (a check failing) counts as an answer.\n", loadDur, r.interval)
	return b.String()
}

func getJSON(client *http.Client, url string) (map[string]string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// complete is whether m holds a result of its own for every check of the
// fleet.
func complete(m map[string]string) bool {
	if len(m) < scaleChecks {
		return false
	}
	for _, v := range m {
		if v == "" || strings.HasPrefix(v, unavailableEarly) {
			return false
		}
	}
	return true
}

// notWorking returns the messages of the checks that are not working.
func notWorking(m map[string]string) []string {
	var out []string
	for _, v := range m {
		if v != "working" {
			out = append(out, v)
		}
	}
	return out
}

// commonest words the n commonest messages, with how many checks gave
// each.
func commonest(msgs []string, n int) string {
	count := map[string]int{}
	for _, m := range msgs {
		if len(m) > 120 {
			m = m[:120] + "…"
		}
		count[m]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if count[a] != count[b] {
			return count[b] - count[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(n, len(keys))] {
		parts = append(parts, fmt.Sprintf("%d × %q", count[k], k))
	}
	return strings.Join(parts, ", ")
}

// historyCounts is the least and the most history results a check has in
// a health+json body.
func historyCounts(body []byte) (int, int, error) {
	var doc struct {
		Checks map[string][]struct {
			History *struct {
				Results []json.RawMessage `json:"results"`
			} `json:"history"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, 0, fmt.Errorf("scale: health+json: %w", err)
	}
	lo, hi, n := -1, 0, 0
	for key, cs := range doc.Checks {
		if !strings.HasSuffix(key, ":responseTime") {
			continue
		}
		for _, c := range cs {
			// The entry with the history is the run's; tcp and http
			// checks add an observation under the same key.
			if c.History == nil {
				continue
			}
			k := len(c.History.Results)
			n++
			if lo < 0 || k < lo {
				lo = k
			}
			hi = max(hi, k)
		}
	}
	if n < scaleChecks {
		return 0, 0, fmt.Errorf("scale: health+json has %d checks, want %d", n, scaleChecks)
	}
	return lo, hi, nil
}

// leastRuns is the fewest runs of a check, summing each check's
// healthd_check_runs_total series (one per result) on a /metrics page.
func leastRuns(page []byte) int {
	runs := map[string]float64{}
	for _, line := range strings.Split(string(page), "\n") {
		rest, ok := strings.CutPrefix(line, "healthd_check_runs_total{")
		if !ok {
			continue
		}
		_, name, ok := strings.Cut(rest, `check="`)
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, `"`)
		i := strings.LastIndexByte(rest, ' ')
		v, _ := strconv.ParseFloat(rest[i+1:], 64)
		runs[name] += v
	}
	if len(runs) < scaleChecks {
		return 0
	}
	least := -1.0
	for _, v := range runs {
		if least < 0 || v < least {
			least = v
		}
	}
	return int(least)
}

// sample reads one unlabelled sample from a Prometheus text page, or -1.
func sample(page []byte, name string) float64 {
	for _, line := range strings.Split(string(page), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// cpuSeconds is the user and system CPU time pid has used, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, may hold spaces: count from its end.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sys, _ := strconv.ParseInt(f[12], 10, 64)
	return float64(u+sys) / 100
}

func openFDs(pid int) int {
	es, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(es)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func kb(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.2f MB (%d bytes)", float64(n)/(1<<20), n)
	}
	return fmt.Sprintf("%.1f KB (%d bytes)", float64(n)/1024, n)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
