package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/amtsform/amtsform/api/answers"
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/receipt"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/ui"
)

// The citizen forms: server-rendered from the compiled form model, working
// without JavaScript.
//
//	GET  /{tenant}/                              services
//	GET  /{tenant}/{service}/                    start page
//	POST /{tenant}/{service}/                    start: create a draft
//	GET  /{tenant}/{service}/d/{token}           resume link → current page
//	GET  /{tenant}/{service}/d/{token}/{page}    a form page
//	POST /{tenant}/{service}/d/{token}/{page}    save the page
//	GET  /{tenant}/{service}/d/{token}/saved     "save and continue later"
//	POST /{tenant}/{service}/d/{token}/saved     send the resume link by email
//	GET  /{tenant}/{service}/d/{token}/review    check your answers
//	POST /{tenant}/{service}/d/{token}/review    submit
//	GET  /{tenant}/{service}/r/{ref}?s=          confirmation
//	GET  /{tenant}/{service}/r/{ref}/receipt.pdf?s=
//
// The page ids "review" and "saved" are therefore reserved.

// pageData is what every citizen template gets.
type pageData struct {
	Lang      string
	Title     string // the document title
	Heading   string
	Home      string
	LangURL   string
	LangName  string
	LangCode  string
	Dev       bool
	CSRF      string
	Status    int
	RequestID string

	ServiceTitle string
	ServiceURL   string

	// services list
	Services []serviceLink
	// start page
	Description string
	Needs       []string
	Duration    string
	Privacy     string
	Action      string
	// form page
	Step, Steps int
	Back        string
	Multipart   bool
	Hint        string
	Errors      []errorItem
	Fields      []*fieldView
	Return      string
	SaveURL     string
	// review
	Sections []reviewSection
	// confirmation
	Ref        string
	Office     string
	Received   string
	ReceiptURL string
	// saved
	ResumeURL string
	Expires   string
	// message pages and dev problems
	Message  string
	Link     string
	LinkText string
	Problems []string
}

type serviceLink struct {
	Title, Description, URL string
}

type reviewSection struct {
	Title string
	Rows  []reviewRow
}

type reviewRow struct {
	answers.Row
	ChangeURL string
}

// registerCitizen registers the server-rendered citizen forms.
func (s *Server) registerCitizen(app *fiber.App) {
	app.Get("/", func(c *fiber.Ctx) error {
		return c.Redirect("/"+s.cfg.Tenants[0]+"/", fiber.StatusFound)
	})
	app.Use("/static", filesystem.New(filesystem.Config{
		Root:   http.FS(ui.Static()),
		MaxAge: 365 * 24 * 3600, // links carry ?v=<content hash>
	}))
	if s.cfg.Dev {
		app.Get("/_dev/wait", s.devWait)
	}
	submitLimit := httpx.Limit{Max: s.cfg.SubmitRate, Per: time.Minute}.Handler()
	startLimit := httpx.Limit{Max: 3 * s.cfg.SubmitRate, Per: time.Minute}.Handler()
	pre := []fiber.Handler{httpx.RememberLang(s.cookies), s.devProblems}
	h := func(hs ...fiber.Handler) []fiber.Handler { return append(append([]fiber.Handler{}, pre...), hs...) }
	app.Get("/:tenant", h(s.czServices)...)
	app.Get("/:tenant/:service", h(s.czStart)...)
	app.Post("/:tenant/:service", h(startLimit, s.czCreate)...)
	app.Get("/:tenant/:service/d/:token", h(s.czResume)...)
	app.Get("/:tenant/:service/d/:token/review", h(s.czReview)...)
	app.Post("/:tenant/:service/d/:token/review", h(submitLimit, s.czSubmit)...)
	app.Get("/:tenant/:service/d/:token/saved", h(s.czSaved)...)
	s.registerResumeMail(app, h) // POST …/saved, when a mailer is configured
	app.Get("/:tenant/:service/d/:token/:page", h(s.czPage)...)
	app.Post("/:tenant/:service/d/:token/:page", h(s.czSavePage)...)
	app.Get("/:tenant/:service/r/:ref", h(s.czConfirmation)...)
	app.Get("/:tenant/:service/r/:ref/receipt.pdf", h(s.czReceipt)...)
}

