package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api"
	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
)

// server is one run of a server process on a data directory: what
// cmd/amtsform serve wires, without the listener.
type server struct {
	t     *testing.T
	app   *fiber.App
	cat   *catalog.Catalog
	store *mongostore.Store
	db    *embedded.Server
}

// startServer opens the embedded store in dataDir, restores the stored
// service versions and offers svcs per tenant, as serve does at start-up.
func startServer(t *testing.T, dataDir string, offers map[string][]*engine.Service, opts ...func(*api.Config)) *server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an embedded store")
	}
	db, err := embedded.Start(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := mongostore.Connect(ctx, db.URI(), mongostore.Options{ExclusiveDrafts: true})
	if err != nil {
		_ = db.Stop()
		t.Fatal(err)
	}
	s := &server{t: t, store: st, db: db, cat: catalog.New(st)}
	t.Cleanup(s.stop)
	if _, err := s.cat.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	var tenants []string
	for tenant, svcs := range offers {
		tenants = append(tenants, tenant)
		if err := s.cat.Offer(ctx, tenant, svcs); err != nil {
			t.Fatal(err)
		}
	}
	in := &intake.Intake{Store: st, Catalog: s.cat, Secret: []byte("versions-test-secret-0123456789ab"), Background: func(f func()) { f() }}
	cfg := api.Config{Intake: in, Tenants: tenants, Logger: quiet()}
	for _, o := range opts {
		o(&cfg)
	}
	s.app, err = api.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *server) stop() {
	if s.store == nil {
		return
	}
	_ = s.app.Shutdown()
	_ = s.store.Close(context.Background())
	_ = s.db.Stop()
	s.store = nil
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (s *server) do(method, path string, body any, want int, out any) []byte {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.app.Test(req, -1)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return b
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// copyDir copies the .cue files of src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(src, "*.cue"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func replaceIn(t *testing.T, file, old, new string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(file, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	kelkheimOwner   = map[string]any{"givenName": "Jonas", "familyName": "Becker", "birthDate": "1985-03-20"}
	kelkheimAddress = map[string]any{"street": "Frankfurter Straße", "houseNumber": "44b", "postalCode": "65779", "city": "Kelkheim (Taunus)"}
	waldi           = map[string]any{"name": "Waldi", "breed": "dackel", "birthDate": "2019-08-01"}
)

func dogTaxDoc() map[string]any {
	return map[string]any{"owner": kelkheimOwner, "address": kelkheimAddress, "municipality": "kelkheim",
		"dogs": []any{waldi}, "startDate": time.Now().Format(time.DateOnly), "consent": true}
}

type draftAnswer struct {
	Token   string `json:"token"`
	Service struct {
		Hash string `json:"hash"`
	} `json:"service"`
}

type submitAnswer struct {
	Reference    string `json:"reference"`
	StatusSecret string `json:"statusSecret"`
}

type statusAnswer struct {
	Service struct {
		Hash string `json:"hash"`
	} `json:"service"`
}

// TestVersionsOutliveTheProcess starts a server on a data directory,
// starts a draft under v1, stops, changes the service only in the shared
// package it imports, starts again: the draft continues and submits under
// v1, a new draft starts under v2, and each submission's pages and
// receipt carry its own version's labels.
func TestVersionsOutliveTheProcess(t *testing.T) {
	work := t.TempDir()
	shared, local := filepath.Join(work, "shared"), filepath.Join(work, "kelkheim")
	copyDir(t, filepath.Join("..", "examples", "hundesteuer"), shared)
	copyDir(t, filepath.Join("..", "examples", "installation", "kelkheim", "hundesteuer"), local)
	pkgs := map[string]string{"amtsform.example/hundesteuer": shared}
	load := func() *engine.Service {
		t.Helper()
		s, err := engine.LoadPackages(local, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	v1 := load()
	dataDir := filepath.Join(work, "data")

	a := startServer(t, dataDir, map[string][]*engine.Service{"kelkheim": {v1}})
	var d1 draftAnswer
	a.do("POST", "/api/v1/kelkheim/services/hundesteuer/drafts", nil, 201, &d1)
	if d1.Service.Hash != v1.Hash {
		t.Fatalf("draft started under %s, want v1 %s", d1.Service.Hash, v1.Hash)
	}
	doc := dogTaxDoc()
	a.do("PUT", "/api/v1/kelkheim/drafts/"+d1.Token+"/pages/halter",
		map[string]any{"owner": doc["owner"], "address": doc["address"], "municipality": "kelkheim"}, 200, nil)
	a.stop()

	// v2 changes a label and tightens a bound in the shared package only:
	// the service's own files are unchanged, its hash is not.
	replaceIn(t, filepath.Join(shared, "service.cue"), `label: {de: "Stadt oder Gemeinde", en: "Town or municipality"}`,
		`label: {de: "Wohngemeinde (Version 2)", en: "Home municipality (version 2)"}`)
	v2 := load()
	if v2.Hash == v1.Hash {
		t.Fatal("changing an imported package left the hash unchanged")
	}

	b := startServer(t, dataDir, map[string][]*engine.Service{"kelkheim": {v2}})
	// The old draft continues under v1, with v1's labels.
	var again draftAnswer
	b.do("GET", "/api/v1/kelkheim/drafts/"+d1.Token, nil, 200, &again)
	if again.Service.Hash != v1.Hash {
		t.Fatalf("after the restart the draft is served with %s, want v1 %s", again.Service.Hash, v1.Hash)
	}
	page := string(b.do("GET", "/kelkheim/hundesteuer/d/"+d1.Token+"/halter", nil, 200, nil))
	if !strings.Contains(page, "Stadt oder Gemeinde") || strings.Contains(page, "Version 2") {
		t.Errorf("v1 draft's page does not show v1's label")
	}
	b.do("PUT", "/api/v1/kelkheim/drafts/"+d1.Token+"/pages/hunde", map[string]any{"dogs": doc["dogs"]}, 200, nil)
	b.do("PUT", "/api/v1/kelkheim/drafts/"+d1.Token+"/pages/steuer", map[string]any{"startDate": doc["startDate"], "consent": true}, 200, nil)
	var s1 submitAnswer
	b.do("POST", "/api/v1/kelkheim/drafts/"+d1.Token+"/submit", nil, 201, &s1)

	// A new draft and a new submission take v2.
	var d2 draftAnswer
	b.do("POST", "/api/v1/kelkheim/services/hundesteuer/drafts", nil, 201, &d2)
	if d2.Service.Hash != v2.Hash {
		t.Fatalf("new draft under %s, want v2 %s", d2.Service.Hash, v2.Hash)
	}
	page = string(b.do("GET", "/kelkheim/hundesteuer/d/"+d2.Token+"/halter", nil, 200, nil))
	if !strings.Contains(page, "Wohngemeinde (Version 2)") {
		t.Errorf("v2 draft's page does not show v2's label")
	}
	var s2 submitAnswer
	b.do("POST", "/api/v1/kelkheim/services/hundesteuer/submissions", dogTaxDoc(), 201, &s2)

	for _, c := range []struct {
		sub        submitAnswer
		hash       string
		label, not string
	}{
		{s1, v1.Hash, "Stadt oder Gemeinde", "Version 2"},
		{s2, v2.Hash, "Wohngemeinde (Version 2)", "Stadt oder Gemeinde"},
	} {
		var st statusAnswer
		b.do("GET", "/api/v1/kelkheim/submissions/"+c.sub.Reference+"?secret="+c.sub.StatusSecret, nil, 200, &st)
		if st.Service.Hash != c.hash {
			t.Errorf("%s pinned %s, want %s", c.sub.Reference, st.Service.Hash, c.hash)
		}
		pdf := b.do("GET", "/api/v1/kelkheim/submissions/"+c.sub.Reference+"/receipt.pdf?secret="+c.sub.StatusSecret, nil, 200, nil)
		text := apitest.PDFText(t, pdf)
		if !strings.Contains(text, c.label) || strings.Contains(text, c.not) {
			t.Errorf("receipt of %s: want label %q and not %q:\n%s", c.sub.Reference, c.label, c.not, text)
		}
	}
	b.stop()

	// v3 changes the service's own files (Kelkheim raises its rate); a
	// third run offers it: new submissions are computed with it, and v1
	// and v2 are still served for their submissions.
	replaceIn(t, filepath.Join(local, "service.cue"), "taxFirstDog:   9600", "taxFirstDog:   10800")
	v3 := load()
	if v3.Hash == v2.Hash || v3.Hash == v1.Hash {
		t.Fatal("changing the service's own file left the hash unchanged")
	}
	c := startServer(t, dataDir, map[string][]*engine.Service{"kelkheim": {v3}})
	for _, p := range []struct {
		sub  submitAnswer
		hash string
	}{{s1, v1.Hash}, {s2, v2.Hash}} {
		var st statusAnswer
		c.do("GET", "/api/v1/kelkheim/submissions/"+p.sub.Reference+"?secret="+p.sub.StatusSecret, nil, 200, &st)
		if st.Service.Hash != p.hash {
			t.Errorf("third run: %s pinned %s, want %s", p.sub.Reference, st.Service.Hash, p.hash)
		}
	}
	var v struct {
		Computed map[string]any `json:"computed"`
	}
	c.do("POST", "/api/v1/kelkheim/services/hundesteuer/validate", dogTaxDoc(), 200, &v)
	if v.Computed["yearlyTax"] != float64(10800) {
		t.Errorf("v3 computes yearlyTax %v, want 10800", v.Computed["yearlyTax"])
	}
}

// TestHashCoversServiceAndImports checks that a change to the service's
// own files or to an imported package changes the content hash, and that
// the recorded files rebuild the same service.
func TestHashCoversServiceAndImports(t *testing.T) {
	work := t.TempDir()
	shared, local := filepath.Join(work, "shared"), filepath.Join(work, "kelkheim")
	copyDir(t, filepath.Join("..", "examples", "hundesteuer"), shared)
	copyDir(t, filepath.Join("..", "examples", "installation", "kelkheim", "hundesteuer"), local)
	pkgs := map[string]string{"amtsform.example/hundesteuer": shared}
	hash := func() string {
		t.Helper()
		src, err := engine.LoadDirPackages(local, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := engine.LoadFiles(src.Files)
		if err != nil {
			t.Fatalf("recorded files do not load: %v", err)
		}
		if again.Hash != src.Hash {
			t.Fatalf("recorded files hash to %s, loaded dir to %s", again.Hash, src.Hash)
		}
		return src.Hash
	}
	h0 := hash()
	replaceIn(t, filepath.Join(shared, "service.cue"), "retentionDays: 3650", "retentionDays: 3000")
	h1 := hash()
	replaceIn(t, filepath.Join(local, "service.cue"), "taxFirstDog:   9600", "taxFirstDog:   9700")
	h2 := hash()
	if h0 == h1 || h1 == h2 || h0 == h2 {
		t.Errorf("hashes do not follow the changes: %s %s %s", h0, h1, h2)
	}
}

// TestTenantsOfferTheirOwnOverlay serves the demo installation: both
// tenants offer the dog tax service, Kelkheim as an overlay with its own
// rates; each tenant's citizens are computed and validated against their
// own version.
func TestTenantsOfferTheirOwnOverlay(t *testing.T) {
	inst, err := engine.LoadInstallation(filepath.Join("..", "examples", "installation"))
	if err != nil {
		t.Fatal(err)
	}
	svcs, err := inst.Load()
	if err != nil {
		t.Fatal(err)
	}
	offers := map[string][]*engine.Service{}
	for _, tc := range inst.Tenants {
		for _, d := range tc.Services {
			offers[tc.ID] = append(offers[tc.ID], svcs[d])
		}
	}
	dir := directory.New(inst)
	s := startServer(t, t.TempDir(), offers, func(c *api.Config) { c.Intake.Offices, c.Directory = dir, dir })
	type validation struct {
		Valid    bool           `json:"valid"`
		Computed map[string]any `json:"computed"`
	}
	for _, c := range []struct {
		tenant, name string
		tax          float64
	}{{"musterstadt", "Musterstadt (Main-Taunus-Kreis)", 12000}, {"kelkheim", "Stadt Kelkheim (Taunus)", 9600}} {
		var v validation
		s.do("POST", "/api/v1/"+c.tenant+"/services/hundesteuer/validate", dogTaxDoc(), 200, &v)
		if !v.Valid || v.Computed["yearlyTax"] != c.tax {
			t.Errorf("%s: valid %v, yearlyTax %v, want %v", c.tenant, v.Valid, v.Computed["yearlyTax"], c.tax)
		}
		page := string(s.do("GET", "/"+c.tenant+"/hundesteuer", nil, 200, nil))
		if !strings.Contains(page, "Hundesteuer") || !strings.Contains(page, c.name) {
			t.Errorf("%s: the start page does not name the service and %q", c.tenant, c.name)
		}
	}
	// Citizens see the office's name and address from the tenant's
	// directory, on the confirmation page and on the receipt.
	var sub submitAnswer
	s.do("POST", "/api/v1/kelkheim/services/hundesteuer/submissions", dogTaxDoc(), 201, &sub)
	page := string(s.do("GET", "/kelkheim/hundesteuer/r/"+sub.Reference+"?s="+sub.StatusSecret, nil, 200, nil))
	for _, want := range []string{"Steueramt der Stadt Kelkheim (Taunus)", "Gagernring 6-8", "65779 Kelkheim (Taunus)",
		"steueramt@kelkheim.example", "6195 803-210", "Mo–Fr 8–12 Uhr"} {
		if !strings.Contains(page, want) {
			t.Errorf("confirmation page lacks %q", want)
		}
	}
	// and, in the footer, how to reach the municipality
	for _, want := range []string{`href="mailto:stadtverwaltung@kelkheim.example"`, `href="https://www.kelkheim.example"`, "6195 803-0"} {
		if !strings.Contains(page, want) {
			t.Errorf("confirmation page lacks the tenant's contact %q", want)
		}
	}
	if strings.Contains(page, "Steueramt Kelkheim<") {
		t.Error("confirmation page shows the office id")
	}
	text := apitest.PDFText(t, s.do("GET", "/api/v1/kelkheim/submissions/"+sub.Reference+"/receipt.pdf?secret="+sub.StatusSecret, nil, 200, nil))
	for _, want := range []string{"Steueramt der Stadt Kelkheim (Taunus)", "Gagernring 6-8"} {
		if !strings.Contains(text, want) {
			t.Errorf("receipt lacks %q:\n%s", want, text)
		}
	}
	// Kelkheim does not offer the birth certificate; Musterstadt does.
	s.do("GET", "/api/v1/musterstadt/services/geburtsurkunde", nil, 200, nil)
	s.do("GET", "/api/v1/kelkheim/services/geburtsurkunde", nil, 404, nil)
	// The two versions differ and coexist.
	var a, b struct {
		Hash string `json:"hash"`
	}
	s.do("GET", "/api/v1/musterstadt/services/hundesteuer", nil, 200, &a)
	s.do("GET", "/api/v1/kelkheim/services/hundesteuer", nil, 200, &b)
	if a.Hash == "" || a.Hash == b.Hash {
		t.Errorf("both tenants serve hash %q", a.Hash)
	}
}
