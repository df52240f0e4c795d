package registry

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/specs"
)

// CheckOverlay reports where the overlay in dir tries to loosen the
// shared service it unifies with (svc is the unified "service" value).
// Unification can only narrow, so CUE keeps the shared, stricter value
// and says nothing; the municipality would believe it had allowed more.
// Contradictions (a changed type, another rule, route or workflow) are
// CUE conflicts already, reported with both positions. Reported here,
// each with the overlay's position and the shared one:
//
//   - a constraint strictly wider than the shared one (a widened bound,
//     more enum options): "loosens";
//   - a field the shared service requires, declared optional: "cannot
//     remove a required field".
//
// pkgs are the local packages the overlay was loaded with (see
// engine.LoadDirPackages), to name the shared positions in their own
// directories rather than below cue.mod/pkg.
func CheckOverlay(dir string, svc cue.Value, pkgs map[string]string) []engine.Problem {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	c := &overlayCheck{dir: abs, pkgs: pkgs}
	c.walk([]cue.Value{svc}, "", 0)
	c.optional(svc)
	return c.problems
}

type overlayCheck struct {
	dir      string
	pkgs     map[string]string
	problems []engine.Problem
}

// local reports whether a position is in the overlay's own files.
func (c *overlayCheck) local(p token.Pos) bool {
	f := p.Filename()
	if f == "" {
		return false
	}
	rel, err := filepath.Rel(c.dir, f)
	return err == nil && !strings.HasPrefix(rel, "..") && !strings.HasPrefix(filepath.ToSlash(rel), "cue.mod/")
}

// shown names a shared position, in its package's own directory where
// the package was mapped.
func (c *overlayCheck) shown(p token.Pos) engine.Pos {
	q := posOf(p)
	pkgDir := filepath.Join(c.dir, "cue.mod", "pkg") + string(filepath.Separator)
	if rest, ok := strings.CutPrefix(q.File, pkgDir); ok {
		for ip, d := range c.pkgs {
			if f, ok := strings.CutPrefix(filepath.ToSlash(rest), ip+"/"); ok && !strings.Contains(f, "/") {
				if ad, err := filepath.Abs(d); err == nil {
					q.File = filepath.Join(ad, f)
				}
			}
		}
	}
	return q
}

func posOf(p token.Pos) engine.Pos {
	return engine.Pos{File: p.Filename(), Line: p.Line(), Col: p.Column()}
}

// walk compares the conjuncts of one value: the overlay's and the
// shared service's. Structs and lists are compared field by field and
// element by element; scalar constraints are compared by subsumption.
// It works on conjuncts rather than on the unified value, which is an
// error wherever the shared service constrains what is still empty
// (list.MinItems on a list without entries).
func (c *overlayCheck) walk(conjs []cue.Value, path string, depth int) {
	if depth > 24 {
		return
	}
	var atoms []cue.Value
	for _, x := range conjs {
		atoms = append(atoms, flatten(x, 0)...)
	}
	var scalarsMine, scalarsShared []cue.Value
	fields := map[string][]cue.Value{}
	var order []string
	var elems []cue.Value
	for _, a := range atoms {
		switch a.IncompleteKind() {
		case cue.StructKind:
			it, err := a.Fields(cue.Optional(true))
			if err != nil {
				continue
			}
			for it.Next() {
				name := it.Selector().Unquoted()
				if path == "" && (name == "tests" || name == "ui") {
					continue // the overlay's own tests; texts are for people
				}
				if _, ok := fields[name]; !ok {
					order = append(order, name)
				}
				fields[name] = append(fields[name], it.Value())
			}
		case cue.ListKind:
			if e := a.LookupPath(cue.MakePath(cue.AnyIndex)); e.Exists() {
				elems = append(elems, e)
			}
		case cue.BottomKind:
		default:
			if c.local(a.Pos()) {
				scalarsMine = append(scalarsMine, a)
			} else if a.Pos().IsValid() {
				scalarsShared = append(scalarsShared, a)
			}
		}
	}
	for _, name := range order {
		if len(fields[name]) > 1 {
			c.walk(fields[name], join(path, name), depth+1)
		}
	}
	if len(elems) > 1 {
		c.walk(elems, path+"[]", depth+1)
	}
	if len(scalarsMine) == 0 || len(scalarsShared) == 0 {
		return
	}
	shared := scalarsShared[0]
	for _, s := range scalarsShared[1:] {
		shared = shared.Unify(s)
	}
	for _, m := range scalarsMine {
		if m.Subsume(shared) == nil && shared.Subsume(m) != nil {
			c.problems = append(c.problems, engine.Problem{
				Pos: posOf(m.Pos()), Path: path, Code: "overlayLoosens",
				Message: fmt.Sprintf("%s: the overlay loosens the shared service: %v here is wider than %v at %s, which stays in force; an overlay can only narrow",
					path, m, shared, c.shown(scalarsShared[0].Pos())),
			})
		}
	}
}

