package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"amtsform": func() { os.Exit(Main()) },
	})
}

// TestScript runs the CLI scenarios in testdata/script/*.txtar in-process.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// The examples are copied in by scripts that need them.
			env.Setenv("EXAMPLES", examplesDir())
			return nil
		},
	})
}

func examplesDir() string {
	wd, _ := os.Getwd()
	return wd + "/../../examples"
}
