// Package config loads and validates healthd's YAML file: the server
// settings, the seed's HEALTH_CHECK thresholds, defaults, and the list of
// checks, each built through the check registry. Loading is all or nothing:
// every mistake is reported together, and nothing runs from a config with
// one.
package config

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
)

// Config is a loaded, validated configuration with its checks built.
type Config struct {
	File        string
	Server      Server
	HealthCheck checks.Settings
	Defaults    Defaults
	// MaxRunsPerTarget bounds the runs in progress at once against one
	// dependency (checks.Targeter): defaults.max_runs_per_target.
	MaxRunsPerTarget int
	Checks           []*Check
	Notify           []Notify
	// EnvSources says which variable built which check, for the checks
	// that came from the environment (no config file, or checks_from_env:
	// true); the daemon logs them at start.
	EnvSources []EnvSource
	EnvNotes   []EnvNote // the variables that built no check, and why
}

// Server holds the `server:` section.
type Server struct {
	Listen          string
	GRPCListen      string // the gRPC health service's address; "" when off
	Path            string // always starts and ends with "/"
	FailureStatus   int
	LogFormat       string // text or json
	LogLevel        slog.Level
	Template        string        // a file replacing the built-in dashboard template
	Refresh         time.Duration // dashboard in-place refresh; 0 disables
	DrainDelay      time.Duration // readiness fails for this long after SIGTERM before the listener closes
	ShutdownTimeout time.Duration
	AuthTokens      []string // bearer tokens; never logged
	TLSCertFile     string
	TLSKeyFile      string
}

// Check is one built check and the settings the runner needs.
type Check struct {
	Name     string
	Type     string
	Critical bool
	Timeout  time.Duration
	CacheTTL time.Duration
	MaxStale time.Duration
	Interval time.Duration // 0: run on demand; else in the background
	Groups   []string
	// FailuresBeforeCritical and SuccessesBeforePassing damp flapping
	// (1 means no damping).
	FailuresBeforeCritical int
	SuccessesBeforePassing int
	History                int // results kept per check

	ComponentType string
	// Spec is the check's own keys, decoded and validated; building it
	// (runner.New) opens its clients.
	Spec    checks.Config
	Secrets []string // to redact from every output
}

