package main

import (
	"io"
	"testing"
)

// TestDiffExitCodes checks the exit codes of amtsform diff, which the
// scenario in testdata/script/diff.txtar can only tell apart from zero.
func TestDiffExitCodes(t *testing.T) {
	const pairs = "../../engine/diff/testdata/"
	tests := []struct {
		args []string
		want int
	}{
		{[]string{pairs + "text-only/old", pairs + "text-only/new"}, 0},
		{[]string{pairs + "added-optional/old", pairs + "added-optional/new"}, 0},
		{[]string{pairs + "widened-bound/old", pairs + "widened-bound/new"}, 1},
		{[]string{"--json", pairs + "new-required/old", pairs + "new-required/new"}, 1},
		{[]string{pairs + "text-only/old"}, 2},
		{[]string{"--today", "15.01.2026", pairs + "text-only/old", pairs + "text-only/new"}, 2},
		{[]string{pairs + "text-only/old", pairs + "no-such-dir"}, 2},
		{[]string{"../../examples/installation", pairs + "text-only/new"}, 2},
	}
	for _, tt := range tests {
		if got := run(append([]string{"diff", "--today", "2026-01-15"}, tt.args...), io.Discard, io.Discard); got != tt.want {
			t.Errorf("amtsform diff %v: exit %d, want %d", tt.args, got, tt.want)
		}
	}
}
