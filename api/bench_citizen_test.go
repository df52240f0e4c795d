package api

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/mongostore"
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

// BenchmarkRenderPage measures a GET of a Kita form page through the
// whole app (middleware, draft lookup, evaluation, the template), with
// the draft looked up three ways; the target is < 1 ms:
//
//   - draftcache: the test server's store, opened with ExclusiveDrafts,
//     answers from its in-memory draft cache (what one instance serving
//     alone does);
//   - store: a second store on the same embedded FerretDB without the
//     cache (ExclusiveDrafts: false, as with several instances), so every
//     request reads the draft from the database;
//   - memstore: GetDraft copies one draft from memory: the server time
//     without any store.
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
	// The same app on a store without the draft cache.
	ctx2, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	uncached, err := mongostore.Connect(ctx2, ts.db.URI(), mongostore.Options{Logger: quietLog, MaxFileBytes: 2 << 20, ExclusiveDrafts: false})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = uncached.Close(context.Background()) })
	storeApp := appWith(b, ts, uncached)
	// And on a store whose GetDraft answers from memory.
	stored, err := ts.store.GetDraft(ctx, testTenant, d.ID)
	if err != nil {
		b.Fatal(err)
	}
	memApp := appWith(b, ts, memDraftStore{Store: ts.store, d: stored})
	for _, page := range []string{"person", "kinder"} {
		for _, lookup := range []struct {
			name string
			app  *fiber.App
		}{{"draftcache", ts.app}, {"store", storeApp}, {"memstore", memApp}} {
			app := lookup.app
			b.Run(page+"/"+lookup.name, func(b *testing.B) {
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
}

// appWith is the test server's app on another store.
func appWith(b *testing.B, ts *testServer, store intake.Store) *fiber.App {
	cfg := ts.cfg
	in := *ts.intake
	in.Store = store
	cfg.Intake = &in
	app, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return app
}