// Groups returns every group named by a check, sorted.
func (c *Config) Groups() []string {
	seen := map[string]bool{}
	var out []string
	for _, ch := range c.Checks {
		for _, g := range ch.Groups {
			if !seen[g] {
				seen[g] = true
				out = append(out, g)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Secrets returns every secret of the config (check credentials, auth
// tokens, webhook URLs' credentials), for redaction.
func (c *Config) Secrets() []string {
	out := append([]string(nil), c.Server.AuthTokens...)
	for _, ch := range c.Checks {
		out = append(out, ch.Secrets...)
	}
	for _, n := range c.Notify {
		out = append(out, n.Secrets...)
	}
	return out
}

// Options tune Load. The zero value reads the process environment and uses
// no overrides.
type Options struct {
	Registry *checks.Registry
	// LookupEnv expands ${VAR}; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Overrides holds values from flags and HEALTHD_* variables (see
	// NewOverrides); they win over the file for the scalar server keys.
	Overrides *viper.Viper
	Logger    *slog.Logger
}

// Error is one problem in a config file, or in a flag or environment
// variable that overrides one of its keys.
type Error struct {
	File   string
	Line   int
	Check  string // the check's name, or "#<index>" when it has none
	Key    string
	Msg    string
	Source string // the flag or variable the value came from, when not the file
}

func (e *Error) Error() string {
	if e.Source != "" {
		return e.Source + ": " + e.Msg
	}
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Check != "" {
		fmt.Fprintf(&b, "check %s: ", e.Check)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in a config, one per line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// NewOverrides returns the viper instance that layers flags and HEALTHD_*
// variables over the file. One rule of precedence holds for every scalar key
// of server:, health_check: and defaults: (LayeredKeys): a flag wins over
// the variable HEALTHD_<SECTION>_<KEY> (HEALTHD_SERVER_LISTEN,
// HEALTHD_DEFAULTS_TIMEOUT, HEALTHD_HEALTH_CHECK_DISK_USAGE_MAX), which wins
// over the file, which wins over the default. Callers bind flags to it, each
// named as its key (--listen for server.listen), so that an error in a
// value names the flag or the variable it came from.
func NewOverrides() *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("HEALTHD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	for _, k := range LayeredKeys() {
		_ = v.BindEnv(k)
	}
	return v
}

// layeredSections are the sections whose scalar keys flags and variables
// may set, with their declarations.
func layeredSections() map[string][]checks.Key {
	out := map[string][]checks.Key{}
	for _, s := range fileSections {
		if s.layered {
			out[s.name] = checks.KeysOf(s.keys())
		}
	}
	return out
}

// LayeredKeys lists the keys ("server.listen") that flags and HEALTHD_*
// variables may set: every scalar key of the layered sections, from their
// declarations.
func LayeredKeys() []string {
	var out []string
	for section, keys := range layeredSections() {
		for _, k := range keys {
			switch k.Kind {
			case "section", "list of sections", "list of strings", "mapping":
				continue
			}
			out = append(out, section+"."+k.Name)
		}
	}
	sort.Strings(out)
	return out
}

// EnvName is the variable that sets a layered key: HEALTHD_SERVER_LISTEN.
func EnvName(key string) string {
	return "HEALTHD_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// layer sets in raw, the file's mapping of section, the keys that a flag or
// variable sets in the overrides, and returns where each came from.
func (l *loader) layer(section string, raw map[string]any) map[string]string {
	v := l.opts.Overrides
	if v == nil {
		return nil
	}
	sources := map[string]string{}
	for _, key := range LayeredKeys() {
		name, ok := strings.CutPrefix(key, section+".")
		if !ok || !v.IsSet(key) {
			continue
		}
		raw[name] = v.Get(key)
		sources[name] = overrideSource(key, raw[name])
	}
	return sources
}

// collectLayered is collect for a layered section: an error in a value that
// a flag or variable set names that flag or variable instead of a line.
func (l *loader) collectLayered(err error, e entry, section string, sources map[string]string) {
	for _, err := range flatten(err) {
		var ke *checks.KeyError
		if errors.As(err, &ke) && sources[ke.Key] != "" {
			l.errs = append(l.errs, &Error{File: l.file, Key: section + "." + ke.Key, Msg: ke.Msg, Source: sources[ke.Key]})
		} else {
			l.collect(err, e.node, e.line, "", section+".")
		}
	}
}

// Load reads, expands, validates and builds the config in path. On error the
// returned error is an Errors listing every problem; no clients are left open.
func Load(path string, opts Options) (*Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}}
	}
	return Parse(path, data, opts)
}

// Parse is Load on bytes already read (with ReadFile); name is used in
// messages.
func Parse(name string, data []byte, opts Options) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Msg: fmt.Sprintf("cannot read config: %v", errTooLarge)}}
	}
	if opts.Registry == nil {
		opts.Registry = checks.Builtin()
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	l := &loader{file: name, opts: opts, unexpanded: map[string]bool{}}
	cfg := l.parse(data)
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return cfg, nil
}

type loader struct {
	file string
	opts Options
	errs Errors
	// unexpanded holds the keys (check + "\x00" + key) whose ${...} did not
	// expand: the error says why, and what their raw text then fails is noise.
	unexpanded map[string]bool
}

func (l *loader) errorf(line int, check, key, format string, args ...any) {
	if l.unexpanded[check+"\x00"+key] {
		return
	}
	l.errs = append(l.errs, &Error{File: l.file, Line: line, Check: check, Key: key, Msg: fmt.Sprintf(format, args...)})
}

// expandFailed records that key's value did not expand.
func (l *loader) expandFailed(line int, check, key string, err error) {
	l.errorf(line, check, key, "%v", err)
	l.unexpanded[check+"\x00"+key] = true
}

// collect turns a KeyError list from decoding into config errors under
// prefix, at the line of the offending key when node (the section's
// mapping) has it, else at line.
func (l *loader) collect(err error, node *yaml.Node, line int, check, prefix string) {
	if err == nil {
		return
	}
	for _, e := range flatten(err) {
		var ke *checks.KeyError
		if errors.As(e, &ke) {
			l.errorf(keyLine(node, ke.Key, line), check, prefix+ke.Key, "%s", ke.Msg)
		} else {
			l.errorf(line, check, "", "%v", e)
		}
	}
}

// keyLine returns the line of the first component of key ("a.b", "q[1].x")
// in the mapping node, or def.
func keyLine(node *yaml.Node, key string, def int) int {
	if node == nil || node.Kind != yaml.MappingNode {
		return def
	}
	first := strings.SplitN(strings.SplitN(key, ".", 2)[0], "[", 2)[0]
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == first {
			return node.Content[i].Line
		}
	}
	return def
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ReservedNamePrefix starts the keys healthd adds to the JSON map itself
// ("healthd:shutdown"), so no check may take one.
const ReservedNamePrefix = "healthd:"

// checkNameRe is nameRe with spaces and ':' inside, so that a check can
// keep the key django-health-check 3.x gives it ("Cache backend: default").
var checkNameRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_.: -]{0,62}[A-Za-z0-9_.:-])?$`)

func (l *loader) parse(data []byte) *Config {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.errorf(0, "", "", "config is empty: it needs at least a checks: list")
			return nil
		}
		l.errorf(0, "", "", "not valid YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil
	}
	if !l.singleDocument(dec) || !l.checkExpansion(&doc) {
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		l.errorf(root.Line, "", "", "the top level must be a mapping with server, health_check, defaults and checks")
		return nil
	}
	top := l.mapping(root, "", "")
	cfg := &Config{File: l.file}
	sections := append(sectionNames(), keyChecksFromEnv)
	for _, k := range sortedKeys(top) {
		if !contains(sections, k) {
			msg := "unknown section"
			if s := checks.Suggest(k, sections); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			l.errorf(top[k].line, "", k, "%s", msg)
		}
	}
	l.server(cfg, top["server"])
	l.healthCheck(cfg, top["health_check"])
	l.defaults(cfg, top["defaults"])
	l.notify(cfg, top["notify"])
	derived := l.checksFromEnv(top)
	l.checks(cfg, top["checks"])
	if derived != nil {
		cfg.EnvSources, cfg.EnvNotes = derived.Sources, derived.Notes
		if es, ok := derived.Explain(l.errs).(Errors); ok {
			l.errs = es
		}
	}
	if len(l.errs) == 0 {
		l.notifyChecks(cfg, top["notify"])
	}
	return cfg
}

// keyChecksFromEnv is the top-level key that adds the checks the
// environment implies (FromEnv) to the file's.
const keyChecksFromEnv = "checks_from_env"

// checksFromEnv appends to top's checks the entries FromEnv derives when
// checks_from_env is true, and returns the derivation (nil when off). The
// derived entries have no line: their errors name the variable instead.
func (l *loader) checksFromEnv(top map[string]entry) *Derived {
	e, ok := top[keyChecksFromEnv]
	if !ok {
		return nil
	}
	on, isBool := e.value.(bool)
	if !isBool {
		l.errorf(e.line, "", keyChecksFromEnv, "must be true or false")
		return nil
	}
	if !on {
		return nil
	}
	d, derived, err := derivedChecks(l.opts.LookupEnv)
	if err != nil {
		var es Errors
		if errors.As(err, &es) {
			for _, e := range es {
				e2 := *e
				e2.File = l.file
				l.errs = append(l.errs, &e2)
			}
			return nil
		}
		l.errorf(e.line, "", keyChecksFromEnv, "%v", err)
		return nil
	}
	var zero func(n *yaml.Node)
	zero = func(n *yaml.Node) {
		n.Line = 0
		for _, c := range n.Content {
			zero(c)
		}
	}
	zero(derived)
	cur := top["checks"]
	if cur.node == nil || cur.node.Tag == "!!null" {
		cur = entry{line: e.line, node: &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}}
	}
	if cur.node.Kind == yaml.SequenceNode {
		cur.node.Content = append(cur.node.Content, derived.Content...)
	}
	top["checks"] = cur
	return d
}

// derivedChecks derives the config the environment implies and returns it
// with its checks: the sequence node that checks_from_env: true appends to
// a file's checks (the loader, and Effective to print them).
func derivedChecks(lookup func(string) (string, bool)) (*Derived, *yaml.Node, error) {
	d, err := FromEnv(lookup)
	if err != nil {
		return nil, nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(d.YAML, &doc); err != nil {
		return nil, nil, fmt.Errorf("the derived checks do not parse: %w", err)
	}
	return d, mappingValue(doc.Content[0], "checks"), nil
}

// singleDocument reads the documents after the first and reports any that
// is not empty: healthd reads one, and silently ignoring the rest would
// hide half a config.
func (l *loader) singleDocument(dec *yaml.Decoder) bool {
	n, line := 1, 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			l.errorf(0, "", "", "not valid YAML: %v", strings.TrimPrefix(err.Error(), "yaml: "))
			return false
		}
		if len(doc.Content) == 1 && doc.Content[0].Tag == "!!null" && doc.Content[0].Value == "" {
			continue // a trailing "---" alone
		}
		if n++; line == 0 {
			line = doc.Line
		}
	}
	if n > 1 {
		l.errorf(line, "", "", "the file holds %d YAML documents (separated by ---); healthd reads one", n)
		return false
	}
	return true
}

// entry is a decoded YAML value with the line of its key.
type entry struct {
	line  int
	value any
	node  *yaml.Node
}

// mapping decodes a mapping node into entries, expanding ${VAR} in strings.
func (l *loader) mapping(n *yaml.Node, check, prefix string) map[string]entry {
	out := map[string]entry{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, dup := out[k.Value]; dup {
			l.errorf(k.Line, check, prefix+k.Value, "set twice")
			continue
		}
		e := entry{line: k.Line, node: v}
		if check != "" || k.Value != "checks" { // each check is decoded on its own, with its label
			e.value = l.value(v, check, prefix+k.Value)
		}
		out[k.Value] = e
	}
	return out
}

// value turns a node into plain Go values (string, int, float64, bool, nil,
// []any, map[string]any), expanding the environment in strings.
func (l *loader) value(n *yaml.Node, check, key string) any {
	switch n.Kind {
	case yaml.AliasNode:
		return l.value(n.Alias, check, key)
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			s, err := expand(n.Value, l.opts.LookupEnv)
			if err != nil {
				l.expandFailed(n.Line, check, key, err)
			}
			return s
		}
		var v any
		if err := n.Decode(&v); err != nil {
			l.errorf(n.Line, check, key, "%v", err)
			return nil
		}
		if s, ok := v.(string); ok {
			s, err := expand(s, l.opts.LookupEnv)
			if err != nil {
				l.expandFailed(n.Line, check, key, err)
			}
			return s
		}
		return v
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = l.value(c, check, fmt.Sprintf("%s[%d]", key, i))
		}
		return out
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			out[k] = l.value(n.Content[i+1], check, key+"."+k)
		}
		return out
	}
	return nil
}

// expand replaces ${VAR} and ${VAR:-default}; $$ is a literal $. An unset
// variable without a default is an error: an empty DSN would only fail later,
// more obscurely. Errors locate the problem by its position and never quote
// the value, which may be a password (a "${" in one is a typo for "$${").
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '{':
		default:
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return s, fmt.Errorf("unclosed ${ at character %d of the value (write $$ for a literal $)", charPos(s, i))
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !envNameRe.MatchString(name) {
			return s, fmt.Errorf("the ${...} at character %d of the value holds no variable name: letters, digits and _, not starting with a digit (write $$ for a literal $)", charPos(s, i))
		}
		v, ok := lookup(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		case ok:
		default:
			return s, fmt.Errorf("environment variable %s is not set (use ${%s:-default} for a default)", name, name)
		}
		i += end
	}
	return b.String(), nil
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// charPos is the 1-based position, in characters, of byte i of s.
func charPos(s string, i int) int { return utf8.RuneCountInString(s[:i]) + 1 }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// section returns the mapping of a layered top-level section, the file's
// keys with the flags' and variables' over them, and where those came from.
func (l *loader) section(e entry, name string) (map[string]any, map[string]string) {
	m := map[string]any{}
	if e.node != nil && e.value != nil {
		var ok bool
		if m, ok = e.value.(map[string]any); !ok {
			l.errorf(e.line, "", name, "must be a mapping")
			m = map[string]any{}
		}
	}
	return m, l.layer(name, m)
}

// decodeSection decodes raw, one mapping of the file, into keys, the
// section's declaration holding its defaults (sections.go), and returns
// the problems found; the section's validation adds its own. Beyond
// checks.Decode, as the loader always has, it names a nested section that
// is not a mapping by its keys ("must be a mapping with cert_file and
// key_file"), and refuses an empty value for a key with a list of values.
func decodeSection(raw map[string]any, keys any, also ...string) checks.Problems {
	var p checks.Problems
	for _, k := range checks.KeysOf(keys) {
		v := raw[k.Name]
		switch {
		case v == nil:
		case k.Kind == "section":
			if _, ok := v.(map[string]any); !ok {
				p.Add(k.Name, "must be a mapping with %s", andList(keyNames(k.Nested)))
				raw = without(raw, k.Name)
			}
		case k.Kind == "string" && len(k.Enum) > 0 && v == "":
			p.Add(k.Name, "must be %s, not %q", orList(k.Enum), "")
		}
	}
	if err := checks.Decode(raw, keys, also...); err != nil {
		p = append(p, flatten(err)...)
	}
	return p
}

// without returns a copy of m without key.
func without(m map[string]any, key string) map[string]any {
	out := copyMap(m)
	delete(out, key)
	return out
}

// isSet reports whether the mapping m sets the key at path (a, or a and b
// within it) to a value other than null.
func isSet(m map[string]any, path ...string) bool {
	for i, k := range path {
		v := m[k]
		if i == len(path)-1 {
			return v != nil
		}
		if m, _ = v.(map[string]any); m == nil {
			return false
		}
	}
	return false
}

func (l *loader) server(cfg *Config, e entry) {
	raw, sources := l.section(e, "server")
	// Removed after 0.3.0 with the page release it switched on. A config
	// written for 0.3 still sets it (healthd-full.yaml did): warn and go on,
	// so an upgrade does not stop at a key that no longer changes anything.
	if _, set := raw["release_startup_pages"]; set {
		if raw["release_startup_pages"] != nil {
			l.opts.Logger.Warn("ignoring a removed config key: healthd no longer releases its binary's pages; delete the key", "file", l.file,
				"line", keyLine(e.node, "release_startup_pages", e.line), "key", "server.release_startup_pages",
				"see", "docs/performance.md#memory")
		}
		raw = without(raw, "release_startup_pages")
	}
	k := defaultServerKeys()
	p := decodeSection(raw, &k, removedServerKeys...)
	cfg.Server = k.resolve(raw, &p)
	l.collectLayered(p.Err(), e, "server", sources)
}

// resolve checks the server keys as serve will use them, reporting to p,
// and returns them as the daemon reads them.
func (k serverKeys) resolve(raw map[string]any, p *checks.Problems) Server {
	s := Server{
		Listen:          k.Listen,
		GRPCListen:      k.GRPCListen,
		FailureStatus:   k.FailureStatus,
		LogFormat:       k.LogFormat,
		LogLevel:        slog.Level(k.LogLevel),
		Template:        k.Template,
		Refresh:         k.Refresh,
		DrainDelay:      k.DrainDelay,
		ShutdownTimeout: k.ShutdownTimeout,
	}
	if err := checkListen(s.Listen); err != nil {
		p.Add("listen", "%v", err)
	}
	if s.GRPCListen != "" {
		if err := checkListen(s.GRPCListen); err != nil {
			p.Add("grpc_listen", "%v", err)
		} else if s.GRPCListen == s.Listen {
			p.Add("grpc_listen", "must differ from listen (%s): HTTP and gRPC need a port each", s.Listen)
		}
	}
	if !strings.HasPrefix(k.Path, "/") {
		p.Add("path", "must start with /")
	}
	s.Path = "/" + strings.Trim(k.Path, "/") + "/"
	if s.Path == "//" {
		s.Path = "/"
	}
	if builtin := shadowedPath(s.Path); builtin != "" {
		p.Add("path", "must not be %s: healthd serves %s there itself, and the checks would hide it", strings.TrimSuffix(s.Path, "/"), builtin)
	}
	if s.FailureStatus < 400 || s.FailureStatus > 599 {
		p.Add("failure_status", "must be a 4xx or 5xx status such as 500 or 503, not %d", s.FailureStatus)
	}
	if s.Template != "" {
		if err := checkTemplate(s.Template); err != nil {
			p.Add("template", "%v", err)
		}
	}
	if k.Auth != nil {
		for _, t := range k.Auth.Tokens {
			if t = strings.TrimSpace(t); t != "" {
				s.AuthTokens = append(s.AuthTokens, t)
			}
		}
		if isSet(raw, "auth", "tokens") && len(s.AuthTokens) == 0 {
			p.Add("auth.tokens", "is set but every token is empty (is the environment variable set?)")
		}
	}
	if k.TLS != nil {
		s.TLSCertFile, s.TLSKeyFile = k.TLS.CertFile, k.TLS.KeyFile
		checkTLS(s.TLSCertFile, s.TLSKeyFile, p)
	}
	return s
}

// overrideSource names where an override of key came from: its
// HEALTHD_* variable when that holds the value, else the flag named as the
// key (a flag wins over the variable).
func overrideSource(key string, value any) string {
	env := EnvName(key)
	if v, ok := os.LookupEnv(env); ok && v == fmt.Sprint(value) {
		return env
	}
	_, name, _ := strings.Cut(key, ".")
	return "--" + strings.ReplaceAll(name, "_", "-")
}

// checkListen checks addr as net.Listen("tcp", addr) reads it, without
// binding or resolving anything.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port or :port, such as :8000 or 127.0.0.1:8000, not %q", addr)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if n < 0 || n > 65535 {
			return fmt.Errorf("port %d is out of range (0 to 65535)", n)
		}
	} else if _, err := net.LookupPort("tcp", port); port != "" && err != nil {
		return fmt.Errorf("port %q is neither a number nor a known service name", port)
	}
	if host != "" && !hostRe.MatchString(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q is neither an IP address nor a host name", host)
		}
	}
	return nil
}

var hostRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$`)

