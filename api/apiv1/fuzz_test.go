package apiv1_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api"
	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/api/apiv1"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// feedFuzzToken is the token of the feed destination the fuzz target
// acknowledges as.
const feedFuzzToken = "feed-token-of-the-fuzz-test"

// FuzzFeedAck posts arbitrary bodies with arbitrary content types to the
// feed's acknowledgement route of the server's app (api.New on an
// embedded store) with a valid feed token. Whatever comes in, the answer
// is a 204 or a 4xx problem document, never a 5xx; a 415 for a body
// that is not JSON; a 204 only for a body naming items that are each
// accepted or rejected; no job changes unless the body names it, and
// none for a malformed body (400, 415). In body, {handed} stands for the
// id of an item handed out to the receiver and {waiting} for one not
// handed out yet.
func FuzzFeedAck(f *testing.F) {
	fx := newFeedFixture(f)
	app, s, handed, waiting := fx.app, fx.store, fx.handed, fx.waiting
	parse := bodyIDs()

	for _, tc := range [][2]string{
		{"application/json", `{"items":[{"id":"musterstadt/KITA-2026-999999/fachverfahren","accept":true}]}`},
		{"application/json", `{"items":[{"id":"{waiting}","accept":true}]}`},
		{"application/json", `{"items":[{"id":"{handed}","accept":true},{"id":"{waiting}"}]}`},
		{"application/json", `{"items":[{"id":"{handed}","reject":"Zuständigkeit fehlt: Jugendamt Hofheim"}]}`},
		{"application/json", `{"items":[{"id":"{handed}","accept":true,"reject":"beides"}]}`},
		{"application/json", `{"items":[{"id":"{handed}"}]}`},
		{"application/json", `{"items":[{"id":"nope","accept":true},{"id":"{handed}","accept":true}]}`},
		{"application/json", `{"items":[]}`},
		{"application/json", `{"items":null}`},
		{"application/json", `{"items":{"id":"x"}}`},
		{"application/json", `{"items":[{"id":1,"accept":"yes"}]}`},
		{"application/json", `{"items":[{"id":"\ud800","accept":true}]}`},
		{"application/json", `{"items":[{"id":"musterstadt/KITA-2026-000001/fachverfahren\u0000","accept":true}]}`},
		{"application/json", `[{"id":"x","accept":true}]`},
		{"application/json", `{"items":[{"id":"x","accept":true}]`},
		{"application/json", "\xff\xfe{}"},
		{"application/json", ""},
		{"application/json; charset=latin1", `{"items":[{"id":"x","accept":true}]}`},
		{"application/vnd.fit+json", `{"items":[{"id":"x","accept":true}]}`},
		{"application/x-www-form-urlencoded", "items[0].id=x&items[0].accept=true"},
		{"application/x-www-form-urlencoded", "items[0][id]=%FF&items[0][accept]=true&items[1000][id]=y"},
		{"application/x-www-form-urlencoded", "items.99999999999.id=x&items.0.reject=%zz"},
		{"multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"items.0.id\"\r\n\r\nx\r\n--xyz--\r\n"},
		{"multipart/form-data", "--xyz\r\n"},
		{"application/xml", "<FeedAck><Items><ID>x</ID><Accept>true</Accept></Items></FeedAck>"},
		{"text/xml", "<a><Items><ID>{handed}</ID><Reject>nein</Reject></Items>"},
		{"text/plain", "accept all"},
		{"", `{"items":[{"id":"x","accept":true}]}`},
		{"application/json\r\nX-Evil: 1", "{}"},
	} {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, contentType, body string) {
		body = strings.NewReplacer("{handed}", handed, "{waiting}", waiting).Replace(body)
		before := feedJobs(t, s)
		req := httptest.NewRequest("POST", "/api/v1/musterstadt/feed/ack", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+feedFuzzToken)
		// within fasthttp's 4 KiB read buffer, or the server answers
		// before any handler runs (and app.Test returns an error)
		if len(contentType) > 1024 {
			contentType = contentType[:1024]
		}
		if ct := apitest.HeaderValue(contentType); ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		ids, parsed := parse(req.Header.Get("Content-Type"), body)
		switch {
		case res.StatusCode >= 500:
			t.Fatalf("status %d: %s", res.StatusCode, b)
		case !jsonType(req.Header.Get("Content-Type")) && res.StatusCode != fiber.StatusUnsupportedMediaType:
			t.Fatalf("status %d for content type %q, want 415: %s", res.StatusCode, req.Header.Get("Content-Type"), b)
		case res.StatusCode >= 400:
			var p struct{ Status int }
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" || json.Unmarshal(b, &p) != nil || p.Status != res.StatusCode {
				t.Fatalf("status %d answers %q, not a problem document: %s", res.StatusCode, ct, b)
			}
		case res.StatusCode == fiber.StatusNoContent:
			if !parsed {
				t.Fatalf("204 for a body that does not name items each accepted or rejected: %q", body)
			}
		default:
			t.Fatalf("status %d: %s", res.StatusCode, b)
		}
		malformed := res.StatusCode == fiber.StatusBadRequest || res.StatusCode == fiber.StatusUnsupportedMediaType || res.StatusCode == fiber.StatusRequestEntityTooLarge
		for id, st := range feedJobs(t, s) {
			if st != before[id] && (!ids[id] || malformed) {
				t.Fatalf("status %d, and job %s changed from %v to %v: %q", res.StatusCode, id, before[id], st, body)
			}
		}
	})
}

