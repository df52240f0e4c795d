package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"cuelang.org/go/cue"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/diff"
	"github.com/amtsform/amtsform/engine/registry"
)

func init() {
	commands["doc"] = command{"write a service's documentation as Markdown: fields, rules, routes, what can be set locally", runDoc}
}

// runDoc writes the Markdown documentation of one service directory. A
// directory named through an installation (--installation) is loaded
// with its local packages; an overlay that loosens the shared service is
// refused as amtsform check refuses it.
func runDoc(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("doc", stderr, "[--installation DIR] DIR")
	instDir := fs.String("installation", "", "the installation whose local packages the service imports")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	var pkgs map[string]string
	if *instDir != "" {
		in, err := engine.LoadInstallation(*instDir)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		pkgs = in.Packages
	}
	v, err := diff.Load(dir, pkgs)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(pkgs) > 0 {
		if ps := registry.CheckOverlay(dir, v.Value, pkgs); len(ps) > 0 {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
			return 1
		}
	}
	writeDoc(stdout, v)
	return 0
}

// writeDoc writes the documentation of a service version.
func writeDoc(w io.Writer, v *diff.Version) {
	s, f := v.Service, v.Service.Form
	fmt.Fprintf(w, "# %s\n\n", f.Title.De)
	fmt.Fprintf(w, "Service `%s`, version %s, reference prefix %s, authority `%s`.\n", s.ID, s.Version, s.Reference, f.Authority)
	if f.Description != nil {
		fmt.Fprintf(w, "\n%s\n", f.Description.De)
	}

	fmt.Fprintf(w, "\n## What a municipality sets\n\n")
	settings := v.Value.LookupPath(cue.ParsePath("settings"))
	var rows [][]string
	settingRows(settings, "", "", &rows)
	if len(rows) == 0 {
		fmt.Fprintln(w, "Nothing: the service declares no settings.")
	} else {
		fmt.Fprintln(w, "Set in `settings` of an overlay (`service: shared.#… & {settings: {…}}`); the default applies where a municipality sets nothing.")
		fmt.Fprintln(w)
		table(w, []string{"Setting", "Type and bounds", "Value (the default where not set)", "Meaning"}, rows)
	}
	fmt.Fprintln(w, "\nBeyond settings an overlay may only narrow: a tighter bound, fewer options, a further check. It cannot remove a field, make a required one optional, widen a bound or an enum, or change a rule, route or workflow (`amtsform check` names both positions).")

	fmt.Fprintf(w, "\n## Fields\n")
	for _, p := range f.Pages {
		fmt.Fprintf(w, "\n### Page `%s`: %s\n\n", p.ID, p.Title.De)
		if p.Show != "" {
			fmt.Fprintf(w, "Shown when `%s`.\n\n", p.Show)
		}
		var rows [][]string
		for _, fl := range p.Fields {
			fieldRows(fl, &rows)
		}
		table(w, []string{"Field", "Label", "Type", "Required", "Constraints"}, rows)
	}

	fmt.Fprintf(w, "\n## Rules\n\n")
	rules := v.Value.LookupPath(cue.ParsePath("rules"))
	var rrows [][]string
	for _, kind := range []string{"compute", "show", "require"} {
		m := map[string]string{}
		rules.LookupPath(cue.ParsePath(kind)).Decode(&m)
		for _, k := range sortedKeys(m) {
			rrows = append(rrows, []string{kind, "`" + k + "`", code(m[k]), ""})
		}
	}
	var checks []struct {
		ID      string      `json:"id"`
		Path    string      `json:"path"`
		Assert  string      `json:"assert"`
		When    string      `json:"when"`
		Message engine.Text `json:"message"`
	}
	rules.LookupPath(cue.ParsePath("check")).Decode(&checks)
	for _, c := range checks {
		expr := c.Assert
		if c.When != "" {
			expr += " (when " + c.When + ")"
		}
		rrows = append(rrows, []string{"check `" + c.ID + "`", "`" + c.Path + "`", code(expr), c.Message.De})
	}
	if len(rrows) == 0 {
		fmt.Fprintln(w, "No rules.")
	} else {
		table(w, []string{"Rule", "Path", "Expression", "Message"}, rrows)
	}

	fmt.Fprintf(w, "\n## Routing\n\n")
	var routes []struct {
		When string `json:"when"`
		To   string `json:"to"`
	}
	v.Value.LookupPath(cue.ParsePath("routing")).Decode(&routes)
	if len(routes) == 0 {
		fmt.Fprintln(w, "No routing: every submission goes to the tenant.")
	}
	for i, r := range routes {
		when := "otherwise"
		if r.When != "" {
			when = "when " + code(r.When)
		}
		fmt.Fprintf(w, "%d. %s → office `%s`\n", i+1, when, r.To)
	}
	if s.Workflow != nil {
		var states []string
		for id := range s.Workflow.States {
			states = append(states, "`"+id+"`")
		}
		sort.Strings(states)
		fmt.Fprintf(w, "\n## Workflow\n\nStarts in `%s`; states %s; %d transitions.\n", s.Workflow.Initial, strings.Join(states, ", "), len(s.Workflow.Transitions))
	}
	if len(s.Deliveries) > 0 {
		fmt.Fprintf(w, "\n## Deliveries\n\n")
		for _, id := range sortedKeys(s.Deliveries) {
			fmt.Fprintf(w, "- `%s`\n", id)
		}
	}
	fmt.Fprintf(w, "\n## Spec tests\n\n%d tests.\n", len(s.Tests))
}

