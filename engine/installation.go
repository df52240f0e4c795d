package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/token"
)

// An installation directory describes what one server offers: its
// tenants (municipalities), the services each tenant offers, and the
// local packages overlays may import. It is a CUE package named
// "installation":
//
//	package installation
//
//	packages: "amtsform.example/hundesteuer": "../hundesteuer"
//	tenants: musterstadt: {
//		name: {de: "Stadt Musterstadt", en: "City of Musterstadt"}
//		ags: "06436099" // Amtlicher Gemeindeschlüssel
//		contact: {email: "rathaus@musterstadt.example", phone: "+49 6192 990-0", web: "https://www.musterstadt.example"}
//		services: ["../kita-gebuehren", "../hundesteuer"]
//		offices: "jugendamt": {
//			name: {de: "Jugendamt", en: "Youth welfare office"}
//			address: {street: "Rathausplatz", houseNumber: "1", postalCode: "65719", city: "Musterstadt"}
//			email: "jugendamt@musterstadt.example"
//			phone: "+49 6192 990-510"
//			hours: {de: "Mo–Fr 8–12 Uhr", en: "Mon–Fri 8am–12pm"}
//			postalCodes: ["65719"]
//			municipalityKeys: ["06436099"]
//		}
//	}
//
// Paths are relative to the installation directory. Every office a
// tenant's services route to must be in the tenant's offices (Check);
// citizens see the office's name and address, never its id. The back
// office extends the same package with staff.
type Installation struct {
	Dir string
	// Tenants in the order they are declared; the first is the default.
	Tenants []TenantConfig
	// Packages maps CUE import paths to directories: a service loaded
	// under this installation can import them (see LoadDirPackages).
	Packages map[string]string
}

// TenantConfig is one tenant of an installation.
type TenantConfig struct {
	ID   string
	Name Text
	// AGS is the Amtlicher Gemeindeschlüssel, 8 digits (Land, Regierungsbezirk,
	// Kreis, Gemeinde: 06436008 is Kelkheim (Taunus)); "" when not declared.
	AGS string
	// Contact is how citizens reach the tenant; nil when not declared.
	Contact  *Contact
	Services []string // absolute service directories
	// Offices are the tenant's offices by id; nil when the tenant was
	// not read from an installation directory (serve --specs).
	Offices map[string]*Office
	// Deliveries bind the destinations of the tenant's services (delivery_spec.go).
	Deliveries map[string]*DeliveryBinding
	// OIDC configures staff sign-in through the tenant's OpenID
	// provider; nil for local accounts only (see OIDCConfig).
	OIDC *OIDCConfig
}

// OIDCConfig is a tenant's OpenID Connect provider for staff sign-in
// (engine/staff), e.g. a Keycloak realm:
//
//	oidc: {
//		issuer:          "https://login.musterstadt.example/realms/verwaltung"
//		clientID:        "amtsform"
//		clientSecretEnv: "AMTSFORM_OIDC_MUSTERSTADT_SECRET"
//		claims: ["realm_access.roles", "resource_access.amtsform.roles", "groups"]
//		roles: {"amtsform-admin": "admin", "sachbearbeitung": "caseworker", "revision": "auditor"}
//		offices: {"/aemter/jugendamt": ["jugendamt-main-taunus"]}
//	}
//
// The client secret is never written in the directory: ClientSecretEnv
// names the environment variable holding it.
type OIDCConfig struct {
	Issuer          string `json:"issuer"`
	ClientID        string `json:"clientID"`
	ClientSecretEnv string `json:"clientSecretEnv,omitempty"`
	// Scopes requested; default openid, profile, email.
	Scopes []string `json:"scopes,omitempty"`
	// RedirectURL overrides the callback URL the server derives from its
	// public URL.
	RedirectURL string `json:"redirectURL,omitempty"`
	// Claims are the claims (dotted paths into the ID token and, with
	// Userinfo, the userinfo response) whose values Roles and Offices
	// map; default realm_access.roles, resource_access.<clientID>.roles
	// and groups.
	Claims []string `json:"claims,omitempty"`
	// Roles maps a claim value to an Amtsform role; Offices maps a claim
	// value to offices of the tenant.
	Roles   map[string]string   `json:"roles,omitempty"`
	Offices map[string][]string `json:"offices,omitempty"`
	// Userinfo also reads the claims from the userinfo endpoint.
	Userinfo bool `json:"userinfo,omitempty"`
}

