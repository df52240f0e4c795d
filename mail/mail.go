// Package mail sends Amtsform's plain-text mails (today: the resume link
// of a saved draft) through an SMTP server configured by one URL:
//
//	smtp://user:pass@host:587?from=noreply@stadt.example    STARTTLS (required)
//	smtps://user:pass@host:465?from=noreply@stadt.example   TLS from the first byte
//	smtp://relay.intern:25?from=…&tls=none                  a trusted local relay, no TLS
//
// Query parameters: from (required; "Name <addr>" allowed), tls
// (starttls — the default for smtp —, opportunistic or none; ignored for
// smtps), auth (autodiscover — the default when a user is given —,
// plain, login, cram-md5, scram-sha-256, none), timeout (a Go duration,
// default 10s; it bounds connecting and every SMTP step), helo (the name
// sent in EHLO; default the host name).
//
// It is built on github.com/wneessen/go-mail: a maintained, dependency-
// light library (the standard library's net/smtp is frozen) that gets
// the parts that are easy to get wrong right — mandatory STARTTLS without
// silent plaintext fallback, implicit TLS, SMTP AUTH mechanism selection,
// per-step deadlines and context cancellation, RFC 2047 headers and
// quoted-printable bodies for umlauts, Message-ID and Date headers.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes.
const (
	StartTLS      = "starttls"      // STARTTLS required; never send in plaintext
	Opportunistic = "opportunistic" // STARTTLS when offered, else plaintext
	ImplicitTLS   = "tls"           // TLS from the first byte (smtps, port 465)
	NoTLS         = "none"          // plaintext: only for a trusted local relay
)

// Config configures a Mailer.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	// From is the sender, "noreply@stadt.example" or
	// "Stadt Musterstadt <noreply@stadt.example>".
	From string
	// TLS is one of StartTLS (default), Opportunistic, ImplicitTLS, NoTLS.
	TLS string
	// Auth names the SMTP AUTH mechanism: autodiscover (default when a
	// Username is set), plain, login, cram-md5, scram-sha-256, none.
	Auth string
	// Timeout bounds connecting and each SMTP step (default 10 s).
	Timeout time.Duration
	// HELO is the name sent in EHLO (default: this machine's host name).
	HELO string
	// TLSConfig overrides the TLS settings (tests: a private CA); the
	// server name is set from Host when empty.
	TLSConfig *tls.Config
}

// ParseURL reads an smtp:// or smtps:// URL (see the package comment).
func ParseURL(raw string) (Config, error) {
	var cfg Config
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL, password included: say less.
		return cfg, errors.New("mail: the SMTP URL is not a valid URL")
	}
	switch u.Scheme {
	case "smtp":
		cfg.TLS, cfg.Port = StartTLS, 587
	case "smtps":
		cfg.TLS, cfg.Port = ImplicitTLS, 465
	default:
		return cfg, fmt.Errorf("mail: SMTP URL scheme %q: want smtp or smtps", u.Scheme)
	}
	cfg.Host = u.Hostname()
	if cfg.Host == "" {
		return cfg, errors.New("mail: the SMTP URL has no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return cfg, fmt.Errorf("mail: SMTP port %q", p)
		}
		cfg.Port = n
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "from", "tls", "auth", "timeout", "helo":
		default:
			return cfg, fmt.Errorf("mail: unknown SMTP URL parameter %q", k)
		}
	}
	cfg.From = q.Get("from")
	if t := q.Get("tls"); t != "" {
		if u.Scheme == "smtps" {
			return cfg, errors.New("mail: tls= does not apply to smtps:// (always TLS)")
		}
		cfg.TLS = t
	}
	cfg.Auth = q.Get("auth")
	if t := q.Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("mail: SMTP timeout %q", t)
		}
		cfg.Timeout = d
	}
	cfg.HELO = q.Get("helo")
	return cfg, cfg.check()
}

func (cfg *Config) check() error {
	if cfg.Host == "" {
		return errors.New("mail: no SMTP host")
	}
	if cfg.From == "" {
		return errors.New("mail: no sender address (from=)")
	}
	if _, err := netmail.ParseAddress(cfg.From); err != nil {
		return fmt.Errorf("mail: sender address %q: %v", cfg.From, err)
	}
	switch cfg.TLS {
	case "", StartTLS, Opportunistic, ImplicitTLS, NoTLS:
	default:
		return fmt.Errorf("mail: tls=%q: want %s, %s or %s", cfg.TLS, StartTLS, Opportunistic, NoTLS)
	}
	if _, err := authType(cfg.Auth, cfg.Username != ""); err != nil {
		return err
	}
	return nil
}

var authTypes = map[string]gomail.SMTPAuthType{
	"autodiscover":  gomail.SMTPAuthAutoDiscover,
	"plain":         gomail.SMTPAuthPlain,
	"login":         gomail.SMTPAuthLogin,
	"cram-md5":      gomail.SMTPAuthCramMD5,
	"scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
	"none":          gomail.SMTPAuthNoAuth,
}

