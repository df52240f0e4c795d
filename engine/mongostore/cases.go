package mongostore

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// Case fields of a submission (assignee, due and follow-up date,
// priority) and the inbox queries over them. docs/storage.md ("Cases")
// lists each query and the index that serves it on MongoDB; the embedded
// store answers them from the case index in memory.

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	b := bsonTime(t)
	return &b
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// assigneeFilter matches the stored assignee a ("" matches unassigned:
// the field is absent then).
func assigneeFilter(a string) bson.E {
	if a == "" {
		return bson.E{Key: "assignee", Value: bson.D{{Key: "$in", Value: bson.A{nil, ""}}}}
	}
	return bson.E{Key: "assignee", Value: a}
}

// changeSet returns the $set and $unset of a change and its events.
// Without ch.Type a status change writes status_changed, an office change
// reassigned, and a change of only the case fields status_changed; with
// ch.Type one event of that type is written, even if no field changes.
func changeSet(cur *record.Submission, ch record.SubmissionChange) (set, unset bson.D, evs []eventDoc) {
	extra := map[string]any{}
	statusCh := ch.Status != "" && ch.Status != cur.Status
	officeCh := ch.Office != "" && ch.Office != cur.Office
	if statusCh {
		set = append(set, bson.E{Key: "status", Value: ch.Status})
	}
	if officeCh {
		set = append(set, bson.E{Key: "office", Value: ch.Office})
	}
	if ch.Assignee != nil && *ch.Assignee != cur.Assignee {
		if *ch.Assignee == "" {
			unset = append(unset, bson.E{Key: "assignee", Value: ""})
		} else {
			set = append(set, bson.E{Key: "assignee", Value: *ch.Assignee})
		}
		extra["assignee"], extra["fromAssignee"] = *ch.Assignee, cur.Assignee
	}
	timeField := func(name string, p *time.Time, old time.Time) {
		if p == nil {
			return
		}
		t := time.Time{}
		if !p.IsZero() {
			t = bsonTime(*p)
		}
		if t.Equal(old) {
			return
		}
		if t.IsZero() {
			unset = append(unset, bson.E{Key: name, Value: ""})
		} else {
			set = append(set, bson.E{Key: name, Value: t})
		}
		extra[name] = fmtTime(t)
	}
	timeField("due", ch.Due, cur.Due)
	timeField("followUp", ch.FollowUp, cur.FollowUp)
	if ch.Priority != nil && *ch.Priority != cur.Priority {
		if *ch.Priority == 0 {
			unset = append(unset, bson.E{Key: "priority", Value: ""})
		} else {
			set = append(set, bson.E{Key: "priority", Value: *ch.Priority})
		}
		extra["priority"] = int64(*ch.Priority)
	}
	data := func(more ...map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range ch.Data {
			m[k] = v
		}
		for _, x := range more {
			for k, v := range x {
				m[k] = v
			}
		}
		return m
	}
	if ch.Type != "" {
		m := data(extra)
		if statusCh {
			m["from"], m["to"] = cur.Status, ch.Status
		}
		if officeCh {
			m["office"], m["fromOffice"] = ch.Office, cur.Office
		}
		return set, unset, []eventDoc{{Type: ch.Type, Data: m}}
	}
	if statusCh {
		evs = append(evs, eventDoc{Type: record.EventStatusChanged, Data: data(extra, map[string]any{"from": cur.Status, "to": ch.Status})})
	}
	if officeCh {
		evs = append(evs, eventDoc{Type: record.EventReassigned, Data: data(map[string]any{"from": cur.Office, "to": ch.Office})})
	}
	if !statusCh && len(extra) > 0 {
		evs = append(evs, eventDoc{Type: record.EventStatusChanged, Data: data(extra)})
	}
	return set, unset, evs
}

