package main

import (
	"fmt"
	"io"
	"time"

	"github.com/amtsform/amtsform/engine/diff"
)

func init() {
	commands["diff"] = command{"compare two versions of a service and grade what breaks", runDiff}
}

// runDiff compares two service directories. It exits 0 when nothing is
// graded ERR, 1 when something is, and 2 on usage and load errors.
func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diff", stderr, "[--json] [--today YYYY-MM-DD] OLD NEW")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	day := fs.String("today", "", "the date rules see as today for documents without one (default: the current date)")
	if !parseArgs(fs, args, 2) {
		return 2
	}
	var opt diff.Options
	if *day != "" {
		t, err := time.Parse("2006-01-02", *day)
		if err != nil {
			fmt.Fprintf(stderr, "amtsform diff: --today: want a date like 2026-01-15, got %q\n", *day)
			return 2
		}
		opt.Today = t
	}
	var versions [2]*diff.Version
	for i, arg := range fs.Args() {
		if v, ok, err := loadModuleArg(arg); ok { // MODULE@VERSION (install.go)
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", arg, err)
				return 2
			}
			versions[i] = v
			continue
		}
		ds := dirsOf([]string{arg})
		if len(ds) != 1 {
			fmt.Fprintf(stderr, "amtsform diff: %s holds %d services; name one service directory\n", arg, len(ds))
			return 2
		}
		if ds[0].err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", arg, ds[0].err)
			return 2
		}
		v, err := diff.Load(ds[0].dir, ds[0].pkgs)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		versions[i] = v
	}
	r := diff.Compare(versions[0], versions[1], opt)
	if *asJSON {
		stdout.Write(r.JSON())
	} else {
		r.WriteText(stdout)
	}
	if r.Severity == diff.Err {
		return 1
	}
	return 0
}
