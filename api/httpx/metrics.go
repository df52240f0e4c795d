package httpx

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OutboxStats reports the delivery outbox: jobs due now, how long the
// most overdue one waits past its due time, and the age of the oldest
// (delivery.Dispatcher.Stats).
type OutboxStats func(ctx context.Context) (due int, overdue, oldest time.Duration, err error)

// MetricsOptions configure NewMetrics.
type MetricsOptions struct {
	Outbox OutboxStats // nil: no outbox metrics, readiness ignores it
	// StuckAfter is how long a due job may wait past its due time before
	// the outbox counts as stuck (Ready fails); default 15 minutes.
	StuckAfter time.Duration
}

// Metrics are the Prometheus metrics of a server: submissions,
// validation failures, deliveries by destination and outcome, outbox
// depth and age, HTTP latency per route. The lead wires Middleware
// first in the chain and Handler at /metrics.
type Metrics struct {
	Registry           *prometheus.Registry
	Submissions        *prometheus.CounterVec // tenant, service
	ValidationFailures *prometheus.CounterVec // tenant, service
	Deliveries         *prometheus.CounterVec // tenant, destination, outcome
	DeliverySeconds    *prometheus.HistogramVec
	HTTP               *prometheus.HistogramVec // method, route, code
	opt                MetricsOptions
}

// NewMetrics registers the metrics on a new registry (with the Go and
// process collectors).
func NewMetrics(opt MetricsOptions) *Metrics {
	if opt.StuckAfter <= 0 {
		opt.StuckAfter = 15 * time.Minute
	}
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r, opt: opt,
		Submissions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amtsform_submissions_total",
			Help: "Submissions stored."}, []string{"tenant", "service"}),
		ValidationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amtsform_validation_failures_total",
			Help: "Submits rejected as invalid."}, []string{"tenant", "service"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "amtsform_deliveries_total",
			Help: "Delivery attempts and feed acknowledgements by destination and outcome."}, []string{"tenant", "destination", "outcome"}),
		DeliverySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "amtsform_delivery_attempt_seconds",
			Help: "Duration of delivery attempts.", Buckets: prometheus.DefBuckets}, []string{"tenant", "destination"}),
		HTTP: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "amtsform_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"method", "route", "code"}),
	}
	r.MustRegister(m.Submissions, m.ValidationFailures, m.Deliveries, m.DeliverySeconds, m.HTTP,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opt.Outbox != nil {
		r.MustRegister(&outboxCollector{stats: opt.Outbox,
			due:     prometheus.NewDesc("amtsform_outbox_due", "Delivery jobs due now.", nil, nil),
			overdue: prometheus.NewDesc("amtsform_outbox_overdue_seconds", "How long the most overdue delivery job waits past its due time.", nil, nil),
			age:     prometheus.NewDesc("amtsform_outbox_oldest_age_seconds", "Age of the oldest undelivered due job.", nil, nil),
		})
	}
	return m
}

// ObserveDelivery records an attempt (delivery.Options.Observe).
func (m *Metrics) ObserveDelivery(tenant, destination, outcome string, d time.Duration) {
	m.Deliveries.WithLabelValues(tenant, destination, outcome).Inc()
	if d > 0 {
		m.DeliverySeconds.WithLabelValues(tenant, destination).Observe(d.Seconds())
	}
}

// ObserveSubmit counts a submit's outcome (intake.Intake.Observe):
// "stored" as a submission, "invalid" as a validation failure;
// idempotent replays count as neither.
func (m *Metrics) ObserveSubmit(tenant, service, outcome string) {
	switch outcome {
	case "stored":
		m.Submissions.WithLabelValues(tenant, service).Inc()
	case "invalid":
		m.ValidationFailures.WithLabelValues(tenant, service).Inc()
	}
}

// Middleware records every request's latency under its route pattern
// (never the raw path: it holds tokens and reference numbers).
func (m *Metrics) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		code := c.Response().StatusCode()
		if e, ok := err.(*fiber.Error); ok {
			code = e.Code
		}
		route := "unmatched"
		if r := c.Route(); r != nil && r.Path != "" && r.Path != "/" {
			route = r.Path
		}
		m.HTTP.WithLabelValues(c.Method(), route, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
		return err
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
}

// Ready fails when the outbox is stuck: a due job has waited past its
// due time for longer than StuckAfter (no dispatcher running, or it
// cannot keep up).
func (m *Metrics) Ready(ctx context.Context) error {
	if m.opt.Outbox == nil {
		return nil
	}
	_, overdue, _, err := m.opt.Outbox(ctx)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if overdue > m.opt.StuckAfter {
		return fmt.Errorf("outbox stuck: a delivery is %v overdue", overdue.Round(time.Second))
	}
	return nil
}

type outboxCollector struct {
	stats             OutboxStats
	due, overdue, age *prometheus.Desc
}

func (o *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- o.due
	ch <- o.overdue
	ch <- o.age
}

func (o *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	due, overdue, oldest, err := o.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(o.due, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(o.due, prometheus.GaugeValue, float64(due))
	ch <- prometheus.MustNewConstMetric(o.overdue, prometheus.GaugeValue, overdue.Seconds())
	ch <- prometheus.MustNewConstMetric(o.age, prometheus.GaugeValue, oldest.Seconds())
}
