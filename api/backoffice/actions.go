package backoffice

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine"
)

// maxText bounds comments, notes and messages.
const maxText = 4000

// version reads the case version the form was rendered with.
func version(c *fiber.Ctx) (int64, error) {
	v, err := strconv.ParseInt(c.FormValue("version"), 10, 64)
	if err != nil || v < 0 {
		return 0, fiber.NewError(fiber.StatusBadRequest, "no case version")
	}
	return v, nil
}

// done goes back to the case with a notice.
func done(c *fiber.Ctx, what string) error {
	return c.Redirect(caseURL(caseRef(c))+"?done="+what, fiber.StatusSeeOther)
}

// refused shows the case again with errors (422).
func (s *server) refused(c *fiber.Ctx, fs *formState, errs ...errorItem) error {
	return s.showCase(c, fiber.StatusUnprocessableEntity, errs, fs)
}

// actionError turns a refused action into errors on its form, or
// returns err when it is not such a refusal.
func (s *server) actionError(c *fiber.Ctx, err error, field string) (errorItem, bool) {
	l := lang(c)
	var ae *ActionError
	var ve *engine.ValidationError
	switch {
	case errors.As(err, &ae):
		switch ae.Code {
		case "commentRequired":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Geben Sie eine Begründung ein.", "Enter a comment.")}, true
		case "guardFailed":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Die Voraussetzungen für diesen Schritt sind nicht erfüllt.", "The conditions for this step are not met.")}, true
		case "fourEyes":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Diesen Schritt muss eine andere Person ausführen als die, die ihn vorbereitet hat (Vier-Augen-Prinzip).", "Someone other than the person who prepared it must take this step (four-eyes principle).")}, true
		case "noContact":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Die antragstellende Person hat keine E-Mail-Adresse angegeben. Bitte fordern Sie die Unterlagen auf anderem Weg an.", "The applicant gave no email address. Please ask for the documents another way.")}, true
		case "text":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Der Text enthält Zeichen, die nicht erlaubt sind (Steuerzeichen, unsichtbare Formatzeichen wie aus kopiertem Text oder ungültige Bytes). Bitte geben Sie ihn neu ein.", "The text contains characters that are not allowed (control characters, invisible formatting characters as in copied text, or invalid bytes). Please type it again.")}, true
		case "invalid":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Die Angaben sind unvollständig oder fehlerhaft.", "The details are incomplete or wrong.")}, true
		case "assignee":
			return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Diese Person arbeitet nicht für die Stelle des Vorgangs und könnte ihn nicht öffnen. Wählen Sie eine Person aus der Liste.", "This person does not work for the case's office and could not open it. Choose a person from the list.")}, true
		}
		return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Dieser Schritt ist im aktuellen Stand des Vorgangs nicht möglich.", "This step is not possible in the case's current state.")}, true
	case errors.As(err, &ve):
		return errorItem{Field: field, Href: "#" + field, Message: tr(l, "Die Angaben sind unvollständig oder fehlerhaft.", "The details are incomplete or wrong.")}, true
	}
	return errorItem{}, false
}

func textValue(c *fiber.Ctx, name string) string {
	return strings.TrimSpace(strings.ReplaceAll(c.FormValue(name), "\r\n", "\n"))
}

func tooLong(s string) bool { return utf8.RuneCountInString(s) > maxText }

// claim assigns the case to the user, unless someone else was quicker.
func (s *server) claim(c *fiber.Ctx) error {
	v, err := version(c)
	if err != nil {
		return err
	}
	if _, err := s.d.Cases.Claim(c.UserContext(), s.actor(c), caseRef(c), v); err != nil {
		if e, ok := s.actionError(c, err, "claim"); ok {
			return s.refused(c, nil, e)
		}
		return err
	}
	return done(c, "claim")
}