func (s *Server) now() time.Time {
	return s.in.Today()
}

// base fills what every page has.
func (s *Server) base(c *fiber.Ctx, tenant, title string) *pageData {
	lang := httpx.Lang(c)
	p := &pageData{Lang: lang, Title: title, Heading: title, Home: "/" + tenant + "/", Dev: s.cfg.Dev, Status: fiber.StatusOK}
	other, name := "en", "English"
	if lang == "en" {
		other, name = "de", "Deutsch"
	}
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) { q.Add(string(k), string(v)) })
	q.Set("lang", other)
	p.LangURL, p.LangName, p.LangCode = c.Path()+"?"+q.Encode(), name, other
	return p
}

func (s *Server) render(c *fiber.Ctx, name string, p *pageData) error {
	return httpx.Render(c, s.tmpl, name, p.Status, p)
}

// message renders a short page with a status, a title and a sentence;
// used for refused posts, where a specific explanation helps.
func (s *Server) message(c *fiber.Ctx, status int, title, msg, link, linkText string) error {
	tenant := c.Params("tenant")
	p := s.base(c, tenant, title)
	p.Status, p.Message, p.Link, p.LinkText = status, msg, link, linkText
	p.RequestID = c.GetRespHeader(fiber.HeaderXRequestID)
	return s.render(c, "message.html", p)
}

func noStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
}

// czServices lists the services of a tenant.
func (s *Server) czServices(c *fiber.Ctx) error {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	lang := httpx.Lang(c)
	p := s.base(c, tenant, answers.Tr(lang, "Online-Anträge", "Online applications"))
	for _, svc := range s.in.Catalog.List(tenant) {
		l := serviceLink{Title: svc.Form.Title.In(lang), URL: "/" + tenant + "/" + svc.ID + "/"}
		if svc.Form.Description != nil {
			l.Description = svc.Form.Description.In(lang)
		}
		p.Services = append(p.Services, l)
	}
	sort.SliceStable(p.Services, func(i, j int) bool { return p.Services[i].Title < p.Services[j].Title })
	return s.render(c, "services.html", p)
}

// czStart shows what a service needs, how long it takes and how data is
// used, with a button that starts an application.
func (s *Server) czStart(c *fiber.Ctx) error {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	svc, err := s.in.Catalog.Get(tenant, c.Params("service"))
	if err != nil {
		return err
	}
	lang := httpx.Lang(c)
	p := s.base(c, tenant, svc.Form.Title.In(lang))
	p.ServiceTitle, p.ServiceURL = p.Title, "/"+tenant+"/"+svc.ID+"/"
	if svc.Form.Description != nil {
		p.Description = svc.Form.Description.In(lang)
	}
	if st := svc.Form.Start; st != nil {
		for _, n := range st.Needs {
			p.Needs = append(p.Needs, n.In(lang))
		}
		if st.Duration != nil {
			p.Duration = st.Duration.In(lang)
		}
		if st.Privacy != nil {
			p.Privacy = st.Privacy.In(lang)
		}
	}
	p.Action = p.ServiceURL
	p.CSRF = s.csrf.Token(c)
	return s.render(c, "start.html", p)
}

// czCreate starts a draft and goes to its first page.
func (s *Server) czCreate(c *fiber.Ctx) error {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return err
	}
	if ok, err := s.checkPlainPost(c); !ok {
		return err
	}
	d, svc, err := s.in.NewDraft(c.UserContext(), tenant, c.Params("service"))
	if err != nil {
		return err
	}
	return c.Redirect(draftURL(tenant, svc.ID, d.ID, svc.Form.Pages[0].ID), fiber.StatusSeeOther)
}

func draftURL(tenant, svc, token, page string) string {
	return "/" + tenant + "/" + svc + "/d/" + token + "/" + page
}

// checkFormPost refuses bodies that are not HTML form posts.
func (s *Server) checkFormPost(c *fiber.Ctx) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	switch ct {
	case fiber.MIMEApplicationForm, fiber.MIMEMultipartForm:
		return nil
	}
	return fiber.NewError(fiber.StatusUnsupportedMediaType, "not a form post")
}

