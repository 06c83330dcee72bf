// Command bench is healthd's benchmark and soak harness (make bench, make
// soak; not tests). It starts healthd against real local servers and a
// minimal net/http server answering the same JSON from memory (the ceiling,
// ./ceiling), loads both with its own keep-alive load generator, and writes
// the figures to docs/benchmarks.md. See docs/benchmarks.md for what each figure means.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: healthd-bench bench|scale|soak|load [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "bench":
		err = runBench(os.Args[2:])
	case "scale":
		err = runScale(os.Args[2:])
	case "soak":
		err = runSoak(os.Args[2:])
	case "load":
		err = runLoad(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
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
		s = "# Benchmarks\n\nWritten by `make bench` and `make soak` (cmd/healthd-bench); do not edit between the markers.\n"
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
