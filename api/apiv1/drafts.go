package apiv1

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// Draft is a draft as the API shows it. The token is the only key to
// it: whoever has it can read and change the draft.
type Draft struct {
	Token   string            `json:"token"`
	Service record.ServiceRef `json:"service"`
	// Page is the page reached: the next page to fill in.
	Page string `json:"page"`
	// Pages are the visible pages for the data so far, in order.
	Pages   []string       `json:"pages"`
	Data    map[string]any `json:"data"`
	Version int64          `json:"version"`
	Created time.Time      `json:"created"`
	Updated time.Time      `json:"updated"`
	Expires time.Time      `json:"expires"`
}

func (s *server) draft(svc *engine.Service, d *record.Draft, pages []string) Draft {
	if pages == nil {
		pages = svc.Evaluate(d.Data, engine.Options{Today: s.today()}).Pages
	}
	data := d.Data
	if data == nil {
		data = map[string]any{}
	}
	return Draft{Token: d.ID, Service: d.Service, Page: d.Page, Pages: pages, Data: data,
		Version: d.Version, Created: d.Created, Updated: d.Updated, Expires: d.Expires}
}

// apiNewDraft starts a draft: 201 with the draft and a Location header.
func (s *server) apiNewDraft(c *fiber.Ctx) error {
	tenant := tenantOf(c)
	d, svc, err := s.in.NewDraft(c.UserContext(), tenant, c.Params("id"))
	if err != nil {
		return err
	}
	c.Location(apiPath(tenant, "drafts", d.ID))
	c.Set(fiber.HeaderETag, etag(d.Version))
	return c.Status(fiber.StatusCreated).JSON(s.draft(svc, d, nil))
}

// apiDraft reads a draft: 404 for unknown tokens (or another tenant's),
// 410 for expired ones.
func (s *server) apiDraft(c *fiber.Ctx) error {
	d, svc, err := s.in.Draft(c.UserContext(), tenantOf(c), c.Params("token"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderETag, etag(d.Version))
	return c.JSON(s.draft(svc, d, nil))
}

// PageResult is the answer of a page save.
type PageResult struct {
	Token   string `json:"token"`
	Page    string `json:"page"`
	Version int64  `json:"version"`
	// Complete is true when the saved page has no errors; Next then names
	// the page to continue with ("" after the last page).
	Complete bool                 `json:"complete"`
	Next     string               `json:"next"`
	Errors   []httpx.ProblemError `json:"errors"`
	Pages    []string             `json:"pages"`
	Computed map[string]any       `json:"computed"`
	// Reached is the draft's page reached after the save.
	Reached string    `json:"reached"`
	Expires time.Time `json:"expires"`
}

// apiSavePage saves one page of a draft. The body holds the page's
// fields (absent ones are cleared). What was sent is kept even when it is
// invalid, and the answer is 200 with the page's errors listed: an
// incomplete page is the normal state of a draft, not a failed request.
// Rejected with nothing stored: fields of other pages or unknown members
// (422), pages not shown or not reached yet (409), a stale If-Match (409).
func (s *server) apiSavePage(c *fiber.Ctx) error {
	tenant, token, pageID := tenantOf(c), c.Params("token"), c.Params("page")
	ctx := c.UserContext()
	want, err := ifMatch(c)
	if err != nil {
		return err
	}
	d, svc, err := s.in.Draft(ctx, tenant, token)
	if err != nil {
		return err
	}
	page := svc.Form.Page(pageID)
	if page == nil {
		return notFound("service %s has no page %q", svc.ID, pageID)
	}
	if want != 0 && want != d.Version {
		return fiber.NewError(fiber.StatusConflict, "the draft was changed since version "+etag(want)+"; read it again")
	}
	values, err := readDocument(c)
	if err != nil {
		return err
	}
	// The page must be visible and reached (see intake.Reached).
	if err := intake.Reached(svc, svc.Evaluate(d.Data, engine.Options{Today: s.today()}), pageID); err != nil {
		return err
	}
	var unknown []engine.FieldError
	for k, v := range values {
		if n := svc.Data.Field(k); n != nil && onPage(page, k) {
			unknown = append(unknown, unknownFields(n, v, k)...)
		}
	}
	if len(unknown) > 0 {
		return s.invalid(c, svc, "the page holds fields the service does not know", unknown)
	}
	// Saving against the version just checked makes a concurrent change
	// a 409 rather than a save on data the checks above did not see.
	pr, err := s.in.SavePage(ctx, tenant, token, d.Version, pageID, values)
	if err != nil {
		return s.apiError(c, svc, err)
	}
	c.Set(fiber.HeaderETag, etag(pr.Draft.Version))
	computed := pr.Result.Computed
	if computed == nil {
		computed = map[string]any{}
	}
	return c.JSON(PageResult{
		Token:    token,
		Page:     pageID,
		Version:  pr.Draft.Version,
		Complete: len(pr.Errors) == 0,
		Next:     pr.Next,
		Errors:   fieldErrors(c, svc, pr.Errors),
		Pages:    pr.Result.Pages,
		Computed: computed,
		Reached:  pr.Draft.Page,
		Expires:  pr.Draft.Expires,
	})
}

func onPage(p *engine.Page, path string) bool {
	for _, f := range p.Fields {
		if f.Path == path {
			return true
		}
	}
	return false
}

// Attachment describes a stored file; everything but the name was
// measured by the store.
type Attachment struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"contentType"`
}

// apiUpload stores the first part named "file" of a multipart/form-data
// body as an attachment of the draft (owner = draft token), streaming it
// into the store. The id it answers goes into the attachment field of a
// page. 413 beyond the store's limits, 415 for a file type not allowed
// (the store sniffs the content; the client's type is ignored). With
// ?field= naming the attachment field, the field's own rules (accepted
// types, largest size) apply at once: 422 naming the field; without it
// they apply at submit.
func (s *server) apiUpload(c *fiber.Ctx) error {
	tenant, token := tenantOf(c), c.Params("token")
	ctx := c.UserContext()
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEMultipartForm || params["boundary"] == "" {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "expected multipart/form-data with a part named \"file\"")
	}
	d, svc, err := s.in.Draft(ctx, tenant, token)
	if err != nil {
		return err
	}
	if f := c.Query("field"); f != "" {
		if _, _, ok := svc.AttachmentRule(engine.StripIndexes(f)); !ok {
			return &engine.ValidationError{Errors: []engine.FieldError{{Path: f, Code: engine.CodeUnknownField}}}
		}
	}
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	mr := multipart.NewReader(body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fiber.NewError(fiber.StatusBadRequest, "no part named \"file\" in the upload")
		}
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed multipart body")
		}
		if part.FormName() != "file" {
			_ = part.Close()
			continue
		}
		// ?field= names the attachment field the file is for; its rules
		// (types, size) then apply at once, else at submit.
		att, err := s.in.Upload(ctx, d, svc, c.Query("field"), httpx.FileName(part.FileName()), part)
		_ = part.Close()
		if err != nil {
			return err
		}
		c.Location(apiPath(tenant, "drafts", token))
		return c.Status(fiber.StatusCreated).JSON(Attachment{
			ID: att.ID, Name: att.Name, Size: att.Size, SHA256: att.SHA256, ContentType: att.ContentType,
		})
	}
}