// refused renders a 4xx for a refused post; nothing was changed.
func (s *Server) refused(c *fiber.Ctx, err error) error {
	status, _ := httpx.StatusOf(err)
	lang := httpx.Lang(c)
	msg := answers.Tr(lang, "Bitte gehen Sie zurück und versuchen Sie es erneut. Es wurde nichts gespeichert.", "Please go back and try again. Nothing was saved.")
	switch status {
	case fiber.StatusUnsupportedMediaType:
		msg = answers.Tr(lang, "Diese Adresse nimmt nur Formulare an. Es wurde nichts gespeichert.", "This address accepts only form posts. Nothing was saved.")
	case fiber.StatusForbidden:
		msg = answers.Tr(lang,
			"Das Formular ist abgelaufen oder wurde nicht von dieser Seite gesendet. Bitte laden Sie die Seite neu und senden Sie sie noch einmal. Cookies müssen erlaubt sein. Es wurde nichts gespeichert.",
			"The form has expired or was not sent from this site. Please reload the page and send it again. Cookies must be enabled. Nothing was saved.")
	}
	return s.message(c, status, httpx.TitleOf(status, lang), msg, "", "")
}

// draft loads the draft of the URL and its service, checking tenant and
// service.
func (s *Server) draft(c *fiber.Ctx) (string, *record.Draft, *engine.Service, error) {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return "", nil, nil, err
	}
	d, svc, err := s.in.Draft(c.UserContext(), tenant, c.Params("token"))
	if err != nil {
		return "", nil, nil, err
	}
	if svc.ID != c.Params("service") {
		return "", nil, nil, fmt.Errorf("draft of another service: %w", record.ErrNotFound)
	}
	return tenant, d, svc, nil
}

// czResume follows the resume link to the first page still to be
// completed, or to the review when every page is.
func (s *Server) czResume(c *fiber.Ctx) error {
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	res := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
	to := res.FirstIncompletePage(svc)
	if to == "" {
		to = "review"
	}
	if len(d.Data) == 0 {
		to = d.Page
	}
	return c.Redirect(draftURL(tenant, svc.ID, d.ID, to), fiber.StatusSeeOther)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func hiddenSet(paths []string) map[string]bool {
	m := make(map[string]bool, len(paths))
	for _, p := range paths {
		m[p] = true
	}
	return m
}

// reachable applies intake's page-order rule and returns the page to go
// to instead of pageID, or "" when pageID may be shown.
func reachable(svc *engine.Service, res *engine.Result, pageID string) string {
	var nr *intake.NotReachedError
	if errors.As(intake.Reached(svc, res, pageID), &nr) {
		return nr.Continue
	}
	return ""
}

// czPage renders a form page from the draft.
func (s *Server) czPage(c *fiber.Ctx) error {
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	page := svc.Form.Page(c.Params("page"))
	if page == nil {
		return fiber.ErrNotFound
	}
	res := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
	if to := reachable(svc, res, page.ID); to != "" {
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, to), fiber.StatusSeeOther)
	}
	return s.renderPage(c, tenant, d, svc, page, res, nil, c.Query("return") == "review")
}