// flatten splits a value into the conjuncts it was written as.
func flatten(v cue.Value, depth int) []cue.Value {
	op, args := v.Expr()
	if op != cue.AndOp || len(args) < 2 || depth > 8 {
		return []cue.Value{v}
	}
	var out []cue.Value
	for _, a := range args {
		out = append(out, flatten(a, depth+1)...)
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// optional reports fields the overlay declares optional that the
// shared service requires. It reads the overlay's own files: an
// optional marker leaves no trace in the unified value.
func (c *overlayCheck) optional(svc cue.Value) {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.cue"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		af, err := parser.ParseFile(f, b)
		if err != nil {
			continue
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.Field); ok && label(fd) == "service" {
				c.optionalIn(svc, fd.Value, nil)
			}
		}
	}
}

func label(f *ast.Field) string {
	name, _, _ := ast.LabelName(f.Label)
	return name
}

// optionalIn walks the overlay's expression x for the value at sels.
func (c *overlayCheck) optionalIn(svc cue.Value, x ast.Expr, sels []string) {
	switch x := x.(type) {
	case *ast.BinaryExpr:
		if x.Op == token.AND {
			c.optionalIn(svc, x.X, sels)
			c.optionalIn(svc, x.Y, sels)
		}
	case *ast.ParenExpr:
		c.optionalIn(svc, x.X, sels)
	case *ast.ListLit:
		for _, e := range x.Elts {
			if el, ok := e.(*ast.Ellipsis); ok && el.Type != nil {
				c.optionalIn(svc, el.Type, append(sels, "[]"))
			}
		}
	case *ast.StructLit:
		for _, d := range x.Elts {
			fd, ok := d.(*ast.Field)
			if !ok {
				continue
			}
			name := label(fd)
			if name == "" {
				continue
			}
			next := append(append([]string(nil), sels...), name)
			if fd.Constraint == token.OPTION {
				c.checkRequired(svc, next, fd.Pos())
			}
			c.optionalIn(svc, fd.Value, next)
		}
	}
}

// checkRequired reports the field at sels if the unified service holds
// it as a regular or required field.
func (c *overlayCheck) checkRequired(svc cue.Value, sels []string, at token.Pos) {
	v := svc
	for _, s := range sels[:len(sels)-1] {
		if s == "[]" {
			v = v.LookupPath(cue.MakePath(cue.AnyIndex))
			continue
		}
		next, ok := field(v, s)
		if !ok {
			return
		}
		v = next
	}
	name := sels[len(sels)-1]
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return
	}
	for it.Next() {
		if it.Selector().Unquoted() != name || it.IsOptional() {
			continue
		}
		shared := it.Value().Pos()
		if op, args := it.Value().Expr(); op == cue.AndOp {
			for _, a := range args {
				if !c.local(a.Pos()) {
					shared = a.Pos()
				}
			}
		}
		path := strings.ReplaceAll(strings.Join(sels, "."), ".[]", "[]")
		c.problems = append(c.problems, engine.Problem{
			Pos: posOf(at), Path: path, Code: "overlayRemovesRequired",
			Message: fmt.Sprintf("%s: the overlay cannot remove a required field: declared optional here, required by the shared service at %s", path, c.shown(shared)),
		})
	}
}

func field(v cue.Value, name string) (cue.Value, bool) {
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return cue.Value{}, false
	}
	for it.Next() {
		if it.Selector().Unquoted() == name {
			return it.Value(), true
		}
	}
	return cue.Value{}, false
}

