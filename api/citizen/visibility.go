package citizen

// Same-page conditions. A field with a show rule (engine.Field.Conditional)
// is rendered on its page even while hidden: wrapped in a fieldset that
// is hidden and disabled, so that nothing of it is posted. With
// JavaScript, ui/static/app.js posts the page's current values to
//
//	POST /{tenant}/{service}/d/{token}/{page}/visibility
//
// on every change; the server runs the service's compiled rules on them
// (Service.Evaluate, exactly as a save would, storing nothing) and answers
// which of the page's conditional fields are hidden and shown, and the
// page's computed values; the script shows and hides the fields and
// announces it. Without JavaScript, a field revealed by the answers on
// its page appears when the page is sent: the page form carries the
// instance paths of the fields it showed (shownField), and errors of
// fields revealed only by this post are not displayed on that round (the
// page is shown again with a notice instead); they still block the page
// and the submission.

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
)

// shownField carries the instance paths of the fields a page showed,
// separated by spaces.
const shownField = "_shown"

// takeShown removes the shown list from a posted form and returns it;
// ok is false when the form carried none (an older page, another client),
// and then every error is displayed.
func takeShown(form *postedForm) (shown map[string]bool, ok bool) {
	vs, ok := form.values[shownField]
	if !ok {
		return nil, false
	}
	delete(form.values, shownField)
	shown = map[string]bool{}
	for _, v := range vs {
		for _, p := range strings.Fields(v) {
			shown[p] = true
		}
	}
	return shown, true
}

// member renders a field of a page, a group or an entry: a field hidden
// by its rule is rendered hidden (and takes no part in the error summary).
func (st *formState) member(f *engine.Field, path string, v any, present bool, labelPrefix, summaryLabel string) *fieldView {
	if !st.hidden[path] {
		fv := st.field(f, path, v, present, labelPrefix, summaryLabel)
		fv.Conditional = f.Conditional
		return fv
	}
	st.muted++
	fv := st.field(f, path, v, present, labelPrefix, summaryLabel)
	st.muted--
	fv.Conditional, fv.Hidden = true, true
	return fv
}

// Unwrapped is the field inside its conditional wrapper (f-conditional).
func (f *fieldView) Unwrapped() *fieldView {
	c := *f
	c.wrapped = true
	return &c
}

// trimOptional removes "(freiwillig)" or "(optional)" from a hint: the
// label of an optional field says so already.
func trimOptional(hint string) string {
	for _, w := range []string{"(freiwillig)", "(optional)"} {
		for {
			i := strings.Index(strings.ToLower(hint), w)
			if i < 0 {
				break
			}
			hint = hint[:i] + hint[i+len(w):]
		}
	}
	return strings.Join(strings.Fields(hint), " ")
}

// headingKinds are the partials that can carry the page heading in their
// legend or label.
var headingKinds = map[string]bool{"group": true, "repeat": true, "radio": true,
	"text": true, "email": true, "tel": true, "date": true, "number": true, "textarea": true, "select": true, "file": true}

// headingInField makes the first field's legend (or label) the page's h1
// when it says the same as the page title, instead of a heading followed
// by a legend repeating it.
func headingInField(p *pageData) {
	if len(p.Fields) == 0 {
		return
	}
	f := p.Fields[0]
	if f.Conditional || !headingKinds[f.Kind] || !strings.EqualFold(strings.TrimSpace(f.Label), strings.TrimSpace(p.Heading)) {
		return
	}
	f.Heading, f.Lead = true, p.Hint
	p.Heading, p.Hint = "", ""
}

// onPage reports whether an instance path lies under a field of page.
func onPage(page *engine.Page, path string) bool {
	for _, f := range page.Fields {
		if path == f.Path || strings.HasPrefix(path, f.Path+".") || strings.HasPrefix(path, f.Path+"[") {
			return true
		}
	}
	return false
}

// underHidden reports whether path or one of its ancestors is in hidden.
func underHidden(hidden map[string]bool, path string) bool {
	for q := path; q != ""; q = parentPath(q) {
		if hidden[q] {
			return true
		}
	}
	return false
}

// unseen splits the errors of a saved page into those of fields the
// citizen could see (kept) and those of fields hidden before the post and
// not shown on the page (withheld). revealed reports whether the post
// made fields of the page visible that the page did not show.
func unseen(page *engine.Page, errs []engine.FieldError, shown, hiddenBefore map[string]bool, after *engine.Result) (kept []engine.FieldError, withheld int, revealed bool) {
	for _, e := range errs {
		if !shown[e.Path] && underHidden(hiddenBefore, e.Path) {
			withheld++
			continue
		}
		kept = append(kept, e)
	}
	hiddenAfter := hiddenSet(after.Hidden)
	for p := range hiddenBefore {
		if !hiddenAfter[p] && !shown[p] && onPage(page, p) && !underHidden(hiddenAfter, p) {
			revealed = true
		}
	}
	return kept, withheld, revealed || withheld > 0
}

