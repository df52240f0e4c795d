package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeInstallation(t *testing.T, oidc string) string {
	t.Helper()
	dir := t.TempDir()
	src := `package installation

tenants: musterstadt: {
	name: {de: "Musterstadt", en: "Musterstadt"}
	services: []
	offices: jugendamt: name: {de: "Jugendamt", en: "Youth office"}
` + oidc + `
}
`
	if err := os.WriteFile(filepath.Join(dir, "installation.cue"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestInstallationOIDC(t *testing.T) {
	in, err := LoadInstallation(writeInstallation(t, `
	oidc: {
		issuer: "https://login.musterstadt.example/realms/verwaltung"
		clientID: "amtsform"
		clientSecretEnv: "AMTSFORM_OIDC_SECRET"
		claims: ["realm_access.roles", "groups"]
		roles: {"amtsform-admin": "admin", sachbearbeitung: "caseworker"}
		offices: {"/aemter/jugendamt": ["jugendamt"]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	c := in.Tenant("musterstadt").OIDC
	if c == nil || c.Issuer != "https://login.musterstadt.example/realms/verwaltung" || c.ClientID != "amtsform" ||
		c.ClientSecretEnv != "AMTSFORM_OIDC_SECRET" || c.Roles["sachbearbeitung"] != "caseworker" ||
		strings.Join(c.Offices["/aemter/jugendamt"], ",") != "jugendamt" || strings.Join(c.Claims, ",") != "realm_access.roles,groups" {
		t.Errorf("OIDC = %+v", c)
	}
	in, err = LoadInstallation(writeInstallation(t, ""))
	if err != nil || in.Tenant("musterstadt").OIDC != nil {
		t.Errorf("without oidc: %v, %+v", err, in)
	}
	for _, tc := range []struct{ oidc, want string }{
		{`oidc: {issuer: "https://x.example", clientID: "a", roles: {x: "root"}}`, "oidc.roles.x"},
		{`oidc: {issuer: "ftp://x.example", clientID: "a"}`, "oidc.issuer"},
		{`oidc: {clientID: "a"}`, "issuer"},
		{`oidc: {issuer: "https://x.example", clientID: "a", clientSecretEnv: "not a name"}`, "clientSecretEnv"},
		{`oidc: {issuer: "https://x.example", clientID: "a", offices: {g: ["nowhere"]}}`, `claim value "g" maps to office "nowhere", which is not in the directory of tenant musterstadt`},
	} {
		_, err := LoadInstallation(writeInstallation(t, tc.oidc))
		var ce *CheckError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a problem naming %s", tc.oidc, err, tc.want)
			continue
		}
		for _, p := range ce.Problems {
			if !strings.HasSuffix(p.Pos.File, "installation.cue") {
				t.Errorf("%s: problem at %+v, want the operator's file", tc.oidc, p.Pos)
			}
		}
	}
}
