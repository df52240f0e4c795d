package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cuelabs.dev/go/oci/ociregistry/ocimem"

	"github.com/amtsform/amtsform/engine/registry"
	"github.com/amtsform/amtsform/engine/registry/registrytest"
)

// TestPublishInstallUpgrade runs the commands as a state and a
// municipality would: keygen, publish v1.0.0, install it for Eltville
// with its overlay, publish v1.1.0 with a new required field, see the
// upgrade refused without --yes (ERR for drafts), install it with --yes;
// amtsform diff MODULE@v1.0.0 MODULE@v1.1.0 shows the same; an unsigned
// version is refused.
func TestPublishInstallUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded store")
	}
	cueRegistry := registrytest.Serve(t, ocimem.New())
	work := t.TempDir()
	t.Setenv("AMTSFORM_MODULE_CACHE", filepath.Join(work, "cache"))

	var out, errb bytes.Buffer
	cmd := func(want int, args ...string) string {
		t.Helper()
		out.Reset()
		errb.Reset()
		if got := run(args, &out, &errb); got != want {
			t.Fatalf("amtsform %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, out.String(), errb.String())
		}
		return out.String() + errb.String()
	}

	key := filepath.Join(work, "land.key")
	pub := strings.TrimSpace(cmd(0, "keygen", key))
	pub = strings.SplitN(pub, "\n", 2)[0]

	// The installation: examples/packages, trusting the new key and
	// taking modules from the loopback registry.
	inst := registrytest.CopyTree(t, "../../examples/packages")
	cfg, _ := os.ReadFile(filepath.Join(inst, "installation.cue"))
	cfg = regexp.MustCompile(`registry: ".*"`).ReplaceAll(cfg, []byte(`registry: "`+cueRegistry+`"`))
	cfg = regexp.MustCompile(`\["ed25519:[^"]*"\]`).ReplaceAll(cfg, []byte(`["`+pub+`"]`))
	os.WriteFile(filepath.Join(inst, "installation.cue"), cfg, 0o644)

	got := cmd(0, "publish", filepath.Join(inst, "kita"), "--version", "v1.0.0", "--key", key, "--registry", cueRegistry)
	if !strings.Contains(got, "published land.hessen.example/kita@v1.0.0 (service kita-uebernahme 1.0.0, 5 spec tests), manifest sha256:") {
		t.Errorf("publish: %s", got)
	}
	data := filepath.Join(work, "data")
	got = cmd(0, "install", "land.hessen.example/kita@v1.0.0", "--tenant", "eltville", "--installation", inst, "--overlay", "eltville", "--data-dir", data)
	if !strings.Contains(got, "installed land.hessen.example/kita@v1.0.0 for eltville: kita-uebernahme 1.0.0") || !strings.Contains(got, "4 spec tests passed") {
		t.Errorf("install: %s", got)
	}
	got = cmd(0, "install", "land.hessen.example/kita@v1.0.0", "--tenant", "eltville", "--installation", inst, "--overlay", "eltville", "--data-dir", data)
	if !strings.Contains(got, "eltville runs land.hessen.example/kita@v1 v1.0.0 already") && !strings.Contains(got, "runs land.hessen.example/kita@v1@v1.0.0 already") {
		t.Errorf("install again: %s", got)
	}

	// v1.1.0: a new required field, ERR for drafts in flight.
	v2 := registrytest.CopyTree(t, filepath.Join(inst, "kita"))
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), `version:       "1.0.0"`, `version:       "1.1.0"`)
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), "\t\temail?:    spec.#Email\n", "\t\temail?:    spec.#Email\n\t\tphone:     spec.#Phone\n")
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), `fields: ["applicant", "address", "email"]`, `fields: ["applicant", "address", "email", "phone"]`)
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), "\t\tiban: label:", "\t\tphone: label: {de: \"Telefon\", en: \"Phone\"}\n\t\tiban: label:")
	for _, f := range []string{filepath.Join(v2, "tests.cue"), filepath.Join(inst, "eltville", "tests.cue")} {
		b, _ := os.ReadFile(f)
		os.WriteFile(f, []byte(strings.ReplaceAll(string(b), "consent: true}", `consent: true, phone: "+49 6123 1234"}`)), 0o644)
	}
	cmd(0, "publish", v2, "--version", "v1.1.0", "--key", key, "--registry", cueRegistry)

	got = cmd(1, "install", "land.hessen.example/kita@v1.1.0", "--tenant", "eltville", "--installation", inst, "--overlay", "eltville", "--data-dir", data)
	for _, want := range []string{"upgrade of eltville from v1.0.0 to v1.1.0", "ERR  data phone: added (string, required)", "Run again with --yes to install."} {
		if !strings.Contains(got, want) {
			t.Errorf("upgrade without --yes: no %q in\n%s", want, got)
		}
	}
	got = cmd(0, "install", "land.hessen.example/kita@v1.1.0", "--tenant", "eltville", "--installation", inst, "--overlay", "eltville", "--data-dir", data, "--dry-run")
	if !strings.Contains(got, "would install land.hessen.example/kita@v1.1.0 for eltville") {
		t.Errorf("dry run: %s", got)
	}
	if rec, _ := registry.ReadRecord(inst); rec.Modules[0].Version != "v1.0.0" {
		t.Error("the dry run installed")
	}
	got = cmd(0, "install", "land.hessen.example/kita@v1.1.0", "--tenant", "eltville", "--installation", inst, "--overlay", "eltville", "--data-dir", data, "--yes")
	if !strings.Contains(got, "installed land.hessen.example/kita@v1.1.0 for eltville: kita-uebernahme 1.1.0") {
		t.Errorf("upgrade with --yes: %s", got)
	}
	rec, err := registry.ReadRecord(inst)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rec)
	if len(rec.Modules) != 1 || rec.Modules[0].Version != "v1.1.0" || rec.Modules[0].Overlay != "eltville" || rec.Modules[0].Signer == "" {
		t.Errorf("record: %s", b)
	}

	got = cmd(0, "modules", "--installation", inst)
	if !regexp.MustCompile(`(?m)^eltville +land.hessen.example/kita@v1 +v1.1.0 +eltville +ed25519:[0-9a-f]{16} *$`).MatchString(got) {
		t.Errorf("modules:\n%s", got)
	}

	// amtsform diff with module references, from the cache.
	t.Setenv("AMTSFORM_INSTALLATION", inst)
	got = cmd(1, "diff", "--today", "2026-12-01", "land.hessen.example/kita@v1.0.0", "land.hessen.example/kita@v1.1.0")
	if !strings.Contains(got, "kita-uebernahme 1.0.0 → kita-uebernahme 1.1.0") || !strings.Contains(got, "ERR  data phone: added (string, required)") {
		t.Errorf("diff: %s", got)
	}

	// An unsigned version is refused, with the reason.
	r, err := registry.Open(registry.Config{CUERegistry: cueRegistry, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	registrytest.ReplaceIn(t, filepath.Join(v2, "service.cue"), `version:       "1.1.0"`, `version:       "1.2.0"`)
	if _, _, err := r.Publish(context.Background(), v2, "v1.2.0", nil); err != nil {
		t.Fatal(err)
	}
	got = cmd(1, "install", "land.hessen.example/kita@v1.2.0", "--tenant", "eltville", "--installation", inst, "--overlay", "eltville", "--data-dir", data)
	if !strings.Contains(got, "amtsform install: refused: the version is not signed land.hessen.example/kita@v1.2.0") {
		t.Errorf("unsigned: %s", got)
	}
	got = cmd(0, "modules", "--installation", inst)
	if !regexp.MustCompile(`(?m)^eltville .* v1.2.0$`).MatchString(got) {
		t.Errorf("modules lists no newer version:\n%s", got)
	}
}
