package engine

// JSONSchema returns a JSON Schema (draft 2020-12) of the service's data
// model, for systems that receive submissions. Rules (show, require,
// checks) are not part of it; computed fields are marked readOnly.
func (s *Service) JSONSchema() map[string]any {
	computed := map[string]bool{}
	for _, r := range s.computes {
		computed[r.target.Path] = true
	}
	sch := schemaOf(s.Data, computed)
	sch["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	sch["$id"] = "urn:amtsform:" + s.ID + ":" + s.Version
	sch["title"] = s.Form.Title.De
	sch["description"] = "Amtsform " + s.ID + " " + s.Version + " (" + s.Hash[:12] + ")"
	return sch
}

func schemaOf(n *Node, computed map[string]bool) map[string]any {
	m := map[string]any{}
	switch n.Kind {
	case KindStruct:
		m["type"] = "object"
		props := map[string]any{}
		var req []string
		for _, f := range n.Fields {
			props[f.Name] = schemaOf(f, computed)
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
		m["items"] = schemaOf(n.Elem, computed)
		if n.MinItems > 0 {
			m["minItems"] = n.MinItems
		}
		if n.MaxItems >= 0 {
			m["maxItems"] = n.MaxItems
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
	var all []any
	for i, re := range c.Patterns {
		if i == 0 {
			m["pattern"] = re.String()
		} else {
			all = append(all, map[string]any{"pattern": re.String()})
		}
	}
	for _, re := range c.NotMatch {
		all = append(all, map[string]any{"not": map[string]any{"pattern": re.String()}})
	}
	if len(all) > 0 {
		m["allOf"] = all
	}
	for _, f := range c.Formats {
		switch f {
		case "date":
			m["format"] = "date"
		case "iban":
			m["description"] = "IBAN (ISO 13616, check digits verified)"
		}
	}
	if len(c.NotEqual) > 0 {
		m["not"] = map[string]any{"enum": c.NotEqual}
	}
	return m
}
