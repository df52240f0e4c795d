package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/api/apitest"
	"github.com/amtsform/amtsform/api/httpx"
)

// TestMetricsCountSubmits checks the wiring of the metrics: submits
// counted by outcome through intake's hook, /metrics served, replays not
// counted twice.
func TestMetricsCountSubmits(t *testing.T) {
	m := httpx.NewMetrics(httpx.MetricsOptions{})
	ts := newTestServer(t, withConfig(func(c *Config) {
		c.Metrics = m
		c.Intake.Observe = m.ObserveSubmit
	}))
	c := &client{t: t, base: ts.URL(t) + "/api/v1/" + testTenant, http: &http.Client{Timeout: 30 * time.Second}}
	var d draftJSON
	c.expect(c.do("POST", "/services/kita-gebuehren/drafts", nil), 201, &d)
	c.expect(c.do("POST", "/drafts/"+d.Token+"/submit", nil), 422, nil)
	doc := kitaDoc()
	var pr pageResult
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/person", map[string]any{"applicant": doc["applicant"], "address": doc["address"]}), 200, &pr)
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/kinder", map[string]any{"children": doc["children"]}), 200, &pr)
	c.expect(c.do("PUT", "/drafts/"+d.Token+"/pages/einkommen", map[string]any{"income": doc["income"], "consent": true}), 200, &pr)
	c.expect(c.do("POST", "/drafts/"+d.Token+"/submit", nil), 201, nil)
	c.expect(c.do("POST", "/drafts/"+d.Token+"/submit", nil), 200, nil) // a replay

	resp, err := http.Get(ts.URL(t) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	for _, want := range []string{
		`amtsform_submissions_total{service="kita-gebuehren",tenant="` + testTenant + `"} 1`,
		`amtsform_validation_failures_total{service="kita-gebuehren",tenant="` + testTenant + `"} 1`,
		`route="/api/v1/:tenant/drafts/:token/submit"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(body, d.Token) {
		t.Error("/metrics names a draft token")
	}
}

// TestVersionSchemaURL checks that the published JSON Schema of a
// version offered is served at its stable URL, and an unknown hash is
// 404.
func TestVersionSchemaURL(t *testing.T) {
	ts := newTestServer(t)
	var hash string
	for _, s := range apitest.Examples(t) {
		if s.ID == "kita-gebuehren" {
			hash = s.Hash
		}
	}
	base := ts.URL(t) + "/api/v1/" + testTenant + "/services/kita-gebuehren/versions/"
	resp, err := http.Get(base + hash + "/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("schema: %d %s", resp.StatusCode, readBody(t, resp))
	}
	var schema map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&schema); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if schema["$schema"] == nil || schema["properties"] == nil {
		t.Fatalf("not a JSON Schema: %v", schema)
	}
	resp, err = http.Get(base + strings.Repeat("0", len(hash)) + "/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown hash: %d", resp.StatusCode)
	}
}
