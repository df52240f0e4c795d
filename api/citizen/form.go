package citizen

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// draft loads the draft of the URL and its service, checking tenant and
// service.
func (s *server) draft(c *fiber.Ctx) (string, *record.Draft, *engine.Service, error) {
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
func (s *server) czResume(c *fiber.Ctx) error {
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
func (s *server) czPage(c *fiber.Ctx) error {
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
	return s.renderPage(c, tenant, d, svc, page, res, nil, pageView{toReview: c.Query("return") == "review"})
}

// pageView says how a page is shown besides its values and errors.
type pageView struct {
	toReview bool              // return to the review after the page
	upload   map[string]string // upload errors by instance path
	revealed bool              // the post revealed fields the page did not show
}

// renderPage renders one page with the draft's values and errors.
func (s *server) renderPage(c *fiber.Ctx, tenant string, d *record.Draft, svc *engine.Service, page *engine.Page, res *engine.Result, errs []engine.FieldError, view pageView) error {
	lang := httpx.Lang(c)
	st := &formState{
		svc: svc, lang: lang, data: d.Data, computed: res.Computed, hidden: hiddenSet(res.Hidden),
		errs:   formErrorMessages(svc, lang, errs),
		placed: map[string]bool{}, labels: map[string]string{},
		files: s.in.DraftFileNames(c.UserContext(), d, svc, d.Data),
	}
	for k, v := range view.upload {
		st.errs[k] = append(st.errs[k], v)
	}
	p := s.base(c, tenant, page.Title.In(lang))
	p.ServiceTitle, p.ServiceURL = svc.Form.Title.In(lang), "/"+tenant+"/"+svc.ID+"/"
	p.Fields = st.pageFields(page)
	if page.Hint != nil {
		p.Hint = page.Hint.In(lang)
	}
	headingInField(p)
	p.Shown = strings.Join(st.order, " ")
	p.Step, p.Steps = indexOf(res.Pages, page.ID)+1, len(res.Pages)
	if p.Step > 1 {
		p.Back = draftURL(tenant, svc.ID, d.ID, res.Pages[p.Step-2])
	} else {
		p.Back = p.ServiceURL
	}
	p.Action = draftURL(tenant, svc.ID, d.ID, page.ID)
	p.Visibility = p.Action + "/visibility"
	p.SaveURL = draftURL(tenant, svc.ID, d.ID, "saved")
	p.CSRF = s.csrf.Token(c)
	p.Multipart = hasFile(p.Fields)
	if view.toReview {
		p.Return = "review"
	}
	if !hasDynamic(p.Fields) {
		p.Visibility = ""
	}
	if view.revealed {
		p.Notice = render.Tr(lang, "Aufgrund Ihrer Angaben sind weitere Fragen hinzugekommen. Bitte beantworten Sie auch diese.",
			"Based on your answers, further questions have been added. Please answer them too.")
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
		href := "#" + render.FieldID(path)
		if !st.placed[path] {
			// an error of a group or list as a whole, or of a field not
			// shown: link to the nearest field that is shown
			for q := path; q != ""; q = parentPath(q) {
				if _, ok := st.labels[q]; ok {
					href, label = "#"+render.FieldID(q), st.labels[q]
					break
				}
			}
		}
		for _, msg := range st.errs[path] {
			if label != "" {
				msg = label + ": " + msg
			}
			p.Errors = append(p.Errors, errorItem{Href: href, Message: msg})
		}
	}
	if len(p.Errors) > 0 {
		p.Title = render.Tr(lang, "Fehler: ", "Error: ") + p.Title
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
