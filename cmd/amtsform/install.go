package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/diff"
	"github.com/amtsform/amtsform/engine/registry"
)

func init() {
	commands["install"] = command{"install a shared service version for a tenant: verify, compile, test, diff, store", runInstall}
	commands["modules"] = command{"list the shared modules each tenant runs, their publishers and newer versions", runModules}
	// amtsform check also refuses overlays that try to loosen the shared
	// service they import: CUE keeps the stricter value silently.
	check := commands["check"]
	commands["check"] = command{check.summary, func(args []string, stdout, stderr io.Writer) int {
		bad := overlayProblems(args, stderr)
		out := &dropOK{w: stdout, dirs: bad}
		code := check.run(args, out, stderr)
		out.flush()
		if code == 0 && len(bad) > 0 {
			return 1
		}
		return code
	}}
}

// dropOK passes check's output through but the "ok" lines of
// directories whose overlay was refused.
type dropOK struct {
	w    io.Writer
	dirs map[string]bool
	buf  []byte
}

func (d *dropOK) Write(p []byte) (int, error) {
	d.buf = append(d.buf, p...)
	for {
		i := strings.IndexByte(string(d.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(d.buf[:i+1])
		d.buf = d.buf[i+1:]
		if f := strings.Split(line, "\t"); len(f) >= 2 && f[0] == "ok" && d.dirs[f[1]] {
			continue
		}
		if _, err := io.WriteString(d.w, line); err != nil {
			return len(p), err
		}
	}
}

func (d *dropOK) flush() {
	if len(d.buf) > 0 {
		d.w.Write(d.buf)
		d.buf = nil
	}
}

// overlayProblems reports, for amtsform check, every overlay named
// through an installation that loosens a local package it imports (see
// registry.CheckOverlay), and returns the directories refused. With
// --json it reports nothing (the JSON report is check's own).
func overlayProblems(args []string, stderr io.Writer) map[string]bool {
	var dirs []string
	for _, a := range args {
		if a == "--json" || a == "-json" || a == "--json=true" || a == "-json=true" {
			return nil
		}
		if !strings.HasPrefix(a, "-") {
			dirs = append(dirs, a)
		}
	}
	found := map[string]bool{}
	for _, sd := range dirsOf(dirs) {
		if sd.err != nil || len(sd.pkgs) == 0 || !importsAny(sd.dir, sd.pkgs) {
			continue
		}
		v, err := diff.Load(sd.dir, sd.pkgs)
		if err != nil {
			// check reported CUE's conflict at one position; name both.
			for _, p := range registry.Conflicts(sd.dir, sd.pkgs) {
				fmt.Fprintln(stderr, p.String())
				found[sd.dir] = true
			}
			continue
		}
		for _, p := range registry.CheckOverlay(sd.dir, v.Value, sd.pkgs) {
			fmt.Fprintln(stderr, p.String())
			found[sd.dir] = true
		}
	}
	return found
}

// importsAny reports whether a .cue file in dir names one of pkgs'
// import paths.
func importsAny(dir string, pkgs map[string]string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for ip := range pkgs {
			if strings.Contains(string(b), `"`+ip+`"`) {
				return true
			}
		}
	}
	return false
}

// runInstall installs MODULE@VERSION for a tenant of an installation:
// it fetches the version from the installation's registry, verifies its
// signature against the publishers the installation trusts, compiles it
// (with the tenant's overlay, if given), runs the spec tests, shows the
// diff against what the tenant runs now (ERR needs --yes), stores the
// version by hash as the server does and records it in the
// installation's installed-modules.json.
func runInstall(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("install", stderr, "--tenant T [--installation DIR] [--overlay DIR] [--yes] [--dry-run] MODULE@VERSION")
	tenant := fs.String("tenant", "", "the tenant that runs the version")
	instDir := fs.String("installation", "examples/installation", "the installation directory")
	overlay := fs.String("overlay", "", "the tenant's overlay directory (relative to the installation) that imports the module; empty runs the module's service as published")
	yes := fs.Bool("yes", false, "install even when the diff grades something ERR")
	dryRun := fs.Bool("dry-run", false, "verify, compile, test and show the diff, but install nothing")
	regFlag := fs.String("registry", "", "registry configuration in CUE_REGISTRY syntax (default: the installation's modules.registry, then $CUE_REGISTRY)")
	cache := fs.String("cache", moduleCache(), "the module cache directory (env AMTSFORM_MODULE_CACHE)")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *tenant == "" {
		fs.Usage()
		return 2
	}
	mv, err := registry.ParseRef(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "amtsform install: %v\n", err)
		return 2
	}
	inst, err := engine.LoadInstallation(*instDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if inst.Tenant(*tenant) == nil {
		fmt.Fprintf(stderr, "amtsform install: tenant %q is not in %s\n", *tenant, *instDir)
		return 2
	}
	set, err := registry.ReadSettings(*instDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	spec := *regFlag
	if spec == "" {
		spec = set.Registry
	}
	if spec == "" {
		spec = os.Getenv("CUE_REGISTRY")
	}
	reg, err := registry.Open(registry.Config{CUERegistry: spec, CacheDir: *cache})
	if err != nil {
		fmt.Fprintf(stderr, "amtsform install: %v\n", err)
		return 2
	}
	ctx := context.Background()
	st, closeFn, err := openStore(ctx, sf.uri, sf.dataDir, sf.logger(stderr))
	if err != nil {
		return storeError(stderr, "install", err)
	}
	defer closeFn()
	// As the server does: offering a version persists it by hash.
	in := &registry.Installer{Registry: reg, Installation: inst, Settings: set, Catalog: catalog.New(st), Versions: st}
	plan, err := in.Plan(ctx, *tenant, mv, *overlay)
	if err != nil {
		if r := registry.Refusal(err); r != "" {
			fmt.Fprintf(stderr, "amtsform install: %s %s\n  %v\n", r, mv, err)
		} else {
			fmt.Fprintf(stderr, "amtsform install: %s: %v\n", mv, err)
		}
		return 1
	}
	if plan.Unchanged {
		fmt.Fprintf(stdout, "%s runs %s %s already (hash %.12s)\n", *tenant, plan.Current.Module, plan.Current.Version, plan.Current.Hash)
		return 0
	}
	if plan.Diff != nil {
		fmt.Fprintf(stdout, "upgrade of %s from %s to %s:\n\n", *tenant, plan.Current.Version, mv.Version())
		plan.Diff.WriteText(stdout)
		fmt.Fprintln(stdout)
	}
	if *dryRun {
		fmt.Fprintf(stdout, "would install %s for %s: %s %s (hash %.12s), signed by %s, %d spec tests passed\n",
			mv, *tenant, plan.Candidate.Service.ID, plan.Candidate.Service.Version, plan.Candidate.Service.Hash, plan.Candidate.Fetched.Signer, len(plan.Candidate.Service.Tests))
		return 0
	}
	if _, err := in.Apply(ctx, plan, *yes); err != nil {
		if errors.Is(err, registry.ErrConfirm) {
			fmt.Fprintf(stderr, "amtsform install: the upgrade has changes graded ERR (above); drafts in flight stay on %s, which the server keeps serving. Run again with --yes to install.\n", plan.Current.Version)
		} else {
			fmt.Fprintf(stderr, "amtsform install: %v\n", err)
		}
		return 1
	}
	c := plan.Candidate
	fmt.Fprintf(stdout, "installed %s for %s: %s %s (hash %.12s), signed by %s, %d spec tests passed\n",
		mv, *tenant, c.Service.ID, c.Service.Version, c.Service.Hash, c.Fetched.Signer, len(c.Service.Tests))
	return 0
}

// runModules lists the installation's record: which tenant runs which
// module version, signed by whom, and the newer versions the registry
// holds (skipped with --offline).
func runModules(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("modules", stderr, "[--installation DIR] [--offline]")
	instDir := fs.String("installation", "examples/installation", "the installation directory")
	offline := fs.Bool("offline", false, "do not ask the registry for newer versions")
	cache := fs.String("cache", moduleCache(), "the module cache directory (env AMTSFORM_MODULE_CACHE)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rec, err := registry.ReadRecord(*instDir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if len(rec.Modules) == 0 {
		fmt.Fprintf(stdout, "no shared modules installed in %s\n", *instDir)
		return 0
	}
	newer := map[string][]string{}
	if !*offline {
		set, err := registry.ReadSettings(*instDir)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if set.Registry != "" {
			reg, err := registry.Open(registry.Config{CUERegistry: set.Registry, CacheDir: *cache})
			if err == nil {
				newer, err = rec.Newer(context.Background(), reg)
			}
			if err != nil {
				fmt.Fprintf(stderr, "amtsform modules: newer versions: %v\n", err)
			}
		}
	}
	fmt.Fprintf(stdout, "%-12s %-32s %-9s %-10s %-22s %s\n", "TENANT", "MODULE", "VERSION", "OVERLAY", "SIGNED BY", "NEWER")
	for _, m := range rec.Modules {
		ov := m.Overlay
		if ov == "" {
			ov = "-"
		}
		fmt.Fprintf(stdout, "%-12s %-32s %-9s %-10s %-22s %s\n", m.Tenant, m.Module, m.Version, ov, m.Signer, strings.Join(newer[m.Module], " "))
	}
	return 0
}

// loadModuleArg loads "MODULE@VERSION" for amtsform diff from the
// module cache, verified against the trust of the installation named by
// $AMTSFORM_INSTALLATION (default examples/installation), fetching it
// from the registry if needed. ok is false when arg is no module
// reference (a directory).
func loadModuleArg(arg string) (v *diff.Version, ok bool, err error) {
	if _, statErr := os.Stat(arg); statErr == nil || !strings.Contains(arg, "@") {
		return nil, false, nil
	}
	mv, err := registry.ParseRef(arg)
	if err != nil {
		return nil, true, err
	}
	instDir := os.Getenv("AMTSFORM_INSTALLATION")
	if instDir == "" {
		instDir = "examples/installation"
	}
	set, err := registry.ReadSettings(instDir)
	if err != nil {
		return nil, true, err
	}
	spec := set.Registry
	if spec == "" {
		spec = os.Getenv("CUE_REGISTRY")
	}
	reg, err := registry.Open(registry.Config{CUERegistry: spec, CacheDir: moduleCache()})
	if err != nil {
		return nil, true, err
	}
	c, err := reg.Prepare(context.Background(), mv, set.Trust, "")
	if err != nil {
		return nil, true, err
	}
	return &diff.Version{Service: c.Service, Value: c.Source.Value}, true, nil
}
