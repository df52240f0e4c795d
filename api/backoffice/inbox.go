package backoffice

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/staff"
)

// pageSize is the number of cases an inbox page lists.
const pageSize = 25

type option struct {
	Value, Label string
	Selected     bool
}

type statusCount struct {
	Label   string
	Count   int
	URL     string
	Current bool
}

type inboxRow struct {
	Ref, URL, Service, Received, Due, FollowUp string
	// ServiceVersion is the version the case was submitted under (its
	// pinned service reference), not the one offered now.
	ServiceVersion             string
	Overdue, FollowUpDue       bool
	Status, Assignee, Priority string
	// AssigneeGone says why the assignee cannot work on the case any
	// more (see assigneeGone), or is empty.
	AssigneeGone  string
	PriorityLevel int
}

type inboxView struct {
	Action            string
	Caption           string
	Rows              []inboxRow
	Total             int
	Counts            []statusCount
	Ref               string
	From, To          string
	Overdue, FollowUp bool
	Services          []option
	Statuses          []option
	Assignees         []option
	Sorts             []option
	Page              int
	Pages             int
	PrevURL           string
	NextURL           string
	ResetURL          string
}

func (s *server) inboxMine(c *fiber.Ctx) error {
	l := lang(c)
	return s.inbox(c, Query{Mine: true}, tr(l, "Meine Vorgänge", "My cases"), "/backoffice/")
}

func (s *server) inboxOffice(c *fiber.Ctx) error {
	a := s.actor(c)
	office := c.Params("office")
	if !slices.Contains(a.Offices, office) {
		return fiber.ErrNotFound
	}
	l := lang(c)
	return s.inbox(c, Query{Office: office}, tr(l, "Posteingang ", "Inbox ")+s.officeName(a.Tenant, office, l), "/backoffice/office/"+url.PathEscape(office))
}