// probe decodes the posted page with nothing hidden, as the citizen sees
// it now (with JavaScript, fields may have been revealed since the page
// was rendered), and evaluates the draft with it. Uploads are not read.
func probe(svc *engine.Service, page *engine.Page, form *postedForm, act formAction, data map[string]any, opt engine.Options) (merged map[string]any, res *engine.Result, ok bool) {
	dec := newFormDecoder(form, map[string]bool{}, act)
	values := dec.page(page, data)
	for k, v := range values {
		if r, keep := resolvePending(v, func(pf *pendingFile) (any, bool) { return pf.old, pf.old != nil }); keep {
			values[k] = r
		} else {
			delete(values, k)
		}
	}
	merged, foreign := svc.ApplyPage(data, page, values)
	if len(foreign) > 0 {
		return nil, nil, false
	}
	return merged, svc.Evaluate(merged, opt), true
}

// decodeHidden is the hidden set a page post is decoded with: the fields
// hidden both when the page was rendered and under the posted answers.
// A field revealed by an answer on the same page is read; one hidden
// after the post but shown before is read too (and dropped by the
// engine), so that a page sent without JavaScript is never refused.
func decodeHidden(svc *engine.Service, page *engine.Page, form *postedForm, act formAction, data map[string]any, before *engine.Result, opt engine.Options) map[string]bool {
	hb := hiddenSet(before.Hidden)
	_, after, ok := probe(svc, page, form, act, data, opt)
	if !ok {
		return hb
	}
	ha := hiddenSet(after.Hidden)
	out := make(map[string]bool, len(hb))
	for p := range hb {
		if ha[p] || !onPage(page, p) {
			out[p] = true
		}
	}
	return out
}

// visibility is the answer of the visibility endpoint.
type visibility struct {
	// Hidden and Shown are the instance paths of the page's conditional
	// fields (data-path in the page) hidden and shown under the answers.
	Hidden []string `json:"hidden"`
	Shown  []string `json:"shown"`
	// Fields is the new value of the page's shown list (shownField).
	Fields string `json:"fields"`
	// Computed maps the HTML ids of the page's computed fields to their
	// values as the page shows them.
	Computed map[string]string `json:"computed"`
}

// czVisibility answers which of a page's conditional fields are shown
// for the posted answers. Nothing is stored.
func (s *server) czVisibility(c *fiber.Ctx) error {
	form, err := s.readPost(c)
	if err != nil {
		return err
	}
	_, d, svc, err := s.draft(c)
	if err != nil {
		return err
	}
	httpx.NoStore(c)
	page := svc.Form.Page(c.Params("page"))
	if page == nil {
		return fiber.ErrNotFound
	}
	if err := checkPosted(form, engine.DefaultLimits); err != nil {
		return fiber.NewError(fiber.StatusRequestEntityTooLarge, "form post beyond the document limits")
	}
	opt := engine.Options{Today: s.now()}
	before := svc.Evaluate(d.Data, opt)
	if to := reachable(svc, before, page.ID); to != "" {
		return fiber.NewError(fiber.StatusConflict, "page not reached")
	}
	takeShown(form)
	delete(form.values, actionField)
	delete(form.values, returnField)
	merged, res, ok := probe(svc, page, form, formAction{kind: "continue"}, d.Data, opt)
	if !ok {
		return fiber.NewError(fiber.StatusBadRequest, "foreign fields")
	}
	lang := httpx.Lang(c)
	st := &formState{
		svc: svc, lang: lang, data: merged, computed: res.Computed, hidden: hiddenSet(res.Hidden),
		errs: map[string][]string{}, placed: map[string]bool{}, labels: map[string]string{},
		files: map[string]string{},
	}
	out := visibility{Hidden: []string{}, Shown: []string{}, Computed: map[string]string{}}
	var walk func(fs []*fieldView)
	walk = func(fs []*fieldView) {
		for _, f := range fs {
			if f.Conditional {
				if f.Hidden {
					out.Hidden = append(out.Hidden, f.Name)
				} else {
					out.Shown = append(out.Shown, f.Name)
				}
			}
			if f.Kind == "computed" {
				v := f.Value
				if v == "" {
					v = render.Tr(lang, "Wird aus Ihren Angaben berechnet, sobald sie vollständig sind.", "Calculated from your answers once they are complete.")
				}
				out.Computed[f.ID] = v
			}
			walk(f.Fields)
			for _, it := range f.Items {
				walk(it.Fields)
			}
		}
	}
	walk(st.pageFields(page))
	out.Fields = strings.Join(st.order, " ")
	return c.JSON(out)
}

// hasDynamic reports whether a page has fields the page script updates:
// conditional or computed ones.
func hasDynamic(fs []*fieldView) bool {
	for _, f := range fs {
		if f.Conditional || f.Kind == "computed" || hasDynamic(f.Fields) {
			return true
		}
		for _, it := range f.Items {
			if hasDynamic(it.Fields) {
				return true
			}
		}
	}
	return false
}
