package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/registry"
)

func init() {
	commands["publish"] = command{"publish a shared service (a CUE module) to a registry, signed", runPublish}
	commands["keygen"] = command{"make a publisher's signing key for amtsform publish", runKeygen}
}

// moduleCache is the default module cache directory.
func moduleCache() string {
	if d := os.Getenv("AMTSFORM_MODULE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "amtsform", "modules")
	}
	return filepath.Join(os.TempDir(), "amtsform-modules")
}

// runPublish checks the module in DIR (it compiles, its spec tests
// pass), publishes it with CUE's module client and signs it.
func runPublish(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("publish", stderr, "--version vX.Y.Z --key FILE [--registry CUE_REGISTRY] DIR")
	version := fs.String("version", "", "the semantic version to publish, e.g. v1.2.0")
	key := fs.String("key", os.Getenv("AMTSFORM_SIGNING_KEY"), "the publisher's private key (amtsform keygen; env AMTSFORM_SIGNING_KEY)")
	reg := fs.String("registry", os.Getenv("CUE_REGISTRY"), "where to publish, in CUE_REGISTRY syntax (env CUE_REGISTRY)")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 || *version == "" || *key == "" || *reg == "" {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	signer, err := registry.ReadSigner(*key)
	if err != nil {
		fmt.Fprintf(stderr, "amtsform publish: %v\n", err)
		return 2
	}
	// What is published must compile and pass its own tests.
	s, err := engine.Load(dir)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	failed := 0
	for _, t := range s.Tests {
		for _, d := range t.Run(s) {
			fmt.Fprintf(stderr, "FAIL %s: %s\n", t.Name, d)
			failed++
		}
	}
	if failed > 0 || len(s.Tests) == 0 {
		fmt.Fprintf(stderr, "amtsform publish: %s: the spec tests must exist and pass before publishing\n", dir)
		return 1
	}
	r, err := registry.Open(registry.Config{CUERegistry: *reg, CacheDir: moduleCache()})
	if err != nil {
		fmt.Fprintf(stderr, "amtsform publish: %v\n", err)
		return 2
	}
	mv, digest, err := r.Publish(context.Background(), dir, *version, signer)
	if err != nil {
		fmt.Fprintf(stderr, "amtsform publish: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "published %s (service %s %s, %d spec tests), manifest %s, signed by %s\n",
		mv, s.ID, s.Version, len(s.Tests), digest, signer.Public().ID())
	return 0
}

// runKeygen writes a new private key and prints its public key, as an
// installation's modules.trust names it.
func runKeygen(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("keygen", stderr, "FILE")
	if !parseArgs(fs, args, 1) {
		return 2
	}
	s, err := registry.GenerateKey()
	if err != nil {
		fmt.Fprintf(stderr, "amtsform keygen: %v\n", err)
		return 1
	}
	pem, err := s.MarshalPrivateKey()
	if err != nil {
		fmt.Fprintf(stderr, "amtsform keygen: %v\n", err)
		return 1
	}
	f, err := os.OpenFile(fs.Arg(0), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		fmt.Fprintf(stderr, "amtsform keygen: %v\n", err)
		return 1
	}
	if _, err := f.Write(pem); err != nil {
		f.Close()
		fmt.Fprintf(stderr, "amtsform keygen: %v\n", err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(stderr, "amtsform keygen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", s.Public())
	fmt.Fprintf(stderr, "private key written to %s (keep it secret); trust the public key above in an installation:\n  modules: trust: \"<module prefix>/*\": [%q]\n", fs.Arg(0), s.Public().String())
	return 0
}

// parseInterspersed parses flags that may follow positional arguments
// (amtsform publish DIR --version v1.2.0).
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest := fs.Args()
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) > 0 {
		return fs.Parse(append([]string{"--"}, pos...))
	}
	return nil
}
