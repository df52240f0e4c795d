// Package apiv1 serves the JSON API under /api/v1, described by the
// embedded OpenAPI document (openapi.json). The tenant is the first path
// segment:
//
//	GET  /api/v1/openapi.json                                the OpenAPI document
//	GET  /api/v1/{tenant}/services                           services offered
//	GET  /api/v1/{tenant}/services/{id}                      compiled form model
//	GET  /api/v1/{tenant}/services/{id}/schema               JSON Schema 2020-12
//	POST /api/v1/{tenant}/services/{id}/validate[?page=]     evaluate a document
//	POST /api/v1/{tenant}/services/{id}/drafts               start a draft
//	POST /api/v1/{tenant}/services/{id}/submissions          submit a whole document
//	GET  /api/v1/{tenant}/drafts/{token}                     read a draft
//	PUT  /api/v1/{tenant}/drafts/{token}/pages/{page}        save one page
//	POST /api/v1/{tenant}/drafts/{token}/attachments         upload a file
//	POST /api/v1/{tenant}/drafts/{token}/submit              submit a draft
//	GET  /api/v1/{tenant}/submissions/{ref}?secret=          status
//	GET  /api/v1/{tenant}/submissions/{ref}/receipt.pdf?secret=
//
// Errors are RFC 9457 problem documents (application/problem+json); field
// errors are listed as {path, code, message} with messages in the
// language of Accept-Language (de or en; ?lang= overrides). Every JSON body
// is read by engine.ParseDocument within engine.DefaultLimits.
package apiv1

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/intake"
)

// Config configures the JSON API.
type Config struct {
	Intake *intake.Intake
	// Tenants are the tenants served.
	Tenants httpx.Tenants
	// SubmitRate is the number of submits allowed per client and minute.
	SubmitRate int
	// DraftLimit guards starting a draft, SaveLimit page saves and
	// uploads (rate limits per client, shared with the citizen pages);
	// nil: none.
	DraftLimit, SaveLimit fiber.Handler
}

// server holds what the handlers share.
type server struct {
	cfg     Config
	in      *intake.Intake
	tenants httpx.Tenants
}

// Register registers the JSON API under /api/v1 on app. Its errors go to
// the app's error handler (httpx.ErrorHandler), which answers problem
// documents under /api.
func Register(app *fiber.App, cfg Config) {
	s := &server{cfg: cfg, in: cfg.Intake, tenants: cfg.Tenants}
	v1 := app.Group("/api/v1")
	v1.Get("/openapi.json", s.apiOpenAPI)

	submitLimit := httpx.Limit{
		Max: s.cfg.SubmitRate, Per: time.Minute,
		Err: fiber.NewError(fiber.StatusTooManyRequests, "too many submissions from this client; try again in a minute"),
	}.Handler()

	t := v1.Group("/:tenant", s.apiTenant)
	t.Get("/services", s.apiServices)
	t.Get("/services/:id", s.apiService)
	t.Get("/services/:id/schema", s.apiSchema)
	t.Post("/services/:id/validate", s.apiValidate)
	t.Post("/services/:id/drafts", httpx.Optional(cfg.DraftLimit), s.apiNewDraft)
	t.Post("/services/:id/submissions", submitLimit, s.apiSubmit)
	t.Get("/drafts/:token", s.apiDraft)
	t.Put("/drafts/:token/pages/:page", httpx.Optional(cfg.SaveLimit), s.apiSavePage)
	t.Post("/drafts/:token/attachments", httpx.Optional(cfg.SaveLimit), s.apiUpload)
	t.Post("/drafts/:token/submit", submitLimit, s.apiSubmitDraft)
	t.Get("/submissions/:ref", s.apiStatus)
	t.Get("/submissions/:ref/receipt.pdf", s.apiReceipt)
}

// apiTenant rejects unknown tenants with 404 and marks API responses as
// not cacheable: most of them carry personal data or tokens.
func (s *server) apiTenant(c *fiber.Ctx) error {
	t, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	c.Locals("tenant", t)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Next()
}

func tenantOf(c *fiber.Ctx) string {
	t, _ := c.Locals("tenant").(string)
	return t
}

// today is the date the engine's rules see as today.
func (s *server) today() time.Time {
	return s.in.Today()
}

// service returns the current version of the service named in the URL.
func (s *server) service(c *fiber.Ctx) (*engine.Service, error) {
	return s.in.Catalog.Get(tenantOf(c), c.Params("id"))
}

// readDocument reads a JSON request body: 415 unless the content type is
// JSON, 400 for malformed JSON, 413 beyond the document limits.
func readDocument(c *fiber.Ctx) (map[string]any, error) {
	if err := httpx.RequireJSON(c); err != nil {
		return nil, err
	}
	return engine.ParseDocument(bytes.NewReader(c.Body()), engine.DefaultLimits)
}

