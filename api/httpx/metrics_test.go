package httpx

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestMetrics(t *testing.T) {
	overdue := time.Duration(0)
	m := NewMetrics(MetricsOptions{StuckAfter: time.Minute, Outbox: func(context.Context) (int, time.Duration, time.Duration, error) {
		return 3, overdue, 2 * time.Hour, nil
	}})
	app := fiber.New()
	app.Use(m.Middleware())
	app.Get("/api/v1/:tenant/submissions/:ref", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Get("/metrics", m.Handler())
	for i := 0; i < 2; i++ {
		if _, err := app.Test(httptest.NewRequest("GET", "/api/v1/ffm/submissions/KITA-2026-000001", nil)); err != nil {
			t.Fatal(err)
		}
	}
	m.Submissions.WithLabelValues("ffm", "kita").Inc()
	m.ValidationFailures.WithLabelValues("ffm", "kita").Inc()
	m.ObserveDelivery("ffm", "fachverfahren", "delivered", 20*time.Millisecond)
	resp, err := app.Test(httptest.NewRequest("GET", "/metrics", nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	out := string(b)
	for _, want := range []string{
		`amtsform_http_request_duration_seconds_count{code="200",method="GET",route="/api/v1/:tenant/submissions/:ref"} 2`,
		`amtsform_submissions_total{service="kita",tenant="ffm"} 1`,
		`amtsform_validation_failures_total{service="kita",tenant="ffm"} 1`,
		`amtsform_deliveries_total{destination="fachverfahren",outcome="delivered",tenant="ffm"} 1`,
		`amtsform_outbox_due 3`,
		`amtsform_outbox_oldest_age_seconds 7200`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, "KITA-2026") {
		t.Error("a reference number in the metrics")
	}
	if err := m.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	overdue = 2 * time.Minute
	if err := m.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "stuck") {
		t.Fatalf("Ready with a stuck outbox: %v", err)
	}
}
