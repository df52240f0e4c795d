package apiv1_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/apiv1"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
)

// TestFeedRoutes walks the feed over HTTP (token, poll, ack) and fetches
// the schema URL an envelope names.
func TestFeedRoutes(t *testing.T) {
	ctx := context.Background()
	srv, err := embedded.Start(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	s, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{ExclusiveDrafts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	svc, err := engine.Load("../../examples/kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(nil)
	if err := cat.Offer(ctx, "ffm", []*engine.Service{svc}); err != nil {
		t.Fatal(err)
	}
	ref := record.ServiceRef{ID: svc.ID, Version: svc.Version, Hash: svc.Hash}
	if _, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: ref, Data: map[string]any{},
		Jobs: []record.DeliveryJob{{Destination: "fachverfahren", Kind: "feed"}}}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("tok"))
	d := delivery.New(s, delivery.Options{Services: cat, PublicURL: "http://example.test",
		Bindings: delivery.StaticBindings{"ffm/fachverfahren": {Kind: "feed", TokenSHA256: []string{hex.EncodeToString(sum[:])}, Visibility: "1h"}}})
	app := fiber.New(fiber.Config{ErrorHandler: func(c *fiber.Ctx, err error) error {
		code := fiber.StatusInternalServerError
		if e, ok := err.(*fiber.Error); ok {
			code = e.Code
		}
		return c.Status(code).SendString(err.Error())
	}})
	apiv1.Feed(app, apiv1.FeedConfig{Feed: d.Feed(), Tenants: httpx.Tenants{"ffm"}})
	apiv1.VersionSchema(app, cat, httpx.Tenants{"ffm"})
	do := func(method, url, tok, body string) (int, string) {
		req := httptest.NewRequest(method, url, strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := app.Test(req, int((10 * time.Second).Milliseconds()))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := do("GET", "/api/v1/ffm/feed", "", ""); code != 401 {
		t.Fatalf("without token: %d", code)
	}
	if code, _ := do("GET", "/api/v1/ffm/feed", "bad", ""); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	code, body := do("GET", "/api/v1/ffm/feed", "tok", "")
	if code != 200 {
		t.Fatalf("poll: %d %s", code, body)
	}
	var page delivery.FeedPage
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Items) != 1 {
		t.Fatalf("page %s: %v", body, err)
	}
	uri := page.Items[0].Envelope.Metadata.ContentStructure.Data.SubmissionSchema.SchemaURI
	path := strings.TrimPrefix(uri, "http://example.test")
	if code, body := do("GET", path, "", ""); code != 200 || !strings.Contains(body, `"$schema"`) {
		t.Fatalf("schema at %s: %d %.100s", path, code, body)
	}
	if code, _ := do("GET", "/api/v1/ffm/services/kita-gebuehren/versions/sha256:nope/schema.json", "", ""); code != 404 {
		t.Fatalf("unknown version: %d", code)
	}
	if code, body := do("POST", "/api/v1/ffm/feed/ack", "tok", `{"items":[{"id":"`+page.Items[0].ID+`","accept":true}]}`); code != 204 {
		t.Fatalf("ack: %d %s", code, body)
	}
	if code, body := do("POST", "/api/v1/ffm/feed/ack", "tok", `{"items":[{"id":"ffm/X/fachverfahren","accept":true}]}`); code != 404 {
		t.Fatalf("ack of an unknown item: %d %s", code, body)
	}
}

// TestFeedAckMalformed: a body with one malformed item is refused as a
// whole (400) before anything is acknowledged, also when the items
// before it are fine. FuzzFeedAck found the handed-out item of the
// first row acknowledged under a 400.
func TestFeedAckMalformed(t *testing.T) {
	// one fixture: with every body refused, the handed-out item stays
	// open for the next row
	fx := newFeedFixture(t)
	for _, body := range []string{
		`{"items":[{"id":"{handed}","accept":true},{"id":"{waiting}"}]}`,
		`{"items":[{"id":"{handed}","reject":"Zuständigkeit fehlt"},{"id":"x","accept":true,"reject":"beides"}]}`,
		`{"items":[{"id":"{handed}","accept":true},{"id":"","accept":false,"reject":""}]}`,
	} {
		body = strings.NewReplacer("{handed}", fx.handed, "{waiting}", fx.waiting).Replace(body)
		before := feedJobs(t, fx.store)
		req := httptest.NewRequest("POST", "/api/v1/musterstadt/feed/ack", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+feedFuzzToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := fx.app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 400 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q %s, want a 400 problem", body, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
		if after := feedJobs(t, fx.store); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s: jobs changed\n%v\n%v", body, before, after)
		}
	}
}

// TestFeedAckContentType: the acknowledgement reads JSON only, as the
// rest of the JSON API does; any other body, also one without a content
// type, is refused with a 415 problem and changes nothing. The rows run
// in order on one fixture: the refused ones leave the handed-out item
// open for the JSON rows, which acknowledge it (again).
func TestFeedAckContentType(t *testing.T) {
	fx := newFeedFixture(t)
	ack := `{"items":[{"id":"` + fx.handed + `","accept":true}]}`
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
	}{
		{"xml", "application/xml", "<FeedAck><Items><ID>" + fx.handed + "</ID><Accept>true</Accept></Items></FeedAck>", 415},
		{"text xml", "text/xml", "<FeedAck><Items><ID>" + fx.handed + "</ID><Accept>true</Accept></Items></FeedAck>", 415},
		{"form", "application/x-www-form-urlencoded", "items[0][id]=" + fx.handed + "&items[0][accept]=true", 415},
		{"multipart", "multipart/form-data; boundary=xyz",
			"--xyz\r\nContent-Disposition: form-data; name=\"items[0][id]\"\r\n\r\n" + fx.handed +
				"\r\n--xyz\r\nContent-Disposition: form-data; name=\"items[0][accept]\"\r\n\r\ntrue\r\n--xyz--\r\n", 415},
		{"text", "text/plain", ack, 415},
		{"no content type", "", ack, 415},
		{"malformed content type", "application/json; charset", ack, 415},
		{"json", "application/json", ack, 204},
		{"json with charset", "application/json; charset=utf-8", ack, 204},
		{"vendor json", "application/vnd.fit+json", ack, 204},
		// The document limits hold for acknowledgements too.
		{"over a MiB", "application/json", `{"items":[{"id":"` + fx.handed + `","accept":true}],"pad":"` + strings.Repeat("x", 1<<20) + `"}`, 413},
		{"over 1000 items", "application/json", `{"items":[` + strings.Repeat(`{"id":"x","accept":true},`, 1000) + `{"id":"` + fx.handed + `","accept":true}]}`, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := feedJobs(t, fx.store)
			res := fx.ack(t, tc.contentType, tc.body, tc.status)
			after := feedJobs(t, fx.store)
			if tc.status >= 400 {
				if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q, want a problem document", ct)
				}
				if fmt.Sprint(after) != fmt.Sprint(before) {
					t.Errorf("jobs changed\n%v\n%v", before, after)
				}
				return
			}
			if st := after[fx.handed].Status; st != record.DeliveryDelivered {
				t.Errorf("handed-out item %s, want %s", st, record.DeliveryDelivered)
			}
		})
	}
}

