package backoffice

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/receipt"
	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/messages"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/staff"
)

type attachmentLink struct {
	Name, URL, Type, Size string
}

type eventRow struct {
	At, What, Actor, Detail string
}

type requestRow struct {
	Fields, Message, Deadline, Fulfilled string
}

// actionForm is one workflow action the user may take now.
type actionForm struct {
	ID, Title       string
	CommentRequired bool
	CommentID       string
	Comment         string
}

type caseView struct {
	Ref, URL, Version                                string
	ServiceTitle, Received, Status, Office, Assignee string
	// AssigneeGone says why the assignee cannot work on the case any
	// more (see assigneeGone), or is empty.
	AssigneeGone string
	// ServiceVersion and Hash are the service version the case was
	// submitted under (its pinned reference); HashShort abbreviates it.
	ServiceVersion, Hash, HashShort string
	Due, FollowUp, Priority         string
	Overdue, Final                  bool
	ReceiptURL                      string
	Sections                        []render.Section
	Attachments                     []attachmentLink
	Events                          []eventRow
	Notes                           []eventRow
	Accesses                        string
	Requests                        []requestRow
	CanAct, Mine, Claim             bool
	Assignees                       []option
	Actions                         []actionForm
	DueValue, FollowUpValue         string
	Priorities                      []option
	DocTitle                        string
	DocFields                       []option
	DocMessage, DocDeadline         string
	NoteText                        string
	Deliveries                      []deliveryRow
	DeliveriesError                 bool
}

// formState is what a refused action post sent, shown again with its
// errors.
type formState struct {
	Form   string // "assign", "transition:<id>", "schedule", "documents", "note"
	Values map[string]string
	Multi  []string
}

func caseURL(ref string) string { return "/backoffice/cases/" + url.PathEscape(ref) }

// casePage shows a case.
func (s *server) casePage(c *fiber.Ctx) error {
	return s.showCase(c, fiber.StatusOK, nil, nil)
}