// Conflicts loads the overlay in dir with the local packages pkgs (as
// engine.LoadDirPackages does) and reports each CUE conflict between the
// overlay and a shared package as one problem at the overlay's position
// whose message names the shared positions too: "the overlay contradicts
// the shared service". It returns nil when the overlay loads.
func Conflicts(dir string, pkgs map[string]string) []engine.Problem {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	overlay := map[string]load.Source{}
	add := func(dst, src string) {
		if b, err := os.ReadFile(src); err == nil {
			overlay[dst] = load.FromBytes(b)
		}
	}
	_ = fs.WalkDir(specs.FS, "spec", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := specs.FS.ReadFile(p)
			overlay[filepath.Join(abs, "cue.mod", "pkg", filepath.FromSlash(specs.ImportPath), path.Base(p))] = load.FromBytes(b)
		}
		return err
	})
	for ip, d := range pkgs {
		files, _ := filepath.Glob(filepath.Join(d, "*.cue"))
		for _, f := range files {
			add(filepath.Join(abs, "cue.mod", "pkg", filepath.FromSlash(ip), filepath.Base(f)), f)
		}
	}
	if _, err := os.Stat(filepath.Join(abs, "cue.mod", "module.cue")); err != nil {
		overlay[filepath.Join(abs, "cue.mod", "module.cue")] = load.FromString("module: \"amtsform.local/service\"\nlanguage: version: \"v0.17.0\"\n")
	}
	insts := load.Instances([]string{"."}, &load.Config{Dir: abs, ModuleRoot: abs, Overlay: overlay})
	if len(insts) != 1 || insts[0].Err != nil {
		return nil
	}
	v := cuecontext.New().BuildInstance(insts[0])
	err = v.Err()
	if err == nil {
		err = v.LookupPath(cue.ParsePath("service")).Validate()
	}
	if err == nil {
		return nil
	}
	c := &overlayCheck{dir: abs, pkgs: pkgs}
	var out []engine.Problem
	for _, e := range cueerrors.Errors(err) {
		var mine *token.Pos
		var shared, lang []string
		for _, p := range append([]token.Pos{e.Position()}, cueerrors.Positions(e)...) {
			if !p.IsValid() {
				continue
			}
			if c.local(p) {
				if mine == nil || p.Line() > mine.Line() {
					q := p
					mine = &q
				}
				continue
			}
			s := c.shown(p).String()
			if !slices.Contains(shared, s) {
				if strings.Contains(filepath.ToSlash(p.Filename()), "/cue.mod/pkg/"+specs.ImportPath+"/") {
					lang = append(lang, s)
				} else {
					shared = append(shared, s)
				}
			}
		}
		if len(shared) == 0 {
			shared = lang
		}
		if mine == nil {
			// CUE named only the shared end (a list of another length):
			// find the overlay's field at the error's path.
			if p, ok := c.findLocal(e.Path()); ok {
				mine = &p
			}
		}
		if mine == nil || len(shared) == 0 {
			continue
		}
		format, args := e.Msg()
		path := strings.TrimPrefix(strings.Join(e.Path(), "."), "service.")
		out = append(out, engine.Problem{
			Pos: posOf(*mine), Path: path, Code: "overlayContradicts",
			Message: fmt.Sprintf("%s: the overlay contradicts the shared service: %s (shared: %s)", path, fmt.Sprintf(format, args...), strings.Join(shared, ", ")),
		})
	}
	return out
}

// findLocal returns the position of the deepest field of the overlay's
// files along path (e.g. service.routing).
func (c *overlayCheck) findLocal(path []string) (token.Pos, bool) {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.cue"))
	var best token.Pos
	depth := -1
	var find func(x ast.Expr, rest []string, d int)
	find = func(x ast.Expr, rest []string, d int) {
		switch x := x.(type) {
		case *ast.BinaryExpr:
			if x.Op == token.AND {
				find(x.X, rest, d)
				find(x.Y, rest, d)
			}
		case *ast.ParenExpr:
			find(x.X, rest, d)
		case *ast.StructLit:
			if len(rest) == 0 {
				return
			}
			for _, el := range x.Elts {
				if fd, ok := el.(*ast.Field); ok && label(fd) == rest[0] {
					if d > depth {
						best, depth = fd.Pos(), d
					}
					find(fd.Value, rest[1:], d+1)
				}
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		af, err := parser.ParseFile(f, b)
		if err != nil {
			continue
		}
		find(&ast.StructLit{Elts: af.Decls}, path, 0)
	}
	return best, depth >= 0
}