// caseIndexModels are the indexes of the inbox queries (docs/storage.md).
func caseIndexModels() []mongo.IndexModel {
	m := func(name string, keys ...bson.E) mongo.IndexModel {
		return mongo.IndexModel{Keys: bson.D(keys), Options: options.Index().SetName(name)}
	}
	asc := func(k string) bson.E { return bson.E{Key: k, Value: 1} }
	desc := func(k string) bson.E { return bson.E{Key: k, Value: -1} }
	return []mongo.IndexModel{
		m("case_office_due", asc("tenant"), asc("office"), asc("due"), asc("created"), asc("_id")),
		m("case_office_priority", asc("tenant"), asc("office"), desc("priority"), asc("created"), asc("_id")),
		m("case_office_assignee", asc("tenant"), asc("office"), asc("assignee"), desc("created"), desc("_id")),
		m("case_office_followup", asc("tenant"), asc("office"), asc("followUp")),
		m("case_office_service", asc("tenant"), asc("office"), asc("service.id"), desc("created"), desc("_id")),
		m("case_tenant_due", asc("tenant"), asc("due"), asc("created"), asc("_id")),
		m("case_tenant_priority", asc("tenant"), desc("priority"), asc("created"), asc("_id")),
		m("case_tenant_assignee", asc("tenant"), asc("assignee"), desc("created"), desc("_id")),
		m("case_tenant_ref", asc("tenant"), asc("ref")),
	}
}

// InboxPage returns one page of an inbox query with the number of all
// matching cases and the counts per status (the same filter without
// Status).
func (s *Store) InboxPage(ctx context.Context, q record.InboxQuery) (*record.InboxPage, error) {
	return s.inbox(ctx, q, true)
}

func (s *Store) inbox(ctx context.Context, q record.InboxQuery, counts bool) (*record.InboxPage, error) {
	if q.Tenant == "" {
		return nil, fmt.Errorf("mongostore: inbox query without tenant")
	}
	switch q.Sort {
	case "", "-age", "age", "due", "priority":
	default:
		return nil, fmt.Errorf("mongostore: inbox sort %q unknown", q.Sort)
	}
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > 500 {
		q.Limit = 500
	}
	if q.Skip < 0 {
		q.Skip = 0
	}
	if q.Now.IsZero() {
		q.Now = now()
	}
	q.Ref = strings.ToUpper(q.Ref)
	if s.cases != nil {
		if !counts && simpleQuery(&q) {
			return &record.InboxPage{Cases: s.cases.list(q)}, nil
		}
		return s.cases.page(q, counts), nil
	}
	return s.inboxMongo(ctx, q, counts)
}

// simpleQuery reports whether q needs only the office and status lists,
// newest first (the case index's merge of sorted lists).
func simpleQuery(q *record.InboxQuery) bool {
	return q.Service == "" && q.From.IsZero() && q.To.IsZero() && !q.Overdue && q.Assignee == "" &&
		q.Ref == "" && !q.FollowUp && len(q.Offices) == 0 && (q.Sort == "" || q.Sort == "-age")
}

// caseFilter is the MongoDB filter of q, with or without its statuses.
func caseFilter(q *record.InboxQuery, status bool) bson.D {
	f := bson.D{{Key: "tenant", Value: q.Tenant}}
	switch {
	case q.Office != "":
		f = append(f, bson.E{Key: "office", Value: q.Office})
	case len(q.Offices) > 0:
		f = append(f, bson.E{Key: "office", Value: bson.D{{Key: "$in", Value: q.Offices}}})
	}
	if status {
		if len(q.Status) == 1 {
			f = append(f, bson.E{Key: "status", Value: q.Status[0]})
		} else if len(q.Status) > 1 {
			f = append(f, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: q.Status}}})
		}
	}
	if q.Service != "" {
		f = append(f, bson.E{Key: "service.id", Value: q.Service})
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		r := bson.D{}
		if !q.From.IsZero() {
			r = append(r, bson.E{Key: "$gte", Value: bsonTime(q.From)})
		}
		if !q.To.IsZero() {
			r = append(r, bson.E{Key: "$lt", Value: bsonTime(q.To)})
		}
		f = append(f, bson.E{Key: "created", Value: r})
	}
	if q.Overdue {
		f = append(f, bson.E{Key: "due", Value: bson.D{{Key: "$lt", Value: bsonTime(q.Now)}}})
	}
	if q.FollowUp {
		f = append(f, bson.E{Key: "followUp", Value: bson.D{{Key: "$lte", Value: bsonTime(q.Now)}}})
	}
	switch q.Assignee {
	case "":
	case "-":
		f = append(f, assigneeFilter(""))
	default:
		f = append(f, bson.E{Key: "assignee", Value: q.Assignee})
	}
	if q.Ref != "" {
		f = append(f, bson.E{Key: "ref", Value: bson.D{{Key: "$regex", Value: "^" + regexp.QuoteMeta(q.Ref)}}})
	}
	return f
}