// Office is an office of a tenant's directory: what citizens see of the
// office a submission was routed to.
type Office struct {
	ID      string   `json:"id"`
	Name    Text     `json:"name"`
	Address *Address `json:"address,omitempty"`
	Email   string   `json:"email,omitempty"`
	Phone   string   `json:"phone,omitempty"`
	// Hours are the opening hours, as text.
	Hours *Text `json:"hours,omitempty"`
	// PostalCodes and MunicipalityKeys (AGS) are the area the office
	// serves; empty when not declared.
	PostalCodes      []string `json:"postalCodes,omitempty"`
	MunicipalityKeys []string `json:"municipalityKeys,omitempty"`
}

// Contact is how citizens reach a tenant.
type Contact struct {
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Web is the tenant's website (http or https).
	Web string `json:"web,omitempty"`
}

// Address is a postal address.
type Address struct {
	Street      string `json:"street"`
	HouseNumber string `json:"houseNumber"`
	PostalCode  string `json:"postalCode"`
	City        string `json:"city"`
}

const installationSchema = `
#ID: =~"^[a-z][a-z0-9-]{0,62}$"
packages?: [=~"^[a-z0-9.-]+(/[A-Za-z0-9._-]+)+$"]: string
#Text: {de!: string & =~"\\S", en!: string & =~"\\S"}
#Email: =~"^[^@\\s]+@[^@\\s]+$"
#Phone: =~"^\\+?[0-9][0-9 ()/-]{3,}[0-9]$"
#PostalCode: =~"^[0-9]{5}$"
// The Amtlicher Gemeindeschlüssel: 8 digits, the first two a Land (01–16).
#AGS: =~"^(0[1-9]|1[0-6])[0-9]{6}$"
tenants!: [#ID]: {
	name!: #Text
	ags?: #AGS
	contact?: {
		email?: #Email
		phone?: #Phone
		web?: =~"^https?://[^\\s]+$"
	}
	services!: [...string]
	offices!: [#ID]: {
		name!: #Text
		address?: {street!: string, houseNumber!: string, postalCode!: #PostalCode, city!: string}
		email?: #Email
		phone?: #Phone
		hours?: #Text
		postalCodes?: [...#PostalCode]
		municipalityKeys?: [...#AGS]
	}
	oidc?: {
		issuer!: =~"^https?://[^\\s]+$"
		clientID!: string & =~"\\S"
		clientSecretEnv?: =~"^[A-Za-z_][A-Za-z0-9_]*$"
		scopes?: [...string]
		redirectURL?: =~"^https?://[^\\s]+$"
		claims?: [...string]
		roles?: [string]: "admin" | "caseworker" | "auditor"
		offices?: [string]: [...#ID]
		userinfo?: bool
	}
	deliveries?: [#ID]: #DeliveryBinding
}
`

// IsInstallation reports whether dir holds a CUE package named
// "installation".
func IsInstallation(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cue"))
	for _, f := range files {
		if packageName(f) == "installation" {
			return true
		}
	}
	return false
}

var packageClause = regexp.MustCompile(`^package\s+([A-Za-z_][A-Za-z0-9_]*)`)

func packageName(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := packageClause.FindStringSubmatch(strings.TrimSpace(sc.Text())); m != nil {
			return m[1]
		}
	}
	return ""
}

