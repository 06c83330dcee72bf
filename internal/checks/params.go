package checks

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
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

// Params gives the config loader typed, strict access to the keys of its own
// sections (server, health_check, defaults, notify, a check's common keys);
// a check type declares its keys instead (keys.go). Every getter records
// what it read; Err reports keys nobody read (misspellings) together with
// every type error, so the user sees all problems at once.
type Params struct {
	children []*Params // nested sections, checked for unknown keys with p
	prefix   string
	values   map[string]any
	used     map[string]bool
	errs     *[]error
}

// NewParams wraps the keys of one section (as decoded from YAML, with the
// environment already expanded).
func NewParams(values map[string]any) *Params {
	return &Params{values: values, used: map[string]bool{}, errs: new([]error)}
}

func (p *Params) path(key string) string {
	if p.prefix == "" {
		return key
	}
	return p.prefix + "." + key
}

// Errorf records a validation error for key.
func (p *Params) Errorf(key, format string, args ...any) {
	*p.errs = append(*p.errs, &KeyError{Key: p.path(key), Msg: fmt.Sprintf(format, args...)})
}

func (p *Params) get(key string) (any, bool) {
	p.used[key] = true
	v, ok := p.values[key]
	return v, ok && v != nil
}

// Raw returns key's value as decoded from YAML, for nested sections.
func (p *Params) Raw(key string) (any, bool) {
	return p.get(key)
}

// Has reports whether key is set to a non-null value.
func (p *Params) Has(key string) bool {
	v, ok := p.values[key]
	return ok && v != nil
}

// String returns key's value, or def when it is absent.
func (p *Params) String(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch s := v.(type) {
	case string:
		return s
	case int, float64, bool:
		return fmt.Sprint(s)
	}
	p.Errorf(key, "must be a string, not %s", typeName(v))
	return def
}

// Required returns key's value and records an error when it is missing or empty.
func (p *Params) Required(key string) string {
	p.used[key] = true
	if !p.Has(key) {
		p.Errorf(key, "is required")
		return ""
	}
	s := p.String(key, "")
	if s == "" {
		p.Errorf(key, "must not be empty")
	}
	return s
}

// Bool returns key's value, or def when it is absent.
func (p *Params) Bool(key string, def bool) bool {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch b := v.(type) {
	case bool:
		return b
	case string: // after ${VAR} expansion
		if r, err := strconv.ParseBool(b); err == nil {
			return r
		}
	}
	p.Errorf(key, "must be true or false, not %s", describe(v))
	return def
}

// Int returns key's value, or def when it is absent.
func (p *Params) Int(key string, def int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	switch n := v.(type) {
	case int:
		return n
	case float64:
		if n == math.Trunc(n) {
			return int(n)
		}
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i
		}
	}
	p.Errorf(key, "must be a whole number, not %s", describe(v))
	return def
}

// Float returns key's value; absent gives def, and null gives nil (disabled).
func (p *Params) Float(key string, def *float64) *float64 {
	p.used[key] = true
	raw, present := p.values[key]
	if !present {
		return def
	}
	if raw == nil {
		return nil
	}
	f, ok := toFloat(raw)
	if !ok {
		p.Errorf(key, "must be a number or null, not %s", describe(raw))
		return def
	}
	return &f
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case float64:
		return n, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		return f, err == nil
	}
	return 0, false
}

// Duration returns key's value ("250ms", "2s"), or def when it is absent.
func (p *Params) Duration(key string, def time.Duration) time.Duration {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	d, err := ParseDuration(v)
	if err != nil {
		p.Errorf(key, "%v", err)
		return def
	}
	return d
}

// ParseDuration accepts Go duration strings ("1.5s", "250ms"). A bare 0 is
// allowed; other bare numbers are refused because the unit would be a guess.
func ParseDuration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case string:
		r, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as 500ms or 2s, not %q", d)
		}
		if r < 0 {
			return 0, fmt.Errorf("must not be negative, got %q", d)
		}
		return r, nil
	case int:
		if d == 0 {
			return 0, nil
		}
	}
	return 0, fmt.Errorf("must be a duration with a unit such as 500ms or 2s, not %s", describe(v))
}

// Strings returns a list of strings; a single string is taken as a list of one.
func (p *Params) Strings(key string) []string {
	v, ok := p.get(key)
	if !ok {
		return nil
	}
	switch l := v.(type) {
	case string:
		return []string{l}
	case []any:
		out := make([]string, 0, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				p.Errorf(fmt.Sprintf("%s[%d]", key, i), "must be a string, not %s", describe(e))
				continue
			}
			out = append(out, s)
		}
		return out
	}
	p.Errorf(key, "must be a list of strings, not %s", describe(v))
	return nil
}

// Section returns the nested mapping under key (server.auth, server.tls),
// strict on its own keys, with errors named "key.sub"; nil when key is
// absent or null. what completes "must be a mapping with …".
func (p *Params) Section(key, what string) *Params {
	v, ok := p.get(key)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.Errorf(key, "must be a mapping with %s", what)
		return nil
	}
	return p.child(key, m)
}

// child returns nested Params sharing p's errors; p.Err reports its unknown
// keys too.
func (p *Params) child(key string, m map[string]any) *Params {
	c := &Params{prefix: p.path(key), values: m, used: map[string]bool{}, errs: p.errs}
	p.children = append(p.children, c)
	return c
}

// Err returns every recorded error plus one per unknown key, sorted by key,
// joined with errors.Join. Call it after reading all keys.
func (p *Params) Err() error {
	p.unknown()
	if len(*p.errs) == 0 {
		return nil
	}
	errs := append([]error(nil), *p.errs...)
	sort.SliceStable(errs, func(i, j int) bool {
		return errs[i].(*KeyError).Key < errs[j].(*KeyError).Key
	})
	return errors.Join(errs...)
}

// unknown records unread keys of p and of its nested sections.
func (p *Params) unknown() {
	for _, c := range p.children {
		c.unknown()
	}
	known := make([]string, 0, len(p.used))
	for k := range p.used {
		known = append(known, k)
	}
	sort.Strings(known)
	for k := range p.values {
		if p.used[k] {
			continue
		}
		msg := "unknown key"
		if s := Suggest(k, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		p.Errorf(k, "%s", msg)
	}
}

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
