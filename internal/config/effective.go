package config

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/healthd/healthd/internal/checks"
)

// Effective returns the config text as healthd runs it (`healthd config`):
// data (a file's text, or FromEnv's) with every ${VAR} expanded, the values
// flags and HEALTHD_* variables set written in (with a comment naming them),
// and every secret of cfg, the config loaded from data, redacted. Comments
// are kept. opts must be the options cfg was loaded with.
func Effective(data []byte, cfg *Config, opts Options) ([]byte, error) {
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: the top level is not a mapping")
	}
	root := doc.Content[0]
	if err := appendDerivedChecks(root, opts.LookupEnv); err != nil {
		return nil, err
	}
	secrets := cfg.Secrets()
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Kind {
		case yaml.ScalarNode:
			if v, err := expand(n.Value, opts.LookupEnv); err == nil && v != n.Value {
				n.Value, n.Style = v, yaml.DoubleQuotedStyle
				n.Tag = ""
			}
			if r := checks.Redact(n.Value, secrets); r != n.Value {
				n.Value, n.Style, n.Tag = r, yaml.DoubleQuotedStyle, ""
			}
		case yaml.MappingNode, yaml.SequenceNode, yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c)
			}
		case yaml.AliasNode:
			// Expanded where the anchor is.
		}
	}
	walk(root)
	if v := opts.Overrides; v != nil {
		for _, key := range LayeredKeys() {
			if !v.IsSet(key) {
				continue
			}
			section, name, _ := strings.Cut(key, ".")
			sec := mappingValue(root, section)
			if sec == nil || sec.Kind != yaml.MappingNode {
				sec = &yaml.Node{Kind: yaml.MappingNode}
				root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: section}, sec)
			}
			val := checks.Redact(fmt.Sprint(v.Get(key)), secrets)
			n := mappingValue(sec, name)
			if n == nil {
				sec.Content = append(sec.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &yaml.Node{Kind: yaml.ScalarNode})
				n = sec.Content[len(sec.Content)-1]
			}
			n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "", val, yaml.DoubleQuotedStyle
			n.LineComment = "# from " + overrideSource(key, v.Get(key))
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b.Bytes(), nil
}

// appendDerivedChecks adds to root's checks, when root says
// checks_from_env: true, the checks the environment implies, as the loader
// adds them: the printout shows every check that runs, each derived one
// with its "# from VAR" comment. The values are still ${VAR} here; the
// walk expands and redacts them with the file's.
func appendDerivedChecks(root *yaml.Node, lookup func(string) (string, bool)) error {
	on := mappingValue(root, keyChecksFromEnv)
	if on == nil || on.Kind != yaml.ScalarNode {
		return nil
	}
	// As the loader reads it: a YAML boolean, true.
	var b bool
	if on.ShortTag() != "!!bool" || on.Decode(&b) != nil || !b {
		return nil
	}
	_, derived, err := derivedChecks(lookup)
	if err != nil {
		return fmt.Errorf("config: %s: %w", keyChecksFromEnv, err)
	}
	cur := mappingValue(root, "checks")
	if cur == nil {
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "checks"}, derived)
		return nil
	}
	if cur.Kind != yaml.SequenceNode { // checks: with nothing after it
		*cur = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	}
	// Block style, so that each derived check keeps its line and comment
	// even when the file wrote checks: [...].
	cur.Style &^= yaml.FlowStyle
	cur.Content = append(cur.Content, derived.Content...)
	return nil
}

// mappingValue returns the value node under key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
