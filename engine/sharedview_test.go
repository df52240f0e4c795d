package engine

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSharedViewMatchesCopy proves that letting the rules read the
// document itself (Evaluate's common case) and handing the document over
// (Options.Owned) change nothing: for every example, spec-test inputs and
// generated documents (valid ones, variants and single-point mutations,
// with hidden answers, failing computes and invalid values among them)
// evaluate to the same result as when the rules always read a copy. The
// documents passed without Owned are left as they were.
func TestSharedViewMatchesCopy(t *testing.T) {
	today := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	total, rolled := 0, 0
	for _, dir := range exampleDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			s, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			g := &docGen{rnd: rand.New(rand.NewSource(2)), s: s, strict: true}
			docs := g.corpus(g.seeds(), 600)
			for _, tc := range s.Tests {
				docs = append(docs, tc.Input)
			}
			for _, d := range docs {
				b, err := json.Marshal(d)
				if err != nil {
					t.Fatal(err)
				}
				parse := func() map[string]any {
					m, err := ParseDocument(bytes.NewReader(b), Limits{})
					if err != nil {
						t.Fatal(err)
					}
					return m
				}
				in, orig := parse(), parse()
				before := sharedRollbacks.Load()
				got := s.Evaluate(in, Options{Today: today})
				if sharedRollbacks.Load() != before {
					rolled++
				}
				want := s.Evaluate(parse(), Options{Today: today, copyView: true})
				owned := s.Evaluate(parse(), Options{Today: today, Owned: true})
				total++
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s\nshared view: %+v\ncopy:        %+v", b, got, want)
				}
				if !reflect.DeepEqual(owned, want) {
					t.Fatalf("%s\nowned: %+v\ncopy:  %+v", b, owned, want)
				}
				if !reflect.DeepEqual(in, orig) {
					t.Fatalf("%s: Evaluate changed the document it was not handed", b)
				}
			}
		})
	}
	t.Logf("%d documents, %d settled on a copy after a rollback", total, rolled)
	if rolled == 0 || rolled == total {
		t.Fatalf("%d of %d documents rolled back: the corpus must take both paths", rolled, total)
	}
}

// settleBase: dogs is a number of dogs; double is computed from it;
// dogs is shown only while double is below 10 (or not computed), so
// hiding dogs takes double away and shows dogs again: visibility that
// does not settle in one direction.
const settleBase = `package demo

import "amtsform.dev/spec"

service: spec.#Service & {
	id: "demo", version: "1.0.0", reference: "DEMO", authority: "buergeramt", retentionDays: 30
	title: {de: "Demo", en: "Demo"}
	data: {
		kind?:   string
		dogs?:   int
		DOUBLE
	}
	ui: {
		kind: label: {de: "Art", en: "Kind"}
		dogs: label: {de: "Hunde", en: "Dogs"}
		double: label: {de: "Doppelt", en: "Double"}
	}
	pages: [{id: "start", title: {de: "Start", en: "Start"}, fields: ["kind", "dogs", "double"]}]
	rules: {
		show: dogs: "SHOW"
		compute: double: "dogs * 2"
	}
	routing: [{when: "double == 0", to: "null"}, {to: "amt"}]
	workflow: spec.#StandardWorkflow
}
`

// TestSharedViewFallback: the cases where the rules must not settle on
// the document itself, each with the result a copy gives. Each fails if
// its guard in settle is removed.
func TestSharedViewFallback(t *testing.T) {
	tests := []struct {
		name, show string
		double     string // its declaration, if not "double?: int"
		doc        map[string]any
		want       map[string]any // Result.Data
	}{
		// Hiding dogs would drop it for good: the next round shows it
		// again, and the answer must still be there.
		{"hidden, then shown again", "(double ?? 0) < 10", "", map[string]any{"dogs": 7}, map[string]any{"dogs": int64(7)}},
		// double was computed in the first round before dogs was hidden;
		// on the copy it is not computed, and must not stay behind.
		{"computed before a rollback", "kind == 'hund'", "", map[string]any{"kind": "katze", "dogs": 3}, map[string]any{"kind": "katze"}},
		// A compute that fails removes its default from what rules read,
		// not from the document: the default is validated and kept.
		{"a failing compute with a default", "true", "double?: int | *0", map[string]any{"kind": "katze"}, map[string]any{"kind": "katze", "double": int64(0)}},
		{"shown: settles in place", "kind == 'hund'", "", map[string]any{"kind": "hund", "dogs": 3}, map[string]any{"kind": "hund", "dogs": int64(3), "double": int64(6)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(settleBase, "SHOW", tt.show, 1)
			double := "double?: int"
			if tt.double != "" {
				double = tt.double
			}
			s, err := Load(writeSpec(t, strings.Replace(src, "DOUBLE", double, 1)))
			if err != nil {
				t.Fatal(err)
			}
			for _, opt := range []Options{{}, {copyView: true}, {Owned: true}} {
				got := s.Evaluate(deepCopy(tt.doc), opt)
				if !reflect.DeepEqual(got.Data, tt.want) {
					t.Errorf("%+v: data %v, want %v", opt, got.Data, tt.want)
				}
				// Routing reads what the rules read: a default taken
				// away by a failing compute is not there.
				if got.Office != "amt" {
					t.Errorf("%+v: office %q, want amt", opt, got.Office)
				}
			}
		})
	}
}
