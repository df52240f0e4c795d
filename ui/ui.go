// Package ui holds the citizen-facing templates and static assets,
// embedded in the binary. No external fonts, scripts or CDNs.
//
// Templates render the compiled form model: one partial per field kind
// in templates/fields.html, never a template per service.
package ui

import (
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
	return template.New("").Funcs(Funcs).ParseFS(files, "templates/*.html")
}

// Funcs are the template functions shared by all pages.
var Funcs = template.FuncMap{
	"t": func(lang, de, en string) string {
		if lang == "en" {
			return en
		}
		return de
	},
	// static returns the URL of a static asset with a cache-busting version.
	"static": func(name string) string {
		return "/static/" + name + "?v=" + version
	},
}
