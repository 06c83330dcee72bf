package config

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
)

// fuzzSecret is what every ${VAR} expands to in FuzzParse.
const fuzzSecret = "FzSecretQ7w9Zk"

// FuzzParse loads arbitrary YAML, with every environment variable set to a
// known secret: the loader never panics, and when that secret ends up only
// in fields marked secret (credentials in DSNs and URLs, keys named like
// password or token, webhook URLs and headers, auth tokens), no error
// message contains it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"checks: [{name: db, type: postgres, dsn: \"postgres://u:${DB_PASSWORD}@127.0.0.1:5432/db\"}]\n",
		"checks: [{name: db, type: postgres, dsn: \"host=h port=x password=${PW}\"}]\n",
		"checks: [{name: c, type: redis, url: \"redis://:${PW}@127.0.0.1:99999/x\"}]\n",
		"checks: [{name: w, type: http, url: \"ftp://u:${PW}@[::1/\"}]\n",
		"checks: [{name: w, type: http, url: \"http://u:${PW}@h/\", method: POST, timeout: -1s}]\n",
		"server: {auth: {tokens: [\"${TOKEN}\", \"\"]}, failure_status: 200}\nchecks: [{type: disk}]\n",
		"notify: [{url: \"http://h:${PW}@x/\", headers: {Authorization: \"Bearer ${PW}\"}, format: xml}]\nchecks: [{type: memory}]\n",
		"checks:\n  - name: a\n    type: tcp\n    address: ${ADDR:-127.0.0.1:1}\n    password: ${PW}\n    nope: 1\n",
		"checks: [{name: m, type: memcached, servers: [\"${PW}\"]}]\n",
		"x: &a \"${PW}\"\nchecks: [{name: r, type: redis, url: *a}]\n",
		"checks: [{name: \"${PW}\", type: redis, url: \"redis://:${PW}@h/0\", secret: ${PW}}]\n",
		"defaults: {timeout: ${T}}\nchecks: []\n",
		"checks: [{type: ${TYPE}}]\n",
		"{{{",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		lookup := func(string) (string, bool) { return fuzzSecret, true }
		cfg, err := Parse("fuzz.yaml", []byte(doc), Options{Registry: checks.Builtin(), LookupEnv: lookup})
		if err == nil {
			_ = cfg
			return
		}
		msg := err.Error()
		if !strings.Contains(msg, fuzzSecret) || strings.Contains(doc, fuzzSecret) {
			return
		}
		var tree any
		if yaml.Unmarshal([]byte(doc), &tree) != nil {
			return
		}
		marked, unmarked := secretPlaces(tree, lookup)
		if marked && !unmarked {
			t.Fatalf("an error shows a value marked secret:\n%s\nconfig:\n%s", msg, doc)
		}
	})
}

// secretPlaces reports whether fuzzSecret is found, after expansion, in a
// place the loader marks secret and in a place it does not (then echoing it
// is allowed: it is also a name, a path or a type).
func secretPlaces(tree any, lookup func(string) (string, bool)) (marked, unmarked bool) {
	var walk func(v any, secretKey func(key, val string) bool, key string)
	walk = func(v any, secretKey func(key, val string) bool, key string) {
		switch t := v.(type) {
		case string:
			s, err := expand(t, lookup)
			if err != nil || !strings.Contains(s, fuzzSecret) {
				return
			}
			if secretKey != nil && secretKey(key, s) {
				marked = true
			} else {
				unmarked = true
			}
		case []any:
			for _, e := range t {
				walk(e, secretKey, key)
			}
		case map[string]any:
			for k, e := range t {
				walk(e, secretKey, k)
			}
		default:
			// Keys and other scalars are not expanded.
		}
	}
	redacts := func(key, s string) bool {
		return !strings.Contains(checks.Redact(s, checks.SecretsIn(key, s)), fuzzSecret)
	}
	top, ok := tree.(map[string]any)
	if !ok {
		walk(tree, nil, "")
		return
	}
	for k, v := range top {
		switch k {
		case "checks":
			list, _ := v.([]any)
			for _, item := range list {
				m, ok := item.(map[string]any)
				if !ok {
					walk(item, nil, "")
					continue
				}
				for ck, cv := range m {
					if contains(commonKeys, ck) {
						walk(cv, nil, ck)
					} else {
						walk(cv, redacts, ck)
					}
				}
			}
			if !ok {
				walk(v, nil, k)
			}
		case "notify":
			// The whole URL and every header value are secrets.
			walk(v, func(key, s string) bool {
				return key == "url" || redacts(key, s) || key != "format" && key != "timeout" && key != "retries" && key != "checks"
			}, k)
		case "server":
			m, _ := v.(map[string]any)
			for sk, sv := range m {
				if sk == "auth" {
					walk(sv, func(key, s string) bool { return key == "tokens" }, sk)
				} else {
					walk(sv, nil, sk)
				}
			}
		default:
			walk(v, nil, k)
		}
	}
	return
}