// ack posts an acknowledgement with the feed's token and fails the test
// unless it is answered with status.
func (fx *feedFixture) ack(t *testing.T, contentType, body string, status int) *http.Response {
	t.Helper()
	req := httptest.NewRequest("POST", "/api/v1/musterstadt/feed/ack", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+feedFuzzToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := fx.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != status {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d %s, want %d", res.StatusCode, b, status)
	}
	return res
}

// TestFeedAckBatch pins what a batch does when one of its items cannot
// be acknowledged: the items before it stay acknowledged, it and the
// items after it are not, and acknowledging an item again changes
// nothing and answers 204 (the first verdict stands). The rows run in
// order on one fixture.
func TestFeedAckBatch(t *testing.T) {
	fx := newFeedFixture(t)
	for _, tc := range []struct {
		name, body      string
		status          int
		handed, waiting string // status and verdict afterwards; "" for unchanged
	}{
		{"unknown item first", `{"items":[{"id":"musterstadt/KITA-2026-999999/fachverfahren","accept":true},{"id":"{handed}","accept":true}]}`, 404, "", ""},
		{"reason with a control character", `{"items":[{"id":"{handed}","accept":true},{"id":"{waiting}","reject":"Zust\u00e4ndigkeit\u0000fehlt"}]}`, 400, "", ""},
		{"reason too long", `{"items":[{"id":"{handed}","accept":true},{"id":"{waiting}","reject":"` + strings.Repeat("ä", delivery.MaxReason+1) + `"}]}`, 400, "", ""},
		{"reason only white space", `{"items":[{"id":"{handed}","reject":" \n "}]}`, 400, "", ""},
		{"item not handed out second", `{"items":[{"id":"{handed}","accept":true},{"id":"{waiting}","accept":true}]}`, 409, "delivered accept", ""},
		{"acknowledged again", `{"items":[{"id":"{handed}","reject":"Zuständigkeit fehlt"}]}`, 204, "delivered accept", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := feedJobs(t, fx.store)
			body := strings.NewReplacer("{handed}", fx.handed, "{waiting}", fx.waiting).Replace(tc.body)
			fx.ack(t, "application/json", body, tc.status)
			after := feedJobs(t, fx.store)
			for id, want := range map[string]string{fx.handed: tc.handed, fx.waiting: tc.waiting} {
				got := after[id].Status + " " + after[id].Verdict
				if want == "" {
					want = before[id].Status + " " + before[id].Verdict
				}
				if got != want {
					t.Errorf("job %s: %q, want %q", id, got, want)
				}
			}
		})
	}
}
