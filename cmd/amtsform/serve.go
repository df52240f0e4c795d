package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
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
	"github.com/amtsform/amtsform/api/httpx"
	"github.com/amtsform/amtsform/api/receipt"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/casework"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/registry"
	"github.com/amtsform/amtsform/engine/staff"
	"github.com/amtsform/amtsform/engine/sweep"
	"github.com/amtsform/amtsform/mail"
)

func runServe(args []string, stdout, stderr io.Writer) int {
	fs, sf := newStoreFlags("serve", stderr, "[flags]")
	config := fs.String("config", envOr("AMTSFORM_CONFIG", "examples/installation"), "installation directory: the tenants and the services each offers (a CUE package \"installation\", see docs/operations.md; env AMTSFORM_CONFIG)")
	specs := fs.String("specs", "", "comma-separated spec directories (a service each, or directories of services), offered by every tenant of --tenants; replaces --config")
	addr := fs.String("addr", envOr("AMTSFORM_ADDR", "127.0.0.1:8080"), "address to listen on (env AMTSFORM_ADDR)")
	tenants := fs.String("tenants", envOr("AMTSFORM_TENANTS", "musterstadt"), "with --specs: comma-separated tenant ids; the first is the default")
	dev := fs.Bool("dev", false, "designer preview: watch the spec directories, recompile on change, show compile errors, reload open pages")
	secure := fs.Bool("secure-cookies", os.Getenv("AMTSFORM_SECURE_COOKIES") == "true", "mark every cookie Secure (without it: when the request came over https, or --public-url is https)")
	trustedProxies := fs.String("trusted-proxies", os.Getenv("AMTSFORM_TRUSTED_PROXIES"), "comma-separated addresses and CIDR ranges of the reverse proxies in front of the server, whose X-Forwarded-For/-Proto/-Host are believed, e.g. 10.0.0.0/8 (env AMTSFORM_TRUSTED_PROXIES)")
	bodyLimit := fs.Int("body-limit", 25<<20, "largest request body in bytes, uploads included")
	reqTimeout := fs.Duration("request-timeout", 15*time.Second, "time limit for one request's work")
	readTimeout := fs.Duration("read-timeout", 30*time.Second, "time limit for reading a request")
	writeTimeout := fs.Duration("write-timeout", 60*time.Second, "time limit for writing a response")
	submitRate := fs.Int("submit-rate", 20, "submits allowed per client and minute")
	draftRate := fs.Int("draft-rate", 60, "drafts a client may start per minute (citizen pages and API together)")
	saveRate := fs.Int("save-rate", 300, "page saves and uploads allowed per client and minute (citizen pages and API together)")
	smtpURL := fs.String("smtp-url", "", "send resume links by email through this server, e.g. smtp://user:pass@host:587?from=noreply@stadt.example (smtps:// for TLS on connect; empty: no mail; env AMTSFORM_SMTP_URL)")
	publicURL := fs.String("public-url", os.Getenv("AMTSFORM_PUBLIC_URL"), "the site's external base URL, e.g. https://formulare.stadt.example, for links in mails and the origin form posts must come from; https: Secure cookies and HSTS; needed with --smtp-url (env AMTSFORM_PUBLIC_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *smtpURL == "" { // not a flag default: -h would print the password
		*smtpURL = os.Getenv("AMTSFORM_SMTP_URL")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log)
	var mailer *mail.Mailer
	if *smtpURL != "" {
		m, err := newMailer(*smtpURL, *publicURL)
		if err != nil {
			fmt.Fprintln(stderr, "serve:", err)
			return 2
		}
		mailer = m
		log.Info("mail", "smtp", m.String())
	}

	inst, err := installationOf(*config, *specs, *tenants)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	svcs, err := inst.Load()
	if cerr := inst.CheckError(svcs); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if err != nil && (!*dev || len(svcs) == 0) {
		fmt.Fprintln(stderr, err)
		if !*dev {
			return 1
		}
	}

	secret, err := loadSecret(sf.dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "amtsform serve:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	openCtx, cancel := context.WithTimeout(ctx, time.Minute)
	store, closeFn, err := openStore(openCtx, sf.uri, sf.dataDir, log)
	cancel()
	if err != nil {
		return storeError(stderr, "serve", err)
	}
	defer closeFn()

	cat := catalog.New(store)
	if n, err := cat.Restore(ctx); err != nil {
		// A stored version this binary cannot compile: drafts and
		// submissions pinned to it cannot be served; the others are.
		log.Error("stored service versions that cannot be served", "restored", n, "err", err)
	}
	// Shared services a tenant installed from a registry (amtsform
	// install) are offered as stored, by hash.
	installed := map[string][]*engine.Service{}
	if inst.Dir != "" {
		rec, err := registry.ReadRecord(inst.Dir)
		if err == nil {
			installed, err = rec.Offers(cat.Pinned)
		}
		if err != nil {
			log.Error("installed modules that cannot be served", "err", err)
		}
	}
	if err := offer(ctx, cat, inst, svcs, installed); err != nil {
		return storeError(stderr, "serve", err)
	}
	dir := directory.New(inst)
	in := &intake.Intake{Store: store, Catalog: cat, Secret: secret, Offices: dir}
	sweeper := &sweep.Sweeper{Store: store, Retention: cat.Retention, Holder: "serve-" + record.NewToken()[:8]}
	go sweeper.Run(ctx, 10*time.Minute)

	// Delivery to the Fachverfahren: the dispatcher works the outbox
	// the submits write; metrics count submits and deliveries.
	var metrics *httpx.Metrics // made below: it reads the dispatcher's outbox
	dopt := delivery.Options{Services: cat, Bindings: delivery.InstallationBindings(inst), Offices: dir,
		PublicURL: *publicURL, Logger: log,
		Observe: func(tenant, destination, outcome string, d time.Duration) {
			metrics.ObserveDelivery(tenant, destination, outcome, d)
		},
		Receipt: func(ctx context.Context, svc *engine.Service, sub *record.Submission) ([]byte, error) {
			o, _ := dir.Office(sub.Tenant, sub.Office)
			return receipt.PDF(svc, sub, receipt.Details{Lang: "de", Office: o, Zone: in.Zone()})
		}}
	if mailer != nil {
		dopt.Mail = delivery.SMTP(mailer)
	}
	disp := delivery.New(store, dopt)
	metrics = httpx.NewMetrics(httpx.MetricsOptions{Outbox: disp.OutboxStats})
	in.Observe = metrics.ObserveSubmit
	go func() {
		if err := disp.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("delivery dispatcher stopped", "err", err)
		}
	}()

	// The back office: the audit trail, staff sign-in, casework.
	auditLog := audit.New(store)
	oidcs, err := staff.OIDCFromInstallation(inst, os.Getenv, func(tenant string) string {
		return strings.TrimSuffix(*publicURL, "/") + "/backoffice/oidc/" + tenant + "/callback"
	}, nil)
	if err != nil {
		fmt.Fprintln(stderr, "serve:", err)
		return 2
	}
	staffSvc := staff.New(store, staff.Options{OIDC: oidcs, Logger: log,
		OnChange: func(ctx context.Context, c staff.Change) {
			if c.Tenant == "" { // a failed sign-in under a name that is no account
				return
			}
			if err := auditLog.Record(ctx, record.AuditEntry{Tenant: c.Tenant, Actor: c.Actor, Action: c.Action,
				Object: c.Object, Addr: c.Addr, Detail: c.Detail}); err != nil {
				log.Error("audit", "action", c.Action, "err", err)
			}
		}})
	var notifier casework.Notifier
	if mailer != nil {
		notifier = mail.Notifier{Mailer: mailer}
	} else {
		spool, err := mail.NewSpool(filepath.Join(sf.dataDir, "mail-spool"), "noreply@amtsform.invalid")
		if err != nil {
			fmt.Fprintln(stderr, "serve:", err)
			return 1
		}
		notifier = spool
		log.Info("mail", "spool", spool.Dir)
	}
	work := casework.New(store, cat, dir, casework.Options{Audit: auditLog, Mail: notifier, PublicURL: *publicURL, Logger: log, Outbox: store, Colleagues: staffSvc})
	go housekeeping(ctx, log, staffSvc, work, tenantIDs(inst))
	// the daily digest of failed and dead-lettered deliveries to each
	// tenant's admins
	go (&delivery.Digest{Store: store, Mail: notifier, Tenants: tenantIDs(inst), Users: staffSvc.List,
		PublicURL: *publicURL, Zone: in.Zone(), Logger: log}).Run(ctx)

	cfg := api.Config{
		Intake:         in,
		Directory:      dir,
		Tenants:        tenantIDs(inst),
		Logger:         log,
		BodyLimit:      *bodyLimit,
		ReadTimeout:    *readTimeout,
		WriteTimeout:   *writeTimeout,
		RequestTimeout: *reqTimeout,
		Secure:         *secure,
		TrustedProxies: strings.Split(*trustedProxies, ","),
		SubmitRate:     *submitRate,
		DraftRate:      *draftRate,
		SaveRate:       *saveRate,
		Dev:            *dev,
		Mail:           citizenMail(mailer),
		PublicURL:      *publicURL,
		Work:           work,
		Staff:          staffSvc,
		Audit:          auditLog,
		Secret:         secret,
		Feed:           disp.Feed(),
		Metrics:        metrics,
		Catalogue:      serveCatalogue(inst, cat, store, auditLog, log),
		Ready: func(ctx context.Context) error {
			_, err := store.GetDraft(ctx, "_readyz", "_readyz")
			if errors.Is(err, record.ErrNotFound) {
				return nil
			}
			return err
		},
	}
	if *dev {
		w := newWatcher(inst, cat, err, log)
		go w.run(ctx)
		cfg.DevState = w.state
	}
	app, err := api.New(cfg)
	if err != nil {
		return storeError(stderr, "serve", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- app.Listen(*addr) }()
	for _, t := range inst.Tenants {
		var names []string
		for _, s := range cat.List(t.ID) {
			names = append(names, s.ID+" "+s.Version)
		}
		log.Info("tenant", "id", t.ID, "services", strings.Join(names, ", "))
	}
	log.Info("serving", "addr", "http://"+*addr, "dev", *dev)
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
// installationOf reads the installation directory, or, when specs is
// set, makes one in which every tenant of tenants offers the services
// under specs.
func installationOf(config, specs, tenants string) (*engine.Installation, error) {
	if specs == "" {
		in, err := engine.LoadInstallation(config)
		if err != nil {
			return nil, fmt.Errorf("installation %s: %w", config, err)
		}
		return in, nil
	}
	dirs, err := engine.SpecDirs(strings.Split(specs, ","))
	if err != nil {
		return nil, err
	}
	in := &engine.Installation{Packages: map[string]string{}}
	for i, d := range dirs {
		if dirs[i], err = filepath.Abs(d); err != nil {
			return nil, err
		}
	}
	for _, t := range strings.Split(tenants, ",") {
		in.Tenants = append(in.Tenants, engine.TenantConfig{ID: t, Name: engine.Text{De: t, En: t}, Services: dirs})
	}
	return in, nil
}

// offer makes each tenant's compiled services its current set. A
// service that did not compile is left out (its problems were reported).
func offer(ctx context.Context, cat *catalog.Catalog, in *engine.Installation, svcs map[string]*engine.Service, installed map[string][]*engine.Service) error {
	for _, t := range in.Tenants {
		set := append([]*engine.Service(nil), installed[t.ID]...)
		for _, d := range t.Services {
			if s, ok := svcs[d]; ok {
				set = append(set, s)
			}
		}
		if err := cat.Offer(ctx, t.ID, set); err != nil {
			return err
		}
	}
	return nil
}

// citizenMail returns m as the citizen pages' mailer, or nil (a nil
// *mail.Mailer in an interface would not be nil).
func citizenMail(m *mail.Mailer) api.Mailer {
	if m == nil {
		return nil
	}
	return m
}

// housekeeping runs the back office's periodic jobs: expired staff
// sessions, and document requests past their deadline.
func housekeeping(ctx context.Context, log *slog.Logger, st *staff.Staff, work *casework.Work, tenants []string) {
	tick := time.NewTicker(5 * time.Minute)
	defer tick.Stop()
	for {
		if _, _, err := st.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Error("staff sweep", "err", err)
		}
		for _, t := range tenants {
			if _, err := work.Expire(ctx, t); err != nil && ctx.Err() == nil {
				log.Error("document request deadlines", "tenant", t, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func tenantIDs(in *engine.Installation) []string {
	ids := make([]string, len(in.Tenants))
	for i, t := range in.Tenants {
		ids[i] = t.ID
	}
	return ids
}

// loadSecret returns the key for status secrets and CSRF tokens:
// AMTSFORM_SECRET, or a random key kept in the data directory so that
// secrets survive restarts. Several instances behind one proxy need the
// same AMTSFORM_SECRET (their data directories differ, or they have none).
func loadSecret(dataDir string) ([]byte, error) {
	if s := os.Getenv("AMTSFORM_SECRET"); s != "" {
		return parseSecret(s)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	p := filepath.Join(dataDir, "status-secret")
	if b, err := os.ReadFile(p); err == nil && len(b) >= minSecretBytes {
		return b, nil
	}
	b := make([]byte, minSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

// minSecretBytes is the least key material a configured secret must
// carry: 256 bits, so that it cannot be recovered offline from a
// citizen's own reference and status secret.
const minSecretBytes = 32

// errWeakSecret explains how to make a good secret.
var errWeakSecret = fmt.Errorf("AMTSFORM_SECRET must be at least %d random bytes, written as hex or base64; generate one with: openssl rand -hex %d", minSecretBytes, minSecretBytes)

// parseSecret decodes a configured secret written as hex or base64 (std
// or URL alphabet, padded or not) and refuses one with fewer than
// minSecretBytes bytes or with visibly little entropy (few distinct
// bytes), such as a word or a repeated character.
func parseSecret(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	var b []byte
	if x, err := hex.DecodeString(s); err == nil {
		b = x
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if x, err := enc.DecodeString(s); err == nil {
				b = x
				break
			}
		}
	}
	if len(b) < minSecretBytes {
		return nil, errWeakSecret
	}
	distinct := map[byte]bool{}
	for _, c := range b {
		distinct[c] = true
	}
	// 32 random bytes have about 30 distinct values; fewer than 16
	// means a pattern, not randomness.
	if len(distinct) < 16 {
		return nil, errWeakSecret
	}
	return b, nil
}

// watcher recompiles the specs when their files change (designer preview).
type watcher struct {
	inst    *engine.Installation
	dirs    []string
	catalog *catalog.Catalog
	log     *slog.Logger
	mu      chan struct{} // 1-slot lock
	probs   error
	changed chan struct{}
	sig     string
}

func newWatcher(in *engine.Installation, c *catalog.Catalog, probs error, log *slog.Logger) *watcher {
	dirs := in.ServiceDirs()
	for _, p := range in.Packages {
		dirs = append(dirs, p)
	}
	w := &watcher{inst: in, dirs: dirs, catalog: c, log: log, mu: make(chan struct{}, 1), probs: probs, changed: make(chan struct{})}
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
		svcs, err := w.inst.Load()
		if len(svcs) > 0 {
			if oerr := offer(ctx, w.catalog, w.inst, svcs, nil); oerr != nil {
				err = errors.Join(err, oerr)
			}
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
