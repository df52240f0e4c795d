package staffapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// Page sizes of the inbox (casework.Query: default 50, at most 200).
const (
	defaultLimit = 50
	maxLimit     = 200
)

var sorts = []string{"age", "-age", "due", "priority"}

// inbox answers GET /cases with the inbox query of casework.Query.
func (s *server) inbox(c *fiber.Ctx) error {
	q, err := parseQuery(c)
	if err != nil {
		return s.fail(c, err)
	}
	page, err := s.deps.Cases.Inbox(c.UserContext(), actorOf(c), q)
	if err != nil {
		return s.fail(c, err)
	}
	out := inboxJSON{Total: page.Total, Counts: page.Counts, Skip: q.Skip, Limit: q.Limit, Cases: make([]summaryJSON, 0, len(page.Cases))}
	if out.Counts == nil {
		out.Counts = map[string]int{}
	}
	for _, sub := range page.Cases {
		out.Cases = append(out.Cases, summaryOf(sub))
	}
	return c.JSON(out)
}

// badRequest is a query or body the API cannot use (400).
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badRequest{fmt.Sprintf(format, args...)} }

func parseQuery(c *fiber.Ctx) (Query, error) {
	args := c.Request().URI().QueryArgs()
	q := Query{
		Office: string(args.Peek("office")), Service: string(args.Peek("service")),
		Assignee: string(args.Peek("assignee")), Ref: string(args.Peek("ref")), Sort: string(args.Peek("sort")),
	}
	for _, v := range args.PeekMulti("status") {
		for _, st := range strings.Split(string(v), ",") {
			if st = strings.TrimSpace(st); st != "" {
				q.Status = append(q.Status, st)
			}
		}
	}
	var err error
	if q.Mine, err = boolArg(args.Peek("mine"), "mine"); err != nil {
		return q, err
	}
	if q.Overdue, err = boolArg(args.Peek("overdue"), "overdue"); err != nil {
		return q, err
	}
	if q.From, err = timeArg(args.Peek("from"), "from", false); err != nil {
		return q, err
	}
	if q.To, err = timeArg(args.Peek("to"), "to", true); err != nil {
		return q, err
	}
	if q.Sort == "" {
		q.Sort = "age"
	}
	if !contains(sorts, q.Sort) {
		return q, bad("sort must be one of %s", strings.Join(sorts, ", "))
	}
	if q.Skip, err = intArg(args.Peek("skip"), "skip", 0, 0, 1<<30); err != nil {
		return q, err
	}
	if q.Limit, err = intArg(args.Peek("limit"), "limit", defaultLimit, 1, maxLimit); err != nil {
		return q, err
	}
	return q, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func boolArg(v []byte, name string) (bool, error) {
	switch string(v) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, bad("%s must be true or false", name)
}

// timeArg reads an RFC 3339 time or a date; a date as the end of a range
// (to) means the end of that day.
func timeArg(v []byte, name string, end bool) (time.Time, error) {
	if len(v) == 0 {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, string(v)); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, string(v), time.UTC)
	if err != nil {
		return time.Time{}, bad("%s must be a date (YYYY-MM-DD) or an RFC 3339 time", name)
	}
	if end {
		t = t.AddDate(0, 0, 1).Add(-time.Millisecond)
	}
	return t, nil
}

