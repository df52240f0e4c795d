package registry

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/mod/modfile"
	"cuelang.org/go/mod/modregistry"
	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/specs"
)

func readModFile(file string) (*modfile.File, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("not a CUE module: %w", err)
	}
	mf, err := modfile.Parse(b, file)
	if err != nil {
		return nil, err
	}
	return mf, nil
}

// cached is the module cache as CUE's loader sees it
// (modconfig.Registry): only verified versions, never the network.
type cached struct{ r *Registry }

func (c cached) ModFile(ctx context.Context, mv module.Version) (*modfile.File, error) {
	dir := c.r.moduleDir(mv)
	b, err := os.ReadFile(filepath.Join(dir, "src", "cue.mod", "module.cue"))
	if err != nil {
		return nil, fmt.Errorf("module %v is not installed (amtsform install %s): %w", mv, mv.BasePath()+"@"+mv.Version(), modregistry.ErrNotFound)
	}
	return modfile.Parse(b, mv.String()+"/cue.mod/module.cue")
}

func (c cached) Fetch(ctx context.Context, mv module.Version) (module.SourceLoc, error) {
	dir := filepath.Join(c.r.moduleDir(mv), "src")
	if _, err := os.Stat(dir); err != nil {
		return module.SourceLoc{}, fmt.Errorf("module %v is not installed: %w", mv, modregistry.ErrNotFound)
	}
	return module.SourceLoc{FS: module.OSDirFS(dir), Dir: "."}, nil
}

func (c cached) FetchFromCache(mv module.Version) (module.SourceLoc, error) {
	return c.Fetch(context.Background(), mv)
}

func (c cached) ModuleVersions(ctx context.Context, mpath string) ([]string, error) {
	base, _, _ := strings.Cut(mpath, "@")
	ms, _ := filepath.Glob(filepath.Join(c.r.cache, "modules", filepath.FromSlash(base)+"@*"))
	var out []string
	for _, m := range ms {
		_, v, _ := strings.Cut(filepath.Base(m), "@")
		if !strings.HasSuffix(v, ".tmp") && module.Check(mpath, v) == nil {
			out = append(out, v)
		}
	}
	return out, nil
}

// Load compiles the service in dir, resolving the imports of modules
// in deps (module path with major version → version, e.g.
// "land.hessen.example/kita@v1": "v1.2.0") from the module cache through
// load.Config.Registry. Every module named must have been fetched (and
// so verified) before. deps are added to dir's cue.mod/module.cue, or to
// a minimal one where dir has none, as the default major version, so
// that the service imports "land.hessen.example/kita".
//
// The source returned is in vendored form: the service's files, the
// spec language and every imported module's files below
// cue.mod/pkg/<module path>, and a cue.mod/module.cue without deps, as
// engine.LoadFiles builds it again without any registry (the catalog
// does so for stored versions).
func (r *Registry) Load(dir string, deps map[string]string) (*engine.Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	mf := &modfile.File{Module: "amtsform.local/service", Language: &modfile.Language{Version: "v0.17.0"}}
	modPath := filepath.Join(abs, "cue.mod", "module.cue")
	if _, err := os.Stat(modPath); err == nil {
		if mf, err = readModFile(modPath); err != nil {
			return nil, err
		}
	}
	vendored := *mf
	vendored.Deps = nil
	if len(deps) > 0 && mf.Deps == nil {
		mf.Deps = map[string]*modfile.Dep{}
	}
	for p, v := range deps {
		mf.Deps[p] = &modfile.Dep{Version: v, Default: true}
	}
	modBytes, err := modfile.Format(mf)
	if err != nil {
		return nil, err
	}
	overlay := map[string]load.Source{modPath: load.FromBytes(modBytes)}
	files := map[string][]byte{}
	err = fs.WalkDir(specs.FS, "spec", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := specs.FS.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(abs, "cue.mod", "pkg", filepath.FromSlash(specs.ImportPath), path.Base(p))
		overlay[dst] = load.FromBytes(b)
		files[dst] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	insts := load.Instances([]string{"."}, &load.Config{Dir: abs, ModuleRoot: abs, Overlay: overlay, Registry: cached{r}})
	if len(insts) != 1 {
		return nil, fmt.Errorf("%s: expected one CUE package, found %d", dir, len(insts))
	}
	if err := insts[0].Err; err != nil {
		return nil, problems(err)
	}
	if v := cuecontext.New().BuildInstance(insts[0]); v.Err() != nil {
		return nil, problems(v.Err())
	}
	out, err := r.vendor(abs, insts[0], files)
	if err != nil {
		return nil, err
	}
	// The vendored module file names what was vendored, as comments.
	var note strings.Builder
	names := make([]string, 0, len(deps))
	for p := range deps {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		fmt.Fprintf(&note, "// vendored by amtsform: %s %s\n", p, deps[p])
	}
	vb, err := modfile.Format(&vendored)
	if err != nil {
		return nil, err
	}
	out = append(out, engine.SourceFile{Path: "cue.mod/module.cue", Data: append([]byte(note.String()), vb...)})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	src, err := engine.LoadFiles(out)
	if err != nil {
		return nil, fmt.Errorf("%s: the vendored form does not load: %w", dir, err)
	}
	src.Dir = abs
	return src, nil
}

// vendor collects the files of inst and its imports: the service's own
// relative to abs, those of cached modules below cue.mod/pkg.
func (r *Registry) vendor(abs string, inst *build.Instance, overlay map[string][]byte) ([]engine.SourceFile, error) {
	modules := filepath.Join(r.cache, "modules") + string(filepath.Separator)
	seen := map[string]bool{}
	var out []engine.SourceFile
	err := engine.EachBuildFile(inst, func(name string) error {
		var rel string
		if r, err := filepath.Rel(abs, name); err == nil && !strings.HasPrefix(r, "..") {
			rel = filepath.ToSlash(r)
		} else if cut, ok := strings.CutPrefix(name, modules); ok {
			// <base path>@<version>/src/<file>
			at := strings.LastIndex(cut, "@")
			slash := strings.Index(cut[at:], string(filepath.Separator)+"src"+string(filepath.Separator))
			if at < 0 || slash < 0 {
				return fmt.Errorf("%s: unexpected module cache path", name)
			}
			base := filepath.ToSlash(cut[:at])
			rest := filepath.ToSlash(cut[at+slash+len("/src/"):])
			rel = "cue.mod/pkg/" + base + "/" + rest
		} else {
			return fmt.Errorf("%s: imported file outside the service and the module cache", name)
		}
		if seen[rel] {
			return nil
		}
		seen[rel] = true
		b, ok := overlay[name]
		if !ok {
			var err error
			if b, err = os.ReadFile(name); err != nil {
				return err
			}
		}
		out = append(out, engine.SourceFile{Path: rel, Data: b})
		return nil
	})
	return out, err
}

// problems converts CUE's errors to an engine.CheckError with positions.
func problems(err error) error {
	ce := &engine.CheckError{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		p := engine.Problem{Code: "cue", Message: fmt.Sprintf(format, args...), Path: strings.Join(e.Path(), ".")}
		if pos := e.Position(); pos.IsValid() {
			p.Pos = engine.Pos{File: pos.Filename(), Line: pos.Line(), Col: pos.Column()}
		} else if ps := cueerrors.Positions(e); len(ps) > 0 {
			p.Pos = engine.Pos{File: ps[0].Filename(), Line: ps[0].Line(), Col: ps[0].Column()}
		}
		ce.Problems = append(ce.Problems, p)
	}
	return ce
}
