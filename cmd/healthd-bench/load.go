package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is what one load run measured.
type loadResult struct {
	Requests   int64
	SockErrors int64 // dial, write or read failures
	BadBodies  int64 // answers the check function rejected
	Codes      map[int]int64
	Latencies  []time.Duration // sorted
	Elapsed    time.Duration
	FirstBad   string
}

func (r loadResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r loadResult) Pct(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies)-1) * p)
	return r.Latencies[i]
}

// load keeps conns keep-alive connections busy with GET path for d, one
// request at a time each (like wrk), and times every answer. check, when
// set, judges every answer's status and body.
func load(addr, path string, conns int, d time.Duration, check func(code int, body []byte) error) loadResult {
	req := []byte(fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\nUser-Agent: healthd-bench\r\n\r\n", path, addr))
	var (
		mu       sync.Mutex
		res      = loadResult{Codes: map[int]int64{}}
		stop     atomic.Bool
		wg       sync.WaitGroup
		start    = time.Now()
		deadline = start.Add(d)
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			codes := map[int]int64{}
			var n, sockErr, bad int64
			var firstBad string
			var body bytes.Buffer
			var c net.Conn
			var br *bufio.Reader
			for !stop.Load() && time.Now().Before(deadline) {
				if c == nil {
					var err error
					c, err = net.DialTimeout("tcp", addr, 5*time.Second)
					if err != nil {
						sockErr++
						time.Sleep(10 * time.Millisecond)
						continue
					}
					br = bufio.NewReader(c)
				}
				t0 := time.Now()
				c.SetDeadline(t0.Add(30 * time.Second))
				if _, err := c.Write(req); err != nil {
					sockErr++
					c.Close()
					c = nil
					continue
				}
				resp, err := http.ReadResponse(br, nil)
				if err == nil {
					body.Reset()
					_, err = io.Copy(&body, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					sockErr++
					c.Close()
					c = nil
					continue
				}
				lat = append(lat, time.Since(t0))
				n++
				codes[resp.StatusCode]++
				if check != nil {
					if err := check(resp.StatusCode, body.Bytes()); err != nil {
						bad++
						if firstBad == "" {
							firstBad = fmt.Sprintf("%d %s: %v", resp.StatusCode, body.String(), err)
						}
					}
				}
				if resp.Close {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
			mu.Lock()
			res.Requests += n
			res.SockErrors += sockErr
			res.BadBodies += bad
			for k, v := range codes {
				res.Codes[k] += v
			}
			res.Latencies = append(res.Latencies, lat...)
			if res.FirstBad == "" {
				res.FirstBad = firstBad
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	return res
}

// merge adds up runs of the same load: their requests, errors, codes,
// latencies and time.
func merge(rs []loadResult) loadResult {
	out := loadResult{Codes: map[int]int64{}}
	for _, r := range rs {
		out.Requests += r.Requests
		out.SockErrors += r.SockErrors
		out.BadBodies += r.BadBodies
		for k, v := range r.Codes {
			out.Codes[k] += v
		}
		out.Latencies = append(out.Latencies, r.Latencies...)
		out.Elapsed += r.Elapsed
		if out.FirstBad == "" {
			out.FirstBad = r.FirstBad
		}
	}
	slices.Sort(out.Latencies)
	return out
}