// renderPage renders one page with the draft's values and errors.
func (s *Server) renderPage(c *fiber.Ctx, tenant string, d *record.Draft, svc *engine.Service, page *engine.Page, res *engine.Result, errs []engine.FieldError, toReview bool, extra ...map[string]string) error {
	lang := httpx.Lang(c)
	st := &formState{
		svc: svc, lang: lang, data: d.Data, computed: res.Computed, hidden: hiddenSet(res.Hidden),
		errs:   formErrorMessages(svc, lang, errs),
		placed: map[string]bool{}, labels: map[string]string{},
		files: s.fileNames(c.UserContext(), tenant, svc, d.Data),
	}
	for _, m := range extra {
		for k, v := range m {
			st.errs[k] = v
		}
	}
	p := s.base(c, tenant, page.Title.In(lang))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	p.Fields = st.pageFields(page)
	if page.Hint != nil {
		p.Hint = page.Hint.In(lang)
	}
	p.Step, p.Steps = indexOf(res.Pages, page.ID)+1, len(res.Pages)
	if p.Step > 1 {
		p.Back = draftURL(tenant, svc.ID, d.ID, res.Pages[p.Step-2])
	} else {
		p.Back = p.ServiceURL
	}
	p.Action = draftURL(tenant, svc.ID, d.ID, page.ID)
	p.SaveURL = draftURL(tenant, svc.ID, d.ID, "saved")
	p.CSRF = s.csrf.Token(c)
	p.Multipart = hasFile(p.Fields)
	if toReview {
		p.Return = "review"
	}
	// The summary lists errors in page order, each linked to its field;
	// errors of no field shown (a list as a whole…) come last.
	order := make([]string, 0, len(st.errs))
	for _, path := range st.order {
		if _, ok := st.errs[path]; ok {
			order = append(order, path)
		}
	}
	var rest []string
	for path := range st.errs {
		if !st.placed[path] {
			rest = append(rest, path)
		}
	}
	sort.Strings(rest)
	order = append(order, rest...)
	for _, path := range order {
		label := st.labels[path]
		href := "#" + answers.FieldID(path)
		if !st.placed[path] {
			// an error of a group or list as a whole, or of a field not
			// shown: link to the nearest field that is shown
			for q := path; q != ""; q = parentPath(q) {
				if _, ok := st.labels[q]; ok {
					href, label = "#"+answers.FieldID(q), st.labels[q]
					break
				}
			}
		}
		msg := st.errs[path]
		if label != "" {
			msg = label + ": " + msg
		}
		p.Errors = append(p.Errors, errorItem{Href: href, Message: msg})
	}
	if len(p.Errors) > 0 {
		p.Title = answers.Tr(lang, "Fehler: ", "Error: ") + p.Title
		p.Status = fiber.StatusUnprocessableEntity
	}
	return s.render(c, "page.html", p)
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i <= 0 {
		return ""
	}
	return p[:i]
}

func hasFile(fs []*fieldView) bool {
	for _, f := range fs {
		if f.Kind == "file" || hasFile(f.Fields) {
			return true
		}
		for _, it := range f.Items {
			if hasFile(it.Fields) {
				return true
			}
		}
	}
	return false
}

