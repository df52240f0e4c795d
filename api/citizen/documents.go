package citizen

import (
	"context"
	"errors"
	"io"
	"mime/multipart"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/messages"
	"github.com/amtsform/amtsform/engine/record"
)

// The document request page: the link a citizen gets when the office
// asks for documents (engine/casework, RequestDocuments).
//
//	GET  /{tenant}/nachreichen/{token}   the requested fields as file inputs
//	POST /{tenant}/nachreichen/{token}   upload them and hand them in
//
// The fields' own rules (types, size) apply to each file; a refused file
// is named on the page again, the files taken so far are kept (by id,
// checked against the request's owner when handed in). It works without
// JavaScript and with the CSRF token of every citizen form.

// DocumentRequests is what the page needs of the casework
// (*casework.Work).
type DocumentRequests interface {
	Request(ctx context.Context, tenant, token string) (*casework.DocumentRequest, *record.Submission, *engine.Service, error)
	Upload(ctx context.Context, tenant, token, field, name string, r io.Reader) (*record.Attachment, error)
	Fulfil(ctx context.Context, tenant, token string, fileIDs map[string][]string) error
	// CitizenRequests lists the document requests of a case for its
	// status page (the status secret is checked by the caller).
	CitizenRequests(ctx context.Context, tenant, ref string) ([]casework.DocumentRequest, error)
}

// documentsData is the template data of documents.html.
type documentsData struct {
	*pageData
	Message  string // the office's message
	Deadline string
	Items    []docItem
	Done     bool
}

type docItem struct {
	ID, Name, Label, Hint, Accept, Error string
	Multiple                             bool
	Uploaded                             []docFile
	Lang                                 string
}

type docFile struct{ ID, Name string }

// uploadedField is the hidden input carrying the files taken so far.
const uploadedField = "_uploaded_"

func (s *server) registerDocuments(app *fiber.App, h func(...fiber.Handler) []fiber.Handler) {
	app.Get("/:tenant"+strings.TrimSuffix(casework.DocumentsPath, "/")+"/:token", h(s.czDocuments)...)
	app.Post("/:tenant"+strings.TrimSuffix(casework.DocumentsPath, "/")+"/:token", h(s.czDocumentsPost)...)
}

// documentRequest loads the request of the link, or renders why not.
func (s *server) documentRequest(c *fiber.Ctx) (string, *casework.DocumentRequest, *record.Submission, *engine.Service, error) {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return "", nil, nil, nil, err
	}
	httpx.NoStore(c)
	req, sub, svc, err := s.cfg.Documents.Request(c.UserContext(), tenant, c.Params("token"))
	lang := httpx.Lang(c)
	switch {
	case errors.Is(err, record.ErrExpired):
		return "", nil, nil, nil, s.message(c, fiber.StatusGone, render.Tr(lang, "Frist abgelaufen", "Deadline passed"),
			render.Tr(lang, "Die Frist für diese Unterlagen ist abgelaufen. Bitte wenden Sie sich an die zuständige Stelle.",
				"The deadline for these documents has passed. Please contact the office responsible."), "", "")
	case errors.Is(err, record.ErrNotFound):
		return "", nil, nil, nil, fiber.ErrNotFound
	case err != nil:
		return "", nil, nil, nil, err
	}
	return tenant, req, sub, svc, nil
}

func (s *server) documentsPage(c *fiber.Ctx, tenant string, req *casework.DocumentRequest, sub *record.Submission, svc *engine.Service) *documentsData {
	lang := httpx.Lang(c)
	p := s.base(c, tenant, render.Tr(lang, "Unterlagen nachreichen", "Send documents")+" – "+sub.Ref)
	p.Heading = render.Tr(lang, "Unterlagen nachreichen", "Send documents")
	p.ServiceTitle = svc.Form.Title.In(lang)
	p.Ref = sub.Ref
	p.CSRF = s.csrf.Token(c)
	p.Action = c.Path()
	d := &documentsData{pageData: p, Message: req.Message, Deadline: render.FormatDate(req.Deadline.Format("2006-01-02"), lang), Done: !req.Fulfilled.IsZero()}
	for _, f := range req.Fields {
		it := docItem{ID: "doc-" + strings.ReplaceAll(f, ".", "-"), Name: f, Label: f, Lang: lang}
		if ff, ok := svc.FormField(f); ok {
			it.Label = ff.Label.In(lang)
			if ff.Hint != nil {
				it.Hint = ff.Hint.In(lang)
			}
			it.Multiple = ff.Kind == engine.KindList
		}
		if accept, _, ok := svc.AttachmentRule(f); ok {
			it.Accept = strings.Join(accept, ",")
		}
		d.Items = append(d.Items, it)
	}
	return d
}

