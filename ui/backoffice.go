package ui

import (
	"errors"
	"html/template"
)

// BackofficeTemplates parses the back office's templates under
// templates/backoffice/ (their own layout, "bo-head" and "bo-foot"); they
// share Funcs and the static assets with the citizen pages and add dict,
// which lets a template hand named values to a partial.
func BackofficeTemplates() (*template.Template, error) {
	return template.New("").Funcs(Funcs).Funcs(template.FuncMap{"dict": dict}).ParseFS(files, "templates/backoffice/*.html")
}

// dict builds a map from key, value pairs: {{template "x" (dict "ID" "a" "Lang" .Lang)}}.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, errors.New("dict: key is not a string")
		}
		m[k] = kv[i+1]
	}
	return m, nil
}
