package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/amtsform/amtsform/api"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/mail"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr, "[flags]")
	var sf storeFlags
	sf.register(fs)
	specs := fs.String("specs", "examples", "comma-separated spec directories (a service each, or directories of services)")
	addr := fs.String("addr", envOr("AMTSFORM_ADDR", "127.0.0.1:8080"), "address to listen on (env AMTSFORM_ADDR)")
	tenants := fs.String("tenants", envOr("AMTSFORM_TENANTS", "musterstadt"), "comma-separated tenant ids; the first is the default")
	dev := fs.Bool("dev", false, "designer preview: watch the spec directories, recompile on change, show compile errors, reload open pages")
	secure := fs.Bool("secure-cookies", os.Getenv("AMTSFORM_SECURE_COOKIES") == "true", "mark cookies Secure (set when served behind TLS)")
	bodyLimit := fs.Int("body-limit", 25<<20, "largest request body in bytes, uploads included")
	reqTimeout := fs.Duration("request-timeout", 15*time.Second, "time limit for one request's work")
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "time limit for reading a request")
	writeTimeout := fs.Duration("write-timeout", 60*time.Second, "time limit for writing a response")
	submitRate := fs.Int("submit-rate", 20, "submits allowed per client and minute")
	smtpURL := fs.String("smtp-url", "", "send resume links by email through this server, e.g. smtp://user:pass@host:587?from=noreply@stadt.example (smtps:// for TLS on connect; empty: no mail; env AMTSFORM_SMTP_URL)")
	publicURL := fs.String("public-url", os.Getenv("AMTSFORM_PUBLIC_URL"), "the site's external base URL, e.g. https://formulare.stadt.example, for links in mails; needed with --smtp-url (env AMTSFORM_PUBLIC_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *smtpURL == "" { // not a flag default: -h would print the password
		*smtpURL = os.Getenv("AMTSFORM_SMTP_URL")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	var mailer api.Mailer
	if *smtpURL != "" {
		m, err := newMailer(*smtpURL, *publicURL)
		if err != nil {
			fmt.Fprintln(stderr, "serve:", err)
			return 2
		}
		mailer = m
		log.Info("mail", "smtp", m.String())
	}

	dirs := strings.Split(*specs, ",")
	svcs, err := engine.LoadServices(dirs)
	if err != nil && (!*dev || len(svcs) == 0) {
		fmt.Fprintln(stderr, err)
		if !*dev {
			return 1
		}
	}
	catalog := engine.NewCatalog(svcs...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	store, closeFn, err := openStore(openCtx, sf.uri, sf.dataDir)
	cancel()
	if err != nil {
		return storeError(stderr, "serve", err)
	}
	defer closeFn()

	secret, err := loadSecret(sf.dataDir)
	if err != nil {
		return storeError(stderr, "serve", err)
	}
	eng := &engine.Engine{Store: store, Catalog: catalog, Secret: secret}
	sweeper := &engine.Sweeper{Store: store, Retention: retention(catalog), Holder: "serve-" + engine.NewToken()[:8]}
	go sweeper.Run(ctx, 10*time.Minute)

	cfg := api.Config{
		Engine:         eng,
		Tenants:        strings.Split(*tenants, ","),
		Logger:         log,
		BodyLimit:      *bodyLimit,
		ReadTimeout:    *readTimeout,
		WriteTimeout:   *writeTimeout,
		RequestTimeout: *reqTimeout,
		Secure:         *secure,
		SubmitRate:     *submitRate,
		Dev:            *dev,
		Mail:           mailer,
		PublicURL:      *publicURL,
		Ready: func(ctx context.Context) error {
			_, err := store.GetDraft(ctx, "_readyz", "_readyz")
			if errors.Is(err, engine.ErrNotFound) {
				return nil
			}
			return err
		},
	}
	if *dev {
		w := newWatcher(dirs, catalog, err, log)
		go w.run(ctx)
		cfg.DevState = w.state
	}
	app, err := api.New(cfg)
	if err != nil {
		return storeError(stderr, "serve", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(*addr) }()
	names := make([]string, 0, len(svcs))
	for _, s := range svcs {
		names = append(names, s.ID)
	}
	log.Info("serving", "addr", "http://"+*addr, "services", strings.Join(names, ","), "tenants", *tenants, "dev", *dev)
	select {
	case err := <-errc:
		if err != nil {
			log.Error("listen", "err", err)
			return 1
		}
	case <-ctx.Done():
		log.Info("shutting down: finishing requests in flight")
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.ShutdownWithContext(sctx); err != nil {
			log.Error("shutdown", "err", err)
		}
	}
	return 0
}

// newMailer parses --smtp-url. Mail needs --public-url: links in mails
// must not be built from a request's Host headers, which the client sets.
func newMailer(smtpURL, publicURL string) (*mail.Mailer, error) {
	cfg, err := mail.ParseURL(smtpURL)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(publicURL); publicURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("--smtp-url needs --public-url, the site's external base URL (https://…)")
	}
	return mail.New(cfg)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// retention maps a service id to its retention period.
func retention(c *engine.Catalog) func(string) (time.Duration, bool) {
	return func(id string) (time.Duration, bool) {
		s, err := c.Get(id)
		if err != nil {
			return 0, false
		}
		return time.Duration(s.RetentionDays) * 24 * time.Hour, true
	}
}

// loadSecret returns the key for status secrets: AMTSFORM_SECRET, or a
// random key kept in the data directory so that secrets survive restarts.
func loadSecret(dataDir string) ([]byte, error) {
	if s := os.Getenv("AMTSFORM_SECRET"); s != "" {
		return []byte(s), nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	p := filepath.Join(dataDir, "status-secret")
	if b, err := os.ReadFile(p); err == nil && len(b) >= 32 {
		return b, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

// watcher recompiles the specs when their files change (designer preview).
type watcher struct {
	dirs    []string
	catalog *engine.Catalog
	log     *slog.Logger
	mu      chan struct{} // 1-slot lock
	probs   error
	changed chan struct{}
	sig     string
}

func newWatcher(dirs []string, c *engine.Catalog, probs error, log *slog.Logger) *watcher {
	w := &watcher{dirs: dirs, catalog: c, log: log, mu: make(chan struct{}, 1), probs: probs, changed: make(chan struct{})}
	w.sig = signature(dirs)
	return w
}

func (w *watcher) state() (error, <-chan struct{}) {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.probs, w.changed
}

// run polls the spec files' sizes and times twice a second: simple, and
// it works on every file system.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sig := signature(w.dirs)
		if sig == w.sig {
			continue
		}
		w.sig = sig
		svcs, err := engine.LoadServices(w.dirs)
		if len(svcs) > 0 {
			w.catalog.Replace(svcs)
		}
		if err != nil {
			w.log.Warn("specs have problems", "err", err)
		} else {
			w.log.Info("specs recompiled", "services", len(svcs))
		}
		w.mu <- struct{}{}
		w.probs = err
		close(w.changed)
		w.changed = make(chan struct{})
		<-w.mu
	}
}

func signature(dirs []string) string {
	var b strings.Builder
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(p, ".cue") {
				return nil
			}
			if fi, err := e.Info(); err == nil {
				fmt.Fprintf(&b, "%s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
			}
			return nil
		})
	}
	return b.String()
}
