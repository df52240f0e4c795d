package engine_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// TestInstallationDirectory reads the directory fields of the example
// installation: a tenant's Amtlicher Gemeindeschlüssel and contact, an
// office's phone, hours and the area it serves.
func TestInstallationDirectory(t *testing.T) {
	in, err := engine.LoadInstallation(filepath.Join("..", "examples", "installation"))
	if err != nil {
		t.Fatal(err)
	}
	k := in.Tenant("kelkheim")
	if k == nil || k.AGS != "06436008" {
		t.Fatalf("kelkheim: %+v", k)
	}
	if k.Contact == nil || k.Contact.Email == "" || k.Contact.Phone == "" || k.Contact.Web == "" {
		t.Errorf("kelkheim contact: %+v", k.Contact)
	}
	o := k.Offices["steueramt-kelkheim"]
	if o == nil || o.Phone == "" || o.Hours == nil || o.Email == "" || o.Address == nil {
		t.Fatalf("steueramt-kelkheim: %+v", o)
	}
	if !slices.Equal(o.PostalCodes, []string{"65779"}) || !slices.Equal(o.MunicipalityKeys, []string{"06436008"}) {
		t.Errorf("steueramt-kelkheim serves %v %v", o.PostalCodes, o.MunicipalityKeys)
	}
	m := in.Tenant("musterstadt")
	if m == nil || len(m.AGS) != 8 || m.AGS[:5] != "06436" {
		t.Errorf("musterstadt AGS %q", m.AGS)
	}
	if n := len(m.Offices["jugendamt-main-taunus"].MunicipalityKeys); n != 12 {
		t.Errorf("the district youth office serves %d municipalities, want the 12 of the Main-Taunus-Kreis", n)
	}
}
