package backoffice

import "testing"

// TestSafeNext: after signing in, only back office paths that can go
// into a Location header as they are; everything else goes to the
// overview. The NUL case was found by FuzzSignIn: it made the redirect's
// Location header unreadable.
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ next, want string }{
		{"/backoffice/cases/KITA-2026-000001", "/backoffice/cases/KITA-2026-000001"},
		{"/backoffice/office/jugendamt-main-taunus?status=eingegangen&q=M%C3%BC", "/backoffice/office/jugendamt-main-taunus?status=eingegangen&q=M%C3%BC"},
		{"/backoffice/%2F%2Fevil.example", "/backoffice/%2F%2Fevil.example"},
		{"", "/backoffice/"},
		{"/backoffice", "/backoffice/"},
		{"https://evil.example/backoffice/", "/backoffice/"},
		{"//evil.example/backoffice/", "/backoffice/"},
		{"/\\evil.example/backoffice/", "/backoffice/"},
		{"/backoffice/\\evil", "/backoffice/"},
		{"/backoffice/login?next=//evil.example", "/backoffice/"},
		{"/backoffice/oidc/musterstadt/start", "/backoffice/"},
		{"/backoffice/\x00", "/backoffice/"},
		{"/backoffice/\t/evil.example", "/backoffice/"},
		{"/backoffice/\r\nLocation: //evil.example", "/backoffice/"},
		{"/backoffice/ x", "/backoffice/"},
		{"/backoffice/\x7f", "/backoffice/"},
		{"/backoffice/ä", "/backoffice/"},
		{"/musterstadt/", "/backoffice/"},
	} {
		if got := safeNext(tc.next); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
		}
	}
}
