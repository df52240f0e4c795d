package apiv1

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/receipt"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// Submission is the answer of a submit. The status secret, with the
// reference, is what the citizen needs to look the status up later; it
// is derived (not stored) and the same on every replay.
type Submission struct {
	Reference    string    `json:"reference"`
	Status       string    `json:"status"`
	Office       string    `json:"office"`
	Created      time.Time `json:"created"`
	StatusSecret string    `json:"statusSecret"`
	StatusURL    string    `json:"statusUrl"`
	ReceiptURL   string    `json:"receiptUrl"`
}

// submitted answers a submit: 201 for a new submission, 200 with
// Idempotent-Replayed: true for a replay of an earlier one.
func (s *server) submitted(c *fiber.Ctx, tenant string, sub *record.Submission, created bool) error {
	secret := s.in.StatusSecret(tenant, sub.Ref)
	q := "?secret=" + url.QueryEscape(secret)
	out := Submission{
		Reference:    sub.Ref,
		Status:       sub.Status,
		Office:       sub.Office,
		Created:      sub.Created,
		StatusSecret: secret,
		StatusURL:    apiPath(tenant, "submissions", sub.Ref) + q,
		ReceiptURL:   apiPath(tenant, "submissions", sub.Ref, "receipt.pdf") + q,
	}
	c.Location(out.StatusURL)
	status := fiber.StatusCreated
	if !created {
		status = fiber.StatusOK
		c.Set("Idempotent-Replayed", "true")
	}
	body, err := out.appendJSON(make([]byte, 0, 512))
	if err != nil {
		return err
	}
	c.Status(status).Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return c.Send(body)
}

// appendJSON appends s as encoding/json writes it (c.JSON), without
// reflection: every submit answers with one (TestSubmissionJSON).
func (s *Submission) appendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"reference":`...)
	b = appendJSONString(b, s.Reference)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, s.Status)
	b = append(b, `,"office":`...)
	b = appendJSONString(b, s.Office)
	b = append(b, `,"created":`...)
	if y := s.Created.Year(); y >= 0 && y <= 9999 {
		b = append(b, '"')
		b = s.Created.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	} else if _, err := json.Marshal(s.Created); err != nil {
		return nil, err // a year encoding/json refuses
	}
	b = append(b, `,"statusSecret":`...)
	b = appendJSONString(b, s.StatusSecret)
	b = append(b, `,"statusUrl":`...)
	b = appendJSONString(b, s.StatusURL)
	b = append(b, `,"receiptUrl":`...)
	b = appendJSONString(b, s.ReceiptURL)
	return append(b, '}'), nil
}

// appendJSONString appends v quoted; what encoding/json would escape
// (quotes, backslashes, control characters, <, >, &, non-ASCII) it
// leaves to encoding/json.
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(v)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}

// apiSubmit validates and submits a whole document. Idempotency-Key
// (optional): the same key with the same document returns the first
// submission (200); with a different document 422; while a request with
// the key is still running, 409. Invalid documents get 422 with every
// error; nothing is stored then.
func (s *server) apiSubmit(c *fiber.Ctx) error {
	tenant := tenantOf(c)
	svc, err := s.service(c)
	if err != nil {
		return err
	}
	doc, err := readDocument(c)
	if err != nil {
		return err
	}
	key := c.Get("Idempotency-Key")
	hash := ""
	if key != "" {
		if err := validKey(key); err != nil {
			return err
		}
		// Without a draft token the key is the only secret of a replay
		// (which answers the status secret): it must be unguessable.
		if c.Query("draft") == "" && !intake.StrongKey(key) {
			return fiber.NewError(fiber.StatusBadRequest, "Idempotency-Key without ?draft= must have at least 22 characters of A-Z, a-z, 0-9, - and _ (128 random bits, e.g. a UUID)")
		}
		// In flight per key as the store scopes it: the same key with
		// another draft is another key (see intake.SubmitDocument).
		inflight := key
		if d := c.Query("draft"); d != "" {
			inflight = "owner:" + d + ":" + key
		}
		release, err := ClaimKey(c.App(), tenant, inflight)
		if err != nil {
			return err
		}
		defer release()
		// The key stands for this request: the service and the document
		// as sent (member order and white space do not matter).
		hash = record.HashPayload("api/v1/submissions", svc.ID, doc)
	}
	// Files named in the document must have been uploaded for the draft
	// given as ?draft=.
	sub, created, err := s.in.SubmitDocument(c.UserContext(), tenant, svc.ID, doc, key, hash, c.Query("draft"))
	if err != nil {
		return s.apiError(c, svc, err)
	}
	return s.submitted(c, tenant, sub, created)
}

// apiSubmitDraft submits a draft as a whole. The draft token is its
// idempotency key: submitting again returns the same submission (200),
// also after the draft was removed, and concurrent submits of one draft
// (a double press) all get that submission (the store decides, not an
// in-flight lock). An incomplete draft gets 422 with every error.
func (s *server) apiSubmitDraft(c *fiber.Ctx) error {
	tenant, token := tenantOf(c), c.Params("token")
	ctx := c.UserContext()
	// The service names the fields of validation errors; a draft that is
	// gone may have been submitted (SubmitDraft finds the submission).
	_, svc, err := s.in.Draft(ctx, tenant, token)
	if err != nil && !errors.Is(err, record.ErrNotFound) && !errors.Is(err, record.ErrExpired) {
		return err
	}
	sub, created, err := s.in.SubmitDraft(ctx, tenant, token)
	if err != nil {
		if svc == nil {
			return err
		}
		return s.apiError(c, svc, err)
	}
	return s.submitted(c, tenant, sub, created)
}

// Status is what a status lookup shows: no answers, no personal data.
type Status struct {
	Reference string            `json:"reference"`
	Service   record.ServiceRef `json:"service"`
	Status    string            `json:"status"`
	Office    string            `json:"office"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
	Events    []Event           `json:"events"`
}

