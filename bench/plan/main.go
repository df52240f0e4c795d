// Command plan times the compiled validation plan of a service on one
// document, the Go side of the peer benchmark (see peer.sh). Usage:
//
//	go run ./bench/plan examples/kita-gebuehren bench/testdata/kita-3-children.json
//
// It prints one line, "plan <ns per validation> ns/op <n> allocs/op",
// the best of 60 short timed rounds after a warm-up, measured the same
// way as ajv.mjs measures ajv.
package main

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: plan service-dir document.json")
		os.Exit(2)
	}
	ns, allocs, err := run(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "plan:", err)
		os.Exit(1)
	}
	fmt.Printf("plan %.1f ns/op %.0f allocs/op\n", ns, allocs)
}

func run(dir, docFile string) (ns, allocs float64, err error) {
	s, err := engine.Load(dir)
	if err != nil {
		return 0, 0, err
	}
	f, err := os.Open(docFile)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	doc, err := engine.ParseDocument(f, engine.Limits{})
	if err != nil {
		return 0, 0, err
	}
	if errs := s.Data.CheckData(doc); len(errs) > 0 {
		return 0, 0, fmt.Errorf("document invalid: %v", errs)
	}
	return measure(func() bool { return len(s.Data.CheckData(doc)) == 0 })
}

// measure times validate like ajv.mjs: a warm-up, then the best of 60
// rounds of 20000 calls, in ns per call; and the allocations per call.
func measure(validate func() bool) (ns, allocs float64, err error) {
	const iterations = 20000
	ok := 0
	for range iterations {
		if validate() {
			ok++
		}
	}
	best := float64(-1)
	for range 60 {
		t0 := time.Now()
		for range iterations {
			if validate() {
				ok++
			}
		}
		d := float64(time.Since(t0).Nanoseconds()) / iterations
		if best < 0 || d < best {
			best = d
		}
	}
	if ok != 61*iterations {
		return 0, 0, fmt.Errorf("the document stopped being valid")
	}
	return best, testing.AllocsPerRun(1000, func() { validate() }), nil
}