// builtinPaths are served by healthd whatever server.path is.
var builtinPaths = []string{"/ping", "/metrics", "/-/reload"}

// shadowedPath returns the built-in endpoint that the checks served at
// path (which starts and ends with "/") would hide, or "". /-/ is kept for
// healthd's own endpoints.
func shadowedPath(path string) string {
	if strings.HasPrefix(path, "/-/") {
		return "/-/reload"
	}
	if p := strings.TrimSuffix(path, "/"); contains(builtinPaths, p) {
		return p
	}
	return ""
}

// checkTemplate reads and parses a dashboard template as the server will,
// so that validate reports what would stop serve. (The server also checks
// the template against its Content-Security-Policy.)
func checkTemplate(file string) error {
	data, err := ReadFile(file)
	if err != nil {
		return fmt.Errorf("cannot read the template: %v", err)
	}
	if _, err := template.New(file).Parse(string(data)); err != nil {
		return fmt.Errorf("the template does not parse: %v", strings.TrimPrefix(err.Error(), "template: "))
	}
	return nil
}

// checkTLS reads the certificate and key, as serve will, so that a missing
// file or a certificate that does not go with its key fails validate.
func checkTLS(certFile, keyFile string, p *checks.Problems) {
	if (certFile == "") != (keyFile == "") {
		p.Add("tls.cert_file", "cert_file and key_file go together")
		return
	}
	if certFile == "" {
		return
	}
	cert, certErr := ReadFile(certFile)
	if certErr != nil {
		p.Add("tls.cert_file", "cannot read the certificate: %v", certErr)
	}
	key, keyErr := ReadFile(keyFile)
	if keyErr != nil {
		p.Add("tls.key_file", "cannot read the key: %v", keyErr)
	}
	if certErr == nil && keyErr == nil {
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			p.Add("tls", "cert_file and key_file are not a certificate and its key: %v", strings.TrimPrefix(err.Error(), "tls: "))
		}
	}
}

