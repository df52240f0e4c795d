package engine

import (
	"math"
	"regexp"
	"strings"
)

// JSONSchema returns a JSON Schema (draft 2020-12) of the service's data
// model, for systems that receive submissions: it is their contract, so
// it accepts everything the server accepts that JSON Schema can express,
// and no less. Rules (show, require, checks) and check digits are not
// part of it; computed fields are marked readOnly, internal ones
// (rules.internal) left out. Patterns are written
// in ECMA-262 (see ecmaPattern), read with the u flag as validators such
// as ajv do; dates get a pattern besides their format annotation. Titles
// are the German labels; money in cents, units and attachment references
// are described. One difference remains: JSON Schema's "integer" admits
// 3.0 and 1e3, which the server rejects as not integers (CUE's ints).
// The server only ever delivers integers written as integers, so a
// receiver is never given a value its schema refuses.
func (s *Service) JSONSchema() map[string]any {
	computed := map[string]bool{}
	for _, r := range s.computes {
		computed[r.target.Path] = true
	}
	labels := map[string]*Field{}
	var walk func(fs []*Field)
	walk = func(fs []*Field) {
		for _, f := range fs {
			labels[f.Path] = f
			walk(f.Fields)
		}
	}
	for _, p := range s.Form.Pages {
		walk(p.Fields)
	}
	sch := schemaOf(s.Data, computed, labels)
	for p := range s.internal { // not delivered: not in the contract
		dropSchema(sch, strings.Split(p, "."))
	}
	sch["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	sch["$id"] = "urn:amtsform:" + s.ID + ":" + s.Version
	sch["title"] = s.Form.Title.De
	sch["description"] = "Amtsform " + s.ID + " " + s.Version + " (" + s.Hash[:12] + ")"
	return sch
}

func schemaOf(n *Node, computed map[string]bool, labels map[string]*Field) map[string]any {
	m := map[string]any{}
	defer func() {
		f := labels[n.Path]
		if f == nil || n.Path == "" {
			return
		}
		if f.Label.De != "" {
			m["title"] = f.Label.De
		}
		var desc []string
		if f.Hint != nil && f.Hint.De != "" {
			desc = append(desc, f.Hint.De)
		}
		switch {
		case f.Widget == "money":
			desc = append(desc, "Betrag in Cent (amount in euro cents)")
			m["x-unit"] = "cent"
		case f.Unit != "":
			desc = append(desc, "Einheit (unit): "+f.Unit)
			m["x-unit"] = f.Unit
		}
		if n.hasFormat("attachment") {
			desc = append(desc, "Kennung einer Anlage der Einreichung (id of an attachment of the submission, see its attachment list)")
			m["x-attachment"] = true
		}
		if len(desc) > 0 {
			m["description"] = strings.Join(desc, " — ")
		}
	}()
	switch n.Kind {
	case KindStruct:
		m["type"] = "object"
		props := map[string]any{}
		var req []string
		for _, f := range n.Fields {
			props[f.Name] = schemaOf(f, computed, labels)
			if f.Required() || f.mustGive {
				req = append(req, f.Name)
			}
		}
		m["properties"] = props
		if len(req) > 0 {
			m["required"] = req
		}
		m["additionalProperties"] = false
	case KindList:
		m["type"] = "array"
		m["items"] = schemaOf(n.Elem, computed, labels)
		if n.MinItems > 0 {
			m["minItems"] = n.MinItems
		}
		if n.MaxItems >= 0 {
			m["maxItems"] = n.MaxItems
		}
		if n.UniqueItems {
			m["uniqueItems"] = true
		}
	default:
		var alts []any
		for _, a := range n.Alts {
			alts = append(alts, constraintSchema(a))
		}
		if vals := enumValues(n); vals != nil {
			m["enum"] = vals
		} else if len(alts) == 1 {
			m = alts[0].(map[string]any)
		} else {
			m["anyOf"] = alts
		}
		if n.HasDefault {
			m["default"] = n.Default
		}
	}
	if computed[n.Path] {
		m["readOnly"] = true
	}
	return m
}

func constraintSchema(c *Constraint) map[string]any {
	m := map[string]any{}
	switch c.Kind {
	case KindString:
		m["type"] = "string"
	case KindInt:
		m["type"] = "integer"
		// The server's integers are 64 bits; larger ones are a type error.
		if c.Min == nil {
			m["minimum"] = int64(math.MinInt64)
		}
		if c.Max == nil {
			m["maximum"] = int64(math.MaxInt64)
		}
	case KindNumber:
		m["type"] = "number"
	case KindBool:
		m["type"] = "boolean"
	case KindNull:
		m["type"] = "null"
	}
	if c.HasLiteral {
		m["const"] = c.Literal
		return m
	}
	if c.Min != nil {
		if c.Min.Exclusive {
			m["exclusiveMinimum"] = c.Min.Number()
		} else {
			m["minimum"] = c.Min.Number()
		}
	}
	if c.Max != nil {
		if c.Max.Exclusive {
			m["exclusiveMaximum"] = c.Max.Number()
		} else {
			m["maximum"] = c.Max.Number()
		}
	}
	if c.MinRunes >= 0 {
		m["minLength"] = c.MinRunes
	}
	if c.MaxRunes >= 0 {
		m["maxLength"] = c.MaxRunes
	}
	var pats []string
	for _, re := range c.Patterns {
		pats = append(pats, ecmaOrSame(re.String()))
	}
	var all []any
	for _, f := range c.Formats {
		if f == "date" {
			pats = append(pats, datePattern)
		}
	}
	for i, p := range pats {
		if i == 0 {
			m["pattern"] = p
		} else {
			all = append(all, map[string]any{"pattern": p})
		}
	}
	for _, re := range c.NotMatch {
		if re.String() == ibanMarker {
			continue // the IBAN marker, not a constraint of its own
		}
		all = append(all, map[string]any{"not": map[string]any{"pattern": ecmaOrSame(re.String())}})
	}
	if c.Kind == KindString {
		// Texts hold no control characters but tab and line breaks
		// (CodeControl).
		all = append(all, map[string]any{"not": map[string]any{"pattern": controlPattern}})
	}
	if len(all) > 0 {
		m["allOf"] = all
	}
	for _, f := range c.Formats {
		switch f {
		case "date":
			m["format"] = "date"
		case "iban":
			m["description"] = "IBAN (ISO 13616; the server also verifies the check digits)"
		}
	}
	if len(c.NotEqual) > 0 {
		m["not"] = map[string]any{"enum": c.NotEqual}
	}
	return m
}

// controlPattern matches a text the server refuses with CodeControl: a
// C0 or C1 control character other than tab and line feed, a carriage
// return not followed by a line feed, or an invisible format character
// (hiddenFormat).
var controlPattern = func() string {
	p, err := ecmaPattern(`[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x{9F}` + textFormatClass + `]|\r(?:[^\n]|$)`)
	if err != nil {
		panic(err)
	}
	return p
}()

// datePattern is the shape of a date the server accepts (YYYY-MM-DD);
// format "date" alone only annotates in JSON Schema 2020-12. That the
// day exists in its month is checked by the server only.
const datePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}$`

// ecmaOrSame returns the ECMA-262 form of a pattern. Compile rejects
// patterns without one (checkPatterns), so the fallback is not reached
// for a compiled service.
func ecmaOrSame(re string) string {
	if p, err := ecmaPattern(re); err == nil {
		return p
	}
	return re
}

// checkPatterns reports patterns of the data model that receivers could
// not apply: a pattern without an ECMA-262 equivalent (see ecmaPattern).
func checkPatterns(n *Node, ce *CheckError) {
	for _, a := range n.Alts {
		for _, re := range append(append([]*regexp.Regexp(nil), a.Patterns...), a.NotMatch...) {
			if _, err := ecmaPattern(re.String()); err != nil {
				ce.add(n.Pos, n.Path, "pattern", "%s: the pattern %q cannot be published in the JSON Schema receivers validate with: %v", n.Path, re.String(), err)
			}
		}
	}
	for _, f := range n.Fields {
		checkPatterns(f, ce)
	}
	if n.Elem != nil {
		checkPatterns(n.Elem, ce)
	}
}
