// Package specs holds the Amtsform spec language: the CUE schema #Service
// and the reusable field groups (#Person, #Address, #IBAN, …) that service
// definitions import as "amtsform.dev/spec". The files are embedded in the
// binary so that service definitions load fully offline.
package specs

import "embed"

// ImportPath is the CUE import path under which the schema is available to
// service definitions.
const ImportPath = "amtsform.dev/spec"

// FS holds the schema's CUE files under the directory "spec".
//
//go:embed spec/*.cue
var FS embed.FS
