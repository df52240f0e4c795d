// Package ui holds the citizen-facing templates and static assets,
// embedded in the binary. No external fonts, scripts or CDNs.
//
// Templates render the compiled form model: one partial per field kind
// in templates/fields.html, never a template per service.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"sort"
)

//go:embed templates static
var files embed.FS

// Static is the file system of static assets (CSS, the optional script).
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err)
	}
	return sub
}

// version is a short hash of all static files; asset links carry it so
// that they can be cached for long.
var version = func() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		b, _ := files.ReadFile(n)
		h.Write([]byte(n))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// Templates parses every template under templates/.
func Templates() (*template.Template, error) {
	t, err := template.New("").Funcs(Funcs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	// {{field .}} renders a field with the partial of its kind, chosen in
	// Go rather than by a chain of {{if eq .Kind …}} in the template.
	t.Funcs(template.FuncMap{"field": func(f Partial) (template.HTML, error) {
		var b bytes.Buffer
		if err := t.ExecuteTemplate(&b, f.Partial(), f); err != nil {
			return "", err
		}
		return template.HTML(b.String()), nil
	}})
	return t, nil
}

// Partial is a value rendered by a named partial template, such as a
// field of a form ("f-text", "f-radio", …).
type Partial interface {
	Partial() string
}

// Funcs are the template functions shared by all pages.
var Funcs = template.FuncMap{
	"t": func(lang, de, en string) string {
		if lang == "en" {
			return en
		}
		return de
	},
	// field is replaced in Templates; see there.
	"field": func(Partial) (template.HTML, error) { return "", nil },
	// static returns the URL of a static asset with a cache-busting version.
	"static": func(name string) string {
		return "/static/" + name + "?v=" + version
	},
}
