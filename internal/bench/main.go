// Command bench is healthd's benchmark and soak harness (make bench, make
// soak; not tests). It starts healthd against real local servers and a
// minimal net/http server answering the same JSON from memory (the ceiling),
// loads both with its own keep-alive load generator, and writes the figures
// to docs/benchmarks.md. See docs/benchmarks.md for what each figure means.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench bench|soak|ceiling [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "bench":
		err = runBench(os.Args[2:])
	case "soak":
		err = runSoak(os.Args[2:])
	case "ceiling":
		err = runCeiling(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runCeiling serves the body in -body at every path, from memory, with
// the headers healthd sends, and prints its address.
func runCeiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ExitOnError)
	bodyFile := fs.String("body", "", "file holding the body")
	fs.Parse(args)
	body, err := os.ReadFile(*bodyFile)
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

// writeSection replaces the part of file between <!-- name --> and
// <!-- /name --> with content, or appends it.
func writeSection(file, name, content string) error {
	open, end := "<!-- "+name+" -->", "<!-- /"+name+" -->"
	old, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if s == "" {
		s = "# Benchmarks\n\nWritten by `make bench` and `make soak` (internal/bench); do not edit between the markers.\n"
	}
	block := open + "\n" + strings.TrimSpace(content) + "\n" + end
	if i, j := strings.Index(s, open), strings.Index(s, end); i >= 0 && j > i {
		s = s[:i] + block + s[j+len(end):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(file, []byte(s), 0o644)
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func passFail(ok bool) string {
	if ok {
		return "**pass**"
	}
	return "**FAIL**"
}