func intArg(v []byte, name string, def, lo, hi int) (int, error) {
	if len(v) == 0 {
		return def, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < lo || n > hi {
		return 0, bad("%s must be a whole number from %d to %d", name, lo, hi)
	}
	return n, nil
}

// caseView answers GET /cases/{ref}: the case with its answers, computed
// values, attachments, history and the actions this token may perform.
func (s *server) caseView(c *fiber.Ctx) error {
	cs, err := s.deps.Cases.Case(c.UserContext(), actorOf(c), c.Params("ref"))
	if err != nil {
		return s.fail(c, err)
	}
	out := caseJSON{summaryJSON: summaryOf(cs.Sub), Answers: cs.Sub.Data, Computed: cs.Sub.Computed,
		Attachments: []attachmentJSON{}, Events: []eventJSON{}, Actions: []actionJSON{}}
	if out.Answers == nil {
		out.Answers = map[string]any{}
	}
	if out.Computed == nil {
		out.Computed = map[string]any{}
	}
	for _, a := range cs.Sub.Attachments {
		out.Attachments = append(out.Attachments, attachmentJSON{ID: a.ID, Name: a.Name, Size: a.Size, SHA256: a.SHA256, ContentType: a.ContentType})
	}
	for _, e := range cs.Events {
		ev := eventJSON{ID: e.ID, Type: e.Type, At: e.At.UTC(), Actor: e.Actor, Data: e.Data}
		if ev.Data == nil {
			ev.Data = map[string]any{}
		}
		out.Events = append(out.Events, ev)
	}
	for _, t := range cs.Actions {
		out.Actions = append(out.Actions, actionJSON{ID: t.ID, Title: t.Title, To: t.To, CommentRequired: t.Comment})
	}
	return c.JSON(out)
}

// attachment streams one attachment of a case with its sniffed content
// type, as a download.
func (s *server) attachment(c *fiber.Ctx) error {
	att, rc, err := s.deps.Cases.Attachment(c.UserContext(), actorOf(c), c.Params("ref"), c.Params("id"))
	if err != nil {
		return s.fail(c, err)
	}
	ct := att.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, contentDisposition(att.Name))
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// fasthttp closes rc after sending.
	return c.SendStream(rc, int(att.Size))
}

