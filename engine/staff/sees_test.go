package staff

import (
	"context"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// TestSees is the table of who sees an office's cases, and so may be
// given one.
func TestSees(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	users := map[string]*User{
		"max":  {ID: "max", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: []string{"standesamt"}},
		"gone": {ID: "gone", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: []string{"standesamt"}, Disabled: true},
		"ext":  {ID: "ext", Tenant: "of", Roles: []string{"caseworker"}, Offices: []string{"standesamt"}},
	}
	colleague := func(id string) *User { return users[id] }
	cw := func(offices []string, deputies ...Deputy) *User {
		return &User{ID: "erika", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: offices, Deputies: deputies}
	}
	for _, tc := range []struct {
		name   string
		u      *User
		office string
		want   bool
	}{
		{"own office", cw([]string{"jugendamt"}), "jugendamt", true},
		{"another office", cw([]string{"jugendamt"}), "standesamt", false},
		{"no office", cw([]string{"jugendamt"}), "", false},
		{"admin", &User{ID: "ada", Tenant: "ffm", Roles: []string{"admin", "caseworker"}}, "standesamt", true},
		{"disabled", &User{ID: "x", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: []string{"jugendamt"}, Disabled: true}, "jugendamt", false},
		{"office deputy in its period", cw(nil, Deputy{Office: "standesamt", From: day(1), Until: day(10)}), "standesamt", true},
		{"office deputy before its period", cw(nil, Deputy{Office: "standesamt", From: day(6)}), "standesamt", false},
		{"office deputy after its period", cw(nil, Deputy{Office: "standesamt", Until: day(5)}), "standesamt", false},
		{"person deputy", cw(nil, Deputy{User: "max"}), "standesamt", true},
		{"person deputy, another office", cw(nil, Deputy{User: "max"}), "jugendamt", false},
		{"person deputy of a disabled colleague", cw(nil, Deputy{User: "gone"}), "standesamt", false},
		{"person deputy of another tenant's user", cw(nil, Deputy{User: "ext"}), "standesamt", false},
		{"person deputy of an unknown user", cw(nil, Deputy{User: "who"}), "standesamt", false},
	} {
		if got := Sees(tc.u, tc.office, day(5), colleague); got != tc.want {
			t.Errorf("%s: Sees = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMayWork: only an enabled caseworker of the tenant who sees the
// office may be given its case; person deputies are looked up.
func TestMayWork(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	for _, u := range []record.User{
		{ID: "anna", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: []string{"jugendamt"}},
		{ID: "bert", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: []string{"standesamt"}, Deputies: []Deputy{{User: "anna"}}},
		{ID: "cora", Tenant: "ffm", Roles: []string{"auditor"}, Offices: []string{"jugendamt"}},
		{ID: "dina", Tenant: "ffm", Roles: []string{"caseworker"}, Offices: []string{"jugendamt"}, Disabled: true},
		{ID: "emil", Tenant: "of", Roles: []string{"caseworker"}, Offices: []string{"jugendamt"}},
		{ID: "ada", Tenant: "ffm", Roles: []string{"admin"}},
	} {
		if err := store.CreateStaffUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
	}
	st := New(store, Options{})
	for id, want := range map[string]bool{"anna": true, "bert": true, "cora": false, "dina": false, "emil": false, "ada": false, "nobody": false} {
		got, err := st.MayWork(ctx, "ffm", "jugendamt", id)
		if err != nil || got != want {
			t.Errorf("MayWork(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
}
