package checks

import (
	"bytes"
	"reflect"
	"testing"
)

// The outputs are real plugins' (monitoring-plugins 2.3 on Debian 12), then
// the corners of the plugin guidelines' perfdata syntax.
func TestParsePluginOutput_RealPluginsAndTheGuidelinesCorners(t *testing.T) {
	type d = perfDatum
	for _, tc := range []struct {
		name, out string
		msg       string
		want      []perfDatum
	}{
		{"check_disk", "DISK OK - free space: / 77638MiB (83% inode=97%);| /=16382951424B;243497277849;257024904396;0;270552530944\n",
			"DISK OK - free space: / 77638MiB (83% inode=97%);",
			[]d{{label: "/", value: 16382951424, uom: "B", warn: "243497277849", crit: "257024904396", min: "0", max: "270552530944"}}},
		{"check_tcp", "TCP OK - 0.000 second response time on 127.0.0.1 port 5432|time=0.000202s;;;0.000000;10.000000\n",
			"TCP OK - 0.000 second response time on 127.0.0.1 port 5432",
			[]d{{label: "time", value: 0.000202, uom: "s", min: "0.000000", max: "10.000000"}}},
		{"check_tcp refused, no perfdata", "connect to address 127.0.0.1 and port 1: Connection refused\n",
			"connect to address 127.0.0.1 and port 1: Connection refused", nil},
		{"check_pgsql", " OK - database postgres (0.168948 sec.)|time=0.168948s;2.000000;8.000000;0.000000\n",
			"OK - database postgres (0.168948 sec.)",
			[]d{{label: "time", value: 0.168948, uom: "s", warn: "2.000000", crit: "8.000000", min: "0.000000"}}},
		{"check_load, trailing blank", "LOAD OK - total load average: 1.17, 0.25, 0.39|load1=1.170;5.000;10.000;0; load5=0.250;5.000;10.000;0; load15=0.390;5.000;10.000;0; \n",
			"LOAD OK - total load average: 1.17, 0.25, 0.39",
			[]d{{label: "load1", value: 1.17, warn: "5.000", crit: "10.000", min: "0"},
				{label: "load5", value: 0.25, warn: "5.000", crit: "10.000", min: "0"},
				{label: "load15", value: 0.39, warn: "5.000", crit: "10.000", min: "0"}}},
		{"check_procs", "PROCS OK: 122 processes | procs=122;500;;0;\n", "PROCS OK: 122 processes",
			[]d{{label: "procs", value: 122, warn: "500", min: "0"}}},
		{"check_http", "HTTP OK: HTTP/1.1 200 OK - 311 bytes in 0.001 second response time |time=0.000926s;;;0.000000;10.000000 size=311B;;;0\n",
			"HTTP OK: HTTP/1.1 200 OK - 311 bytes in 0.001 second response time",
			[]d{{label: "time", value: 0.000926, uom: "s", min: "0.000000", max: "10.000000"}, {label: "size", value: 311, uom: "B", min: "0"}}},
		{"quoted labels with spaces and a doubled quote", "OK | 'free space'=12MB 'it''s'=3c '/var/lib'=50%;80;90\n", "OK",
			[]d{{label: "free space", value: 12, uom: "MB"}, {label: "it's", value: 3, uom: "c"}, {label: "/var/lib", value: 50, uom: "%", warn: "80", crit: "90"}}},
		{"long output with perfdata lines", "QUEUE OK - 42 jobs | jobs=42\nworker-1 idle\nworker-2 busy | load=87.5%;90;95;0;100\nfree=1.5GB;;;0\n", "QUEUE OK - 42 jobs",
			[]d{{label: "jobs", value: 42}, {label: "load", value: 87.5, uom: "%", warn: "90", crit: "95", min: "0", max: "100"}, {label: "free", value: 1.5, uom: "GB", min: "0"}}},
		{"long output without perfdata", "OK - fine\nline 2 = not perfdata\n", "OK - fine", nil},
		{"undetermined, negative, exponent, microseconds", "OK|a=U;1;2 b=-3.5 c=1e3us d=.5ms\n", "OK",
			[]d{{label: "a", undetermined: true, warn: "1", crit: "2"}, {label: "b", value: -3.5}, {label: "c", value: 1000, uom: "us"}, {label: "d", value: 0.5, uom: "ms"}}},
		{"malformed items are skipped, the others kept", "OK | =5 novalue= x=abc 'open=1 good=7 bad label=2\n", "OK",
			[]d{{label: "good", value: 7}, {label: "label", value: 2}}},
		{"CRLF line ends", "WARNING - slow|t=2s\r\n", "WARNING - slow", []d{{label: "t", value: 2, uom: "s"}}},
		{"empty", "", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, got := parsePluginOutput([]byte(tc.out))
			if msg != tc.msg {
				t.Errorf("message = %q, want %q", msg, tc.msg)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("perfdata:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPerfUnit_NamesUOMsAsObservationsDo(t *testing.T) {
	for uom, want := range map[string]string{"%": "percent", "c": "counter", "s": "s", "ms": "ms", "us": "us",
		"B": "B", "KB": "KB", "MB": "MB", "GB": "GB", "TB": "TB", "": "", "MiB": "MiB"} {
		if got := perfUnit(uom); got != want {
			t.Errorf("perfUnit(%q) = %q, want %q", uom, got, want)
		}
	}
}

func TestReadHead_KeepsTheCapAndReadsTheRest(t *testing.T) {
	r := bytes.NewReader(bytes.Repeat([]byte("x"), 10<<20))
	got := readHead(r, execOutputCap)
	if len(got) != execOutputCap || r.Len() != 0 {
		t.Fatalf("kept %d bytes, %d left unread; want %d kept, all read", len(got), r.Len(), execOutputCap)
	}
	tail := readTail(bytes.NewReader([]byte("a\nb\nlast line\n")), 8)
	if string(tail) != "st line\n" {
		t.Fatalf("tail = %q", tail)
	}
}
