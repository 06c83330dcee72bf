package config

import (
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// Bounds on what a config may hold. The daemon loads its config again while
// serving (file watcher, SIGHUP, POST /-/reload), so a mistaken or hostile
// file must be refused quickly rather than exhaust memory: YAML aliases
// nest, and a few hundred bytes of them expand to billions of values.
const (
	// MaxFileSize is the most a config file may hold, in bytes.
	MaxFileSize = 1 << 20
	// maxValues bounds the values (mappings, lists and scalars, keys
	// included) the document expands to once every alias is followed;
	// the largest realistic config holds a few thousand.
	maxValues = 100_000
	// maxText bounds the bytes of scalar text the document expands to.
	maxText = 8 << 20
)

// ReadFile reads a config file, at most MaxFileSize bytes of it: a larger
// file (or --config /dev/zero) is an error, not an unbounded read.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathErr(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, unwrapPathErr(err)
	}
	if len(data) > MaxFileSize {
		return nil, errTooLarge
	}
	return data, nil
}

var errTooLarge = fmt.Errorf("the file is larger than %d bytes (1 MiB), the most healthd reads; is it the right file?", MaxFileSize)

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// expansion is what a node expands to with its aliases followed; both
// counts saturate, so a bomb's count does not overflow.
type expansion struct{ values, text int }

func (e expansion) add(o expansion) expansion {
	return expansion{min(e.values+o.values, maxValues+1), min(e.text+o.text, maxText+1)}
}

func (e expansion) over() bool { return e.values > maxValues || e.text > maxText }

// sizer measures expansions, each node once (memoized), so measuring takes
// time linear in the document however far its aliases would expand.
type sizer struct {
	memo   map[*yaml.Node]expansion
	active map[*yaml.Node]bool // being measured: an alias to one is a cycle
	cycle  *yaml.Node          // the first alias found inside its own anchor
}

func (s *sizer) size(n *yaml.Node) expansion {
	if n == nil {
		return expansion{}
	}
	if e, ok := s.memo[n]; ok {
		return e
	}
	if s.active[n] {
		return expansion{maxValues + 1, 0}
	}
	var e expansion
	if n.Kind == yaml.AliasNode {
		if s.active[n.Alias] && s.cycle == nil {
			s.cycle = n
		}
		e = s.size(n.Alias)
	} else {
		s.active[n] = true
		e = expansion{1, len(n.Value)}
		for _, c := range n.Content {
			e = e.add(s.size(c))
		}
		delete(s.active, n)
	}
	s.memo[n] = e
	return e
}

// checkExpansion refuses a document whose aliases expand it beyond the
// bounds, or that holds an alias inside its own anchor (which would expand
// forever), before anything follows an alias. The error is at the first
// alias that alone expands beyond a bound or, when only their sum does, at
// the largest.
func (l *loader) checkExpansion(root *yaml.Node) bool {
	s := &sizer{memo: map[*yaml.Node]expansion{}, active: map[*yaml.Node]bool{}}
	total := s.size(root)
	if s.cycle != nil {
		l.errorf(s.cycle.Line, "", "", "the alias *%s is inside the value it refers to, which would expand forever", s.cycle.Value)
		return false
	}
	if !total.over() {
		return true
	}
	var (
		worst     *yaml.Node
		worstSize expansion
		worstKey  string
	)
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.AliasNode:
			e := s.size(n)
			better := e.values > worstSize.values || (e.values == worstSize.values && e.text > worstSize.text)
			if worst == nil || (!worstSize.over() && (e.over() || better)) {
				worst, worstSize, worstKey = n, e, key
			}
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", key, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if key != "" {
					k = key + "." + k
				}
				walk(n.Content[i], k)
				walk(n.Content[i+1], k)
			}
		}
	}
	walk(root, "")
	switch {
	case worst == nil: // not reached: without aliases, a file within MaxFileSize is within the bounds
		l.errorf(0, "", "", "the document expands to %s; healthd refuses it", total.bound())
	case worstSize.over():
		l.errorf(worst.Line, "", worstKey, "the alias *%s expands to %s (aliases nested in aliases multiply); healthd refuses such a config", worst.Value, worstSize.bound())
	default:
		l.errorf(worst.Line, "", worstKey, "the aliases expand the config to %s, this one *%s the most; healthd refuses such a config", total.bound(), worst.Value)
	}
	return false
}

// bound names the bound e is over.
func (e expansion) bound() string {
	if e.values > maxValues {
		return fmt.Sprintf("more than %d values", maxValues)
	}
	return fmt.Sprintf("more than %d MiB of text", maxText>>20)
}