func (l *loader) healthCheck(cfg *Config, e entry) {
	raw, sources := l.section(e, "health_check")
	k := defaultHealthCheckKeys()
	p := decodeSection(raw, &k)
	if v := k.DiskUsageMax; v != nil && (*v < 0 || *v > 100) {
		p.Add("DISK_USAGE_MAX", "must be a percentage from 0 to 100, or null to disable")
	}
	if v := k.MemoryMin; v != nil && *v < 0 {
		p.Add("MEMORY_MIN", "must be MB available (0 or more), or null to disable")
	}
	cfg.HealthCheck = checks.Settings(k) // the same fields: a key added to one only does not compile
	l.collectLayered(p.Err(), e, "health_check", sources)
}

func (l *loader) defaults(cfg *Config, e entry) {
	raw, sources := l.section(e, "defaults")
	k := defaultDefaultsKeys()
	p := decodeSection(raw, &k)
	k.Defaults.validate(raw, &p)
	if k.MaxRunsPerTarget < 1 {
		p.Add("max_runs_per_target", "must be 1 or more")
	}
	cfg.Defaults, cfg.MaxRunsPerTarget = k.Defaults, k.MaxRunsPerTarget
	l.collectLayered(p.Err(), e, "defaults", sources)
}

// validate checks the keys a check and the defaults section share that
// raw sets (an inherited value was checked where it was set).
func (d Defaults) validate(raw map[string]any, p *checks.Problems) {
	if d.Timeout <= 0 && isSet(raw, "timeout") {
		p.Add("timeout", "must be more than 0")
	}
	if d.Interval > 0 && d.Interval < 100*time.Millisecond && isSet(raw, "interval") {
		p.Add("interval", "must be at least 100ms (or 0 to run on demand)")
	}
	if (d.History < 1 || d.History > 100000) && isSet(raw, "history") {
		p.Add("history", "must be from 1 to 100000")
	}
	if d.FailuresBeforeCritical < 1 && isSet(raw, "failures_before_critical") {
		p.Add("failures_before_critical", "must be 1 or more")
	}
	if d.SuccessesBeforePassing < 1 && isSet(raw, "successes_before_passing") {
		p.Add("successes_before_passing", "must be 1 or more")
	}
}

