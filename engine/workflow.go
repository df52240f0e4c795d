package engine

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
)

// Mail is a mail to the citizen in German and English (#Mail). Its texts
// may name the placeholders of MailPlaceholders.
type Mail struct {
	Subject Text `json:"subject"`
	Body    Text `json:"body"`
}

// MailPlaceholders are the names a notify text may use in braces.
var MailPlaceholders = []string{"reference", "office", "status"}

// DefaultDeadlineDays is the time a citizen has for a document request
// when the transition declares no deadlineDays.
const DefaultDeadlineDays = 14

// envCase is the case in workflow guards.
const envCase = "case"

// CaseFacts are what a workflow guard sees of a case besides its data
// (the name "case" in guards).
type CaseFacts struct {
	Status   string
	Assignee string
	Office   string
	Priority int
	Received time.Time
	// Today is the date the guard sees as today (and that
	// daysSinceReceived counts to); zero means now.
	Today time.Time
}

// caseEnv is the type guards are checked against for "case".
type caseEnv struct {
	Status            string `expr:"status"`
	Assignee          string `expr:"assignee"`
	Office            string `expr:"office"`
	Priority          int    `expr:"priority"`
	DaysSinceReceived int    `expr:"daysSinceReceived"`
}

// Transition returns the transition with the given id.
func (w *Workflow) Transition(id string) (*Transition, bool) {
	if w == nil {
		return nil, false
	}
	for i := range w.Transitions {
		if w.Transitions[i].ID == id {
			return &w.Transitions[i], true
		}
	}
	return nil, false
}

