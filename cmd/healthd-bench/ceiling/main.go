// Command ceiling is make bench's yardstick: a minimal net/http server that
// answers every path with the body in -body, from memory, with the headers
// healthd sends, and prints its address. It is a program of its own rather
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
)

func main() {
	bodyFile := flag.String("body", "", "file holding the body")
	flag.Parse()
	if err := serve(*bodyFile); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func serve(bodyFile string) error {
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.Write(body)
	}))
}
