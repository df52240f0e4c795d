// Package smtptest is a tiny in-process SMTP server for tests: it keeps
// every mail it is given, optionally offers STARTTLS (with a certificate
// made at start) and AUTH PLAIN, and can refuse recipients. It speaks just
// enough SMTP for a real client library; it is not a mail server.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Options choose what the server offers.
type Options struct {
	// StartTLS offers STARTTLS with a certificate for 127.0.0.1.
	StartTLS bool
	// ImplicitTLS speaks TLS from the first byte (smtps).
	ImplicitTLS bool
	// User and Password, when set, make AUTH PLAIN required before MAIL.
	User, Password string
	// RejectRcpt, when set, is the reply to every RCPT TO, e.g.
	// "550 5.1.1 mailbox unavailable" or "451 4.3.0 try again later".
	RejectRcpt string
}

// Message is one mail received.
type Message struct {
	From string
	To   []string
	Data []byte // as received, dot-unstuffed, CRLF line ends
	TLS  bool   // received over TLS
	Auth string // the user that authenticated, if any
}

// Server is a running test server.
type Server struct {
	opt  Options
	ln   net.Listener
	tlsc *tls.Config
	pool *x509.CertPool

	mu    sync.Mutex
	msgs  []Message
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and serves until the test ends.
func Start(t testing.TB, opt Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{opt: opt, ln: ln, conns: map[net.Conn]bool{}}
	if opt.StartTLS || opt.ImplicitTLS {
		if err := s.makeCert(); err != nil {
			t.Fatal(err)
		}
	}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			_ = c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the port listened on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// URL is an smtp:// (smtps:// with ImplicitTLS) URL for this server with
// the given sender: with tls=none unless the server offers TLS, with the
// credentials when it requires them.
func (s *Server) URL(from string) string {
	u := url.URL{Scheme: "smtp", Host: s.Addr()}
	q := url.Values{"from": {from}}
	if s.opt.ImplicitTLS {
		u.Scheme = "smtps"
	} else if !s.opt.StartTLS {
		q.Set("tls", "none")
	}
	if s.opt.User != "" {
		u.User = url.UserPassword(s.opt.User, s.opt.Password)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// ClientTLSConfig trusts the server's certificate (nil without StartTLS).
func (s *Server) ClientTLSConfig() *tls.Config {
	if s.pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// Messages returns the mails received so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Header returns a header of the mail, RFC 2047 words decoded.
func (m Message) Header(name string) string {
	msg, err := netmail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		return ""
	}
	v := msg.Header.Get(name)
	if d, err := new(mime.WordDecoder).DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// Text returns the body of a single-part mail, transfer encoding
// (quoted-printable or base64) undone.
func (m Message) Text() string {
	msg, err := netmail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		return ""
	}
	var r io.Reader = msg.Body
	switch strings.ToLower(msg.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	}
	b, _ := io.ReadAll(r)
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func (s *Server) makeCert() error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	s.pool = x509.NewCertPool()
	s.pool.AddCert(cert)
	s.tlsc = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	return nil
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				conn.Close()
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
			}()
			_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
			if s.opt.ImplicitTLS {
				tc := tls.Server(conn, s.tlsc)
				if err := tc.Handshake(); err != nil {
					return
				}
				s.session(tc, true)
				return
			}
			s.session(conn, false)
		}()
	}
}

// session runs one SMTP conversation.
func (s *Server) session(conn net.Conn, tlsOn bool) {
	r := bufio.NewReader(conn)
	w := bufio.NewWriter(conn)
	reply := func(format string, args ...any) {
		fmt.Fprintf(w, format+"\r\n", args...)
		_ = w.Flush()
	}
	var (
		cur     *Message
		authed  string
		greeted bool
	)
	reply("220 smtptest ESMTP ready")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			greeted = true
			var ext []string
			if s.opt.StartTLS && !tlsOn {
				ext = append(ext, "STARTTLS")
			}
			if s.opt.User != "" && (tlsOn || !s.opt.StartTLS && !s.opt.ImplicitTLS) {
				ext = append(ext, "AUTH PLAIN")
			}
			ext = append(ext, "8BITMIME")
			fmt.Fprintf(w, "250-smtptest greets %s\r\n", arg)
			for i, e := range ext {
				sep := "-"
				if i == len(ext)-1 {
					sep = " "
				}
				fmt.Fprintf(w, "250%s%s\r\n", sep, e)
			}
			_ = w.Flush()
		case "HELO":
			greeted = true
			reply("250 smtptest")
		case "STARTTLS":
			if !s.opt.StartTLS || tlsOn {
				reply("502 5.5.1 not offered")
				continue
			}
			reply("220 2.0.0 go ahead")
			tc := tls.Server(conn, s.tlsc)
			if err := tc.Handshake(); err != nil {
				return
			}
			conn, tlsOn, greeted = tc, true, false
			r, w = bufio.NewReader(tc), bufio.NewWriter(tc)
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if s.opt.User == "" || !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 mechanism not supported")
				continue
			}
			if resp == "" {
				reply("334 ")
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				resp = strings.TrimSpace(l)
			}
			b, _ := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(b), "\x00")
			if len(parts) == 3 && parts[1] == s.opt.User && parts[2] == s.opt.Password {
				authed = parts[1]
				reply("235 2.7.0 authenticated")
			} else {
				reply("535 5.7.8 bad credentials")
			}
		case "MAIL":
			switch {
			case !greeted:
				reply("503 5.5.1 EHLO first")
			case s.opt.User != "" && authed == "":
				reply("530 5.7.0 authentication required")
			case (s.opt.StartTLS || s.opt.ImplicitTLS) && !tlsOn:
				reply("530 5.7.0 STARTTLS first")
			default:
				cur = &Message{From: addrOf(arg), TLS: tlsOn, Auth: authed}
				reply("250 2.1.0 ok")
			}
		case "RCPT":
			switch {
			case cur == nil:
				reply("503 5.5.1 MAIL first")
			case s.opt.RejectRcpt != "":
				reply("%s", s.opt.RejectRcpt)
			default:
				cur.To = append(cur.To, addrOf(arg))
				reply("250 2.1.5 ok")
			}
		case "DATA":
			if cur == nil || len(cur.To) == 0 {
				reply("503 5.5.1 RCPT first")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			var data strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" || l == ".\n" {
					break
				}
				l = strings.TrimPrefix(l, ".")
				data.WriteString(l)
			}
			cur.Data = []byte(data.String())
			s.mu.Lock()
			s.msgs = append(s.msgs, *cur)
			s.mu.Unlock()
			cur = nil
			reply("250 2.0.0 queued")
		case "RSET":
			cur = nil
			reply("250 2.0.0 ok")
		case "NOOP":
			reply("250 2.0.0 ok")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognised")
		}
	}
}

// addrOf takes the address out of "FROM:<a@b> SIZE=…" or "TO:<a@b>".
func addrOf(arg string) string {
	i, j := strings.IndexByte(arg, '<'), strings.IndexByte(arg, '>')
	if i < 0 || j < i {
		return ""
	}
	return arg[i+1 : j]
}