func (l *loader) notify(cfg *Config, e entry) {
	if e.value == nil {
		return
	}
	list, ok := e.value.([]any)
	if !ok {
		l.errorf(e.line, "", "notify", "must be a list of webhooks")
		return
	}
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			l.errorf(e.line, "", fmt.Sprintf("notify[%d]", i), "must be a mapping with url")
			continue
		}
		n := defaultNotifyKeys()
		p := decodeSection(m, &n)
		if n.URL != "" && !strings.HasPrefix(n.URL, "http://") && !strings.HasPrefix(n.URL, "https://") {
			p.Add("url", "must be an http:// or https:// URL")
		}
		if n.Retries < 0 || n.Retries > 10 {
			p.Add("retries", "must be from 0 to 10")
		}
		if n.Timeout <= 0 {
			p.Add("timeout", "must be more than 0")
		}
		// The URL and the header values whole (secret keys), and any
		// credential found in the others.
		n.Secrets = append(checks.Secrets(m), checks.SecretValues(&n)...)
		cfg.Notify = append(cfg.Notify, n)
		node, line := (*yaml.Node)(nil), e.line
		if e.node != nil && e.node.Kind == yaml.SequenceNode && i < len(e.node.Content) {
			node, line = e.node.Content[i], e.node.Content[i].Line
		}
		l.collect(p.Err(), node, line, "", fmt.Sprintf("notify[%d].", i))
	}
}