func (s *server) czDocuments(c *fiber.Ctx) error {
	tenant, req, sub, svc, err := s.documentRequest(c)
	if err != nil || req == nil {
		return err
	}
	return httpx.Render(c, s.tmpl, "documents.html", fiber.StatusOK, s.documentsPage(c, tenant, req, sub, svc))
}

func (s *server) czDocumentsPost(c *fiber.Ctx) error {
	form, err := s.readPost(c)
	if err != nil {
		return s.refused(c, err)
	}
	tenant, req, sub, svc, err := s.documentRequest(c)
	if err != nil || req == nil {
		return err
	}
	d := s.documentsPage(c, tenant, req, sub, svc)
	if d.Done {
		return httpx.Render(c, s.tmpl, "documents.html", fiber.StatusOK, d)
	}
	lang := httpx.Lang(c)
	ctx := c.UserContext()
	ids := map[string][]string{}
	for i := range d.Items {
		it := &d.Items[i]
		for _, v := range form.values[uploadedField+it.Name] {
			if id, name, ok := strings.Cut(v, "/"); ok && id != "" {
				it.Uploaded = append(it.Uploaded, docFile{ID: id, Name: httpx.FileName(name)})
				ids[it.Name] = append(ids[it.Name], id)
			}
		}
		for _, fh := range form.files[it.Name] {
			if fh.Size == 0 && fh.Filename == "" {
				continue // an empty file input
			}
			id, msg, err := s.documentUpload(ctx, tenant, c.Params("token"), it.Name, fh, svc, lang)
			if err != nil {
				return err
			}
			if msg != "" {
				it.Error = msg
				d.Errors = append(d.Errors, errorItem{Href: "#" + it.ID, Message: msg})
				continue
			}
			it.Uploaded = append(it.Uploaded, docFile{ID: id, Name: httpx.FileName(fh.Filename)})
			ids[it.Name] = append(ids[it.Name], id)
		}
	}
	if len(d.Errors) == 0 && len(ids) == 0 {
		msg := render.Tr(lang, "Bitte wählen Sie mindestens eine Datei aus.", "Please choose at least one file.")
		d.Errors = append(d.Errors, errorItem{Href: "#" + d.Items[0].ID, Message: msg})
		d.Items[0].Error = msg
	}
	if len(d.Errors) > 0 {
		d.Status = fiber.StatusUnprocessableEntity
		return httpx.Render(c, s.tmpl, "documents.html", d.Status, d)
	}
	err = s.cfg.Documents.Fulfil(ctx, tenant, c.Params("token"), ids)
	var ae *casework.ActionError
	switch {
	case errors.As(err, &ae) && ae.Code == casework.CodeRequestClosed:
	case err != nil:
		return err
	}
	d.Done = true
	return httpx.Render(c, s.tmpl, "documents.html", fiber.StatusOK, d)
}

// documentUpload stores one file; a file the field's rules or the
// store's limits refuse gives a message.
func (s *server) documentUpload(ctx context.Context, tenant, token, field string, fh *multipart.FileHeader, svc *engine.Service, lang string) (string, string, error) {
	f, err := fh.Open()
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	a, err := s.cfg.Documents.Upload(ctx, tenant, token, field, httpx.FileName(fh.Filename), f)
	var ve *engine.ValidationError
	switch {
	case errors.As(err, &ve) && len(ve.Errors) > 0:
		return "", messages.For(svc, lang, ve.Errors[0]), nil
	case errors.Is(err, record.ErrTooLarge):
		return "", render.Tr(lang, "Die Datei ist zu groß.", "The file is too large."), nil
	case errors.Is(err, record.ErrUnsupportedType):
		return "", render.Tr(lang, "Dieser Dateityp ist nicht erlaubt. Bitte laden Sie eine PDF-, PNG- oder JPEG-Datei hoch.", "This type of file is not allowed. Please upload a PDF, PNG or JPEG file."), nil
	case err != nil:
		return "", "", err
	}
	return a.ID, "", nil
}
