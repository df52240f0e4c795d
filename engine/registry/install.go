package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cuelang.org/go/mod/module"

	"github.com/amtsform/amtsform/engine"
)

// Candidate is a module version fetched, verified, compiled and tested,
// ready to be offered.
type Candidate struct {
	Fetched *Fetched
	Source  *engine.Source
	Service *engine.Service
	// Overlay is the overlay directory it was built with, or "".
	Overlay string
}

// TestFailure reports spec tests that fail.
type TestFailure struct {
	Service string
	Failed  []string // "name: difference"
}

func (e *TestFailure) Error() string {
	return fmt.Sprintf("service %s: %d spec test(s) fail:\n  %s", e.Service, len(e.Failed), strings.Join(e.Failed, "\n  "))
}

// Prepare fetches and verifies mv against trust, compiles it (with the
// overlay in overlayDir, if not ""), checks that an overlay only narrows
// the shared service (CheckOverlay) and runs the spec tests: the module's
// own when it is installed as published, the overlay's otherwise.
func (r *Registry) Prepare(ctx context.Context, mv module.Version, trust Trust, overlayDir string) (*Candidate, error) {
	f, err := r.Fetch(ctx, mv, trust)
	if err != nil {
		return nil, err
	}
	return r.build(f, overlayDir)
}

// Rebuild compiles an installed version again from the cache, offline,
// after verifying it against trust (as a server does at start-up).
func (r *Registry) Rebuild(in Installed, trust Trust, overlayDir string) (*Candidate, error) {
	mv, err := module.NewVersion(in.Module, in.Version)
	if err != nil {
		return nil, err
	}
	f, err := r.verifyCached(mv, trust.Keys(mv.BasePath()))
	if err != nil {
		return nil, err
	}
	return r.build(f, overlayDir)
}

func (r *Registry) build(f *Fetched, overlayDir string) (*Candidate, error) {
	var src *engine.Source
	var err error
	if overlayDir == "" {
		src, err = r.Load(f.Dir, nil)
	} else {
		src, err = r.Load(overlayDir, map[string]string{f.Version.Path(): f.Version.Version()})
	}
	if err != nil {
		return nil, err
	}
	svc, err := engine.Compile(src)
	if err != nil {
		return nil, err
	}
	if overlayDir != "" {
		if ps := CheckOverlay(overlayDir, src.Value, nil); len(ps) > 0 {
			return nil, &engine.CheckError{Problems: ps}
		}
	}
	if len(svc.Tests) == 0 {
		return nil, fmt.Errorf("service %s: no spec tests; a shared service and an overlay are installed only with tests that pass", svc.ID)
	}
	tf := &TestFailure{Service: svc.ID}
	for _, t := range svc.Tests {
		for _, d := range t.Run(svc) {
			tf.Failed = append(tf.Failed, fmt.Sprintf("%s: %s", t.Name, d))
		}
	}
	if len(tf.Failed) > 0 {
		return nil, tf
	}
	return &Candidate{Fetched: f, Source: src, Service: svc, Overlay: overlayDir}, nil
}

// Refusal explains why a version is refused, for people: one of the
// sentinels of sign.go, or "".
func Refusal(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "refused: the version is not signed"
	case errors.Is(err, ErrUntrusted):
		return "refused: no publisher this installation trusts for the module signed it"
	case errors.Is(err, ErrBadSignature):
		return "refused: the signature is invalid"
	case errors.Is(err, ErrTampered):
		return "refused: the content differs from what the publisher signed"
	}
	return ""
}
