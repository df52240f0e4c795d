package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/messages"
)

// specDir is a service directory to load, with the local packages of
// the installation it was named through.
type specDir struct {
	dir  string
	pkgs map[string]string
	err  error                // the installation it stands for could not be read
	inst *engine.Installation // the installation it was named through, if any
}

func (d specDir) load() (*engine.Service, error) {
	if d.err != nil {
		return nil, d.err
	}
	return engine.LoadPackages(d.dir, d.pkgs)
}

// dirsOf returns the service directories named, or ".". An installation
// directory (see engine.LoadInstallation) stands for all its services;
// a directory named twice is loaded once. An installation that cannot be
// read is returned as a directory whose load reports the problem.
func dirsOf(args []string) []specDir {
	if len(args) == 0 {
		args = []string{"."}
	}
	var out []specDir
	seen := map[string]bool{}
	wd, _ := os.Getwd()
	add := func(d specDir) {
		abs, err := filepath.Abs(d.dir)
		if err == nil && seen[abs] {
			return
		}
		seen[abs] = true
		out = append(out, d)
	}
	for _, a := range args {
		if !engine.IsInstallation(a) {
			add(specDir{dir: a})
			continue
		}
		in, err := engine.LoadInstallation(a)
		if err != nil {
			add(specDir{dir: a, err: err})
			continue
		}
		for _, d := range in.ServiceDirs() {
			rel, err := filepath.Rel(wd, d)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = d
			}
			add(specDir{dir: rel, pkgs: in.Packages, inst: in})
		}
	}
	return out
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr, "[--json] [dir ...]")
	asJSON := fs.Bool("json", false, "print the problems as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	type result struct {
		Dir      string           `json:"dir"`
		Service  string           `json:"service,omitempty"`
		Version  string           `json:"version,omitempty"`
		Hash     string           `json:"hash,omitempty"`
		Problems []engine.Problem `json:"problems"`
	}
	var results []result
	failed := false
	// Services named through an installation are also checked against
	// its directory (every route names an office of each tenant offering
	// the service).
	for _, sd := range dirsOf(fs.Args()) {
		dir := sd.dir
		r := result{Dir: dir, Problems: []engine.Problem{}}
		s, err := sd.load()
		if err == nil && sd.inst != nil {
			abs, _ := filepath.Abs(dir)
			if ps := sd.inst.Check(map[string]*engine.Service{abs: s})[abs]; len(ps) > 0 {
				err = &engine.CheckError{Problems: ps}
			}
		}
		if err != nil {
			failed = true
			var ce *engine.CheckError
			if errors.As(err, &ce) {
				r.Problems = ce.Problems
			} else {
				r.Problems = []engine.Problem{{Code: "load", Message: fmt.Sprintf("%s: %v", dir, err)}}
			}
		} else {
			r.Service, r.Version, r.Hash = s.ID, s.Version, s.Hash
		}
		results = append(results, r)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(results)
	} else {
		for _, r := range results {
			for _, p := range r.Problems {
				if p.Pos.File == "" {
					fmt.Fprintln(stderr, p.Message)
				} else {
					fmt.Fprintln(stderr, p.String())
				}
			}
			if len(r.Problems) == 0 {
				fmt.Fprintf(stdout, "ok\t%s\t%s %s\n", r.Dir, r.Service, r.Version)
			}
		}
	}
	if failed {
		return 1
	}
	return 0
}

func runTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("test", stderr, "[-v] [-run regexp] [dir ...]")
	verbose := fs.Bool("v", false, "print every test, not only failures")
	only := fs.String("run", "", "run only tests whose name contains this text")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	passed, failed, broken := 0, 0, 0
	for _, sd := range dirsOf(fs.Args()) {
		s, err := sd.load()
		if err != nil {
			broken++
			fmt.Fprintln(stderr, err)
			continue
		}
		if len(s.Tests) == 0 {
			fmt.Fprintf(stderr, "%s: no tests (add service.tests)\n", sd.dir)
		}
		for _, t := range s.Tests {
			if *only != "" && !strings.Contains(t.Name, *only) {
				continue
			}
			diffs := t.Run(s)
			if len(diffs) == 0 {
				passed++
				if *verbose {
					fmt.Fprintf(stdout, "PASS %s %s\n", s.ID, t.Name)
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %s %s\n", t.Pos, s.ID, t.Name)
			for _, d := range diffs {
				fmt.Fprintf(stdout, "    %s\n", d)
			}
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 || broken > 0 {
		return 1
	}
	return 0
}

func runCompile(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("compile", stderr, "[--jsonschema] [dir]")
	schema := fs.Bool("jsonschema", false, "print a JSON Schema (2020-12) of the data model instead of the form model")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dirs := dirsOf(fs.Args())
	if len(dirs) != 1 {
		fs.Usage()
		return 2
	}
	s, err := dirs[0].load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var out any = s.Form
	if *schema {
		out = s.JSONSchema()
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", stderr, "[--lang de|en] [dir] file.json")
	lang := fs.String("lang", "de", "language of the messages: de or en")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var dir, file string
	switch fs.NArg() {
	case 1:
		dir, file = ".", fs.Arg(0)
	case 2:
		dir, file = fs.Arg(0), fs.Arg(1)
	default:
		fs.Usage()
		return 2
	}
	if *lang != "de" && *lang != "en" {
		fmt.Fprintf(stderr, "amtsform validate: --lang must be de or en\n")
		return 2
	}
	s, err := engine.Load(dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer f.Close()
	doc, err := engine.ParseDocument(f, engine.Limits{})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", filepath.Base(file), err)
		return 1
	}
	r := s.Evaluate(doc, engine.Options{})
	if !r.Valid() {
		for _, e := range r.Errors {
			fmt.Fprintf(stdout, "%s: %s (%s)\n", e.Path, messages.For(s, *lang, e), e.Code)
		}
		return 1
	}
	if *lang == "en" {
		fmt.Fprintf(stdout, "valid; routed to %s\n", r.Office)
	} else {
		fmt.Fprintf(stdout, "gültig; zuständig: %s\n", r.Office)
	}
	keys := make([]string, 0, len(r.Computed))
	for k := range r.Computed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(stdout, "%s = %v\n", k, r.Computed[k])
	}
	return 0
}
