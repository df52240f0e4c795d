package engine

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"cuelang.org/go/cue"
)

// Pos is a position in a spec file.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// String formats the position as file:line:col, relative to the working
// directory where possible.
func (p Pos) String() string {
	if p.File == "" {
		return "-"
	}
	f := p.File
	if wd, err := filepath.Abs("."); err == nil {
		if rel, err := filepath.Rel(wd, f); err == nil && !strings.HasPrefix(rel, "..") {
			f = rel
		}
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
}

// Problem is one defect found while loading or compiling a spec.
type Problem struct {
	Pos Pos `json:"pos"`
	// Path is the CUE path the problem concerns, if any.
	Path string `json:"path,omitempty"`
	// Code is a stable identifier of the kind of problem.
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (p Problem) String() string { return p.Pos.String() + ": " + p.Message }

// CheckError reports every problem found in a spec at once.
type CheckError struct {
	Problems []Problem
}

func (e *CheckError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

func (e *CheckError) add(pos Pos, path, code, format string, args ...any) {
	e.Problems = append(e.Problems, Problem{Pos: pos, Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (e *CheckError) sort() {
	sort.SliceStable(e.Problems, func(i, j int) bool {
		a, b := e.Problems[i].Pos, e.Problems[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

func (e *CheckError) err() error {
	if len(e.Problems) == 0 {
		return nil
	}
	e.sort()
	return e
}

// posOf returns where v is written, preferring the service's own files
// to the spec language's: a problem should point at what the designer
// wrote.
func posOf(v cue.Value) Pos {
	p := v.Pos()
	if !p.IsValid() {
		return Pos{}
	}
	if strings.Contains(p.Filename(), "cue.mod") {
		if op, args := v.Expr(); op == cue.AndOp {
			for _, a := range args {
				if q := a.Pos(); q.IsValid() && !strings.Contains(q.Filename(), "cue.mod") {
					p = q
					break
				}
			}
		}
	}
	return Pos{File: p.Filename(), Line: p.Line(), Col: p.Column()}
}