// fileNames returns the names of the files a document refers to.
func (s *Server) fileNames(ctx context.Context, tenant string, svc *engine.Service, data map[string]any) map[string]string {
	return s.in.FileNames(ctx, tenant, svc, data)
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
func (s *Server) czSavePage(c *fiber.Ctx) error {
	if err := s.checkFormPost(c); err != nil {
		return s.refused(c, err)
	}
	form, err := readForm(c)
	if err != nil {
		return s.refused(c, err)
	}
	csrf, _ := form.get(csrfField)
	if err := s.csrf.Check(c, csrf); err != nil {
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
	before := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
	if to := reachable(svc, before, page.ID); to != "" {
		return s.message(c, fiber.StatusConflict, answers.Tr(lang, "Bitte zuerst die vorherigen Seiten ausfüllen", "Please complete the earlier pages first"),
			answers.Tr(lang, "Diese Seite ist noch nicht an der Reihe. Es wurde nichts gespeichert.", "This page is not due yet. Nothing was saved."),
			draftURL(tenant, svc.ID, d.ID, to), answers.Tr(lang, "Weiter zur nächsten offenen Seite", "Go to the next open page"))
	}
	actRaw, _ := form.get(actionField)
	act, err := parseAction(actRaw)
	if err != nil {
		return s.refused(c, fiber.NewError(fiber.StatusBadRequest, err.Error()))
	}
	dec := newFormDecoder(form, hiddenSet(before.Hidden), act)
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
			answers.Tr(lang, "Das Formular enthielt Angaben, die auf dieser Seite nicht eingegeben werden können: ", "The form contained values that cannot be entered on this page: ")+
				strings.Join(names, ", ")+answers.Tr(lang, ". Es wurde nichts gespeichert.", ". Nothing was saved."),
			draftURL(tenant, svc.ID, d.ID, page.ID), answers.Tr(lang, "Zurück zur Seite", "Back to the page"))
	}
	uploadErrs := map[string]string{}
	for path, v := range values {
		r, ok := resolvePending(v, func(pf *pendingFile) (any, bool) {
			id, msg, err := s.upload(c, d, pf, lang)
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
			anchor = "#" + answers.FieldID(fmt.Sprintf("%s[%d]", act.path, len(l)-1))
		}
		return c.Redirect(here+ret+anchor, fiber.StatusSeeOther)
	case "remove", "clear":
		return c.Redirect(here+ret+"#"+answers.FieldID(act.path), fiber.StatusSeeOther)
	case "save":
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, "saved")+"?from="+url.QueryEscape(page.ID), fiber.StatusSeeOther)
	}
	if len(pr.Errors) > 0 || len(uploadErrs) > 0 {
		return s.renderPage(c, tenant, pr.Draft, svc, page, pr.Result, pr.Errors, ret != "", uploadErrs)
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

// upload stores one file under the draft. A file refused by the store's
// limits gives a message for the field; other failures are errors.
func (s *Server) upload(c *fiber.Ctx, d *record.Draft, pf *pendingFile, lang string) (string, string, error) {
	f, err := pf.header.Open()
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	name := pf.header.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	a, err := s.in.Upload(c.UserContext(), d, name, f)
	switch {
	case errors.Is(err, record.ErrTooLarge):
		return "", answers.Tr(lang, "Die Datei ist zu groß. Bitte laden Sie eine Datei mit höchstens 20 MB hoch.", "The file is too large. Please upload a file of at most 20 MB."), nil
	case errors.Is(err, record.ErrUnsupportedType):
		return "", answers.Tr(lang, "Dieser Dateityp ist nicht erlaubt. Bitte laden Sie eine PDF-, PNG- oder JPEG-Datei hoch.", "This type of file is not allowed. Please upload a PDF, PNG or JPEG file."), nil
	case err != nil:
		return "", "", err
	}
	return a.ID, "", nil
}

// czSaved shows the resume link after "save and continue later", and,
// when a mailer is configured, a form to have it sent by email
// (citizen_mail.go).
func (s *Server) czSaved(c *fiber.Ctx) error {
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	p := s.savedPage(c, tenant, d, svc)
	if s.cfg.Mail != nil {
		s.addMailForm(c, p, "", "")
	}
	return s.render(c, "saved.html", p)
}

// savedPage is the saved page without the mail form.
func (s *Server) savedPage(c *fiber.Ctx, tenant string, d *record.Draft, svc *engine.Service) *pageData {
	lang := httpx.Lang(c)
	p := s.base(c, tenant, answers.Tr(lang, "Ihre Angaben sind gespeichert", "Your answers are saved"))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	p.ResumeURL = s.publicBase(c) + "/" + tenant + "/" + svc.ID + "/d/" + d.ID
	p.Expires = answers.FormatDate(d.Expires.In(answers.Berlin).Format("2006-01-02"), lang)
	back := d.Page
	if from := c.Query("from"); svc.Form.Page(from) != nil {
		back = from
	}
	p.Back = draftURL(tenant, svc.ID, d.ID, back)
	return p
}

// czReview shows all answers with change links and the submit button.
func (s *Server) czReview(c *fiber.Ctx) error {
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	lang := httpx.Lang(c)
	res := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
	if first := res.FirstIncompletePage(svc); first != "" {
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, first), fiber.StatusSeeOther)
	}
	p := s.base(c, tenant, answers.Tr(lang, "Angaben prüfen", "Check your answers"))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	files := s.fileNames(c.UserContext(), tenant, svc, res.Data)
	for _, sec := range answers.List(svc, res.Data, res.Computed, files, lang) {
		rs := reviewSection{Title: sec.Title}
		for _, r := range sec.Rows {
			row := reviewRow{Row: r}
			if !r.Heading && !r.Computed {
				row.ChangeURL = draftURL(tenant, svc.ID, d.ID, sec.PageID) + "?return=review#" + r.Anchor
			}
			rs.Rows = append(rs.Rows, row)
		}
		p.Sections = append(p.Sections, rs)
	}
	if len(res.Pages) > 0 {
		p.Back = draftURL(tenant, svc.ID, d.ID, res.Pages[len(res.Pages)-1])
	}
	p.Action = draftURL(tenant, svc.ID, d.ID, "review")
	p.SaveURL = draftURL(tenant, svc.ID, d.ID, "saved")
	p.CSRF = s.csrf.Token(c)
	return s.render(c, "review.html", p)
}