// showCase renders the case view, with the errors and values of a
// refused post (status 422) when fs is set.
func (s *server) showCase(c *fiber.Ctx, status int, errs []errorItem, fs *formState) error {
	l := lang(c)
	a := s.actor(c)
	ref := caseRef(c)
	cs, err := s.d.Cases.Case(c.UserContext(), a, ref)
	if err != nil {
		return err
	}
	sub, svc := cs.Sub, cs.Service
	p := s.base(c, tr(l, "Vorgang ", "Case ")+sub.Ref)
	p.Status, p.Errors = status, errs
	p.FieldErrors = map[string]string{}
	for _, e := range errs {
		if e.Field != "" {
			p.FieldErrors[e.Field] = e.Message
		}
	}
	p.Notice = doneNotice(c.Query("done"), l)
	if fs == nil {
		fs = &formState{Values: map[string]string{}}
	}
	pr := principal(c)
	v := &caseView{Ref: sub.Ref, URL: caseURL(sub.Ref), Version: strconv.FormatInt(sub.Version, 10),
		ServiceTitle: sub.Service.ID, Received: s.dateTime(sub.Created, l),
		ServiceVersion: sub.Service.Version, Hash: sub.Service.Hash, HashShort: short(sub.Service.Hash),
		Status: statusTitle(svc, nil, sub.Status, l), Office: s.officeName(sub.Tenant, sub.Office, l),
		Due: s.date(sub.Due, l), FollowUp: s.date(sub.FollowUp, l), Priority: priorityLabel(sub.Priority, l),
		ReceiptURL: caseURL(sub.Ref) + "/receipt.pdf", CanAct: canAct(pr), Mine: sub.Assignee == a.ID,
		Final: isFinal(svc, sub.Status)}
	p.Case = v
	if svc != nil {
		v.ServiceTitle = svc.Form.Title.In(l)
	}
	v.Overdue = !sub.Due.IsZero() && sub.Due.Before(s.d.Now()) && !v.Final
	v.Assignee = tr(l, "nicht zugewiesen", "unassigned")
	if sub.Assignee != "" {
		v.Assignee = s.userName(c, sub.Assignee)
		if !v.Final {
			v.AssigneeGone = s.assigneeGone(c, sub, l)
		}
	}
	v.Claim = v.CanAct && !v.Mine && !v.Final

	// the answers, with the version the case was submitted under
	files := map[string]string{}
	for _, at := range sub.Attachments {
		files[at.ID] = at.Name
		v.Attachments = append(v.Attachments, attachmentLink{Name: at.Name, Type: typeName(at.ContentType),
			Size: messages.Size(at.Size, l), URL: caseURL(sub.Ref) + "/attachments/" + url.PathEscape(at.ID)})
	}
	if svc != nil {
		for _, sec := range render.Answers(svc, sub.Data, sub.Computed, files, l) {
			sec.Rows = render.DropRepeatedHeading(sec.Title, sec.Rows)
			v.Sections = append(v.Sections, sec)
		}
	}

	// history and notes
	titles := map[string]string{}
	if svc != nil && svc.Workflow != nil {
		for id, st := range svc.Workflow.States {
			titles[id] = st.Title.In(l)
		}
	}
	views := 0
	var lastView record.Event
	for _, e := range cs.Events {
		row := eventRow{At: s.dateTime(e.At, l), What: eventTitle(e.Type, l), Actor: s.actorName(c, e.Actor, l)}
		switch {
		case isNote(e.Type):
			row.Detail, _ = e.Data["text"].(string)
			v.Notes = append(v.Notes, row)
			continue
		case e.Type == "viewed" || e.Type == "downloaded":
			// accesses are summed up; the audit trail has each
			views++
			lastView = e
			continue
		}
		if id, _ := e.Data["transition"].(string); id != "" && svc != nil && svc.Workflow != nil {
			for _, t := range svc.Workflow.Transitions {
				if t.ID != id {
					continue
				}
				if e.Type == record.EventDocumentsReceived {
					// the citizen's files moved the case on: say both
					row.What += ": " + t.Title.In(l)
				} else {
					row.What = t.Title.In(l)
				}
			}
		}
		row.Detail = s.eventDetail(c, svc, e.Type, e.Data, titles, l)
		v.Events = append(v.Events, row)
	}
	if views > 0 {
		v.Accesses = fmt.Sprintf(tr(l, "%d-mal angesehen oder heruntergeladen, zuletzt am %s von %s.", "Viewed or downloaded %d times, last on %s by %s."),
			views, s.dateTime(lastView.At, l), s.actorName(c, lastView.Actor, l))
	}
	for _, r := range cs.Requests {
		row := requestRow{Message: r.Message, Deadline: s.date(r.Deadline, l), Fulfilled: s.date(r.Fulfilled, l)}
		var names []string
		for _, f := range r.Fields {
			names = append(names, fieldLabel(svc, f, l))
		}
		row.Fields = strings.Join(names, ", ")
		v.Requests = append(v.Requests, row)
	}

	s.deliveries(c, v, l) // deliveries.go
	if v.CanAct {
		p.CSRF = s.csrfToken(c)
		s.fillForms(c, v, cs, fs, l)
	}
	return s.render(c, "case.html", p)
}

// fillForms fills the action forms, with what a refused post sent.
func (s *server) fillForms(c *fiber.Ctx, v *caseView, cs *Case, fs *formState, l string) {
	sub, svc := cs.Sub, cs.Service
	a := s.actor(c)
	to := sub.Assignee
	if fs.Form == "assign" {
		to = fs.Values["to"]
	}
	v.Assignees = []option{{Value: "", Label: tr(l, "– niemand –", "– nobody –"), Selected: to == ""}}
	// Offered: the caseworkers who see the case's office (Assign refuses
	// anyone else), and whoever holds the case now.
	users := s.users(c)
	colleague := colleagueOf(users)
	now := s.d.Now()
	for _, u := range users {
		if u.ID != sub.Assignee && (u.Tenant != sub.Tenant || !slices.Contains(u.Roles, "caseworker") || !staff.Sees(u, sub.Office, now, colleague)) {
			continue
		}
		name := u.Name
		if u.ID == a.ID {
			name += tr(l, " (ich)", " (me)")
		}
		v.Assignees = append(v.Assignees, option{Value: u.ID, Label: name, Selected: to == u.ID})
	}
	var docs *engine.Transition
	for _, t := range cs.Actions {
		if _, _, ok := requestsDocuments(t); ok {
			// offered as the document request form
			if docs == nil {
				docs = &t
			}
			continue
		}
		f := actionForm{ID: t.ID, Title: t.Title.In(l), CommentRequired: t.Comment, CommentID: "action-" + t.ID + "-comment"}
		if fs.Form == "transition:"+t.ID {
			f.Comment = fs.Values["comment"]
		}
		v.Actions = append(v.Actions, f)
	}
	v.DueValue, v.FollowUpValue = s.isoDate(sub.Due), s.isoDate(sub.FollowUp)
	prio := strconv.Itoa(sub.Priority)
	if fs.Form == "schedule" {
		v.DueValue, v.FollowUpValue, prio = fs.Values["due"], fs.Values["followUp"], fs.Values["priority"]
	}
	for i := 0; i <= 2; i++ {
		v.Priorities = append(v.Priorities, option{Value: strconv.Itoa(i), Label: priorityLabel(i, l), Selected: prio == strconv.Itoa(i)})
	}
	if docs != nil {
		fields, days, _ := requestsDocuments(*docs)
		v.DocTitle = docs.Title.In(l)
		for _, f := range attachmentFields(svc) {
			if len(fields) == 0 || slices.Contains(fields, f.Path) {
				v.DocFields = append(v.DocFields, option{Value: f.Path, Label: f.Label.In(l), Selected: fs.Form == "documents" && slices.Contains(fs.Multi, f.Path)})
			}
		}
		if days > 0 {
			v.DocDeadline = s.isoDate(s.d.Now().AddDate(0, 0, days))
		}
	}
	if fs.Form == "documents" {
		v.DocMessage, v.DocDeadline = fs.Values["message"], fs.Values["deadline"]
	}
	if fs.Form == "note" {
		v.NoteText = fs.Values["text"]
	}
}

