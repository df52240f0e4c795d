package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"

	"github.com/amtsform/amtsform/specs"
)

// Source is a service definition as loaded from disk, before compilation:
// the evaluated CUE value of the package's "service" field and the hash of
// everything it was built from.
type Source struct {
	// Dir is the directory the package was loaded from.
	Dir string
	// Value is the package's "service" field.
	Value cue.Value
	// Root is the whole package value.
	Root cue.Value
	// Hash is the hex SHA-256 of the package files and the spec language,
	// so that a submission can pin exactly the definition it was made with.
	Hash string
}

// LoadDir loads the CUE package in dir, with the spec language available
// as "amtsform.dev/spec", and returns its "service" value. Errors are
// reported as a *CheckError with positions.
//
// Each call uses a fresh cue.Context: a long-lived context grows with every
// field name it sees, and loading happens once per service anyway.
func LoadDir(dir string) (*Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	overlay, specHash, err := specOverlay(abs)
	if err != nil {
		return nil, err
	}
	cfg := &load.Config{Dir: abs, ModuleRoot: abs, Overlay: overlay}
	if _, err := os.Stat(filepath.Join(abs, "cue.mod")); err == nil {
		// The package brings its own module; make the spec language
		// available beside its other dependencies.
		cfg.ModuleRoot = ""
	}
	insts := load.Instances([]string{"."}, cfg)
	if len(insts) != 1 {
		return nil, fmt.Errorf("%s: expected one CUE package, found %d", dir, len(insts))
	}
	inst := insts[0]
	if inst.Err != nil {
		return nil, checkErrorFromCUE(inst.Err)
	}
	ctx := cuecontext.New()
	root := ctx.BuildInstance(inst)
	if err := root.Err(); err != nil {
		return nil, checkErrorFromCUE(err)
	}
	svc := root.LookupPath(cue.ParsePath("service"))
	if !svc.Exists() {
		return nil, &CheckError{Problems: []Problem{{Pos: posOf(root), Code: "noService", Message: `the package has no field "service"`}}}
	}
	if err := svc.Validate(); err != nil {
		return nil, checkErrorFromCUE(err)
	}
	h := sha256.New()
	h.Write([]byte(specHash))
	var files []string
	for _, f := range inst.BuildFiles {
		files = append(files, f.Filename)
	}
	sort.Strings(files)
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f] || strings.Contains(f, "cue.mod") {
			continue
		}
		seen[f] = true
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(b))
		h.Write(b)
	}
	return &Source{Dir: abs, Value: svc, Root: root, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// specOverlay places the embedded spec language at
// cue.mod/pkg/amtsform.dev/spec and, where the directory is no CUE module
// of its own, a minimal cue.mod/module.cue.
func specOverlay(dir string) (map[string]load.Source, string, error) {
	overlay := map[string]load.Source{}
	h := sha256.New()
	err := fs.WalkDir(specs.FS, "spec", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := specs.FS.ReadFile(p)
		if err != nil {
			return err
		}
		h.Write(b)
		dst := filepath.Join(dir, "cue.mod", "pkg", filepath.FromSlash(specs.ImportPath), path.Base(p))
		overlay[dst] = load.FromBytes(b)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "cue.mod")); err != nil {
		overlay[filepath.Join(dir, "cue.mod", "module.cue")] = load.FromString("module: \"amtsform.local/service\"\nlanguage: version: \"v0.17.0\"\n")
	}
	return overlay, hex.EncodeToString(h.Sum(nil)), nil
}

// checkErrorFromCUE converts CUE's errors into problems with positions.
func checkErrorFromCUE(err error) *CheckError {
	var ce CheckError
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		p := Problem{Code: "cue", Message: fmt.Sprintf(format, args...)}
		if pos := e.Position(); pos.IsValid() {
			p.Pos = Pos{File: pos.Filename(), Line: pos.Line(), Col: pos.Column()}
		} else if ps := cueerrors.Positions(e); len(ps) > 0 {
			p.Pos = Pos{File: ps[0].Filename(), Line: ps[0].Line(), Col: ps[0].Column()}
		}
		if path := e.Path(); len(path) > 0 {
			p.Path = strings.Join(path, ".")
		}
		ce.Problems = append(ce.Problems, p)
	}
	return &ce
}
