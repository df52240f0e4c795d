package engine

import (
	"strings"

	"cuelang.org/go/cue"
)

// Internal computed values (rules.internal) help other rules (a sum a
// check compares, a flag a show rule reads) but are not part of the
// delivered data: they are left out of the published JSON Schema and of
// the envelope's data (Delivered). The case view still shows them.

// compileInternal reads rules.internal: every path must be a computed
// value.
func (s *Service) compileInternal(rules cue.Value, ce *CheckError) {
	l := rules.LookupPath(cue.ParsePath("internal"))
	if !l.Exists() {
		return
	}
	computed := map[string]bool{}
	for _, r := range s.computes {
		computed[r.target.Path] = true
	}
	it, _ := l.List()
	for it.Next() {
		p, _ := it.Value().String()
		if !computed[p] {
			ce.add(posOf(it.Value()), p, "rule", "rules.internal: %q is not a computed value (rules.compute); only computed values can be internal", p)
			continue
		}
		if s.internal == nil {
			s.internal = map[string]bool{}
		}
		s.internal[p] = true
	}
}

// IsInternal reports whether the value at a data-model path (dotted,
// without indexes) is an internal computed value.
func (s *Service) IsInternal(path string) bool { return s.internal[path] }

// WithoutInternal returns data without the internal computed values
// (what a destination without a mapping receives), copying what it
// changes; data itself is left as it is.
func (s *Service) WithoutInternal(data map[string]any) map[string]any {
	if len(s.internal) == 0 || data == nil {
		return data
	}
	out := copyDoc(data).(map[string]any)
	for p := range s.internal {
		dropDoc(out, strings.Split(p, "."))
	}
	return out
}

func copyDoc(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = copyDoc(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = copyDoc(e)
		}
		return l
	}
	return v
}

// dropDoc removes the member at segs from v, in every entry of the
// repeating groups on the way.
func dropDoc(v any, segs []string) {
	switch x := v.(type) {
	case map[string]any:
		if len(segs) == 1 {
			delete(x, segs[0])
			return
		}
		dropDoc(x[segs[0]], segs[1:])
	case []any:
		for _, e := range x {
			dropDoc(e, segs)
		}
	}
}

// dropSchema removes the property at segs from a JSON Schema built by
// schemaOf (through "items" of arrays), and from "required".
func dropSchema(sch map[string]any, segs []string) {
	if it, ok := sch["items"].(map[string]any); ok {
		dropSchema(it, segs)
		return
	}
	props, _ := sch["properties"].(map[string]any)
	if props == nil {
		return
	}
	if len(segs) > 1 {
		if sub, ok := props[segs[0]].(map[string]any); ok {
			dropSchema(sub, segs[1:])
		}
		return
	}
	delete(props, segs[0])
	if req, ok := sch["required"].([]string); ok {
		out := req[:0:0]
		for _, r := range req {
			if r != segs[0] {
				out = append(out, r)
			}
		}
		sch["required"] = out
	}
}
