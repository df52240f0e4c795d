// Package ui holds the citizen-facing templates and static assets,
// embedded in the binary. No external fonts, scripts or CDNs.
package ui

import (
	"embed"
	"html/template"
	"io/fs"
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
}
