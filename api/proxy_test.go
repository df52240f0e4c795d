package api

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/mail/smtptest"
)

// TestTrustedProxies: behind a trusted proxy the rate limits count the
// client X-Forwarded-For names (read from the right, so that what the
// client wrote itself does not count); from any other peer the header
// is ignored.
func TestTrustedProxies(t *testing.T) {
	if _, err := New(Config{Intake: newTestServer(t).intake, TrustedProxies: []string{"proxy.example"}}); err == nil {
		t.Error("a trusted proxy that is no address accepted")
	}
	post := func(ts *testServer, xff ...string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", ts.URL(t)+"/api/v1/"+testTenant+"/services/kita-gebuehren/drafts", nil)
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	behind := newTestServer(t, withConfig(func(c *Config) { c.DraftRate, c.TrustedProxies = 1, []string{"10.0.0.0/8", "127.0.0.1"} }))
	for _, tc := range []struct {
		xff  []string
		want int
	}{
		{[]string{"203.0.113.1"}, 201},
		{[]string{"203.0.113.1"}, 429},
		{[]string{"203.0.113.2"}, 201},                           // another citizen
		{[]string{"198.51.100.7, 203.0.113.1"}, 429},             // a client's own entry is not believed
		{[]string{"198.51.100.7", "203.0.113.1, 10.1.2.3"}, 429}, // two proxies, two headers
		{[]string{"203.0.113.3, 10.1.2.3"}, 201},
	} {
		if got := post(behind, tc.xff...); got != tc.want {
			t.Errorf("trusted peer, X-Forwarded-For %q: %d, want %d", tc.xff, got, tc.want)
		}
	}
	direct := newTestServer(t, withConfig(func(c *Config) { c.DraftRate = 1 }))
	if got := post(direct, "203.0.113.1"); got != 201 {
		t.Fatalf("first: %d", got)
	}
	if got := post(direct, "203.0.113.2"); got != 429 {
		t.Errorf("untrusted peer with another X-Forwarded-For: %d, want 429", got)
	}
}

// TestResumeMailLimitPerClient: the resume mail's limit per client
// counts the address a trusted proxy forwards, so that citizens behind
// the proxy do not share one budget; from another peer the header is
// ignored. With a submit rate of 4 a client may ask for one mail per ten
// minutes (each for another draft, which has a limit of its own).
func TestResumeMailLimitPerClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		want    []int // for clients A, A, B
	}{
		{"trusted proxy", []string{"127.0.0.0/8"}, []int{200, 429, 200}},
		{"untrusted peer", nil, []int{200, 429, 429}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, _, _ := mailServer(t, smtptest.Options{}, "", func(c *Config) { c.SubmitRate, c.TrustedProxies = 4, tc.trusted })
			for i, client := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2"} {
				b, _, saved := savedPageOf(t, ts)
				form := vals("_csrf", b.get(saved).csrfOr(t, b), "email", "anna.schaefer@example.org")
				req, _ := http.NewRequest("POST", b.abs(saved), strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", client)
				if p := b.do(req); p.status != tc.want[i] {
					t.Errorf("mail %d from %s: %d, want %d", i+1, client, p.status, tc.want[i])
				}
			}
		})
	}
}

// TestProxyOriginAndTLS: with a public URL, form posts are checked
// against it even when the proxy rewrites Host; cookies are Secure and
// HSTS is sent when the request came over https (as a trusted proxy
// says) or the public URL is https, never because an untrusted client
// says so.
func TestProxyOriginAndTLS(t *testing.T) {
	start := "/" + testTenant + "/kita-gebuehren/"
	check := func(ts *testServer, name string, secure bool, headers ...string) {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL(t)+start, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ck := strings.ToLower(strings.Join(resp.Header.Values("Set-Cookie"), "\n"))
		if ck == "" || strings.Contains(ck, "; secure") != secure {
			t.Errorf("%s: Set-Cookie %q, want secure %v", name, ck, secure)
		}
		if hsts := resp.Header.Get("Strict-Transport-Security"); (hsts != "") != secure {
			t.Errorf("%s: Strict-Transport-Security %q", name, hsts)
		}
	}
	proxied := newTestServer(t, withConfig(func(c *Config) { c.TrustedProxies = []string{"127.0.0.0/8"} }))
	check(proxied, "plain http", false)
	check(proxied, "https at the trusted proxy", true, "X-Forwarded-Proto", "https")
	direct := newTestServer(t)
	check(direct, "X-Forwarded-Proto from an untrusted peer", false, "X-Forwarded-Proto", "https")

	public := newTestServer(t, withConfig(func(c *Config) { c.PublicURL = "https://formulare.stadt.example/" }))
	check(public, "https public URL", true)
	b := newBrowser(t, public.URL(t))
	p := b.get(start)
	// The cookie is Secure: a client would send it over https only.
	var csrfCookie string
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == "af_csrf" {
			csrfCookie = c.Name + "=" + c.Value
		}
	}
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://formulare.stadt.example", 200},
		{"https://FORMULARE.stadt.example:443", 200},
		{"http://formulare.stadt.example", 403},
		{"https://evil.example", 403},
		{"http://backend:8080", 403}, // the Host the proxy sends is not the site
	} {
		req, _ := http.NewRequest("POST", b.abs(p.action(t)), strings.NewReader(vals("_csrf", p.csrf(t)).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Cookie", csrfCookie)
		req.Host = "backend:8080"
		if r := b.do(req); r.status != tc.want {
			t.Errorf("Origin %s with Host backend:8080: %d, want %d", tc.origin, r.status, tc.want)
		}
	}
}

// TestContentLengthFraming: requests with two Content-Length headers,
// equal or not, or with Content-Length and Transfer-Encoding, are
// refused with 400.
func TestContentLengthFraming(t *testing.T) {
	ts := newTestServer(t)
	addr := strings.TrimPrefix(ts.URL(t), "http://")
	head := "POST /api/v1/" + testTenant + "/services/kita-gebuehren/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
	for _, tc := range []struct {
		name, raw string
		want      string
	}{
		{"one", head + "Content-Length: 2\r\n\r\n{}", "200"},
		{"two equal", head + "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}", "400"},
		{"two different", head + "Content-Length: 5\r\ncontent-length: 2\r\n\r\n{}   ", "400"},
		{"a list", head + "Content-Length: 2, 2\r\n\r\n{}", "400"},
		{"and chunked", head + "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "400"},
		{"chunked", head + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", "200"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(tc.raw)); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 "+tc.want) {
			t.Errorf("%s: %q, want %s", tc.name, line, tc.want)
		}
	}
}
