package citizen

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/messages"
	"github.com/amtsform/amtsform/engine/record"
)

// readPost reads a form post of a citizen's page (URL-encoded or
// multipart, see checkFormPost) after checking its CSRF token.
func (s *server) readPost(c *fiber.Ctx) (*postedForm, error) {
	if err := s.checkFormPost(c); err != nil {
		return nil, err
	}
	form, err := readForm(c)
	if err != nil {
		return nil, err
	}
	csrf, _ := form.get(csrfField)
	if err := s.csrf.Check(c, csrf); err != nil {
		return nil, err
	}
	return form, nil
}

// readForm decodes an urlencoded or multipart body.
func readForm(c *fiber.Ctx) (*postedForm, error) {
	pf := &postedForm{values: map[string][]string{}}
	if strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEMultipartForm) {
		mf, err := c.MultipartForm()
		if err != nil {
			return nil, fiber.NewError(fiber.StatusBadRequest, "malformed multipart body")
		}
		pf.values = mf.Value
		pf.files = mf.File
		return pf, nil
	}
	c.Request().PostArgs().VisitAll(func(k, v []byte) {
		pf.values[string(k)] = append(pf.values[string(k)], string(v))
	})
	return pf, nil
}

// czSavePage saves a posted page: check the CSRF token and the page
// order, decode the values by field kind, refuse anything that was not an
// input of the page, store uploads, then engine.SavePage.
func (s *server) czSavePage(c *fiber.Ctx) error {
	form, err := s.readPost(c)
	if err != nil {
		return s.refused(c, err)
	}
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	lang := httpx.Lang(c)
	page := svc.Form.Page(c.Params("page"))
	if page == nil {
		return fiber.ErrNotFound
	}
	var le *limitError
	if err := checkPosted(form, engine.DefaultLimits); errors.As(err, &le) {
		return s.tooLarge(c, page, draftURL(tenant, svc.ID, d.ID, page.ID), le)
	}
	opt := engine.Options{Today: s.now()}
	before := svc.Evaluate(d.Data, opt)
	if to := reachable(svc, before, page.ID); to != "" {
		return s.message(c, fiber.StatusConflict, render.Tr(lang, "Bitte zuerst die vorherigen Seiten ausfüllen", "Please complete the earlier pages first"),
			render.Tr(lang, "Diese Seite ist noch nicht an der Reihe. Es wurde nichts gespeichert.", "This page is not due yet. Nothing was saved."),
			draftURL(tenant, svc.ID, d.ID, to), render.Tr(lang, "Weiter zur nächsten offenen Seite", "Go to the next open page"))
	}
	actRaw, _ := form.get(actionField)
	act, err := parseAction(actRaw)
	if err != nil {
		return s.refused(c, fiber.NewError(fiber.StatusBadRequest, err.Error()))
	}
	shown, hasShown := takeShown(form)
	dec := newFormDecoder(form, decodeHidden(svc, page, form, act, d.Data, before, opt), act)
	values := dec.page(page, d.Data)
	if len(dec.rejected) > 0 {
		sort.Strings(dec.rejected)
		names := dec.rejected
		if len(names) > 5 {
			names = append(names[:5:5], "…")
		}
		for i, n := range names {
			if len(n) > 60 {
				names[i] = n[:60] + "…"
			}
		}
		return s.message(c, fiber.StatusBadRequest, httpx.TitleOf(400, lang),
			render.Tr(lang, "Das Formular enthielt Angaben, die auf dieser Seite nicht eingegeben werden können: ", "The form contained values that cannot be entered on this page: ")+
				strings.Join(names, ", ")+render.Tr(lang, ". Es wurde nichts gespeichert.", ". Nothing was saved."),
			draftURL(tenant, svc.ID, d.ID, page.ID), render.Tr(lang, "Zurück zur Seite", "Back to the page"))
	}
	if err := checkDocument(values, engine.DefaultLimits); err != nil {
		if errors.As(err, &le) {
			return s.tooLarge(c, page, draftURL(tenant, svc.ID, d.ID, page.ID), le)
		}
		return err
	}
	uploadErrs := map[string]string{}
	for path, v := range values {
		r, ok := resolvePending(v, func(pf *pendingFile) (any, bool) {
			id, msg, err := s.upload(c, d, svc, pf, lang)
			if err != nil {
				uploadErrs[pf.path] = "!" + err.Error()
				return pf.old, pf.old != nil
			}
			if msg != "" {
				uploadErrs[pf.path] = msg
				return pf.old, pf.old != nil
			}
			return id, true
		})
		if ok {
			values[path] = r
		} else {
			delete(values, path)
		}
	}
	for _, m := range uploadErrs {
		if strings.HasPrefix(m, "!") {
			return errors.New("upload: " + m[1:])
		}
	}
	pr, err := s.in.SavePage(c.UserContext(), tenant, d.ID, d.Version, page.ID, values)
	if err != nil {
		var ve *engine.ValidationError
		if errors.As(err, &ve) {
			return s.refused(c, fiber.NewError(fiber.StatusBadRequest, "foreign fields"))
		}
		return err
	}
	here := draftURL(tenant, svc.ID, d.ID, page.ID)
	ret := ""
	if r, _ := form.get(returnField); r == "review" {
		ret = "?return=review"
	}
	switch act.kind {
	case "add":
		anchor := ""
		if l, ok := valueAt(pr.Draft.Data, act.path).([]any); ok && len(l) > 0 {
			anchor = "#" + render.FieldID(fmt.Sprintf("%s[%d]", act.path, len(l)-1))
		}
		return c.Redirect(here+ret+anchor, fiber.StatusSeeOther)
	case "remove", "clear":
		return c.Redirect(here+ret+"#"+render.FieldID(act.path), fiber.StatusSeeOther)
	case "save":
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, "saved")+"?from="+url.QueryEscape(page.ID), fiber.StatusSeeOther)
	}
	errs, revealed := pr.Errors, false
	if hasShown {
		// Errors of fields the citizen could not see when sending the page
		// (revealed by an answer on it) are not displayed on this round;
		// the page is shown again with them, and they still block it.
		errs, _, revealed = unseen(page, pr.Errors, shown, hiddenSet(before.Hidden), pr.Result)
	}
	if len(errs) > 0 || len(uploadErrs) > 0 || revealed {
		return s.renderPage(c, tenant, pr.Draft, svc, page, pr.Result, errs, pageView{toReview: ret != "", upload: uploadErrs, revealed: revealed})
	}
	next := pr.Next
	if ret != "" || next == "" {
		if first := pr.Result.FirstIncompletePage(svc); first != "" {
			return c.Redirect(draftURL(tenant, svc.ID, d.ID, first)+ret, fiber.StatusSeeOther)
		}
		next = "review"
	}
	return c.Redirect(draftURL(tenant, svc.ID, d.ID, next), fiber.StatusSeeOther)
}

