package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// boFuzzRoutes are the case actions FuzzBackofficeActions posts to.
// Sign-out is left out: it would end the session the later iterations
// post with.
var boFuzzRoutes = []string{"claim", "assign", "transition", "note", "schedule", "documents", "retry"}

// FuzzBackofficeActions posts arbitrary form bodies to the case actions
// of the back office, on the whole server (api.New with casework, staff
// sign-in and the audit log on the embedded store) over loopback HTTP,
// as a signed-in caseworker of the case's office with the session's
// CSRF token. route picks the action (modulo their number); in body,
// {version} stands for the case's current version. Whatever comes in,
// nothing may panic, no answer may be a 5xx, every error is the back
// office's HTML page (or a problem document), no redirect leaves the
// back office, and the submission is never lost: it can still be read,
// with the data the citizen sent. Every note, comment and message its
// history holds is plain text (valid UTF-8, no control character but
// line feed and tab), whatever the form carried.
//
// One server serves every iteration, so the case moves on as the
// fuzzer's actions succeed: a failure may depend on what the iterations
// before it did, and its input replays on a fresh case.
func FuzzBackofficeActions(f *testing.F) {
	st := newBackofficeStack(f)
	const office = "jugendamt-main-taunus"
	st.addUser(f, "anna.a", "Anna Arendt", []string{office})
	st.addUser(f, "bernd.b", "Bernd Brandt", []string{office})
	ref, data := boFuzzSubmit(f, st, office)
	client, token := boFuzzSignIn(f, st, "anna.a", ref)

	long := strings.Repeat("Ä", 4001)
	seeds := map[string][]string{
		"claim":  {"version={version}", "version=-1", "version=99999999999999999999", "version={version}&version=1", "version=%zz", "version="},
		"assign": {"version={version}&to=bernd.b", "version={version}&to=", "version={version}&to=zora", "version={version}&to=anna.a&to=bernd.b"},
		"transition": {"version={version}&transition=pruefen", "version={version}&transition=zurueckziehen&comment=Antrag+zur%C3%BCckgenommen",
			"version={version}&transition=bewilligen", "version={version}&transition=nachfordern", "version={version}&transition=",
			"version={version}&transition=vorbereiten&comment=" + url.QueryEscape(long), "version={version}&transition=%FF%FE&comment=%E4%F6%FC"},
		"note": {"text=R%C3%BCckruf+vereinbart", "text=", "text=+%0D%0A+", "text=" + url.QueryEscape(long), "text=%00%01%02", "text=a&text=b"},
		"schedule": {"version={version}&due=2026-12-31&followUp=&priority=1", "version={version}&due=31.12.2026&followUp=2026-12-24&priority=2",
			"version={version}&due=2026-02-30&followUp=0000-01-01&priority=3", "version={version}&due=9999-12-31&priority=-1"},
		"documents": {"version={version}&fields=incomeProof&message=Bitte+reichen+Sie+den+Einkommensnachweis+ein.&deadline=2099-12-20",
			"version={version}&fields=incomeProof&fields=nope&message=x&deadline=31.12.2099", "version={version}&message=&deadline=2026-11-30",
			"version={version}&fields=applicant.givenName&message=%C3%A4&deadline=2099-01-01"},
		"retry": {"destination=fachverfahren", "destination=", "destination=%2E%2E%2Ffachverfahren"},
	}
	for i, r := range boFuzzRoutes {
		for _, body := range seeds[r] {
			f.Add(uint8(i), body)
		}
	}
	f.Add(uint8(2), "version={version}&transition=pruefen&_csrf=forged")
	f.Add(uint8(4), "version={version}&due=2026-12-31&due=2027-01-01&priority=1&%=%&==&&")

	ctx := context.Background()
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		before, err := st.store.GetSubmission(ctx, testTenant, ref)
		if err != nil {
			t.Fatalf("read %s before: %v", ref, err)
		}
		body = strings.ReplaceAll(body, "{version}", strconv.FormatInt(before.Version, 10))
		path := "/backoffice/cases/" + ref + "/" + boFuzzRoutes[int(route)%len(boFuzzRoutes)]
		req, err := http.NewRequest(http.MethodPost, st.base+path, strings.NewReader("_csrf="+url.QueryEscape(token)+"&"+body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", st.base)
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		ct := res.Header.Get("Content-Type")
		switch {
		case res.StatusCode >= 500:
			t.Fatalf("POST %s %q: status %d\n%.2000s", path, body, res.StatusCode, b)
		case res.StatusCode >= 300 && res.StatusCode < 400:
			if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/backoffice/") {
				t.Fatalf("POST %s %q: status %d redirects off the back office to %q", path, body, res.StatusCode, loc)
			}
		case strings.HasPrefix(ct, "text/html"):
			if !strings.Contains(string(b), "<html") {
				t.Fatalf("POST %s %q: status %d, not a page\n%.2000s", path, body, res.StatusCode, b)
			}
		case ct == "application/problem+json":
			var p struct{ Status int }
			if json.Unmarshal(b, &p) != nil || p.Status != res.StatusCode {
				t.Fatalf("POST %s %q: status %d, not a problem document\n%.2000s", path, body, res.StatusCode, b)
			}
		default:
			t.Fatalf("POST %s %q: status %d answers %q\n%.2000s", path, body, res.StatusCode, ct, b)
		}
		after, err := st.store.GetSubmission(ctx, testTenant, ref)
		if err != nil {
			t.Fatalf("POST %s %q (status %d): the submission is gone: %v", path, body, res.StatusCode, err)
		}
		if got, _ := json.Marshal(after.Data); string(got) != data {
			t.Fatalf("POST %s %q (status %d): the submission's data changed", path, body, res.StatusCode)
		}
		evs, err := st.store.Events(ctx, testTenant, ref)
		if err != nil {
			t.Fatalf("POST %s %q: events: %v", path, body, err)
		}
		for _, e := range evs {
			for _, k := range []string{"text", "comment", "message"} {
				if v, ok := e.Data[k].(string); ok && !plainStored(v) {
					t.Fatalf("POST %s %q (status %d): the %s event stored the %s %q", path, body, res.StatusCode, e.Type, k, v)
				}
			}
		}
	})
}

