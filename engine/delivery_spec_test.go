package engine

import (
	"fmt"
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
		`	deliveries: fachverfahren: {kind: "webhook", url: "http://fv.example/in"}` + "\n",   // plain HTTP to another host
		`	deliveries: fachverfahren: {kind: "feed"}` + "\n",                                   // no token
		`	deliveries: fachverfahren: {kind: "webhook", url: "https://x", secret: "s"}` + "\n", // secrets are never written down
	} {
		write(bad)
		if _, err := LoadInstallation(dir); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

const mappingSpec = `package m

import "amtsform.dev/spec"

service: spec.#Service & {
	id: "mapping", version: "1.0.0", reference: "MAP", authority: "amt", retentionDays: 30
	title: {de: "M", en: "M"}
	data: {
		applicant: {givenName: string, familyName: string}
		note?: string
	}
	ui: {
		applicant: {label: {de: "Person", en: "Person"}, fields: {
			givenName: label: {de: "Vorname", en: "Given name"}
			familyName: label: {de: "Familienname", en: "Family name"}
		}}
		note: label: {de: "Notiz", en: "Note"}
	}
	pages: [{id: "p", title: {de: "S", en: "P"}, fields: ["applicant", "note"]}]
	routing: [{to: "amt"}]
	workflow: spec.#StandardWorkflow
	deliveries: fim: {
		kind: "webhook"
		mapping: {
			"antragsteller.F60000227": "applicant.familyName"
			"antragsteller.F60000228": "applicant.givenName"
			"bemerkung":               MAPNOTE
		}
		tests: [{
			input:  {applicant: {givenName: "Anna", familyName: "Schmidt"}}
			output: {antragsteller: {F60000227: "Schmidt", F60000228: "Anna"}}
		}, {
			input:  {applicant: {givenName: "Anna", familyName: "Schmidt"}, note: "eilt"}
			output: EXPECT
		}]
	}
}
`

// TestDeliveryMapping: a destination's mapping renames and restructures
// the data (to FIM field ids), is checked against the data model, and
// its tests compare input and delivered document.
func TestDeliveryMapping(t *testing.T) {
	load := func(note, expect string) (*Service, error) {
		src := strings.NewReplacer("MAPNOTE", note, "EXPECT", expect).Replace(mappingSpec)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "service.cue"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(dir)
	}
	s, err := load(`"note"`, `{antragsteller: {F60000227: "Schmidt", F60000228: "Anna"}, bemerkung: "eilt"}`)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Delivered("fim", map[string]any{"applicant": map[string]any{"givenName": "Jo", "familyName": "Ng"}})
	if fmt.Sprint(got) != "map[antragsteller:map[F60000227:Ng F60000228:Jo]]" {
		t.Fatalf("delivered %v", got)
	}
	if _, err := load(`"remark"`, `{antragsteller: {F60000227: "Schmidt", F60000228: "Anna"}}`); err == nil || !strings.Contains(err.Error(), `"bemerkung" maps "remark", which is not in the data model`) {
		t.Fatalf("unknown source: %v", err)
	}
	if _, err := load(`"note"`, `{antragsteller: {F60000227: "Schmidt"}}`); err == nil || !strings.Contains(err.Error(), "deliveries.fim.tests[1]: delivered") {
		t.Fatalf("failing mapping test: %v", err)
	}
}