// LoadInstallation reads an installation directory. Problems are
// reported as a *CheckError with positions.
func LoadInstallation(dir string) (*Installation, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	insts := load.Instances([]string{"."}, &load.Config{Dir: abs, ModuleRoot: abs, Overlay: map[string]load.Source{
		filepath.Join(abs, "cue.mod", "module.cue"): load.FromString("module: \"amtsform.local/installation\"\nlanguage: version: \"v0.17.0\"\n"),
		filepath.Join(abs, schemaFile):              load.FromString("package installation\n" + installationSchema + deliveryBindingSchema),
	}})
	if len(insts) != 1 || insts[0].Err != nil {
		if len(insts) == 1 {
			return nil, installationProblems(cue.Value{}, insts[0].Err)
		}
		return nil, fmt.Errorf("%s: expected one CUE package", dir)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Err(); err != nil {
		// every problem, not only the first
		if all := v.Validate(cue.All()); all != nil {
			err = all
		}
		return nil, installationProblems(v, err)
	}
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, installationProblems(v, err)
	}
	in := &Installation{Dir: abs, Packages: map[string]string{}}
	var pk map[string]string
	if p := v.LookupPath(cue.ParsePath("packages")); p.Exists() {
		if err := p.Decode(&pk); err != nil {
			return nil, checkErrorFromCUE(err)
		}
	}
	for ip, d := range pk {
		in.Packages[ip] = filepath.Join(abs, filepath.FromSlash(d))
	}
	it, err := v.LookupPath(cue.ParsePath("tenants")).Fields()
	if err != nil {
		return nil, checkErrorFromCUE(err)
	}
	for it.Next() {
		var t struct {
			Name     Text                        `json:"name"`
			AGS      string                      `json:"ags"`
			Contact  *Contact                    `json:"contact"`
			Services []string                    `json:"services"`
			Offices  map[string]*Office          `json:"offices"`
			OIDC     *OIDCConfig                 `json:"oidc"`
			Delivery map[string]*DeliveryBinding `json:"deliveries"`
		}
		if err := it.Value().Decode(&t); err != nil {
			return nil, checkErrorFromCUE(err)
		}
		tc := TenantConfig{ID: it.Selector().String(), Name: t.Name, AGS: t.AGS, Contact: t.Contact, Offices: t.Offices, OIDC: t.OIDC, Deliveries: t.Delivery}
		resolveBindings(abs, tc.Deliveries)
		if err := checkOIDCOffices(it.Value(), tc.ID, t.OIDC, t.Offices); err != nil {
			return nil, err
		}
		if tc.Offices == nil {
			tc.Offices = map[string]*Office{}
		}
		for id, o := range tc.Offices {
			o.ID = id
		}
		for _, s := range t.Services {
			tc.Services = append(tc.Services, filepath.Join(abs, filepath.FromSlash(s)))
		}
		in.Tenants = append(in.Tenants, tc)
	}
	if len(in.Tenants) == 0 {
		return nil, fmt.Errorf("%s: the installation declares no tenants", dir)
	}
	return in, nil
}

// installationProblems turns CUE's errors for an installation into
// problems at the operator's lines, naming the path: a missing field is
// reported at the struct that lacks it, not in the schema.
func installationProblems(v cue.Value, err error) *CheckError {
	ce := &CheckError{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		path := e.Path()
		p := Problem{Code: "installation", Path: strings.Join(path, "."), Message: readable(fmt.Sprintf(format, args...))}
		if p.Path != "" {
			p.Message = p.Path + ": " + p.Message
		}
		for _, q := range append([]token.Pos{e.Position()}, cueerrors.Positions(e)...) {
			if q.IsValid() && !strings.HasSuffix(q.Filename(), schemaFile) {
				p.Pos = Pos{File: q.Filename(), Line: q.Line(), Col: q.Column()}
				break
			}
		}
		for i := len(path); p.Pos.File == "" && i >= 0; i-- {
			sels := make([]cue.Selector, 0, i)
			for _, x := range path[:i] {
				sels = append(sels, cue.Str(x))
			}
			if q, ok := operatorPos(v.LookupPath(cue.MakePath(sels...))); ok {
				p.Pos = q
			}
		}
		ce.Problems = append(ce.Problems, p)
	}
	return ce
}

// readableBounds are the schema's patterns, as people read them.
var readableBounds = strings.NewReplacer(
	`(out of bound =~"^(0[1-9]|1[0-6])[0-9]{6}$")`, "(not an Amtlicher Gemeindeschlüssel: 8 digits, the first two a Land from 01 to 16, e.g. 06436008)",
	`(out of bound =~"^[0-9]{5}$")`, "(not a postal code: 5 digits)",
	`(out of bound =~"^\\+?[0-9][0-9 ()/-]{3,}[0-9]$")`, "(not a phone number: digits, spaces, ( ) / -, optionally a leading +)",
	`(out of bound =~"^[^@\\s]+@[^@\\s]+$")`, "(not an e-mail address)",
	`(out of bound =~"^https?://[^\\s]+$")`, "(not an http or https address)",
)