func authType(name string, haveUser bool) (gomail.SMTPAuthType, error) {
	if name == "" {
		if haveUser {
			return gomail.SMTPAuthAutoDiscover, nil
		}
		return gomail.SMTPAuthNoAuth, nil
	}
	t, ok := authTypes[strings.ToLower(name)]
	if !ok {
		return "", fmt.Errorf("mail: auth=%q: want autodiscover, plain, login, cram-md5, scram-sha-256 or none", name)
	}
	if t != gomail.SMTPAuthNoAuth && !haveUser {
		return "", fmt.Errorf("mail: auth=%s needs a user in the SMTP URL", name)
	}
	return t, nil
}

// Mailer sends mails through one SMTP server. It is safe for concurrent
// use: every Send opens its own connection (mails are rare here, so a
// pool would buy nothing).
type Mailer struct {
	cfg  Config
	tls  *tls.Config
	opts []gomail.Option
}

// New checks cfg and returns a Mailer. It does not connect.
func New(cfg Config) (*Mailer, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.TLS == "" {
		cfg.TLS = StartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == ImplicitTLS {
			cfg.Port = 465
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = cfg.Host
	}
	auth, _ := authType(cfg.Auth, cfg.Username != "")
	opts := []gomail.Option{
		gomail.WithPort(cfg.Port),
		gomail.WithTimeout(cfg.Timeout),
		gomail.WithTLSConfig(tc),
		gomail.WithSMTPAuth(auth),
	}
	switch cfg.TLS {
	case ImplicitTLS:
		// Send dials TLS itself (see dial); go-mail then finds the
		// connection encrypted, and a server does not offer STARTTLS
		// inside TLS. Its own WithSSL is not used because a custom
		// dialer would make it take the connection for unencrypted.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case Opportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	// Fail now on options go-mail rejects, not on the first mail.
	if _, err := gomail.NewClient(cfg.Host, opts...); err != nil {
		return nil, fmt.Errorf("mail: %v", err)
	}
	return &Mailer{cfg: cfg, tls: tc, opts: opts}, nil
}

// String describes the server without credentials, for a startup log.
func (m *Mailer) String() string {
	return fmt.Sprintf("%s:%d (%s)", m.cfg.Host, m.cfg.Port, m.cfg.TLS)
}

// Error is what Send returns. Its message names the failed step only,
// never an address or the mail's content, so it can be logged; the cause
// (which may quote the server's reply about a recipient) is available
// through errors.Unwrap for callers that need it.
type Error struct {
	Step      string // "address", "connect", "send"
	Temporary bool   // the server answered 4xx: trying later may work
	cause     error
}

func (e *Error) Error() string {
	s := "mail: " + e.Step + " failed"
	if e.Temporary {
		s += " (temporary)"
	}
	return s
}

func (e *Error) Unwrap() error { return e.cause }

// LogReason is the message, safe to log (see Error).
func (e *Error) LogReason() string { return e.Error() }

// Send sends one plain-text mail (UTF-8, quoted-printable) to one
// recipient. ctx bounds the whole exchange.
func (m *Mailer) Send(ctx context.Context, to, subject, textBody string) error {
	msg, err := m.newMsg(to, subject, textBody)
	if err != nil {
		return err
	}
	return m.send(ctx, msg)
}

// newMsg builds a plain-text mail from the configured sender to one
// recipient.
func (m *Mailer) newMsg(to, subject, textBody string) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(m.cfg.From); err != nil {
		return nil, &Error{Step: "address", cause: err}
	}
	if err := msg.To(to); err != nil {
		return nil, &Error{Step: "address", cause: err}
	}
	msg.Subject(subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, textBody)
	// go-mail sets a default User-Agent/X-Mailer naming itself; say who
	// really sends.
	msg.SetUserAgent("Amtsform")
	return msg, nil
}

// send delivers a message built by Send or SendWithAttachments.
func (m *Mailer) send(ctx context.Context, msg *gomail.Msg) error {
	// The connection is dialled here so that it can be closed when ctx
	// ends (go-mail honours ctx only while dialling) and on every return
	// (go-mail leaves it open when EHLO, STARTTLS or AUTH fail).
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{}
		var (
			conn net.Conn
			err  error
		)
		if m.cfg.TLS == ImplicitTLS {
			conn, err = (&tls.Dialer{NetDialer: d, Config: m.tls}).DialContext(ctx, network, addr)
		} else {
			conn, err = d.DialContext(ctx, network, addr)
		}
		if err == nil {
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
		return conn, err
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	defer closeAll()

	c, err := gomail.NewClient(m.cfg.Host, append(m.opts, gomail.WithDialContextFunc(dial))...)
	if err != nil {
		return &Error{Step: "connect", cause: err}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		e := &Error{Step: "send", cause: err}
		var se *gomail.SendError
		if errors.As(err, &se) {
			e.Temporary = se.IsTemp()
			e.Step = "send: " + se.Reason.String()
		} else if strings.HasPrefix(err.Error(), "dial failed") {
			e.Step = "connect"
		}
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
			e.Step += ": timeout"
			e.Temporary = true
		}
		return e
	}
	return nil
}