// attachmentFields are the spec's file fields outside repeating groups.
func attachmentFields(svc *engine.Service) []*engine.Field {
	if svc == nil {
		return nil
	}
	var out []*engine.Field
	var walk func([]*engine.Field)
	walk = func(fs []*engine.Field) {
		for _, f := range fs {
			switch {
			case f.Widget == "file":
				out = append(out, f)
			case f.Widget == "group":
				walk(f.Fields)
			}
		}
	}
	for _, pg := range svc.Form.Pages {
		walk(pg.Fields)
	}
	return out
}

func fieldLabel(svc *engine.Service, path, l string) string {
	for _, f := range attachmentFields(svc) {
		if f.Path == path {
			return f.Label.In(l)
		}
	}
	return path
}

func isNote(typ string) bool { return typ == "note" || typ == "noted" || typ == "note_added" }

var eventTitles = map[string][2]string{
	"submitted":           {"Eingegangen", "Submitted"},
	"routed":              {"Zugeordnet an Stelle", "Routed to office"},
	"status_changed":      {"Status geändert", "Status changed"},
	"transition":          {"Bearbeitungsschritt", "Workflow step"},
	"reassigned":          {"Andere Stelle", "Moved to another office"},
	"claimed":             {"Übernommen", "Claimed"},
	"assigned":            {"Zugewiesen", "Assigned"},
	"scheduled":           {"Frist, Wiedervorlage oder Priorität geändert", "Due date, follow-up or priority changed"},
	"documents_requested": {"Unterlagen nachgefordert", "Documents requested"},
	"documents_received":  {"Unterlagen eingegangen", "Documents received"},
	"delivered":           {"Übermittelt", "Delivered"},
	"viewed":              {"Angesehen", "Viewed"},
	"downloaded":          {"Anlage heruntergeladen", "Attachment downloaded"},
	"mail_sent":           {"E-Mail versandt", "Mail sent"},
}

func eventTitle(typ, l string) string {
	if t, ok := eventTitles[typ]; ok {
		return tr(l, t[0], t[1])
	}
	return typ
}

func (s *server) actorName(c *fiber.Ctx, id, l string) string {
	switch {
	case id == "" || id == "system":
		return tr(l, "System", "System")
	case id == "citizen":
		return tr(l, "Antragsteller/in", "Applicant")
	case strings.HasPrefix(id, "token:"):
		return tr(l, "Schnittstelle ", "Integration ") + strings.TrimPrefix(id, "token:")
	}
	return s.userName(c, id)
}