// plainStored reports whether s is the plain text casework stores:
// valid UTF-8 without control characters other than line feed and tab.
func plainStored(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

// boFuzzSubmit hands in a Kita application through the JSON API, routed
// to office, and returns its reference and its stored data as JSON.
func boFuzzSubmit(t testing.TB, st *boStack, office string) (string, string) {
	t.Helper()
	resp := st.do(t, "POST", "/api/v1/"+testTenant+"/services/kita-gebuehren/submissions", kitaDoc()) // Hofheim
	defer resp.Body.Close()
	var sub submissionJSON
	if err := json.NewDecoder(resp.Body).Decode(&sub); err != nil || resp.StatusCode != http.StatusCreated || sub.Office != office {
		t.Fatalf("submit: %d, office %q, %v", resp.StatusCode, sub.Office, err)
	}
	stored, err := st.store.GetSubmission(context.Background(), testTenant, sub.Reference)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(stored.Data)
	if err != nil {
		t.Fatal(err)
	}
	return sub.Reference, string(data)
}

// boFuzzSignIn signs user in at the sign-in form and returns a client
// holding the session cookie, which does not follow redirects, and the
// CSRF token the forms of the case page ref carry.
func boFuzzSignIn(t testing.TB, st *boStack, user, ref string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) string {
		res, err := c.Get(st.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, b)
		}
		return string(b)
	}
	csrf := func(body string) string {
		m := csrfRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no CSRF token in\n%s", body)
		}
		return m[1]
	}
	form := url.Values{"_csrf": {csrf(get("/backoffice/login"))}, "next": {"/backoffice/"},
		"username": {user}, "password": {user + "-password-123"}}
	req, _ := http.NewRequest(http.MethodPost, st.base+"/backoffice/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", st.base)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d", user, res.StatusCode)
	}
	return c, csrf(get("/backoffice/cases/" + ref))
}