// feedFixture is the server's app (api.New) on an embedded store with
// a feed destination and two of its items: handed, handed out to the
// receiver, and waiting, not yet.
type feedFixture struct {
	app             *fiber.App
	store           *mongostore.Store
	handed, waiting string
}

func newFeedFixture(f testing.TB) *feedFixture {
	f.Helper()
	ctx := context.Background()
	srv, err := embedded.Start(f.TempDir(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Stop() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{Logger: quiet, ExclusiveDrafts: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Close(context.Background()) })
	svc, err := engine.Load("../../examples/kita-gebuehren")
	if err != nil {
		f.Fatal(err)
	}
	cat := catalog.New(nil)
	if err := cat.Offer(ctx, "musterstadt", []*engine.Service{svc}); err != nil {
		f.Fatal(err)
	}
	ref := record.ServiceRef{ID: svc.ID, Version: svc.Version, Hash: svc.Hash}
	for range 2 {
		if _, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "musterstadt", Prefix: "KITA", Service: ref, Data: map[string]any{},
			Jobs: []record.DeliveryJob{{Destination: "fachverfahren", Kind: "feed"}}}); err != nil {
			f.Fatal(err)
		}
	}
	sum := sha256.Sum256([]byte(feedFuzzToken))
	d := delivery.New(s, delivery.Options{Services: cat, PublicURL: "http://example.test", Logger: quiet,
		Bindings: delivery.StaticBindings{"musterstadt/fachverfahren": {Kind: "feed", TokenSHA256: []string{hex.EncodeToString(sum[:])}, Visibility: "24h"}}})
	page, err := d.Feed().Poll(ctx, "musterstadt", "fachverfahren", "", 1)
	if err != nil || len(page.Items) != 1 {
		f.Fatalf("poll: %v, %+v", err, page)
	}
	handed := page.Items[0].ID
	var waiting string
	for id := range feedJobs(f, s) {
		if id != handed {
			waiting = id
		}
	}
	app, err := api.New(api.Config{Intake: &intake.Intake{Store: s, Catalog: cat, Secret: []byte("test-secret-0123456789abcdef")},
		Tenants: []string{"musterstadt"}, Logger: quiet, Feed: d.Feed()})
	if err != nil {
		f.Fatal(err)
	}
	return &feedFixture{app: app, store: s, handed: handed, waiting: waiting}
}

// jobState is what an acknowledgement may change of a job.
type jobState struct {
	Status, Verdict string
	Attempts, Base  int
}

// feedJobs reads the state of every job of the fuzz target's tenant.
func feedJobs(t testing.TB, s *mongostore.Store) map[string]jobState {
	t.Helper()
	js, err := s.ListDeliveries(context.Background(), record.DeliveryQuery{Tenant: "musterstadt"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]jobState{}
	for _, j := range js {
		out[j.ID] = jobState{Status: j.Status, Verdict: j.Verdict, Attempts: j.Attempts, Base: j.Base}
	}
	return out
}

// bodyIDs returns a parser that reads an ack body as the route does
// (JSON only, decoded by encoding/json like Fiber's default): the ids it
// names, and whether it names items that are each accepted or rejected
// with a reason. A body of any other content type names nothing.
func bodyIDs() func(contentType, body string) (map[string]bool, bool) {
	return func(contentType, body string) (map[string]bool, bool) {
		if !jsonType(contentType) {
			return nil, false
		}
		var a apiv1.FeedAck
		if json.Unmarshal([]byte(body), &a) != nil {
			return nil, false
		}
		ok := len(a.Items) > 0
		ids := map[string]bool{}
		for _, it := range a.Items {
			ids[it.ID] = true
			ok = ok && it.Accept != (it.Reject != "")
		}
		return ids, ok
	}
}

// jsonType reports whether contentType names JSON, as the JSON API reads
// it: application/json or a type ending in +json, with any parameters.
func jsonType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}