// eventDetail says what an event changed, without citizen data: the
// statuses, offices and assignees it names, and a comment.
func (s *server) eventDetail(c *fiber.Ctx, svc *engine.Service, typ string, data map[string]any, titles map[string]string, l string) string {
	str := func(k string) string { x, _ := data[k].(string); return x }
	var parts []string
	if typ == "documents_requested" {
		var names []string
		switch fs := data["fields"].(type) {
		case []any:
			for _, f := range fs {
				if x, ok := f.(string); ok {
					names = append(names, fieldLabel(svc, x, l))
				}
			}
		case string:
			for _, x := range strings.Split(fs, ",") {
				names = append(names, fieldLabel(svc, x, l))
			}
		}
		if len(names) > 0 {
			parts = append(parts, tr(l, "Unterlagen: ", "Documents: ")+strings.Join(names, ", "))
		}
		if d, err := time.Parse(time.RFC3339, str("deadline")); err == nil {
			parts = append(parts, tr(l, "Frist: ", "Deadline: ")+s.date(d, l))
		}
		if m := str("message"); m != "" {
			parts = append(parts, tr(l, "Nachricht: ", "Message: ")+m)
		}
		return strings.Join(parts, "; ")
	}
	if from, to := str("from"), str("to"); (typ == "status_changed" || typ == "transition") && (from != "" || to != "") {
		parts = append(parts, fmt.Sprintf(tr(l, "von „%s“ nach „%s“", "from “%s” to “%s”"), statusTitle(nil, titles, from, l), statusTitle(nil, titles, to, l)))
	}
	if o := str("office"); o != "" {
		parts = append(parts, s.officeName(principal(c).User.Tenant, o, l))
	}
	if typ == "reassigned" {
		tenant := principal(c).User.Tenant
		parts = append(parts, fmt.Sprintf(tr(l, "von %s an %s", "from %s to %s"), s.officeName(tenant, str("from"), l), s.officeName(tenant, str("to"), l)))
	}
	if a, ok := data["assignee"].(string); ok && typ == "assigned" {
		if a == "" {
			parts = append(parts, tr(l, "Zuweisung aufgehoben", "unassigned"))
		} else {
			parts = append(parts, tr(l, "an ", "to ")+s.userName(c, a))
		}
	}
	if cm := str("comment"); cm != "" {
		parts = append(parts, tr(l, "Begründung: ", "Comment: ")+cm)
	}
	return strings.Join(parts, "; ")
}

func doneNotice(done, l string) string {
	switch done {
	case "claim":
		return tr(l, "Der Vorgang ist Ihnen zugewiesen.", "The case is assigned to you.")
	case "assign":
		return tr(l, "Die Zuweisung wurde gespeichert.", "The assignment was saved.")
	case "transition":
		return tr(l, "Der Bearbeitungsschritt wurde ausgeführt.", "The step was carried out.")
	case "note":
		return tr(l, "Die Notiz wurde gespeichert.", "The note was saved.")
	case "schedule":
		return tr(l, "Frist, Wiedervorlage und Priorität wurden gespeichert.", "Due date, follow-up and priority were saved.")
	case "retry":
		return tr(l, "Die Übermittlung wird erneut versucht.", "The delivery is being retried.")
	case "documents":
		return tr(l, "Die Unterlagen wurden nachgefordert. Die antragstellende Person erhält einen Link zum Hochladen.", "The documents were requested. The applicant gets a link to upload them.")
	}
	return ""
}

func typeName(ct string) string {
	switch ct {
	case "application/pdf":
		return "PDF"
	case "image/png":
		return "PNG"
	case "image/jpeg":
		return "JPEG"
	}
	if ct == "" {
		return "—"
	}
	return ct
}

// attachment streams a file of the case as a download.
func (s *server) attachment(c *fiber.Ctx) error {
	at, rc, err := s.d.Cases.Attachment(c.UserContext(), s.actor(c), caseRef(c), strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	ct := at.ContentType
	if ct == "" {
		ct = fiber.MIMEOctetStream
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, contentDisposition(at.Name))
	size := int(at.Size)
	if at.Size <= 0 {
		size = -1
	}
	// fasthttp closes rc once it is sent.
	return c.SendStream(rc, size)
}

// contentDisposition is an attachment disposition with an ASCII
// fallback name and, when the name is not plain ASCII, the UTF-8 name
// (RFC 6266, RFC 8187).
func contentDisposition(name string) string {
	if name == "" {
		name = "download"
	}
	ascii := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
	d := `attachment; filename="` + ascii + `"`
	if ascii != name {
		var b strings.Builder
		for _, c := range []byte(name) {
			if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0) {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		d += "; filename*=UTF-8''" + b.String()
	}
	return d
}

// receipt sends the case's PDF receipt, as the citizen got it.
func (s *server) receipt(c *fiber.Ctx) error {
	l := lang(c)
	cs, err := s.d.Cases.Case(c.UserContext(), s.actor(c), caseRef(c))
	if err != nil {
		return err
	}
	if cs.Service == nil {
		return fiber.ErrNotFound
	}
	pdf, err := receipt.PDF(cs.Service, recordSubmission(cs.Sub), receipt.Details{Lang: l, Office: s.office(cs.Sub.Tenant, cs.Sub.Office), Zone: s.zone})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+tr(l, "Eingangsbestaetigung-", "Receipt-")+cs.Sub.Ref+`.pdf"`)
	return c.Send(pdf)
}
