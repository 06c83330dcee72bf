package checks

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// KeyError is a problem with one key of a check's config. The config loader
// adds the file and the check's name.
type KeyError struct {
	Key string // dotted path inside the check: "dsn", "queues[1].name"
	Msg string
}

func (e *KeyError) Error() string { return fmt.Sprintf("key %q: %s", e.Key, e.Msg) }

// Suggest returns the candidate closest to s when it is a plausible typo.
func Suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance, so a swapped pair of
// letters ("tiemout") counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// describe names a bad value for an error message without echoing long or
// secret-looking strings.
func describe(v any) string {
	if s, ok := v.(string); ok && len(s) <= 40 {
		return strconv.Quote(s)
	}
	return typeName(v)
}

// Secrets returns the secret strings found in a check's keys, to be redacted
// from every message, log line and page: passwords in URLs and DSNs, and the
// whole value of keys named like a secret.
func Secrets(values map[string]any) []string {
	var out []string
	var walk func(key string, v any)
	walk = func(key string, v any) {
		switch t := v.(type) {
		case string:
			out = append(out, SecretsIn(key, t)...)
		case []any:
			for _, e := range t {
				walk(key, e)
			}
		case map[string]any:
			for k, e := range t {
				walk(k, e)
			}
		}
	}
	for k, v := range values {
		walk(k, v)
	}
	return out
}

var (
	secretKeyRe = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|api_?key|private_?key)`)
	dsnPassRe   = regexp.MustCompile(`(?i)(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)
)

// driverSecrets returns the passwords the driver of a URL's scheme reads
// from it, by the driver's own parser: pgx accepts passwords that net/url
// rejects (a '#'), and the driver is what sends them.
var driverSecrets = map[string]func(string) []string{
	"postgres":   postgresSecrets,
	"postgresql": postgresSecrets,
	"redis":      redisSecrets,
	"rediss":     redisSecrets,
	"unix":       redisSecrets,
	"amqp":       amqpSecrets,
	"amqps":      amqpSecrets,
}

// SecretsIn returns the secrets in one string value stored under key: the
// whole value of a key named like a secret; otherwise every password the
// value's driver, net/url or a key=value DSN parser would find in it, with
// its escaped forms. A password no parser accepts is still taken from the
// user-info part of the URL, both as libpq and as net/url would delimit it.
func SecretsIn(key, value string) []string {
	if value == "" {
		return nil
	}
	if secretKeyRe.MatchString(key) {
		return []string{value}
	}
	var out []string
	add := func(pw string) {
		if pw == "" || slices.Contains(out, pw) {
			return
		}
		out = append(out, pw)
		for _, esc := range []string{url.QueryEscape(pw), url.PathEscape(pw)} {
			if esc != pw && !slices.Contains(out, esc) {
				out = append(out, esc)
			}
		}
	}
	scheme, _, hasScheme := strings.Cut(value, "://")
	if f := driverSecrets[strings.ToLower(scheme)]; hasScheme && f != nil {
		for _, pw := range f(value) {
			add(pw)
		}
	}
	if u, err := url.Parse(value); err == nil {
		if u.User != nil {
			pw, _ := u.User.Password()
			add(pw)
		}
		for k, vs := range u.Query() {
			if secretKeyRe.MatchString(k) {
				for _, v := range vs {
					add(v)
				}
			}
		}
	}
	if hasScheme {
		for _, pw := range rawURLPasswords(value) {
			add(pw)
		}
	}
	if m := dsnPassRe.FindAllStringSubmatch(value, -1); m != nil {
		for _, pw := range postgresSecrets(value) { // unquotes and unescapes
			add(pw)
		}
		for _, mm := range m {
			add(strings.Trim(mm[1], "'"))
		}
	}
	return out
}

// rawURLPasswords finds the password of a URL's user info without parsing
// the rest: libpq ends the user info at the first '@', net/url at the last
// '@' before the path, so both readings are returned. It serves only
// redaction, where a wrong extra guess costs nothing.
func rawURLPasswords(value string) []string {
	_, rest, _ := strings.Cut(value, "://")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	var out []string
	for _, at := range []int{strings.IndexByte(rest, '@'), strings.LastIndexByte(rest, '@')} {
		if at < 0 {
			continue
		}
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
			out = append(out, pw)
			if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
				out = append(out, dec)
			}
		}
	}
	return out
}

// shortSecret is the length below which a secret is redacted only where it
// stands alone.
const shortSecret = 6

// Redact replaces every secret in s with "****", longest first, so that a
// secret inside another one does not leave part of the longer showing.
//
// A secret shorter than shortSecret bytes is replaced only where it is not
// part of a longer run of letters and digits: a password "b" must not turn
// "unavailable" into "unavaila****le", and a word that merely contains the
// letter does not reveal it. Wherever it stands as a token of its own (in a
// URL, after "password=", quoted, between spaces) it is replaced.
func Redact(s string, secrets []string) string {
	if len(secrets) > 1 {
		secrets = slices.Clone(secrets)
		slices.SortStableFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	}
	for _, sec := range secrets {
		if sec == "" || !strings.Contains(s, sec) {
			continue
		}
		if len(sec) >= shortSecret {
			s = strings.ReplaceAll(s, sec, "****")
			continue
		}
		s = redactStandalone(s, sec)
	}
	return s
}

// redactStandalone replaces sec in s where the characters on either side
// do not extend it into a longer word: a letter or digit touching a letter
// or digit at the secret's edge.
func redactStandalone(s, sec string) string {
	first, _ := utf8.DecodeRuneInString(sec)
	last, _ := utf8.DecodeLastRuneInString(sec)
	var b strings.Builder
	for {
		i := strings.Index(s, sec)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(sec):])
		joined := (i > 0 && isWordRune(first) && isWordRune(before)) ||
			(i+len(sec) < len(s) && isWordRune(last) && isWordRune(after))
		b.WriteString(s[:i])
		if joined {
			b.WriteString(sec)
		} else {
			b.WriteString("****")
		}
		s = s[i+len(sec):]
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
