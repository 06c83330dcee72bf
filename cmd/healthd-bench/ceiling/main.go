// Command ceiling is make bench's yardstick: a minimal net/http server that
// answers every path with the body in -body, from memory, with the headers
// healthd sends (each -header, which the harness copies from healthd's own
// answer), and prints its address. It is a program of its own rather
// than the harness re-executed, so that its memory is net/http's alone: the
// harness links the check clients (S3, PostgreSQL, Redis...), whose package
// initialisers would add their heap to the ceiling's anonymous memory.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// headers collects the repeated -header "Name: value" flags.
type headers [][2]string

func (h *headers) String() string { return fmt.Sprint(*h) }

func (h *headers) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok {
		return fmt.Errorf("-header %q: want Name: value", v)
	}
	*h = append(*h, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
	return nil
}

func main() {
	bodyFile := flag.String("body", "", "file holding the body")
	var hdrs headers
	flag.Var(&hdrs, "header", "a header of every answer, Name: value (repeatable)")
	timeouts := flag.Bool("timeouts", false, "bound each connection as healthd's server does (read header 5s, read 10s, write 12s, idle 120s)")
	flag.Parse()
	if err := serve(*bodyFile, hdrs, *timeouts); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func serve(bodyFile string, hdrs headers, timeouts bool) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, kv := range hdrs {
			h.Set(kv[0], kv[1])
		}
		w.Write(body)
	})}
	if timeouts {
		// internal/daemon's newHTTPServer; the write timeout is the bench
		// config's longest check timeout (2s) plus 10s, as healthd's is.
		srv.ReadHeaderTimeout, srv.ReadTimeout = 5*time.Second, 10*time.Second
		srv.WriteTimeout, srv.IdleTimeout = 12*time.Second, 120*time.Second
	}
	return srv.Serve(ln)
}