func (s *Store) inboxMongo(ctx context.Context, q record.InboxQuery, counts bool) (*record.InboxPage, error) {
	filter := caseFilter(&q, true)
	page := &record.InboxPage{Cases: []*record.Submission{}}
	find := func(f bson.D, sortBy bson.D, skip, limit int) error {
		cur, err := s.subs.Find(ctx, f, options.Find().SetSort(sortBy).
			SetSkip(int64(skip)).SetLimit(int64(limit)).SetProjection(rowProjection))
		if err != nil {
			return fmt.Errorf("mongostore: inbox: %w", err)
		}
		var docs []submissionDoc
		if err := cur.All(ctx, &docs); err != nil {
			return fmt.Errorf("mongostore: inbox: %w", err)
		}
		for i := range docs {
			page.Cases = append(page.Cases, docs[i].submission())
		}
		return nil
	}
	oldest := bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}
	switch q.Sort {
	case "", "-age":
		if err := find(filter, bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}, q.Skip, q.Limit); err != nil {
			return nil, err
		}
	case "age":
		if err := find(filter, oldest, q.Skip, q.Limit); err != nil {
			return nil, err
		}
	case "priority":
		if err := find(filter, append(bson.D{{Key: "priority", Value: -1}}, oldest...), q.Skip, q.Limit); err != nil {
			return nil, err
		}
	case "due":
		// Cases with a due date first (earliest first), then the others
		// oldest first: two index ranges, split at the count of the first.
		withDue := append(append(bson.D{}, filter...), bson.E{Key: "due", Value: bson.D{{Key: "$ne", Value: nil}}})
		if q.Overdue {
			withDue = filter // every overdue case has a due date
		}
		n, err := s.subs.CountDocuments(ctx, withDue)
		if err != nil {
			return nil, fmt.Errorf("mongostore: inbox: %w", err)
		}
		if int64(q.Skip) < n {
			if err := find(withDue, append(bson.D{{Key: "due", Value: 1}}, oldest...), q.Skip, q.Limit); err != nil {
				return nil, err
			}
		}
		if rest := q.Limit - len(page.Cases); rest > 0 && !q.Overdue {
			without := append(append(bson.D{}, filter...), bson.E{Key: "due", Value: nil})
			if err := find(without, oldest, max(0, q.Skip-int(n)), rest); err != nil {
				return nil, err
			}
		}
	}
	if !counts {
		return page, nil
	}
	cur, err := s.subs.Aggregate(ctx, mongo.Pipeline{
		{{Key: "$match", Value: caseFilter(&q, false)}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$status"}, {Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}}}}},
	})
	if err != nil {
		return nil, fmt.Errorf("mongostore: inbox counts: %w", err)
	}
	var groups []struct {
		ID string `bson:"_id"`
		N  int    `bson:"n"`
	}
	if err := cur.All(ctx, &groups); err != nil {
		return nil, fmt.Errorf("mongostore: inbox counts: %w", err)
	}
	page.Counts = map[string]int{}
	want := map[string]bool{}
	for _, st := range q.Status {
		want[st] = true
	}
	for _, g := range groups {
		page.Counts[g.ID] = g.N
		if len(want) == 0 || want[g.ID] {
			page.Total += g.N
		}
	}
	return page, nil
}