type Event struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
}

// checkSecret answers 404 for a wrong or missing secret, before the store
// is asked: a wrong secret must not tell whether the reference exists.
func (s *server) checkSecret(c *fiber.Ctx) (tenant, ref string, err error) {
	tenant, ref = tenantOf(c), c.Params("ref")
	if !s.in.CheckStatusSecret(tenant, ref, c.Query("secret")) {
		return "", "", notFound("no submission with this reference and secret")
	}
	return tenant, ref, nil
}

func (s *server) apiStatus(c *fiber.Ctx) error {
	tenant, ref, err := s.checkSecret(c)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	sub, _, err := s.in.Submission(ctx, tenant, ref, c.Query("secret"))
	if err != nil {
		return err
	}
	evs, err := s.in.Events(ctx, tenant, ref, c.Query("secret"))
	if err != nil {
		return err
	}
	out := Status{Reference: sub.Ref, Service: sub.Service, Status: sub.Status, Office: sub.Office,
		Created: sub.Created, Updated: sub.Updated, Events: make([]Event, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, Event{Type: e.Type, At: e.At})
	}
	return c.JSON(out)
}

func (s *server) apiReceipt(c *fiber.Ctx) error {
	tenant, ref, err := s.checkSecret(c)
	if err != nil {
		return err
	}
	sub, svc, err := s.in.Submission(c.UserContext(), tenant, ref, c.Query("secret"))
	if err != nil {
		return err
	}
	pdf, err := receipt.PDF(svc, sub, receipt.Details{Lang: httpx.Lang(c), Office: s.in.Office(tenant, sub.Office), Zone: s.in.Zone()})
	if err != nil {
		return fmt.Errorf("receipt %s: %w", sub.Ref, err)
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+sub.Ref+`.pdf"`)
	return c.Send(pdf)
}
