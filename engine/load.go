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
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"

	"github.com/amtsform/amtsform/specs"
)

// CompilerVersion names the semantics of this compiler. It is part of
// every service's content hash: bump it whenever a change to the compiler
// or evaluator can change what a definition means (a new check, another
// default), so that drafts made before keep the version they were made
// with.
const CompilerVersion = "amtsform-engine/2"

// SourceFile is one file a service was built from. Path is relative to
// the service's module root, with forward slashes.
type SourceFile struct {
	Path string
	Data []byte
}

// Source is a service definition as loaded, before compilation: the
// evaluated CUE value of the package's "service" field, every file it was
// built from, and their hash.
type Source struct {
	// Dir is the directory the package was loaded from.
	Dir string
	// Value is the package's "service" field.
	Value cue.Value
	// Root is the whole package value.
	Root cue.Value
	// Files are all files the package was built from: its own, those of
	// every imported package (local or under cue.mod) including the spec
	// language, and cue.mod/module.cue. LoadFiles(Files) builds the same
	// service again.
	Files []SourceFile
	// Hash is the hex SHA-256 of Files and CompilerVersion, so that a
	// submission can pin exactly the definition it was made with.
	Hash string
}

// LoadDir loads the CUE package in dir, with the spec language available
// as "amtsform.dev/spec", and returns its "service" value. Errors are
// reported as a *CheckError with positions.
//
// Each call uses a fresh cue.Context: a long-lived context grows with every
// field name it sees, and loading happens once per service anyway.
func LoadDir(dir string) (*Source, error) { return LoadDirPackages(dir, nil) }

// LoadDirPackages is LoadDir with local packages: each import path of
// pkgs can be imported by the service and resolves to the .cue files of
// the mapped directory (as if vendored under cue.mod/pkg). This is how a
// municipality's overlay imports a shared service from an installation
// (see LoadInstallation).
func LoadDirPackages(dir string, pkgs map[string]string) (*Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, err
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	overlay, err := specOverlay(abs)
	if err != nil {
		return nil, err
	}
	for ip, pdir := range pkgs {
		files, err := filepath.Glob(filepath.Join(pdir, "*.cue"))
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("package %s: no .cue files in %s", ip, pdir)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			overlay[filepath.Join(abs, "cue.mod", "pkg", filepath.FromSlash(ip), filepath.Base(f))] = b
		}
	}
	return load1(abs, overlay, dir)
}

// LoadFiles loads a service from the files a Source recorded (for
// example, a version stored by an earlier run of the server). Nothing is
// read from disk: the files are placed below an empty virtual directory.
func LoadFiles(files []SourceFile) (*Source, error) {
	root := virtualRoot()
	overlay := map[string][]byte{}
	for _, f := range files {
		p := path.Clean(f.Path)
		if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("stored service file %q: not a relative path", f.Path)
		}
		overlay[filepath.Join(root, filepath.FromSlash(p))] = f.Data
	}
	if _, ok := overlay[filepath.Join(root, "cue.mod", "module.cue")]; !ok {
		return nil, fmt.Errorf("stored service files: no cue.mod/module.cue")
	}
	return load1(root, overlay, "(stored)")
}

// virtualRoot is the directory under which LoadFiles places files. It
// does not exist on disk.
func virtualRoot() string { return filepath.FromSlash("/amtsform-stored-service") }

func load1(abs string, files map[string][]byte, name string) (*Source, error) {
	overlay := make(map[string]load.Source, len(files))
	for p, b := range files {
		overlay[p] = load.FromBytes(b)
	}
	cfg := &load.Config{Dir: abs, ModuleRoot: abs, Overlay: overlay}
	insts := load.Instances([]string{"."}, cfg)
	if len(insts) != 1 {
		return nil, fmt.Errorf("%s: expected one CUE package, found %d", name, len(insts))
	}
	inst := insts[0]
	if inst.Err != nil {
		return nil, checkErrorFromCUE(inst.Err)
	}
	ctx := cuecontext.New()
	root := ctx.BuildInstance(inst)
	if err := root.Err(); err != nil {
		return nil, explainProblems(checkErrorFromCUE(err), cueerrors.Errors(err), root)
	}
	svc := root.LookupPath(cue.ParsePath("service"))
	if !svc.Exists() {
		return nil, &CheckError{Problems: []Problem{{Pos: posOf(root), Code: "noService", Message: `the package has no field "service"`}}}
	}
	if err := svc.Validate(); err != nil {
		return nil, explainProblems(checkErrorFromCUE(err), cueerrors.Errors(err), root)
	}
	srcFiles, err := buildFiles(abs, inst, files)
	if err != nil {
		return nil, err
	}
	return &Source{Dir: abs, Value: svc, Root: root, Files: srcFiles, Hash: hashFiles(srcFiles)}, nil
}

// buildFiles collects every file of inst and of the packages it imports,
// transitively, plus cue.mod/module.cue, relative to the module root abs.
func buildFiles(abs string, inst *build.Instance, overlay map[string][]byte) ([]SourceFile, error) {
	seen := map[string]bool{}
	var out []SourceFile
	add := func(name string) error {
		if seen[name] {
			return nil
		}
		seen[name] = true
		rel, err := filepath.Rel(abs, name)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("%s: imported file outside the service's module", name)
		}
		b, ok := overlay[name]
		if !ok {
			if b, err = os.ReadFile(name); err != nil {
				return err
			}
		}
		out = append(out, SourceFile{Path: filepath.ToSlash(rel), Data: b})
		return nil
	}
	if err := add(filepath.Join(abs, "cue.mod", "module.cue")); err != nil {
		return nil, err
	}
	if err := EachBuildFile(inst, add); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// EachBuildFile calls f with the file name of every file of inst and of
// the instances it imports, transitively, visiting each instance once,
// and stops at the first error f returns.
func EachBuildFile(inst *build.Instance, f func(name string) error) error {
	visited := map[*build.Instance]bool{}
	var walk func(i *build.Instance) error
	walk = func(i *build.Instance) error {
		if visited[i] {
			return nil
		}
		visited[i] = true
		for _, bf := range i.BuildFiles {
			if err := f(bf.Filename); err != nil {
				return err
			}
		}
		for _, imp := range i.Imports {
			if err := walk(imp); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(inst)
}

// hashFiles is the content hash of a service: CompilerVersion and every
// file's path and bytes, in path order.
func hashFiles(files []SourceFile) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", CompilerVersion)
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.Path, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// specOverlay places the embedded spec language at
// cue.mod/pkg/amtsform.dev/spec and, where the directory is no CUE module
// of its own, a minimal cue.mod/module.cue.
func specOverlay(dir string) (map[string][]byte, error) {
	overlay := map[string][]byte{}
	err := fs.WalkDir(specs.FS, "spec", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := specs.FS.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, "cue.mod", "pkg", filepath.FromSlash(specs.ImportPath), path.Base(p))
		overlay[dst] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "cue.mod")); err != nil {
		overlay[filepath.Join(dir, "cue.mod", "module.cue")] = []byte("module: \"amtsform.local/service\"\nlanguage: version: \"v0.17.0\"\n")
	}
	return overlay, nil
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