func settingRows(v cue.Value, path, parentDoc string, rows *[][]string) {
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		p := name
		if path != "" {
			p = path + "." + name
		}
		x := it.Value()
		doc := docOf(x)
		d, hasDefault := x.Default()
		if x.IncompleteKind() == cue.StructKind && !isText(d) {
			if doc == "" {
				doc = parentDoc
			}
			settingRows(x, p, doc, rows)
			continue
		}
		if doc == "" {
			doc = parentDoc
		}
		var typ, val string
		switch {
		case isText(d):
			typ = "text (de, en)"
			if de, err := d.LookupPath(cue.ParsePath("de")).String(); err == nil {
				val = "„" + de + "“"
			}
		case x.IncompleteKind() == cue.ListKind:
			typ = "list"
			if n, err := d.Len().Int64(); err == nil {
				val = fmt.Sprintf("%d entries", n)
				var ids []string
				for i := range n {
					if id, err := d.LookupPath(cue.MakePath(cue.Index(int(i)), cue.Str("id"))).String(); err == nil {
						ids = append(ids, "`"+id+"`")
					}
				}
				if len(ids) > 0 {
					val += ": " + strings.Join(ids, ", ")
				}
			}
		default:
			typ = fmt.Sprint(x)
			if op, args := x.Expr(); op == cue.OrOp && len(args) > 1 {
				typ = fmt.Sprint(args[len(args)-1])
			}
			if strings.HasPrefix(typ, "*") {
				if _, rest, ok := strings.Cut(typ, " | "); ok {
					typ = rest // the default is in the next column
				}
			}
			typ = code(oneLine(typ))
			if hasDefault || x.IsConcrete() {
				val = code(fmt.Sprint(d))
			}
		}
		*rows = append(*rows, []string{"`" + p + "`", typ, val, doc})
	}
}

func isText(v cue.Value) bool {
	de := v.LookupPath(cue.ParsePath("de"))
	en := v.LookupPath(cue.ParsePath("en"))
	return de.Exists() && en.Exists()
}

func docOf(v cue.Value) string {
	var parts []string
	for _, cg := range v.Doc() {
		parts = append(parts, strings.TrimSpace(cg.Text()))
	}
	return oneLine(strings.Join(parts, " "))
}

func fieldRows(f *engine.Field, rows *[][]string) {
	req := ""
	if f.Required {
		req = "yes"
	}
	var cs []string
	if f.Min != nil {
		cs = append(cs, fmt.Sprintf("min %v", f.Min))
	}
	if f.Max != nil {
		cs = append(cs, fmt.Sprintf("max %v", f.Max))
	}
	if f.MinLength > 0 {
		cs = append(cs, fmt.Sprintf("at least %d characters", f.MinLength))
	}
	if f.MaxLength > 0 {
		cs = append(cs, fmt.Sprintf("at most %d characters", f.MaxLength))
	}
	if f.Format != "" {
		cs = append(cs, f.Format)
	}
	if f.Const != nil {
		cs = append(cs, fmt.Sprintf("must be %v", f.Const))
	}
	if len(f.Options) > 0 {
		var os []string
		for _, o := range f.Options {
			os = append(os, fmt.Sprintf("`%v`", o.Value))
		}
		cs = append(cs, "one of "+strings.Join(os, ", "))
	}
	kind := f.Kind.String()
	if f.Widget != "" && f.Widget != kind {
		kind += " (" + f.Widget + ")"
	}
	*rows = append(*rows, []string{"`" + f.Path + "`", f.Label.De, kind, req, strings.Join(cs, "; ")})
	for _, sub := range f.Fields {
		fieldRows(sub, rows)
	}
}

func table(w io.Writer, head []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	seps := make([]string, len(head))
	for i := range seps {
		seps[i] = "---"
	}
	fmt.Fprintf(w, "| %s |\n", strings.Join(seps, " | "))
	for _, r := range rows {
		for i := range r {
			r[i] = strings.ReplaceAll(r[i], "|", "\\|")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