// From returns the transitions that start in state, in declaration order.
func (w *Workflow) From(state string) []Transition {
	var out []Transition
	if w == nil {
		return nil
	}
	for _, t := range w.Transitions {
		for _, f := range t.From {
			if f == state {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// StartsIn reports whether the transition may be taken in state.
func (t *Transition) StartsIn(state string) bool {
	for _, f := range t.From {
		if f == state {
			return true
		}
	}
	return false
}

// Deadline returns the deadline of a document request opened by t at
// from: deadlineDays (DefaultDeadlineDays when not declared) later.
func (t *Transition) Deadline(from time.Time) time.Time {
	d := t.DeadlineDays
	if d <= 0 {
		d = DefaultDeadlineDays
	}
	return from.AddDate(0, 0, d)
}

// TransitionAllowed evaluates the guard of t (compiled with the service)
// over a case's data and facts. A transition without guard is allowed; a
// guard reading a field that is not answered does not hold.
func (s *Service) TransitionAllowed(t *Transition, data map[string]any, c CaseFacts) (bool, error) {
	if t.Guard == "" {
		return true, nil
	}
	if t.guard == nil {
		return false, fmt.Errorf("workflow transition %s: guard not compiled with this service", t.ID)
	}
	today := c.Today
	if today.IsZero() {
		today = time.Now()
	}
	days := 0
	if !c.Received.IsZero() {
		y, m, d := c.Received.In(today.Location()).Date()
		ty, tm, td := today.Date()
		days = int(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC).Sub(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)).Hours() / 24)
	}
	doc := make(map[string]any, len(data)+1)
	for k, v := range data {
		doc[k] = v
	}
	doc[envCase] = map[string]any{
		"status": c.Status, "assignee": c.Assignee, "office": c.Office,
		"priority": c.Priority, "daysSinceReceived": days,
	}
	ev := &evaluation{s: s, data: doc, today: today.Format("2006-01-02")}
	return ev.test(t.guard, instance{}), nil
}

// FillMail replaces the placeholders {reference}, {office} and {status}
// in text with vars.
func FillMail(text string, vars map[string]string) string {
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := vars[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

var placeholder = regexp.MustCompile(`\{[^{}]*\}`)

// compileGuard compiles a transition guard: a rule over the data with
// "case" (see caseEnv).
func (rc *ruleCompiler) compileGuard(v cue.Value, what string) *Program {
	rc.guard = true
	defer func() { rc.guard = false }()
	return rc.compile(v, nil, wantBool, nil, what)
}

// guardEnv is the sample environment of guards.
func (rc *ruleCompiler) guardEnv() any {
	if rc.guardSample != nil {
		return rc.guardSample
	}
	base := reflect.TypeOf(rc.env(nil))
	fields := make([]reflect.StructField, 0, base.NumField()+1)
	for i := 0; i < base.NumField(); i++ {
		fields = append(fields, base.Field(i))
	}
	fields = append(fields, reflect.StructField{Name: "Case", Type: reflect.TypeOf(caseEnv{}), Tag: `expr:"case"`})
	rc.guardSample = reflect.New(reflect.StructOf(fields)).Elem().Interface()
	return rc.guardSample
}

// checkWorkflowActions checks what transitions do besides moving the
// case: four-eyes, mails, document requests.
func (s *Service) checkWorkflowActions(wf *Workflow, pos func(string) Pos, ce *CheckError) {
	entered := map[string]bool{}
	for _, t := range wf.Transitions {
		entered[t.To] = true
	}
	contact := wf.Contact
	if contact == "" {
		contact = "email"
	}
	contactOK := false
	if n := s.lookupNode(contact); n != nil && n.Kind == KindString {
		contactOK = true
	}
	for i := range wf.Transitions {
		t := &wf.Transitions[i]
		tp := fmt.Sprintf("transitions[%d]", i)
		if t.FourEyes {
			for j, f := range t.From {
				if _, ok := wf.States[f]; ok && !entered[f] {
					ce.add(pos(fmt.Sprintf("%s.from[%d]", tp, j)), "workflow", "fourEyes",
						"workflow: transition %q is four-eyes, but no transition leads into its state %q, so nobody can have prepared the decision", t.ID, f)
				}
			}
		}
		if t.Notify != nil {
			for _, x := range []struct {
				name string
				text Text
			}{{"subject", t.Notify.Subject}, {"body", t.Notify.Body}} {
				for _, txt := range []string{x.text.De, x.text.En} {
					for _, m := range placeholder.FindAllString(txt, -1) {
						name := m[1 : len(m)-1]
						known := false
						for _, p := range MailPlaceholders {
							known = known || p == name
						}
						if !known {
							ce.add(pos(tp+".notify."+x.name), "workflow", "unknownPlaceholder",
								"workflow: transition %q: notify %s names {%s}; known are {%s}", t.ID, x.name, name, strings.Join(MailPlaceholders, "}, {"))
						}
					}
				}
			}
		}
		if (t.Notify != nil || t.RequestDocuments) && !contactOK {
			ce.add(pos(tp), "workflow.contact", "noContact",
				"workflow: transition %q mails the citizen, but %q is not a text field of the data (set workflow.contact to the e-mail field)", t.ID, contact)
		}
		if !t.RequestDocuments {
			if len(t.Documents) > 0 || t.Received != "" || t.Timeout != "" || t.DeadlineDays != 0 {
				ce.add(pos(tp), "workflow", "notRequesting",
					"workflow: transition %q has documents, deadlineDays, received or timeout but no requestDocuments: true", t.ID)
			}
			continue
		}
		docs := t.Documents
		if len(docs) == 0 {
			docs = s.attachmentFields()
			if len(docs) == 0 {
				ce.add(pos(tp+".requestDocuments"), "workflow", "noDocuments",
					"workflow: transition %q requests documents, but the data has no attachment field", t.ID)
			}
		}
		for j, d := range t.Documents {
			if n := s.lookupNode(d); n == nil || !isAttachmentNode(n) {
				ce.add(pos(fmt.Sprintf("%s.documents[%d]", tp, j)), "workflow", "notAttachment",
					"workflow: transition %q requests %q, which is not an attachment field (spec.#Attachment or a list of them)", t.ID, d)
			}
		}
		t.Documents = docs
		for _, x := range []struct{ name, id string }{{"received", t.Received}, {"timeout", t.Timeout}} {
			if x.id == "" {
				continue
			}
			next, ok := wf.Transition(x.id)
			if !ok {
				ce.add(pos(tp+"."+x.name), "workflow", "unknownTransition", "workflow: transition %q: %s names unknown transition %q", t.ID, x.name, x.id)
				continue
			}
			if !next.StartsIn(t.To) {
				ce.add(pos(tp+"."+x.name), "workflow", "unknownTransition",
					"workflow: transition %q: %s transition %q does not start in %q, where the case waits", t.ID, x.name, x.id, t.To)
			}
			if next.FourEyes {
				ce.add(pos(tp+"."+x.name), "workflow", "fourEyes",
					"workflow: transition %q: %s transition %q is four-eyes, but the system takes it", t.ID, x.name, x.id)
			}
		}
	}
}

func isAttachmentNode(n *Node) bool {
	for n.Kind == KindList && n.Elem != nil {
		n = n.Elem
	}
	return n.Kind == KindString && n.hasFormat("attachment")
}

// attachmentFields returns the paths of every attachment field outside
// repeating groups (a list of attachments counts as one field).
func (s *Service) attachmentFields() []string {
	var out []string
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, f := range n.Fields {
			switch {
			case isAttachmentNode(f) && (f.Kind != KindList || f.Elem.Kind == KindString):
				out = append(out, f.Path)
			case f.Kind == KindStruct:
				walk(f)
			}
		}
	}
	walk(s.Data)
	sort.Strings(out)
	return out
}

// FormField returns the form field at a data or document path (its label,
// hint, widget), e.g. for the fields a document request names.
func (s *Service) FormField(path string) (*Field, bool) {
	f := s.field(path)
	return f, f != nil
}
