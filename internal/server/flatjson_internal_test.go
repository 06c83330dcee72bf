package server

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/healthd/healthd/internal/testsvc"
)

// djangoJSON returns the body Django's JsonResponse writes for m, built as
// django-health-check 3.17's view builds it (views.py
// render_to_response_json, over plugins sorted by identifier): the peer's
// bytes, from Debian's python3-django.
func djangoJSON(t *testing.T, m map[string]string) string {
	t.Helper()
	in, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const script = `import json, sys
from django.conf import settings
settings.configure()
from django.http import JsonResponse
d = json.load(sys.stdin)
sys.stdout.buffer.write(JsonResponse({k: d[k] for k in sorted(d)}).content)`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("Django's JsonResponse (Debian python3-django; scripts/setup/django.sh): %v", err)
	}
	return string(out)
}

// The flat JSON body is, byte for byte, what django-health-check's view
// writes for the same names and values: separators, key order, and the
// escaping of quotes, controls, HTML characters and non-ASCII text.
func TestFlatJSON_SameBytesAsDjangoJsonResponse(t *testing.T) {
	testsvc.NeedsServer(t) // runs Debian's Python
	cases := []struct {
		name string
		m    map[string]string
	}{
		{"empty", map[string]string{}},
		{"seed names", map[string]string{"DatabaseBackend": "working", "Cache backend: default": "working", "DiskUsage": "working"}},
		{"drain key", map[string]string{"cache": "working", drainKey: drainValue, "Zeta": "working", "_x": "working"}},
		{"quotes and controls", map[string]string{"q\"uo\\te": "a\nb\rc\td\be\ff\x01g\x1fh\x7fi"}},
		{"html", map[string]string{"<script>&": "unavailable: <b>&amp;</b>"}},
		{"non-ASCII", map[string]string{"Base de données": "indisponible : délai dépassé", "キャッシュ": "working", "emoji 🚀": "working", "é": "\u2028\u2029", "z": "working"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := djangoJSON(t, c.m)
			if got := string(flatJSON(c.m)); got != want {
				t.Errorf("healthd:             %s\ndjango-health-check: %s", got, want)
			}
		})
	}
}

// A byte that is not UTF-8 cannot reach Python; healthd writes it as U+FFFD,
// as encoding/json does, so the body stays valid JSON.
func TestFlatJSON_InvalidUTF8IsReplaced(t *testing.T) {
	got := string(flatJSON(map[string]string{"a\xffb": "x\xc3"}))
	if want := `{"a\ufffdb": "x\ufffd"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Error(err)
	}
}