// valueAt finds an instance path (children[1].toys) in a document.
func valueAt(data map[string]any, path string) any {
	var cur any = data
	for _, seg := range strings.Split(path, ".") {
		name, idx := seg, -1
		if i := strings.IndexByte(seg, '['); i >= 0 {
			name = seg[:i]
			fmt.Sscanf(seg[i:], "[%d]", &idx)
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[name]
		if idx >= 0 {
			l, ok := cur.([]any)
			if !ok || idx >= len(l) {
				return nil
			}
			cur = l[idx]
		}
	}
	return cur
}

// upload stores one file under the draft. A file refused by the field's
// rules or the store's limits gives a message for the field naming what
// the field takes; other failures are errors.
func (s *server) upload(c *fiber.Ctx, d *record.Draft, svc *engine.Service, pf *pendingFile, lang string) (string, string, error) {
	f, err := pf.header.Open()
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	a, err := s.in.Upload(c.UserContext(), d, svc, pf.path, httpx.FileName(pf.header.Filename), f)
	accept, maxBytes, _ := svc.AttachmentRule(engine.StripIndexes(pf.path))
	var ve *engine.ValidationError
	switch {
	case errors.As(err, &ve) && len(ve.Errors) > 0:
		return "", messages.For(svc, lang, ve.Errors[0]), nil
	case errors.Is(err, record.ErrUnsupportedType) && len(accept) > 0:
		types := make([]any, len(accept))
		for i, t := range accept {
			types[i] = t
		}
		return "", messages.For(svc, lang, engine.FieldError{Path: pf.path, Code: engine.CodeAttachmentType, Params: map[string]any{"accept": types}}), nil
	case errors.Is(err, record.ErrTooLarge) && maxBytes > 0:
		return "", messages.For(svc, lang, engine.FieldError{Path: pf.path, Code: engine.CodeAttachmentSize, Params: map[string]any{"maxBytes": maxBytes}}), nil
	case errors.Is(err, record.ErrTooLarge):
		return "", render.Tr(lang, "Die Datei ist zu groß. Bitte laden Sie eine Datei mit höchstens 20 MB hoch.", "The file is too large. Please upload a file of at most 20 MB."), nil
	case errors.Is(err, record.ErrUnsupportedType):
		return "", render.Tr(lang, "Dieser Dateityp ist nicht erlaubt. Bitte laden Sie eine PDF-, PNG- oder JPEG-Datei hoch.", "This type of file is not allowed. Please upload a PDF, PNG or JPEG file."), nil
	case err != nil:
		return "", "", err
	}
	return a.ID, "", nil
}