// inbox lists the cases of q narrowed by the filter of the query string.
func (s *server) inbox(c *fiber.Ctx, q Query, title, action string) error {
	l := lang(c)
	a := s.actor(c)
	p := s.base(c, title)
	v := &inboxView{Action: action, ResetURL: action}
	p.Inbox = v

	args := c.Request().URI().QueryArgs()
	v.Ref = strings.TrimSpace(c.Query("q"))
	q.Ref = v.Ref
	q.Service = c.Query("service")
	for _, st := range args.PeekMulti("status") {
		if x := string(st); x != "" {
			q.Status = append(q.Status, x)
		}
	}
	v.From, v.To = c.Query("from"), c.Query("to")
	if v.From != "" {
		t, err := s.parseDate(v.From)
		if err != nil {
			p.Errors = append(p.Errors, errorItem{Field: "from", Href: "#from", Message: tr(l, "Geben Sie das Datum „Eingang ab“ als gültiges Datum ein.", "Enter “received from” as a real date.")})
		}
		q.From = t
	}
	if v.To != "" {
		t, err := s.parseDate(v.To)
		if err != nil {
			p.Errors = append(p.Errors, errorItem{Field: "to", Href: "#to", Message: tr(l, "Geben Sie das Datum „Eingang bis“ als gültiges Datum ein.", "Enter “received until” as a real date.")})
		} else {
			q.To = t.AddDate(0, 0, 1) // the whole day
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		p.Errors = append(p.Errors, errorItem{Field: "to", Href: "#to", Message: tr(l, "„Eingang bis“ muss am oder nach „Eingang ab“ liegen.", "“Received until” must be on or after “received from”.")})
	}
	v.Overdue = c.Query("overdue") == "1"
	q.Overdue = v.Overdue
	v.FollowUp = c.Query("followup") == "1"
	q.FollowUp = v.FollowUp
	switch as := c.Query("assignee"); as {
	case "me":
		q.Assignee = a.ID
	default:
		q.Assignee = as
	}
	q.Sort = c.Query("sort")
	if !slices.Contains([]string{"age", "-age", "due", "priority"}, q.Sort) {
		q.Sort = "age"
	}
	v.Page, _ = strconv.Atoi(c.Query("page"))
	if v.Page < 1 {
		v.Page = 1
	}
	q.Skip, q.Limit = (v.Page-1)*pageSize, pageSize
	if len(p.Errors) > 0 {
		p.Status = fiber.StatusUnprocessableEntity
		p.FieldErrors = map[string]string{}
		for _, e := range p.Errors {
			p.FieldErrors[e.Field] = e.Message
		}
		// a date range in error filters nothing
		q.From, q.To = time.Time{}, time.Time{}
	}

	res, err := s.d.Cases.Inbox(c.UserContext(), a, q)
	if err != nil {
		return err
	}
	titles := s.statusTitles(a.Tenant, l)
	now := s.d.Now()
	for _, sub := range res.Cases {
		var svc *engine.Service
		if s.d.Catalog != nil {
			svc, _ = s.d.Catalog.Pinned(sub.Service)
		}
		r := inboxRow{Ref: sub.Ref, URL: "/backoffice/cases/" + url.PathEscape(sub.Ref), Service: sub.Service.ID, ServiceVersion: sub.Service.Version,
			Received: s.date(sub.Created, l), Due: s.date(sub.Due, l), FollowUp: s.date(sub.FollowUp, l),
			Status: statusTitle(svc, titles, sub.Status, l), Priority: priorityLabel(sub.Priority, l), PriorityLevel: sub.Priority}
		if svc != nil {
			r.Service = svc.Form.Title.In(l)
		}
		r.Overdue = !sub.Due.IsZero() && sub.Due.Before(now) && !isFinal(svc, sub.Status)
		r.FollowUpDue = !sub.FollowUp.IsZero() && !sub.FollowUp.After(now) && !isFinal(svc, sub.Status)
		r.Assignee = tr(l, "nicht zugewiesen", "unassigned")
		if sub.Assignee != "" {
			r.Assignee = s.userName(c, sub.Assignee)
			if !isFinal(svc, sub.Status) {
				r.AssigneeGone = s.assigneeGone(c, sub, l)
			}
		}
		v.Rows = append(v.Rows, r)
	}
	v.Total = res.Total
	v.Pages = max(1, (res.Total+pageSize-1)/pageSize)

	// the filter's choices
	v.Services = []option{{Value: "", Label: tr(l, "Alle Leistungen", "All services")}}
	if s.d.Catalog != nil {
		for _, svc := range s.d.Catalog.List(a.Tenant) {
			v.Services = append(v.Services, option{Value: svc.ID, Label: svc.Form.Title.In(l), Selected: svc.ID == q.Service})
		}
	}
	statusIDs := make([]string, 0, len(titles)+len(res.Counts))
	for id := range titles {
		statusIDs = append(statusIDs, id)
	}
	for id := range res.Counts {
		if _, ok := titles[id]; !ok {
			statusIDs = append(statusIDs, id)
		}
	}
	slices.SortFunc(statusIDs, func(x, y string) int {
		return strings.Compare(statusTitle(nil, titles, x, l), statusTitle(nil, titles, y, l))
	})
	for _, id := range statusIDs {
		v.Statuses = append(v.Statuses, option{Value: id, Label: statusTitle(nil, titles, id, l), Selected: slices.Contains(q.Status, id)})
		if n, ok := res.Counts[id]; ok {
			v.Counts = append(v.Counts, statusCount{Label: statusTitle(nil, titles, id, l), Count: n,
				URL: pageURL(action, c, map[string][]string{"status": {id}, "page": nil}), Current: len(q.Status) == 1 && q.Status[0] == id})
		}
	}
	if !q.Mine { // "my cases" are all assigned to me: no filter to offer
		v.Assignees = s.assigneeFilter(c, q.Office, c.Query("assignee"), l)
	}
	for _, o := range []option{{"age", tr(l, "Älteste zuerst", "Oldest first"), false}, {"-age", tr(l, "Neueste zuerst", "Newest first"), false},
		{"due", tr(l, "Frist", "Due date"), false}, {"priority", tr(l, "Priorität", "Priority"), false}} {
		o.Selected = o.Value == q.Sort
		v.Sorts = append(v.Sorts, o)
	}
	if v.Page > 1 {
		v.PrevURL = pageURL(action, c, map[string][]string{"page": {strconv.Itoa(v.Page - 1)}})
	}
	if v.Page < v.Pages {
		v.NextURL = pageURL(action, c, map[string][]string{"page": {strconv.Itoa(v.Page + 1)}})
	}
	v.Caption = fmt.Sprintf(tr(l, "%s: %d Vorgänge, Seite %d von %d", "%s: %d cases, page %d of %d"), title, res.Total, v.Page, v.Pages)
	if res.Total == 1 {
		v.Caption = fmt.Sprintf(tr(l, "%s: 1 Vorgang, Seite %d von %d", "%s: 1 case, page %d of %d"), title, v.Page, v.Pages)
	}
	return s.render(c, "inbox.html", p)
}

// assigneeFilter offers the choices of the inbox's assignee filter: anyone,
// nobody, me, and the colleagues who can hold the office's cases — the
// caseworkers who work for it now (staff.Sees, as the assign form offers
// them) — and whoever the filter names now.
func (s *server) assigneeFilter(c *fiber.Ctx, office, as, l string) []option {
	a := s.actor(c)
	out := []option{{Value: "", Label: tr(l, "Alle", "Anyone"), Selected: as == ""},
		{Value: "-", Label: tr(l, "Nicht zugewiesen", "Unassigned"), Selected: as == "-"},
		{Value: "me", Label: tr(l, "Mir", "Me"), Selected: as == "me"}}
	users := s.users(c)
	colleague := colleagueOf(users)
	now := s.d.Now()
	for _, u := range users {
		if u.ID == a.ID {
			continue
		}
		if u.ID != as && (u.Tenant != a.Tenant || !slices.Contains(u.Roles, "caseworker") ||
			!slices.ContainsFunc(inboxOffices(a, office), func(o string) bool { return staff.Sees(u, o, now, colleague) })) {
			continue
		}
		out = append(out, option{Value: u.ID, Label: u.Name, Selected: as == u.ID})
	}
	return out
}

// inboxOffices are the offices whose cases an inbox lists: the one office,
// or every office of the actor.
func inboxOffices(a Actor, office string) []string {
	if office != "" {
		return []string{office}
	}
	return a.Offices
}

// pageURL is the inbox URL with the current query changed by set (a nil
// value removes the parameter).
func pageURL(action string, c *fiber.Ctx, set map[string][]string) string {
	q := url.Values{}
	c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
		if string(k) != "lang" {
			q.Add(string(k), string(v))
		}
	})
	for k, v := range set {
		if v == nil {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	if len(q) == 0 {
		return action
	}
	return action + "?" + q.Encode()
}

func isFinal(svc *engine.Service, status string) bool {
	if svc == nil || svc.Workflow == nil {
		return false
	}
	return svc.Workflow.States[status].Final
}
