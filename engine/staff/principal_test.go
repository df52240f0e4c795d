package staff

import (
	"strings"
	"testing"
	"time"
)

// A Principal built by hand (as the back office's and staff API's tests
// do) sees its office deputies too.
func TestPrincipalByHand(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	p := &Principal{User: &User{ID: "erika", Roles: []string{"caseworker"}, Offices: []string{"jugendamt"},
		Deputies: []Deputy{{Office: "standesamt", From: day(3), Until: day(10)}, {User: "max", From: day(1)}}}, SessionID: "s", CSRF: "c"}
	if got := strings.Join(p.EffectiveOffices(day(5)), ","); got != "jugendamt,standesamt" {
		t.Errorf("EffectiveOffices = %s", got)
	}
	if got := strings.Join(p.EffectiveOffices(day(10)), ","); got != "jugendamt" {
		t.Errorf("EffectiveOffices after the period = %s", got)
	}
	if got := strings.Join(p.StandsInFor(day(5)), ","); got != "max" {
		t.Errorf("StandsInFor = %s", got)
	}
	if !p.HasRole("caseworker") || p.HasRole("admin") || !p.CheckCSRF("c") || p.CheckCSRF("d") {
		t.Error("roles or CSRF")
	}
	tok := &Principal{User: &User{ID: "token:x"}, TokenID: "x"}
	if !tok.CheckCSRF("") {
		t.Error("a token principal needs no CSRF token")
	}
}
