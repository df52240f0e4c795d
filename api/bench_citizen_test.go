package api

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// memDraftStore answers GetDraft with a copy of one draft from memory.
type memDraftStore struct {
	intake.Store
	d *record.Draft
}

func (m memDraftStore) GetDraft(ctx context.Context, tenant, id string) (*record.Draft, error) {
	if id != m.d.ID || tenant != m.d.Tenant {
		return nil, record.ErrNotFound
	}
	c := *m.d
	return &c, nil
}

// BenchmarkRenderPage measures a GET of a Kita form page through the whole
// app (middleware, draft lookup in the embedded store, evaluation, the
// template): the server time of rendering a page. The target is < 1 ms.
func BenchmarkRenderPage(b *testing.B) {
	ts := newTestServer(b)
	ctx := context.Background()
	d, _, err := ts.intake.NewDraft(ctx, testTenant, "kita-gebuehren")
	if err != nil {
		b.Fatal(err)
	}
	// Page 1 done, so that the children page (a repeating group with
	// radios and money inputs) renders.
	if _, err := ts.intake.SavePage(ctx, testTenant, d.ID, 0, "person", apitest.KitaData()); err == nil {
		b.Fatal("foreign fields accepted")
	}
	data := apitest.KitaData()
	if _, err := ts.intake.SavePage(ctx, testTenant, d.ID, 0, "person", map[string]any{
		"applicant": data["applicant"], "address": data["address"],
	}); err != nil {
		b.Fatal(err)
	}
	if _, err := ts.intake.SavePage(ctx, testTenant, d.ID, 0, "kinder", map[string]any{"children": data["children"]}); err != nil {
		b.Fatal(err)
	}
	// The same app on a store whose GetDraft answers from memory: the
	// server time without the embedded store's ~0.5 ms lookup.
	stored, err := ts.store.GetDraft(ctx, testTenant, d.ID)
	if err != nil {
		b.Fatal(err)
	}
	cfg := ts.cfg
	in := *ts.intake
	in.Store = memDraftStore{Store: ts.store, d: stored}
	cfg.Intake = &in
	memApp, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, page := range []string{"person", "kinder", "kinder-memstore"} {
		app := ts.app
		if strings.HasSuffix(page, "-memstore") {
			app, page = memApp, strings.TrimSuffix(page, "-memstore")
		}
		b.Run(page+map[bool]string{true: "-memstore"}[app == memApp], func(b *testing.B) {
			target := "/" + testTenant + "/kita-gebuehren/d/" + d.ID + "/" + page
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", target, nil)
				resp, err := app.Test(req, -1)
				if err != nil {
					b.Fatal(err)
				}
				if resp.StatusCode != 200 {
					body, _ := io.ReadAll(resp.Body)
					b.Fatalf("status %d\n%s", resp.StatusCode, body)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