// apiError writes validation errors as a 422 problem with messages in the
// request's language (check rules bring their own texts from svc); every
// other error goes to the error handler.
func (s *server) apiError(c *fiber.Ctx, svc *engine.Service, err error) error {
	var ve *engine.ValidationError
	if errors.As(err, &ve) {
		return s.invalid(c, svc, "the document is invalid", ve.Errors)
	}
	return err
}

// invalid writes a 422 problem listing errs.
func (s *server) invalid(c *fiber.Ctx, svc *engine.Service, detail string, errs []engine.FieldError) error {
	lang := httpx.Lang(c)
	p := httpx.Problem{
		Type:      httpx.ProblemType("validation"),
		Title:     httpx.TitleOf(fiber.StatusUnprocessableEntity, lang),
		Status:    fiber.StatusUnprocessableEntity,
		Detail:    detail,
		Errors:    httpx.ProblemErrors(svc, lang, errs),
		RequestID: c.GetRespHeader(fiber.HeaderXRequestID),
	}
	c.Set(fiber.HeaderContentLanguage, lang)
	return c.Status(fiber.StatusUnprocessableEntity).JSON(p, "application/problem+json")
}

// fieldErrors renders errors for a 200 response body (never nil, so
// that clients always see a list).
func fieldErrors(c *fiber.Ctx, svc *engine.Service, errs []engine.FieldError) []httpx.ProblemError {
	lang := httpx.Lang(c)
	c.Set(fiber.HeaderContentLanguage, lang)
	if len(errs) == 0 {
		return []httpx.ProblemError{}
	}
	return httpx.ProblemErrors(svc, lang, errs)
}

// unknownFields lists the members of v that the data model n does not
// declare, below path. Page saves reject them before anything is stored.
func unknownFields(n *engine.Node, v any, path string) []engine.FieldError {
	var out []engine.FieldError
	var walk func(n *engine.Node, v any, path string)
	walk = func(n *engine.Node, v any, path string) {
		switch n.Kind {
		case engine.KindStruct:
			m, _ := v.(map[string]any)
			for k, x := range m {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if f := n.Field(k); f != nil {
					walk(f, x, p)
				} else {
					out = append(out, engine.FieldError{Path: p, Code: engine.CodeUnknownField})
				}
			}
		case engine.KindList:
			l, _ := v.([]any)
			for i, x := range l {
				if n.Elem != nil {
					walk(n.Elem, x, path+"["+strconv.Itoa(i)+"]")
				}
			}
		}
	}
	walk(n, v, path)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// inflight guards idempotency keys while a request with that key is being
// processed in this process: the store only sees the finished insert, so
// a second request with the same key meanwhile gets 409.
var inflight sync.Map // inflightKey → struct{}

type inflightKey struct {
	app         *fiber.App
	tenant, key string
}

// ClaimKey marks key as in flight in app, as a running request with that
// Idempotency-Key does (tests use it to provoke the 409); the returned
// function releases it.
func ClaimKey(app *fiber.App, tenant, key string) (func(), error) {
	k := inflightKey{app, tenant, key}
	if _, busy := inflight.LoadOrStore(k, struct{}{}); busy {
		return nil, fiber.NewError(fiber.StatusConflict, "a request with this Idempotency-Key is still being processed; retry later")
	}
	return func() { inflight.Delete(k) }, nil
}

// validKey accepts idempotency keys of 1 to 200 visible ASCII characters.
func validKey(k string) error {
	if len(k) == 0 || len(k) > 200 {
		return fiber.NewError(fiber.StatusBadRequest, "Idempotency-Key must have 1 to 200 characters")
	}
	if strings.HasPrefix(k, "draft:") {
		return fiber.NewError(fiber.StatusBadRequest, "Idempotency-Key must not start with \"draft:\"")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return fiber.NewError(fiber.StatusBadRequest, "Idempotency-Key must be visible ASCII characters")
		}
	}
	return nil
}

// ifMatch reads an optional If-Match: "<version>" (or * / absent: 0).
func ifMatch(c *fiber.Ctx) (int64, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderIfMatch))
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(h, 10, 64)
	if err != nil || n <= 0 {
		return 0, fiber.NewError(fiber.StatusBadRequest, `If-Match must be a draft version, e.g. "3"`)
	}
	return n, nil
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func apiPath(tenant string, parts ...string) string {
	return "/api/v1/" + tenant + "/" + strings.Join(parts, "/")
}

func notFound(format string, args ...any) error {
	return fiber.NewError(fiber.StatusNotFound, fmt.Sprintf(format, args...))
}