func readable(msg string) string { return readableBounds.Replace(msg) }

// operatorPos returns the position of a value in the operator's files:
// its own, or that of one of its conjuncts.
func operatorPos(x cue.Value) (Pos, bool) {
	if !x.Exists() {
		return Pos{}, false
	}
	cands := []cue.Value{x}
	if op, vals := x.Expr(); op == cue.AndOp {
		cands = append(cands, vals...)
	}
	for _, c := range cands {
		if q := c.Pos(); q.IsValid() && !strings.HasSuffix(q.Filename(), schemaFile) {
			return Pos{File: q.Filename(), Line: q.Line(), Col: q.Column()}, true
		}
	}
	return Pos{}, false
}

// schemaFile is the name under which the installation schema is placed
// beside the operator's files.
const schemaFile = "zz_schema_amtsform.cue"

// ServiceDirs returns every service directory of the installation, once,
// in a stable order.
func (in *Installation) ServiceDirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range in.Tenants {
		for _, d := range t.Services {
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Load compiles every service of the installation. It returns the
// services that compiled, by directory, and the problems of the others
// joined in one error.
func (in *Installation) Load() (map[string]*Service, error) {
	out := map[string]*Service{}
	var errs []error
	for _, d := range in.ServiceDirs() {
		s, err := LoadPackages(d, in.Packages)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
			continue
		}
		out[d] = s
	}
	return out, errors.Join(errs...)
}

// Check reports what is wrong between the installation and the services
// it offers (svcs by directory, as Load returns them), by service
// directory: a route to an office that is not in the directory of a
// tenant offering the service is a problem at the route's position.
func (in *Installation) Check(svcs map[string]*Service) map[string][]Problem {
	out := map[string][]Problem{}
	for _, t := range in.Tenants {
		if t.Offices == nil {
			continue
		}
		ids := make([]string, 0, len(t.Offices))
		for id := range t.Offices {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, d := range t.Services {
			s, ok := svcs[d]
			if !ok {
				continue
			}
			out[d] = append(out[d], checkBindings(&t, s)...)
			for _, r := range s.routes {
				if _, ok := t.Offices[r.to]; !ok {
					out[d] = append(out[d], Problem{Pos: r.pos, Path: "routing", Code: "unknownOffice",
						Message: fmt.Sprintf("routing: office %q is not in the directory of tenant %s (its offices: %s)", r.to, t.ID, strings.Join(ids, ", "))})
				}
			}
		}
	}
	return out
}

// CheckError returns the problems of Check as one *CheckError, or nil.
func (in *Installation) CheckError(svcs map[string]*Service) error {
	ce := &CheckError{}
	for _, ps := range in.Check(svcs) {
		ce.Problems = append(ce.Problems, ps...)
	}
	if len(ce.Problems) == 0 {
		return nil
	}
	return ce
}

// Tenant returns the tenant with the given id, or nil.
func (in *Installation) Tenant(id string) *TenantConfig {
	for i := range in.Tenants {
		if in.Tenants[i].ID == id {
			return &in.Tenants[i]
		}
	}
	return nil
}

// checkOIDCOffices reports an OIDC office mapping to an office that is
// not in the tenant's directory.
func checkOIDCOffices(tv cue.Value, tenant string, c *OIDCConfig, offices map[string]*Office) error {
	if c == nil {
		return nil
	}
	ce := &CheckError{}
	keys := make([]string, 0, len(c.Offices))
	for k := range c.Offices {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, o := range c.Offices[k] {
			if _, ok := offices[o]; ok {
				continue
			}
			p := Problem{Code: "unknownOffice", Path: "tenants." + tenant + ".oidc.offices",
				Message: fmt.Sprintf("tenants.%s.oidc.offices: claim value %q maps to office %q, which is not in the directory of tenant %s", tenant, k, o, tenant)}
			if q, ok := operatorPos(tv.LookupPath(cue.MakePath(cue.Str("oidc"), cue.Str("offices"), cue.Str(k)))); ok {
				p.Pos = q
			}
			ce.Problems = append(ce.Problems, p)
		}
	}
	if len(ce.Problems) == 0 {
		return nil
	}
	return ce
}