// assign assigns the case to a colleague ("" unassigns it).
func (s *server) assign(c *fiber.Ctx) error {
	v, err := version(c)
	if err != nil {
		return err
	}
	to := c.FormValue("to")
	fs := &formState{Form: "assign", Values: map[string]string{"to": to}}
	if to != "" && s.d.Users != nil {
		known := false
		for _, u := range s.users(c) {
			known = known || (u.ID == to && !u.Disabled)
		}
		if !known {
			return s.refused(c, fs, errorItem{Field: "assign-to", Href: "#assign-to", Message: tr(lang(c), "Wählen Sie eine Person aus der Liste.", "Choose a person from the list.")})
		}
	}
	if _, err := s.d.Cases.Assign(c.UserContext(), s.actor(c), caseRef(c), v, to); err != nil {
		if e, ok := s.actionError(c, err, "assign-to"); ok {
			return s.refused(c, fs, e)
		}
		return err
	}
	return done(c, "assign")
}

// transition takes a workflow action.
func (s *server) transition(c *fiber.Ctx) error {
	l := lang(c)
	v, err := version(c)
	if err != nil {
		return err
	}
	id, comment := c.FormValue("transition"), textValue(c, "comment")
	if id == "" {
		return fiber.NewError(fiber.StatusBadRequest, "no transition")
	}
	field := "action-" + id + "-comment"
	fs := &formState{Form: "transition:" + id, Values: map[string]string{"comment": comment}}
	if tooLong(comment) {
		return s.refused(c, fs, errorItem{Field: field, Href: "#" + field, Message: tr(l, "Die Begründung darf höchstens 4000 Zeichen lang sein.", "The comment must be 4000 characters or fewer.")})
	}
	if c.FormValue("commentRequired") == "1" && comment == "" {
		return s.refused(c, fs, errorItem{Field: field, Href: "#" + field, Message: tr(l, "Geben Sie eine Begründung ein.", "Enter a comment.")})
	}
	if _, err := s.d.Cases.Transition(c.UserContext(), s.actor(c), caseRef(c), v, id, comment); err != nil {
		if e, ok := s.actionError(c, err, field); ok {
			return s.refused(c, fs, e)
		}
		return err
	}
	return done(c, "transition")
}

// note adds an internal note.
func (s *server) note(c *fiber.Ctx) error {
	l := lang(c)
	text := textValue(c, "text")
	fs := &formState{Form: "note", Values: map[string]string{"text": text}}
	switch {
	case text == "":
		return s.refused(c, fs, errorItem{Field: "note-text", Href: "#note-text", Message: tr(l, "Geben Sie den Text der Notiz ein.", "Enter the text of the note.")})
	case tooLong(text):
		return s.refused(c, fs, errorItem{Field: "note-text", Href: "#note-text", Message: tr(l, "Die Notiz darf höchstens 4000 Zeichen lang sein.", "The note must be 4000 characters or fewer.")})
	}
	if err := s.d.Cases.Note(c.UserContext(), s.actor(c), caseRef(c), text); err != nil {
		if e, ok := s.actionError(c, err, "note-text"); ok {
			return s.refused(c, fs, e)
		}
		return err
	}
	return done(c, "note")
}