// contentDisposition is "attachment" with the cleaned file name, encoded
// per RFC 6266/2231 when it is not plain ASCII.
func contentDisposition(name string) string {
	name = httpx.FileName(name)
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// maxBody bounds the body of a transition (a comment, not a document).
const maxBody = 64 << 10

// transition answers POST /cases/{ref}/transitions.
func (s *server) transition(c *fiber.Ctx) error {
	a := actorOf(c)
	if !canWrite(a) {
		return s.fail(c, fmt.Errorf("this token may only read (roles %s): %w", strings.Join(a.Roles, ","), ErrForbidden))
	}
	if err := httpx.RequireJSON(c); err != nil {
		return s.fail(c, err)
	}
	body := c.Body()
	if len(body) > maxBody {
		return s.fail(c, fiber.NewError(fiber.StatusRequestEntityTooLarge, "the body is larger than 64 KiB"))
	}
	var req transitionRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return s.fail(c, bad("the body is not a transition request: %s", jsonProblem(err)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return s.fail(c, bad("the body holds more than one JSON value"))
	}
	if req.Transition == "" || req.Version == nil || *req.Version < 1 {
		return s.fail(c, bad("transition and version (the case's version as read) are required"))
	}
	sub, err := s.deps.Cases.Transition(c.UserContext(), a, c.Params("ref"), *req.Version, req.Transition, req.Comment)
	if err != nil {
		return s.fail(c, err)
	}
	return c.JSON(summaryOf(sub))
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "wrong type for " + te.Field
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// fail writes the problem document of err, or hands err to the app's
// error handler when it is none of the staff API's (500, logged without
// its text).
func (s *server) fail(c *fiber.Ctx, err error) error {
	p := httpx.Problem{RequestID: c.GetRespHeader(fiber.HeaderXRequestID)}
	var br *badRequest
	var ce *ConflictError
	var ae *ActionError
	var fe *fiber.Error
	switch {
	case errors.Is(err, errUnauthorized):
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="amtsform-staff"`)
		p.Status, p.Type, p.Detail = fiber.StatusUnauthorized, "unauthorized", "a valid bearer token of this tenant is required"
	case errors.As(err, &br):
		p.Status, p.Type, p.Detail = fiber.StatusBadRequest, "bad-request", br.msg
	case errors.As(err, &fe) && fe.Code < 500:
		p.Status, p.Type, p.Detail = fe.Code, "about:blank", fe.Message
	case errors.Is(err, ErrForbidden):
		p.Status, p.Type, p.Detail = fiber.StatusForbidden, "forbidden", "this token's roles do not allow the action"
	case errors.As(err, &ce):
		p.Status, p.Type, p.Detail = fiber.StatusConflict, "conflict", fmt.Sprintf("the case was changed meanwhile (%s); read it again", ce.What)
	case errors.Is(err, record.ErrConflict):
		p.Status, p.Type, p.Detail = fiber.StatusConflict, "conflict", "the case was changed meanwhile; read it again"
	case errors.As(err, &ae):
		p.Status, p.Type, p.Detail = fiber.StatusUnprocessableEntity, "action-refused", "the workflow refuses the action"
		path := ""
		switch ae.Code {
		case "commentRequired", "text", "invalid": // a transition's only free value is its comment
			path = "comment"
		}
		p.Errors = []httpx.ProblemError{{Path: path, Code: ae.Code, Message: actionMessages[ae.Code]}}
	case errors.Is(err, record.ErrNotFound):
		p.Status, p.Type = fiber.StatusNotFound, "not-found"
	default:
		return err
	}
	lang := httpx.Lang(c)
	p.Type = httpx.ProblemType(p.Type)
	p.Title = httpx.TitleOf(p.Status, lang)
	if p.Status == fiber.StatusUnauthorized {
		p.Title = map[bool]string{true: "Unauthorized", false: "Nicht angemeldet"}[lang == "en"]
	}
	c.Set(fiber.HeaderContentLanguage, lang)
	return c.Status(p.Status).JSON(p, httpx.MIMEProblemJSON)
}

var actionMessages = map[string]string{
	"commentRequired": "this transition needs a comment",
	"guardFailed":     "the case does not meet the transition's condition",
	"fourEyes":        "a second person must approve what this token prepared",
	"text":            "the comment must be UTF-8 text without control characters other than line breaks and tabs, and without invisible format characters (bidirectional overrides and isolates, zero width space, byte order mark, tags)",
	"invalid":         "a value is out of range, such as a comment of more than 4000 characters",
}

// The JSON shapes (openapi.json describes them).

type inboxJSON struct {
	Total  int            `json:"total"`
	Counts map[string]int `json:"counts"`
	Skip   int            `json:"skip"`
	Limit  int            `json:"limit"`
	Cases  []summaryJSON  `json:"cases"`
}

type serviceJSON struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

type summaryJSON struct {
	Reference string      `json:"reference"`
	Service   serviceJSON `json:"service"`
	Office    string      `json:"office"`
	Status    string      `json:"status"`
	Assignee  string      `json:"assignee"`
	Due       *time.Time  `json:"due"`
	FollowUp  *time.Time  `json:"followUp"`
	Priority  int         `json:"priority"`
	Received  time.Time   `json:"received"`
	Updated   time.Time   `json:"updated"`
	Version   int64       `json:"version"`
}

func summaryOf(sub *record.Submission) summaryJSON {
	assignee, due, followUp, priority := caseFields(sub)
	return summaryJSON{
		Reference: sub.Ref, Service: serviceJSON{ID: sub.Service.ID, Version: sub.Service.Version, Hash: sub.Service.Hash},
		Office: sub.Office, Status: sub.Status, Assignee: assignee, Due: optTime(due), FollowUp: optTime(followUp),
		Priority: priority, Received: sub.Created.UTC(), Updated: sub.Updated.UTC(), Version: sub.Version,
	}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

type caseJSON struct {
	summaryJSON
	Answers     map[string]any   `json:"answers"`
	Computed    map[string]any   `json:"computed"`
	Attachments []attachmentJSON `json:"attachments"`
	Events      []eventJSON      `json:"events"`
	Actions     []actionJSON     `json:"actions"`
}

type attachmentJSON struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ContentType string `json:"contentType"`
}

type eventJSON struct {
	ID    string         `json:"id"`
	Type  string         `json:"type"`
	At    time.Time      `json:"at"`
	Actor string         `json:"actor"`
	Data  map[string]any `json:"data"`
}

type actionJSON struct {
	ID              string      `json:"id"`
	Title           engine.Text `json:"title"`
	To              string      `json:"to"`
	CommentRequired bool        `json:"commentRequired"`
}

type transitionRequest struct {
	Transition string `json:"transition"`
	Comment    string `json:"comment"`
	Version    *int64 `json:"version"`
}
