package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeliveryBindings: bindings are read per tenant from the
// installation, paths resolved, kinds checked against the service.
func TestDeliveryBindings(t *testing.T) {
	dir := t.TempDir()
	abs, _ := filepath.Abs("../examples/kita-gebuehren")
	kita, err := filepath.Rel(dir, abs)
	if err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		t.Helper()
		src := "package installation\n\ntenants: ffm: {\n\tname: {de: \"Frankfurt\", en: \"Frankfurt\"}\n\tservices: [\"" + kita + "\"]\n" +
			"\toffices: \"jugendamt-frankfurt\": {name: {de: \"Jugendamt\", en: \"Youth office\"}}\n\toffices: \"jugendamt-main-taunus\": {name: {de: \"Jugendamt MTK\", en: \"Youth office MTK\"}}\n" + body + "}\n"
		if err := os.WriteFile(filepath.Join(dir, "installation.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`	deliveries: fachverfahren: {kind: "webhook", url: "https://fv.example/in", secretEnv: "FV_SECRET", receiverKey: "keys/fv.jwk", concurrency: 2}
	deliveries: archiv: {kind: "directory", dir: "out/archiv"}
`)
	in, err := LoadInstallation(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := in.Tenants[0].Deliveries
	if b["fachverfahren"].URL != "https://fv.example/in" || b["fachverfahren"].ReceiverKey != filepath.Join(dir, "keys/fv.jwk") || b["fachverfahren"].Concurrency != 2 {
		t.Fatalf("webhook binding %+v", b["fachverfahren"])
	}
	if b["archiv"].Dir != filepath.Join(dir, "out/archiv") {
		t.Fatalf("directory binding %+v", b["archiv"])
	}
	svcs, err := in.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := in.CheckError(svcs); err != nil {
		t.Fatalf("check: %v", err)
	}
	// the service declares fachverfahren as a webhook
	write(`	deliveries: fachverfahren: {kind: "feed", tokenSHA256: ["` + strings.Repeat("a", 64) + `"]}
`)
	in, err = LoadInstallation(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.CheckError(svcs); err == nil || !strings.Contains(err.Error(), "binds it as feed, the service declares webhook") {
		t.Fatalf("kind mismatch: %v", err)
	}
	for _, bad := range []string{
		`	deliveries: fachverfahren: {kind: "webhook"}` + "\n",                                // no url
		`	deliveries: fachverfahren: {kind: "webhook", url: "ftp://x"}` + "\n",                // not http(s)
		`	deliveries: fachverfahren: {kind: "feed"}` + "\n",                                   // no token
		`	deliveries: fachverfahren: {kind: "webhook", url: "https://x", secret: "s"}` + "\n", // secrets are never written down
	} {
		write(bad)
		if _, err := LoadInstallation(dir); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