// schedule sets due date, follow-up date and priority; an empty date
// clears it.
func (s *server) schedule(c *fiber.Ctx) error {
	l := lang(c)
	v, err := version(c)
	if err != nil {
		return err
	}
	dueS, fuS, prS := strings.TrimSpace(c.FormValue("due")), strings.TrimSpace(c.FormValue("followUp")), c.FormValue("priority")
	fs := &formState{Form: "schedule", Values: map[string]string{"due": dueS, "followUp": fuS, "priority": prS}}
	var errs []errorItem
	var due, fu time.Time
	if dueS != "" {
		if due, err = s.parseDate(dueS); err != nil {
			errs = append(errs, errorItem{Field: "schedule-due", Href: "#schedule-due", Message: tr(l, "Geben Sie die Frist als gültiges Datum ein.", "Enter the due date as a real date.")})
		} else {
			due = endOfDay(due) // overdue only after that day
		}
	}
	if fuS != "" {
		if fu, err = s.parseDate(fuS); err != nil {
			errs = append(errs, errorItem{Field: "schedule-followup", Href: "#schedule-followup", Message: tr(l, "Geben Sie die Wiedervorlage als gültiges Datum ein.", "Enter the follow-up date as a real date.")})
		}
	}
	pr, err := strconv.Atoi(prS)
	if err != nil || pr < 0 || pr > 2 {
		errs = append(errs, errorItem{Field: "schedule-priority-0", Href: "#schedule-priority-0", Message: tr(l, "Wählen Sie eine Priorität.", "Choose a priority.")})
	}
	if len(errs) > 0 {
		return s.refused(c, fs, errs...)
	}
	if _, err := s.d.Cases.Schedule(c.UserContext(), s.actor(c), caseRef(c), v, &due, &fu, &pr); err != nil {
		if e, ok := s.actionError(c, err, "schedule-due"); ok {
			return s.refused(c, fs, e)
		}
		return err
	}
	return done(c, "schedule")
}

// requestDocuments asks the citizen for files of the spec's attachment
// fields, with a message and a deadline.
func (s *server) requestDocuments(c *fiber.Ctx) error {
	l := lang(c)
	v, err := version(c)
	if err != nil {
		return err
	}
	var fields []string
	for _, f := range c.Request().PostArgs().PeekMulti("fields") {
		fields = append(fields, string(f))
	}
	msg, dl := textValue(c, "message"), strings.TrimSpace(c.FormValue("deadline"))
	fs := &formState{Form: "documents", Values: map[string]string{"message": msg, "deadline": dl}, Multi: fields}
	var errs []errorItem
	if len(fields) == 0 {
		errs = append(errs, errorItem{Field: "docs-fields", Href: "#docs-field-0", Message: tr(l, "Wählen Sie mindestens eine Unterlage aus.", "Choose at least one document.")})
	}
	switch {
	case msg == "":
		errs = append(errs, errorItem{Field: "docs-message", Href: "#docs-message", Message: tr(l, "Geben Sie eine Nachricht an die antragstellende Person ein.", "Enter a message to the applicant.")})
	case tooLong(msg):
		errs = append(errs, errorItem{Field: "docs-message", Href: "#docs-message", Message: tr(l, "Die Nachricht darf höchstens 4000 Zeichen lang sein.", "The message must be 4000 characters or fewer.")})
	}
	var deadline time.Time
	if dl == "" {
		errs = append(errs, errorItem{Field: "docs-deadline", Href: "#docs-deadline", Message: tr(l, "Geben Sie eine Frist ein.", "Enter a deadline.")})
	} else if deadline, err = s.parseDate(dl); err != nil {
		errs = append(errs, errorItem{Field: "docs-deadline", Href: "#docs-deadline", Message: tr(l, "Geben Sie die Frist als gültiges Datum ein.", "Enter the deadline as a real date.")})
	} else if !deadline.After(s.d.Now()) {
		errs = append(errs, errorItem{Field: "docs-deadline", Href: "#docs-deadline", Message: tr(l, "Die Frist muss in der Zukunft liegen.", "The deadline must be in the future.")})
	} else {
		deadline = endOfDay(deadline)
	}
	if len(errs) > 0 {
		return s.refused(c, fs, errs...)
	}
	if _, err := s.d.Cases.RequestDocuments(c.UserContext(), s.actor(c), caseRef(c), v, fields, msg, deadline); err != nil {
		if e, ok := s.actionError(c, err, "docs-message"); ok {
			return s.refused(c, fs, e)
		}
		return err
	}
	return done(c, "documents")
}

// endOfDay is the last second of the day that starts at t.
func endOfDay(t time.Time) time.Time { return t.AddDate(0, 0, 1).Add(-time.Second) }
