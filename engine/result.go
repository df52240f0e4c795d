package engine

import "strings"

// This file holds what front ends and the domain packages ask of a
// compiled service about one document: which page an error belongs to,
// where to go next, which attachments a document names, and how a page's
// answers merge into a draft.

// ApplyPage merges the answers of one page into a copy of data and
// returns it. A field of the page that is absent from values is cleared;
// computed fields are never taken from values. Values for fields of other
// pages change nothing and are returned as errors with CodeUnknownField.
func (s *Service) ApplyPage(data map[string]any, page *Page, values map[string]any) (map[string]any, []FieldError) {
	onPage := make(map[string]bool, len(page.Fields))
	for _, f := range page.Fields {
		onPage[f.Path] = true
	}
	var foreign []FieldError
	for k := range values {
		if !onPage[k] {
			foreign = append(foreign, FieldError{Path: k, Code: CodeUnknownField})
		}
	}
	if len(foreign) > 0 {
		sortErrors(foreign)
		return nil, foreign
	}
	out := deepCopyMap(data)
	for _, f := range page.Fields {
		if v, ok := values[f.Path]; ok && !f.Computed {
			setPath(out, f.Path, v)
		} else {
			deletePath(out, f.Path)
		}
	}
	return out, nil
}

// StripComputed removes computed values from what is kept in a draft:
// they are recomputed on every evaluation. It changes data in place and
// returns it.
func (s *Service) StripComputed(data map[string]any) map[string]any {
	for _, r := range s.computes {
		if r.prog.Scope == nil && !strings.Contains(r.target.Path, ".") {
			delete(data, r.target.Path)
		}
	}
	return data
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return normalize(m).(map[string]any)
}

// setPath sets a dotted path (no list indexes) in a document, creating
// groups on the way.
func setPath(m map[string]any, path string, v any) {
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}

// deletePath removes a dotted path from a document.
func deletePath(m map[string]any, path string) {
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, segs[len(segs)-1])
}

// ErrorsOn returns the errors that belong to the fields of a page.
func (r *Result) ErrorsOn(s *Service, pageID string) []FieldError {
	var out []FieldError
	for _, e := range r.Errors {
		if s.PageOf(StripIndexes(e.Path)) == pageID {
			out = append(out, e)
		}
	}
	return out
}

// StripIndexes turns a document path into a data model path:
// children[1].name into children.name.
func StripIndexes(p string) string {
	if !strings.Contains(p, "[") {
		return p
	}
	var b strings.Builder
	skip := false
	for _, r := range p {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NextPage returns the visible page after pageID, or "".
func (r *Result) NextPage(pageID string) string {
	for i, p := range r.Pages {
		if p == pageID && i+1 < len(r.Pages) {
			return r.Pages[i+1]
		}
	}
	if len(r.Pages) > 0 {
		found := false
		for _, p := range r.Pages {
			if p == pageID {
				found = true
			}
		}
		if !found {
			return r.Pages[0]
		}
	}
	return ""
}

// FirstIncompletePage returns the first visible page with errors, or "".
func (r *Result) FirstIncompletePage(s *Service) string {
	for _, p := range r.Pages {
		if len(r.ErrorsOn(s, p)) > 0 {
			return p
		}
	}
	return ""
}

// Attachments returns the attachment ids a document refers to: the values
// of fields declared as spec.#Attachment.
func (s *Service) Attachments(data map[string]any) []string {
	var out []string
	var walk func(n *Node, v any)
	walk = func(n *Node, v any) {
		switch n.Kind {
		case KindStruct:
			m, _ := v.(map[string]any)
			for _, f := range n.Fields {
				if x, ok := m[f.Name]; ok {
					walk(f, x)
				}
			}
		case KindList:
			l, _ := v.([]any)
			for _, x := range l {
				walk(n.Elem, x)
			}
		case KindString:
			if id, ok := v.(string); ok && n.hasFormat("attachment") {
				out = append(out, id)
			}
		}
	}
	walk(s.Data, data)
	return out
}

// AttachmentPaths returns the paths of the attachment fields that have a
// value.
func (s *Service) AttachmentPaths(data map[string]any) []string {
	var out []string
	var walk func(n *Node, v any, p *pathElem)
	walk = func(n *Node, v any, p *pathElem) {
		switch n.Kind {
		case KindStruct:
			m, _ := v.(map[string]any)
			for _, f := range n.Fields {
				if x, ok := m[f.Name]; ok {
					walk(f, x, &pathElem{parent: p, name: f.Name, index: -1})
				}
			}
		case KindList:
			l, _ := v.([]any)
			for i, x := range l {
				walk(n.Elem, x, &pathElem{parent: p, index: i})
			}
		case KindString:
			if _, ok := v.(string); ok && n.hasFormat("attachment") {
				out = append(out, p.String())
			}
		}
	}
	walk(s.Data, data, nil)
	return out
}

func (n *Node) hasFormat(f string) bool {
	for _, a := range n.Alts {
		for _, x := range a.Formats {
			if x == f {
				return true
			}
		}
	}
	return false
}