// checkPlainPost checks a form post without fields of the service's own
// (start, submit, mail the link): the content type and the CSRF token.
// When it refuses the post (ok == false), the refusal page has been
// rendered and the caller returns err as it is.
func (s *Server) checkPlainPost(c *fiber.Ctx) (ok bool, err error) {
	if err := s.checkFormPost(c); err != nil {
		return false, s.refused(c, err)
	}
	if err := s.csrf.Check(c, c.FormValue(csrfField)); err != nil {
		return false, s.refused(c, err)
	}
	return true, nil
}

// czSubmit hands the draft in and goes to the confirmation.
func (s *Server) czSubmit(c *fiber.Ctx) error {
	if ok, err := s.checkPlainPost(c); !ok {
		return err
	}
	tenant, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	sub, _, err := s.in.SubmitDraft(c.UserContext(), tenant, d.ID)
	if errors.Is(err, intake.ErrInvalid) {
		res := svc.Evaluate(d.Data, engine.Options{Today: s.now()})
		to := res.FirstIncompletePage(svc)
		if to == "" {
			to = svc.Form.Pages[0].ID
		}
		return c.Redirect(draftURL(tenant, svc.ID, d.ID, to), fiber.StatusSeeOther)
	}
	if err != nil {
		return err
	}
	return c.Redirect(confirmationURL(tenant, svc.ID, sub.Ref, s.in.StatusSecret(tenant, sub.Ref)), fiber.StatusSeeOther)
}

func confirmationURL(tenant, svc, ref, secret string) string {
	return "/" + tenant + "/" + svc + "/r/" + ref + "?s=" + url.QueryEscape(secret)
}

// submission loads the submission of the URL after checking its secret.
func (s *Server) submission(c *fiber.Ctx) (string, *record.Submission, *engine.Service, error) {
	tenant, err := s.tenants.Of(c)
	if err != nil {
		return "", nil, nil, err
	}
	ref := c.Params("ref")
	sub, svc, err := s.in.Submission(c.UserContext(), tenant, ref, c.Query("s"))
	if err != nil {
		return "", nil, nil, err
	}
	if svc.ID != c.Params("service") {
		return "", nil, nil, fiber.ErrNotFound
	}
	return tenant, sub, svc, nil
}

// czConfirmation shows the reference number and the receipt link.
func (s *Server) czConfirmation(c *fiber.Ctx) error {
	tenant, sub, svc, err := s.submission(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	lang := httpx.Lang(c)
	p := s.base(c, tenant, answers.Tr(lang, "Antrag eingegangen", "Application received"))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	p.Ref, p.Office = sub.Ref, answers.OfficeName(sub.Office)
	t := sub.Created.In(answers.Berlin)
	p.Received = t.Format("02.01.2006, 15:04 Uhr")
	if lang == "en" {
		p.Received = t.Format("2 January 2006, 15:04")
	}
	p.ReceiptURL = "/" + tenant + "/" + svc.ID + "/r/" + sub.Ref + "/receipt.pdf?s=" + url.QueryEscape(c.Query("s"))
	return s.render(c, "confirmation.html", p)
}

// czReceipt sends the PDF receipt.
func (s *Server) czReceipt(c *fiber.Ctx) error {
	_, sub, svc, err := s.submission(c)
	if err != nil {
		return err
	}
	pdf, err := receipt.PDF(svc, sub, httpx.Lang(c))
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+answers.Tr(httpx.Lang(c), "Eingangsbestaetigung-", "Receipt-")+sub.Ref+`.pdf"`)
	return c.Send(pdf)
}