// notifyChecks reports check names in notify[].checks that no check has.
func (l *loader) notifyChecks(cfg *Config, e entry) {
	known := map[string]bool{}
	names := make([]string, 0, len(cfg.Checks))
	for _, c := range cfg.Checks {
		known[c.Name] = true
		names = append(names, c.Name)
	}
	for i, n := range cfg.Notify {
		for j, name := range n.Checks {
			if !known[name] {
				msg := fmt.Sprintf("no check is called %q", name)
				if s := checks.Suggest(name, names); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				line := e.line
				if e.node != nil && e.node.Kind == yaml.SequenceNode && i < len(e.node.Content) {
					line = keyLine(e.node.Content[i], "checks", e.node.Content[i].Line)
				}
				l.errorf(line, "", fmt.Sprintf("notify[%d].checks[%d]", i, j), "%s", msg)
			}
		}
	}
}

func (l *loader) checks(cfg *Config, e entry) {
	if e.node == nil || e.node.Tag == "!!null" {
		l.errorf(e.line, "", "checks", "is missing: list at least one check")
		return
	}
	if e.node.Kind != yaml.SequenceNode {
		l.errorf(e.line, "", "checks", "must be a list of checks")
		return
	}
	names := map[string]int{}
	for i, n := range e.node.Content {
		label := fmt.Sprintf("#%d", i+1)
		if nm := scalarValue(n, "name"); checkNameRe.MatchString(nm) {
			label = fmt.Sprintf("%q", nm) // before decoding: errors of decoding name the check too
		}
		if n.Kind != yaml.MappingNode {
			l.errorf(n.Line, label, "", "must be a mapping with name and type")
			continue
		}
		entries := l.mapping(n, label, "")
		if nm, ok := entries["name"].value.(string); ok && nm != "" {
			label = fmt.Sprintf("%q", nm)
		}
		c := l.check(cfg, entries, n, label)
		if c == nil {
			continue
		}
		if first, dup := names[c.Name]; dup {
			l.errorf(n.Line, label, "name", "duplicate check name (also check #%d); give each check its own name", first)
		} else {
			names[c.Name] = i + 1
		}
		cfg.Checks = append(cfg.Checks, c)
	}
	if len(e.node.Content) == 0 {
		l.errorf(e.line, "", "checks", "is empty: list at least one check")
	}
}