// page answers any inbox query from memory: the rows of the office
// lists in question are filtered, counted and, unless already in order,
// sorted.
func (c *caseIndex) page(q record.InboxQuery, counts bool) *record.InboxPage {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ls [][]*record.Submission
	switch {
	case q.Office != "":
		ls = append(ls, c.lists[listKey(q.Tenant, q.Office, "")])
	case len(q.Offices) > 0:
		seen := map[string]bool{}
		for _, o := range q.Offices {
			if o != "" && !seen[o] {
				seen[o] = true
				ls = append(ls, c.lists[listKey(q.Tenant, o, "")])
			}
		}
	default:
		ls = append(ls, c.lists[listKey(q.Tenant, "", "")])
	}
	want := map[string]bool{}
	for _, st := range q.Status {
		want[st] = true
	}
	out := &record.InboxPage{Cases: []*record.Submission{}}
	if counts {
		out.Counts = map[string]int{}
	}
	var hits []*record.Submission
	for _, l := range ls {
		for _, r := range l {
			if !rowMatches(r, &q) {
				continue
			}
			if counts {
				out.Counts[r.Status]++
			}
			if len(want) == 0 || want[r.Status] {
				hits = append(hits, r)
			}
		}
	}
	out.Total = len(hits)
	switch q.Sort {
	case "", "-age":
		if len(ls) == 1 {
			for i, j := 0, len(hits)-1; i < j; i, j = i+1, j-1 {
				hits[i], hits[j] = hits[j], hits[i]
			}
		} else {
			sort.Slice(hits, func(i, j int) bool { return less(hits[j], hits[i]) })
		}
	case "age":
		if len(ls) > 1 {
			sort.Slice(hits, func(i, j int) bool { return less(hits[i], hits[j]) })
		}
	case "priority":
		sort.SliceStable(hits, func(i, j int) bool {
			a, b := hits[i], hits[j]
			if a.Priority != b.Priority {
				return a.Priority > b.Priority
			}
			return less(a, b)
		})
	case "due":
		sort.SliceStable(hits, func(i, j int) bool {
			a, b := hits[i], hits[j]
			if a.Due.IsZero() != b.Due.IsZero() {
				return !a.Due.IsZero()
			}
			if !a.Due.Equal(b.Due) {
				return a.Due.Before(b.Due)
			}
			return less(a, b)
		})
	}
	if q.Skip >= len(hits) {
		return out
	}
	hits = hits[q.Skip:min(len(hits), q.Skip+q.Limit)]
	out.Cases = make([]*record.Submission, len(hits))
	for i, r := range hits {
		cp := *r
		cp.Attachments = append([]record.Attachment(nil), r.Attachments...)
		out.Cases[i] = &cp
	}
	return out
}

// rowMatches applies q's filters other than tenant, office and status.
func rowMatches(r *record.Submission, q *record.InboxQuery) bool {
	switch {
	case q.Service != "" && r.Service.ID != q.Service,
		!q.From.IsZero() && r.Created.Before(q.From),
		!q.To.IsZero() && !r.Created.Before(q.To),
		q.Overdue && (r.Due.IsZero() || !r.Due.Before(q.Now)),
		q.FollowUp && (r.FollowUp.IsZero() || r.FollowUp.After(q.Now)),
		q.Assignee == "-" && r.Assignee != "",
		q.Assignee != "" && q.Assignee != "-" && r.Assignee != q.Assignee,
		q.Ref != "" && !strings.HasPrefix(r.Ref, q.Ref):
		return false
	}
	return true
}

// addAttachments checks files sent later for submission sid (uploaded
// under owner, not attached elsewhere) and links them to it, before the
// change that lists them is written: a change that then fails leaves them
// linked to the existing submission, and a retry links them again.
func (s *Store) addAttachments(ctx context.Context, tenant, sid, owner string, ids []string) ([]attachmentDoc, error) {
	if owner == "" {
		return nil, fmt.Errorf("mongostore: attachments added without their owner")
	}
	if err := s.live(ctx, sid); err != nil { // gone, or being deleted: link nothing to it
		return nil, err
	}
	var out []attachmentDoc
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		fd, err := s.getFile(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if fd.Metadata.Owner != owner {
			return nil, fmt.Errorf("file %s: %w", id, record.ErrNotFound)
		}
		if fd.Metadata.Submission != "" && fd.Metadata.Submission != sid && s.exists(ctx, fd.Metadata.Submission) {
			return nil, fmt.Errorf("file %s already attached: %w", id, record.ErrConflict)
		}
		out = append(out, attachmentDoc{ID: fd.ID, Name: fd.Filename, Size: fd.Length,
			SHA256: fd.Metadata.SHA256, ContentType: fd.Metadata.ContentType})
	}
	if err := s.linkFiles(ctx, tenant, out, sid); err != nil {
		return nil, err
	}
	return out, nil
}

// newAttachments returns the files of added that cur does not list yet.
func newAttachments(cur *record.Submission, added []attachmentDoc) []attachmentDoc {
	var out []attachmentDoc
	for _, a := range added {
		known := false
		for _, c := range cur.Attachments {
			known = known || c.ID == a.ID
		}
		if !known {
			out = append(out, a)
		}
	}
	return out
}
