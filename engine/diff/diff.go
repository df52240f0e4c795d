// Package diff compares two versions of a service definition and grades
// every difference by whom it can break, as API diff tools such as
// oasdiff do: ERR, WARN or INFO.
//
// Two audiences are affected in opposite directions. Citizens hold
// drafts made under the old version: a change that rejects a document
// the old version accepted (a new required field, a narrower bound, a
// removed option) would break them. Receivers were built for the old
// version's published JSON Schema: a change that lets the new version
// deliver what that schema rejects (a new field in a closed object, a
// wider bound, a new office) would break them. Text changes break
// nobody.
//
// The grades are checked, not guessed: Compare runs the old version's
// valid spec-test inputs and documents generated from its data model
// through the new version, and the new version's through the old
// version's JSON Schema and routing, and reports the documents that fail
// as counterexamples.
package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"cuelang.org/go/cue"

	"github.com/amtsform/amtsform/engine"
)

// Severity grades a change, as oasdiff does.
type Severity int

// The severities, from harmless to breaking.
const (
	None Severity = iota
	Info
	Warn
	Err
)

var severityNames = [...]string{"OK", "INFO", "WARN", "ERR"}

func (s Severity) String() string { return severityNames[s] }

// MarshalText writes the severity's name; None is "OK".
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Version is one loaded and compiled version of a service.
type Version struct {
	Service *engine.Service
	// Value is the evaluated CUE value of the definition, read for the
	// parts the compiled service does not export (rules, routing).
	Value cue.Value
}

// Load loads and compiles the service definition in dir with the local
// packages pkgs (see engine.LoadDirPackages).
func Load(dir string, pkgs map[string]string) (*Version, error) {
	src, err := engine.LoadDirPackages(dir, pkgs)
	if err != nil {
		return nil, err
	}
	s, err := engine.Compile(src)
	if err != nil {
		return nil, err
	}
	return &Version{Service: s, Value: src.Value}, nil
}

// Change is one difference between two versions.
type Change struct {
	// Area is what changed: "data", "options", "pages", "rules",
	// "routing", "workflow", "deliveries", "texts" or "service".
	Area string `json:"area"`
	// Path is the data path, page id, rule or state concerned.
	Path string `json:"path"`
	// What says what happened, e.g. "added (optional)" or "maximum
	// widened: 10 → 20".
	What string `json:"what"`
	// Heuristic is set where the change was inferred, as a rename is.
	Heuristic bool `json:"heuristic,omitempty"`
	// Drafts grades the effect on documents made under the old version.
	Drafts Severity `json:"drafts,omitempty"`
	// Deliveries grades the effect on receivers built for the old
	// version's JSON Schema and offices.
	Deliveries Severity `json:"deliveries,omitempty"`
	// Unconfirmed is set where a change was graded ERR by its kind but
	// no checked document breaks because of it; it is then graded WARN.
	Unconfirmed bool `json:"unconfirmed,omitempty"`
	// also are further data paths the change concerns (a rename's new name).
	also []string
}

// Severity is the higher of the change's grades, at least Info.
func (c Change) Severity() Severity { return max(c.Drafts, c.Deliveries, Info) }

// Counterexample is a checked document that breaks.
type Counterexample struct {
	// Origin says where the document came from: a spec test of the
	// version it is valid under, and the variation applied.
	Origin string `json:"origin"`
	// Path and Code are the first error: an engine error code
	// ("required", "enum", …), a JSON Schema keyword
	// ("additionalProperties", "maximum", …), or "office" for a route.
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	// Severity is Err for a rejected document or an unknown office,
	// Warn for a document routed to another known office.
	Severity Severity `json:"severity"`
	// Document is the document as checked.
	Document map[string]any `json:"document"`
}

// Side is the checked verdict for one audience.
type Side struct {
	Severity Severity `json:"severity"`
	// Checked is the number of documents checked, Broken the number that
	// broke.
	Checked int `json:"checked"`
	Broken  int `json:"broken"`
	// Counterexamples are the broken documents, one per distinct error.
	Counterexamples []Counterexample `json:"counterexamples,omitempty"`
}

// VersionInfo identifies a compared version.
type VersionInfo struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// Report is the result of Compare.
type Report struct {
	Old     VersionInfo `json:"old"`
	New     VersionInfo `json:"new"`
	Changes []Change    `json:"changes"`
	// Drafts checks documents valid under the old version against the
	// new one; Deliveries checks documents valid under the new version
	// against the old version's JSON Schema and offices.
	Drafts     Side `json:"drafts"`
	Deliveries Side `json:"deliveries"`
	// Severity is the highest grade of all.
	Severity Severity `json:"severity"`
}

// Options tune a comparison.
type Options struct {
	// Today is the date rules see when a document has no date of its
	// own (spec tests carry theirs); zero means the current date.
	Today time.Time
}

// Compare compares the versions old and new.
func Compare(old, new *Version, opt Options) *Report {
	if opt.Today.IsZero() {
		opt.Today = time.Now()
	}
	r := &Report{Old: info(old.Service), New: info(new.Service), Changes: []Change{}}
	d := &differ{old: old, new: new, receivers: receiverSeverity(old.Service)}
	d.compare()
	r.Changes = d.changes
	r.Drafts = checkDrafts(old, new, opt)
	r.Deliveries = checkDeliveries(old, new, opt, d.receivers)
	confirm(r)
	r.Severity = max(r.Drafts.Severity, r.Deliveries.Severity)
	for _, c := range r.Changes {
		r.Severity = max(r.Severity, c.Severity())
	}
	return r
}

func info(s *engine.Service) VersionInfo {
	return VersionInfo{ID: s.ID, Version: s.Version, Hash: s.Hash}
}

// receiverSeverity is how hard a break of the old version's JSON Schema
// hits: Err where the service declares deliveries, whose receivers
// validate against it; Warn where submissions are only exported.
func receiverSeverity(s *engine.Service) Severity {
	if len(s.Deliveries) > 0 {
		return Err
	}
	return Warn
}

// confirm downgrades ERR changes that no counterexample confirms, and
// raises a side to its worst change once confirmed.
func confirm(r *Report) {
	for i := range r.Changes {
		c := &r.Changes[i]
		if c.Area == "service" {
			continue // not about documents
		}
		if c.Drafts == Err && !touches(r.Drafts.Counterexamples, c) {
			c.Drafts, c.Unconfirmed = Warn, true
		}
		if c.Deliveries == Err && !touches(r.Deliveries.Counterexamples, c) {
			c.Deliveries, c.Unconfirmed = Warn, true
		}
	}
}

// touches reports whether an ERR counterexample's error lies at, above
// or below a data path of the change.
func touches(cs []Counterexample, ch *Change) bool {
	for _, c := range cs {
		if c.Severity != Err {
			continue
		}
		q := engine.StripIndexes(c.Path)
		for _, p := range append([]string{ch.Path}, ch.also...) {
			if q == p || hasPrefix(p, q) || hasPrefix(q, p) {
				return true
			}
		}
	}
	return false
}

func hasPrefix(p, prefix string) bool {
	return len(p) > len(prefix) && p[:len(prefix)] == prefix && p[len(prefix)] == '.'
}

// JSON returns the report as indented JSON.
func (r *Report) JSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		panic(fmt.Sprintf("diff: %v", err)) // the report holds only JSON values
	}
	return buf.Bytes()
}
