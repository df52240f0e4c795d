package httpx

import (
	"bytes"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Proxies are the reverse proxies (TLS terminators, load balancers)
// trusted to say who the client is. Only a request whose peer is one of
// them has its X-Forwarded-For read (and, through Fiber's trusted proxy
// check, X-Forwarded-Proto and X-Forwarded-Host); from anyone else these
// headers are ignored.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads addresses and CIDR ranges (10.0.0.5, 10.0.0.0/8,
// fd00::/8).
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if pf, err := netip.ParsePrefix(s); err == nil {
			p.prefixes = append(p.prefixes, pf.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Proxies{}, fmt.Errorf("trusted proxy %q: not an address or CIDR range", s)
		}
		a = a.Unmap()
		p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

// Trusted reports whether a is one of the proxies.
func (p Proxies) Trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pf := range p.prefixes {
		if pf.Contains(a) {
			return true
		}
	}
	return false
}

// Client is the client's address: the peer's, unless the peer is a
// trusted proxy; then the last address in X-Forwarded-For that is not a
// trusted proxy (read from the right: each proxy appends the address it
// saw, so what stands left of the last trusted proxy's entry is what the
// client wrote itself and proves nothing).
func (p Proxies) Client(c *fiber.Ctx) string {
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return c.Context().RemoteIP().String()
	}
	peer = peer.Unmap()
	if len(p.prefixes) == 0 || !p.Trusted(peer) {
		return peer.String()
	}
	var hops []string
	c.Request().Header.VisitAll(func(k, v []byte) {
		if bytes.EqualFold(k, []byte(fiber.HeaderXForwardedFor)) {
			hops = append(hops, strings.Split(string(v), ",")...)
		}
	})
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // not written by a proxy we trust: stop at what we know
		}
		client = a.Unmap()
		if !p.Trusted(client) {
			break
		}
	}
	return client.String()
}

const clientKey = "httpx.client"

// ClientAddr is middleware that determines the client's address once
// (Client) for ByClient.
func (p Proxies) ClientAddr() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(clientKey, p.Client(c))
		return c.Next()
	}
}

// IsHTTPS reports whether the request reached the site over TLS: its own
// connection, or a trusted proxy's X-Forwarded-Proto: https.
func IsHTTPS(c *fiber.Ctx) bool {
	return c.Protocol() == "https"
}

// OriginOf returns the origin (scheme://host[:port], lower case, without
// the default port) of a base URL such as the site's public URL; "" if
// it is none.
func OriginOf(base string) string {
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host
}

// OneContentLength is middleware refusing (400) requests with more than
// one Content-Length header, or with Content-Length and
// Transfer-Encoding both: framing that a proxy in front may read
// differently than this server does (request smuggling). fasthttp uses
// the last Content-Length and refuses lists ("2, 2") itself.
func OneContentLength(c *fiber.Ctx) error {
	n, te := 0, false
	raw := c.Request().Header.RawHeaders()
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		name = bytes.TrimSpace(name)
		switch {
		case bytes.EqualFold(name, []byte(fiber.HeaderContentLength)):
			n++
		case bytes.EqualFold(name, []byte(fiber.HeaderTransferEncoding)):
			te = true
		}
	}
	if n > 1 {
		return fiber.NewError(fiber.StatusBadRequest, "more than one Content-Length header")
	}
	if n == 1 && te {
		return fiber.NewError(fiber.StatusBadRequest, "both Content-Length and Transfer-Encoding")
	}
	return c.Next()
}
