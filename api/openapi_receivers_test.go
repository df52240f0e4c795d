package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/record"
)

// oaReceivers exercises the receivers' operations of the OpenAPI
// document: the feed of a feed destination (poll, acknowledge) and a
// version's published JSON Schema.
func oaReceivers(t *testing.T, oc *oaChecker) {
	const token = "feed-token-of-the-openapi-test"
	sum := sha256.Sum256([]byte(token))
	var store *mongostore.Store
	ts := newTestServer(t, withConfig(func(c *Config) {
		store = c.Intake.Store.(*mongostore.Store)
		d := delivery.New(store, delivery.Options{Services: c.Intake.Catalog, PublicURL: "http://example.test",
			Bindings: delivery.StaticBindings{testTenant + "/fachverfahren": {Kind: "feed", TokenSHA256: []string{hex.EncodeToString(sum[:])}}}})
		c.Feed = d.Feed()
	}))
	svc, err := ts.intake.Catalog.Get(testTenant, "kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	ref := record.ServiceRef{ID: svc.ID, Version: svc.Version, Hash: svc.Hash}
	for range 2 {
		if _, _, err := store.Submit(context.Background(), &record.SubmitRequest{Tenant: testTenant, Prefix: svc.Reference, Service: ref, Data: kitaDoc(),
			Jobs: []record.DeliveryJob{{Destination: "fachverfahren", Kind: "feed"}}}); err != nil {
			t.Fatal(err)
		}
	}
	base := "/api/v1/" + testTenant
	bearer := []string{"Authorization", "Bearer " + token}
	ok, bad := true, false

	var page delivery.FeedPage
	oc.expect(ts, 200, &page, ok, "GET", base+"/feed?limit=1", nil, bearer...)
	if len(page.Items) != 1 || page.Items[0].Envelope == nil {
		t.Fatalf("feed page %+v", page)
	}
	oc.expect(ts, 401, nil, ok, "GET", base+"/feed", nil)
	oc.expect(ts, 401, nil, ok, "GET", base+"/feed", nil, "Authorization", "Bearer wrong")
	oc.expect(ts, 404, nil, ok, "GET", "/api/v1/nirgendwo/feed", nil, bearer...)

	ack := base + "/feed/ack"
	first := page.Items[0].ID
	jobs, err := store.ListDeliveries(context.Background(), record.DeliveryQuery{Tenant: testTenant})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs %v, %v", jobs, err)
	}
	second := jobs[0].ID
	if second == first {
		second = jobs[1].ID
	}
	oc.expect(ts, 409, nil, ok, "POST", ack, map[string]any{"items": []any{map[string]any{"id": second, "accept": true}}}, bearer...)
	oc.expect(ts, 404, nil, ok, "POST", ack, map[string]any{"items": []any{map[string]any{"id": testTenant + "/NOPE-1/fachverfahren", "accept": true}}}, bearer...)
	oc.expect(ts, 400, nil, bad, "POST", ack, map[string]any{"items": []any{}}, bearer...)
	oc.expect(ts, 415, nil, bad, "POST", ack, "items[0][id]="+first+"&items[0][accept]=true", append([]string{"Content-Type", "application/x-www-form-urlencoded"}, bearer...)...)
	oc.expect(ts, 401, nil, ok, "POST", ack, map[string]any{"items": []any{map[string]any{"id": first, "accept": true}}})
	oc.expect(ts, 204, nil, ok, "POST", ack, map[string]any{"items": []any{map[string]any{"id": first, "accept": true}}}, bearer...)

	// the schema URL the envelope names
	u, err := url.Parse(page.Items[0].Envelope.Metadata.ContentStructure.Data.SubmissionSchema.SchemaURI)
	if err != nil || !strings.HasSuffix(u.Path, "/versions/"+svc.Hash+"/schema.json") {
		t.Fatalf("schemaUri %v, %v", u, err)
	}
	oc.expect(ts, 200, nil, ok, "GET", u.Path, nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/services/kita-gebuehren/versions/"+strings.Repeat("0", 64)+"/schema.json", nil)
	oc.expect(ts, 404, nil, ok, "GET", base+"/services/nope/versions/"+svc.Hash+"/schema.json", nil)
}
