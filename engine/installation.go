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
	"cuelang.org/go/cue/load"
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
//		services: ["../kita-gebuehren", "../hundesteuer"]
//	}
//
// Paths are relative to the installation directory. The back office
// extends the same package with offices and staff.
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
	ID       string
	Name     Text
	Services []string // absolute service directories
}

const installationSchema = `
#ID: =~"^[a-z][a-z0-9-]{0,62}$"
packages?: [=~"^[a-z0-9.-]+(/[A-Za-z0-9._-]+)+$"]: string
tenants!: [#ID]: {
	name!: {de!: string, en!: string}
	services!: [...string]
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
		filepath.Join(abs, "cue.mod", "module.cue"):  load.FromString("module: \"amtsform.local/installation\"\nlanguage: version: \"v0.17.0\"\n"),
		filepath.Join(abs, "zz_schema_amtsform.cue"): load.FromString("package installation\n" + installationSchema),
	}})
	if len(insts) != 1 || insts[0].Err != nil {
		if len(insts) == 1 {
			return nil, checkErrorFromCUE(insts[0].Err)
		}
		return nil, fmt.Errorf("%s: expected one CUE package", dir)
	}
	v := cuecontext.New().BuildInstance(insts[0])
	if err := v.Validate(cue.Concrete(true)); err != nil {
		return nil, checkErrorFromCUE(err)
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
			Name     Text     `json:"name"`
			Services []string `json:"services"`
		}
		if err := it.Value().Decode(&t); err != nil {
			return nil, checkErrorFromCUE(err)
		}
		tc := TenantConfig{ID: it.Selector().String(), Name: t.Name}
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
