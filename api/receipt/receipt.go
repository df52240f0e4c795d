// Package receipt renders the PDF receipt of a submission, which the
// citizen pages and the JSON API both hand out.
package receipt

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/amtsform/amtsform/api/render"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/messages"
	"github.com/amtsform/amtsform/engine/record"
)

// Details are what a receipt shows beyond the submission and its
// service version.
type Details struct {
	Lang string // "de" or "en"
	// Office is the directory entry of the office the submission was
	// routed to; nil shows the office id in a readable form.
	Office *engine.Office
	// Zone is the installation's time zone for the date of receipt;
	// nil means Europe/Berlin.
	Zone *time.Location
}

// officeText is the office's name with its address and contact lines.
func officeText(o *engine.Office, id, lang string) string {
	name, lines := render.Office(o, id, lang)
	return strings.Join(append([]string{name}, lines...), "\n")
}

// PDF renders the citizen's receipt for a submission: service
// title, reference number, date, responsible office and every answer with
// its label (groups, repeating groups and computed values included, money
// in euros). The fonts are the Go fonts, embedded as UTF-8 TrueType, so
// umlauts and ß render and can be extracted as text.
func PDF(svc *engine.Service, sub *record.Submission, d Details) ([]byte, error) {
	lang := d.Lang
	if svc == nil || sub == nil {
		return nil, fmt.Errorf("receipt: no service or submission")
	}
	files := map[string]string{}
	for _, a := range sub.Attachments {
		files[a.ID] = a.Name
	}
	secs := render.Answers(svc, sub.Data, sub.Computed, files, lang)

	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(sub.Created)
	pdf.SetModificationDate(sub.Created)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	title := svc.Form.Title.In(lang)
	pdf.SetTitle(render.Tr(lang, "Eingangsbestätigung", "Receipt")+" "+sub.Ref, true)
	pdf.SetAuthor("Amtsform", true)
	pdf.SetSubject(title, true)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-14)
		pdf.SetFont("go", "", 8)
		pdf.SetTextColor(80, 80, 80)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s · %s %d / {nb}", sub.Ref, render.Tr(lang, "Seite", "Page"), pdf.PageNo()), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()
	width, _ := pdf.GetPageSize()
	left, _, right, _ := pdf.GetMargins()
	content := width - left - right

	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont("go", "B", 16)
	pdf.MultiCell(0, 8, render.Tr(lang, "Eingangsbestätigung", "Receipt"), "", "L", false)
	pdf.SetFont("go", "B", 13)
	pdf.MultiCell(0, 7, title, "", "L", false)
	pdf.Ln(3)

	created := sub.Created
	if created.IsZero() {
		created = time.Now()
	}
	zone := d.Zone
	if zone == nil {
		zone = render.Berlin
	}
	created = created.In(zone)
	date := created.Format("02.01.2006, 15:04 Uhr")
	if lang == "en" {
		date = created.Format("2 January 2006, 15:04")
	}
	facts := [][2]string{
		{render.Tr(lang, "Aktenzeichen", "Reference number"), sub.Ref},
		{render.Tr(lang, "Eingegangen am", "Received on"), date},
		{render.Tr(lang, "Zuständige Stelle", "Responsible office"), officeText(d.Office, sub.Office, lang)},
	}
	labelW := content * 0.42
	row := func(label, value string, bold bool, indent float64) {
		pdf.SetFont("go", "", 10)
		ll := pdf.SplitText(label, labelW-indent-2)
		if bold {
			pdf.SetFont("go", "B", 10)
		}
		vl := pdf.SplitText(value, content-labelW)
		n := max(len(ll), len(vl), 1)
		const lh = 5.2
		_, pageH := pdf.GetPageSize()
		_, _, _, bottom := pdf.GetMargins()
		if pdf.GetY()+float64(n)*lh > pageH-bottom {
			pdf.AddPage()
		}
		y := pdf.GetY()
		pdf.SetFont("go", "", 10)
		pdf.SetTextColor(60, 60, 60)
		for i, l := range ll {
			pdf.SetXY(left+indent, y+float64(i)*lh)
			pdf.CellFormat(labelW-indent, lh, l, "", 0, "L", false, 0, "")
		}
		pdf.SetTextColor(0, 0, 0)
		if bold {
			pdf.SetFont("go", "B", 10)
		}
		for i, l := range vl {
			pdf.SetXY(left+labelW, y+float64(i)*lh)
			pdf.CellFormat(content-labelW, lh, l, "", 0, "L", false, 0, "")
		}
		pdf.SetXY(left, y+float64(n)*lh+1)
	}
	for _, f := range facts {
		row(f[0], f[1], true, 0)
	}
	pdf.Ln(2)
	pdf.SetFont("go", "", 9)
	pdf.SetTextColor(60, 60, 60)
	pdf.MultiCell(0, 4.5, render.Tr(lang,
		"Bitte bewahren Sie diese Bestätigung auf. Geben Sie bei Rückfragen das Aktenzeichen an.",
		"Please keep this receipt. Quote the reference number in any enquiry."), "", "L", false)
	pdf.SetTextColor(0, 0, 0)

	for _, sec := range secs {
		pdf.Ln(4)
		_, pageH := pdf.GetPageSize()
		if pdf.GetY() > pageH-45 {
			pdf.AddPage()
		}
		pdf.SetFont("go", "B", 12)
		pdf.MultiCell(0, 6, sec.Title, "", "L", false)
		y := pdf.GetY()
		pdf.SetDrawColor(160, 160, 160)
		pdf.Line(left, y, left+content, y)
		pdf.Ln(1.5)
		for _, r := range sec.Rows {
			indent := float64(r.Depth) * 4
			if r.Heading {
				pdf.SetFont("go", "B", 10)
				pdf.SetX(left + indent)
				pdf.MultiCell(content-indent, 5.5, r.Label, "", "L", false)
				continue
			}
			row(r.Label, r.Value, false, indent)
		}
	}
	if len(sub.Attachments) > 0 {
		pdf.Ln(4)
		pdf.SetFont("go", "B", 12)
		pdf.MultiCell(0, 6, render.Tr(lang, "Anlagen", "Attachments"), "", "L", false)
		for _, a := range sub.Attachments {
			row(a.Name, fmt.Sprintf("%s, SHA-256 %s…", messages.Size(a.Size, lang), shortHash(a.SHA256)), false, 0)
		}
	}
	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	return buf.Bytes(), nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
