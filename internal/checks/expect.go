package checks

import (
	"context"
	"strconv"
	"strings"
)

// valueExpectation is what a value read from a dependency must be: the
// first column of a sql check's row, a field of an http check's JSON body.
// Its keys are the same wherever it is embedded, so sql and expect_json
// read alike.
type valueExpectation struct {
	Equals      textValue `key:"equals" doc:"the value's text form must be exactly this (a number or boolean in YAML is compared as its text: 0, true)"`
	WarnAbove   *float64  `key:"warn_above" default:"off" doc:"warn when the value, as a number, is above this"`
	FailAbove   *float64  `key:"fail_above" default:"off" doc:"fail when the value, as a number, is above this"`
	WarnBelow   *float64  `key:"warn_below" default:"off" doc:"warn when the value, as a number, is below this"`
	FailBelow   *float64  `key:"fail_below" default:"off" doc:"fail when the value, as a number, is below this"`
	Measurement string    `key:"measurement" doc:"the name of the value's observation, health+json's <check>:<measurement> (when not set: value for sql, the path for expect_json)"`
	Unit        string    `key:"unit" doc:"the observation's unit (health+json's observedUnit): s, ms, rows, messages…"`
}

// validate adds the expectation's problems to p; prefix is "" or the
// item's key path ("expect_json[0].").
func (e *valueExpectation) validate(p *Problems, prefix string) {
	if e.WarnAbove != nil && e.FailAbove != nil && *e.WarnAbove > *e.FailAbove {
		p.Add(prefix+"warn_above", "must not be above fail_above (%s)", fmtNum(*e.FailAbove))
	}
	if e.WarnBelow != nil && e.FailBelow != nil && *e.WarnBelow < *e.FailBelow {
		p.Add(prefix+"warn_below", "must not be below fail_below (%s)", fmtNum(*e.FailBelow))
	}
	if e.Equals.set && e.numeric() {
		p.Add(prefix+"equals", "cannot be combined with warn_above, fail_above, warn_below or fail_below: compare text or numbers, not both")
	}
}

// numeric reports whether a threshold is set.
func (e *valueExpectation) numeric() bool {
	return e.WarnAbove != nil || e.FailAbove != nil || e.WarnBelow != nil || e.FailBelow != nil
}

// judgedValue is a value read from a dependency: its text form, and its
// number when it is one.
type judgedValue struct {
	text     string
	num      float64
	isNumber bool
}

// numberValue returns text as a judgedValue, a number when it parses as one.
func numberValue(text string) judgedValue {
	f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	return judgedValue{text: text, num: f, isNumber: err == nil}
}

// judge compares v with e. name says what v is in a message ("value",
// "backlog", "checks.db.status"); where, when set, ends every message
// (" (http://app/ht/)"). A number is observed under the measurement (name
// unless measurement is set) before it is judged, so a failing run still
// reports what it saw.
func (e *valueExpectation) judge(ctx context.Context, name, where string, v judgedValue) error {
	if v.isNumber {
		Observe(ctx, firstNonEmpty(e.Measurement, name), v.num, e.Unit)
	}
	if e.Equals.set {
		if v.text != e.Equals.text {
			return Unexpected("%s is %s, expected %s%s", name, quoteValue(v.text), quoteValue(e.Equals.text), where)
		}
		return nil
	}
	if !e.numeric() {
		return nil
	}
	if !v.isNumber {
		return Unexpected("%s is %s, not a number%s", name, quoteValue(v.text), where)
	}
	shown := fmtNum(v.num)
	if e.Unit != "" {
		shown += " " + e.Unit
	}
	switch {
	case e.FailAbove != nil && v.num > *e.FailAbove:
		return Unexpected("%s %s is above %s (fail_above)%s", name, shown, fmtNum(*e.FailAbove), where)
	case e.FailBelow != nil && v.num < *e.FailBelow:
		return Unexpected("%s %s is below %s (fail_below)%s", name, shown, fmtNum(*e.FailBelow), where)
	case e.WarnAbove != nil && v.num > *e.WarnAbove:
		return Warn("%s %s is above %s (warn_above)%s", name, shown, fmtNum(*e.WarnAbove), where)
	case e.WarnBelow != nil && v.num < *e.WarnBelow:
		return Warn("%s %s is below %s (warn_below)%s", name, shown, fmtNum(*e.WarnBelow), where)
	}
	return nil
}

// worse returns the more severe of two check errors: a failure beats a
// warning, and the first of two equals.
func worse(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case KindOf(a) == KindWarning && KindOf(b) != KindWarning:
		return b
	}
	return a
}

// quoteValue quotes a value for a message, cut to a readable length.
func quoteValue(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// textValue is equals: a string, or a number or boolean that YAML wrote
// unquoted, compared as its text (0, 1.5, true).
type textValue struct {
	set  bool
	text string
}

// DecodeParam implements ParamDecoder.
func (v *textValue) DecodeParam(raw any, errorf func(suffix, format string, args ...any)) {
	switch t := raw.(type) {
	case string:
		*v = textValue{true, t}
	case bool:
		*v = textValue{true, strconv.FormatBool(t)}
	case int:
		*v = textValue{true, strconv.Itoa(t)}
	case float64:
		*v = textValue{true, strconv.FormatFloat(t, 'f', -1, 64)}
	default:
		errorf("", "must be a string, a number or a boolean, not %s", describe(raw))
	}
}

// ParamKind names equals's values in the docs' key tables.
func (*textValue) ParamKind() string { return "string, number or boolean" }

// ParamSchema implements ParamDecoder.
func (*textValue) ParamSchema() map[string]any {
	return map[string]any{"type": []any{"string", "number", "boolean"}}
}