// scalarValue returns the text of a mapping node's scalar under key, as
// written (before expansion), or "".
func scalarValue(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == key && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

func (l *loader) check(cfg *Config, entries map[string]entry, node *yaml.Node, label string) *Check {
	line := node.Line
	common := map[string]any{}
	own := map[string]any{}
	for k, e := range entries {
		if contains(commonKeys, k) {
			common[k] = e.value
		} else {
			own[k] = e.value
		}
	}
	k := checkKeys{Defaults: cfg.Defaults}
	p := decodeSection(common, &k)
	k.Defaults.validate(common, &p)
	c := &Check{
		Name:     k.Type,
		Type:     k.Type,
		Critical: k.Critical,
		Timeout:  k.Timeout,
		CacheTTL: k.CacheTTL,
		MaxStale: k.MaxStale,
		Interval: k.Interval,
		Groups:   k.Groups,

		FailuresBeforeCritical: k.FailuresBeforeCritical,
		SuccessesBeforePassing: k.SuccessesBeforePassing,
		History:                k.History,
	}
	if k.Name != nil {
		c.Name = *k.Name
	}
	if c.Name != "" && !checkNameRe.MatchString(c.Name) {
		p.Add("name", "must be 1 to 64 letters, digits, '.', '_', '-', ':' or spaces, starting with a letter or digit and not ending with a space")
	} else if strings.HasPrefix(c.Name, ReservedNamePrefix) {
		p.Add("name", "must not start with %q: healthd's own entries in the JSON map do", ReservedNamePrefix)
	}
	for i, g := range c.Groups {
		if !nameRe.MatchString(g) || g == "check" || g == "metrics" {
			p.Add(fmt.Sprintf("groups[%d]", i), "group %q must be letters, digits, '.', '_' or '-', and not check or metrics", g)
		} else if g == "ping" && cfg.Server.Path == "/" {
			p.Add(fmt.Sprintf("groups[%d]", i), "group ping would be served at /ping, healthd's own endpoint, since server.path is /")
		}
	}
	l.collect(p.Err(), node, line, label, "")
	if c.Type == "" {
		return nil
	}
	typ, ok := l.opts.Registry.Lookup(c.Type)
	if !ok {
		msg := fmt.Sprintf("unknown check type %q; known types: %s", c.Type, strings.Join(l.opts.Registry.Names(), ", "))
		if s := checks.Suggest(c.Type, l.opts.Registry.Names()); s != "" {
			msg = fmt.Sprintf("unknown check type %q (did you mean %q?); known types: %s", c.Type, s, strings.Join(l.opts.Registry.Names(), ", "))
		}
		l.errorf(entries["type"].line, label, "type", "%s", msg)
		return nil
	}
	c.ComponentType = typ.ComponentType
	c.Secrets = checks.Secrets(own)
	spec, err := safeParse(typ, copyMap(own), cfg.HealthCheck)
	if err != nil {
		for _, e := range flatten(err) {
			var ke *checks.KeyError
			if errors.As(e, &ke) {
				ln := line
				if en, ok := entries[strings.SplitN(strings.SplitN(ke.Key, ".", 2)[0], "[", 2)[0]]; ok {
					ln = en.line
				}
				l.errorf(ln, label, ke.Key, "%s", checks.Redact(ke.Msg, c.Secrets))
			} else {
				l.errorf(line, label, "", "%s", checks.Redact(e.Error(), c.Secrets))
			}
		}
		return nil
	}
	if s, ok := spec.(checks.Secreter); ok {
		c.Secrets = append(c.Secrets, s.Secrets()...)
	}
	c.Spec = spec
	return c
}

// safeParse decodes and validates a check's keys; a panic in a check type's
// code is a config error: a bad config must never crash the daemon.
func safeParse(typ checks.Type, own map[string]any, s checks.Settings) (spec checks.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			spec, err = nil, fmt.Errorf("check type failed to validate: %v", r)
		}
	}()
	return typ.Parse(own, s, commonKeys...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
