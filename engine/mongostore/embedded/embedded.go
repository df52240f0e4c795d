// Package embedded runs FerretDB v1 in-process on SQLite files, so that
// Amtsform can start without any database server. The server listens on
// the loopback interface only and is meant for development, evaluation and
// small installations; see docs/storage.md for its limits.
package embedded

import (
	"context"
	"errors"
	"fmt"

	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running in-process FerretDB.
type Server struct {
	dir    string
	uri    string
	cancel context.CancelFunc
	done   chan struct{}
	unlock func()

	stopOnce sync.Once
}

// Options tune Start. The zero value is fine.
type Options struct {
	// Logger receives FerretDB's own log output. Nil logs errors only, to stderr.
	Logger *slog.Logger
}

// Start opens (creating if needed) the data directory dir and starts
// FerretDB with the sqlite handler, listening on a Unix socket in dir
// (or, where that is not possible, on 127.0.0.1 with a random port).
// Only one process may use a data directory at a time: Start takes an
// exclusive lock file and fails if another process holds it.
func Start(dir string, opts *Options) (*Server, error) {
	if opts == nil {
		opts = &Options{}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	unlock, err := lockDir(abs)
	if err != nil {
		return nil, fmt.Errorf("embedded store: data directory %s: %w", abs, err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	logger = slog.New(&lazyHandler{base: logger.Handler()})
	// Prefer a Unix socket inside the (0700) data directory: only this
	// user can connect. Fall back to loopback TCP where sockets are not
	// available or the path is too long for sockaddr_un.
	listener := ferretdb.ListenerConfig{TCP: "127.0.0.1:0"}
	sock := filepath.Join(abs, "ferretdb.sock")
	if runtime.GOOS != "windows" && len(sock) < 100 {
		_ = os.Remove(sock) // stale socket of a previous run (we hold the lock)
		listener = ferretdb.ListenerConfig{Unix: sock}
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(abs) + "/",
		Logger:    logger,
	})
	if err != nil {
		unlock()
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{dir: abs, cancel: cancel, done: make(chan struct{}), unlock: unlock}
	go func() {
		defer close(s.done)
		_ = f.Run(ctx)
	}()
	// The listener is opened by ferretdb.New, so the address is known now.
	if listener.Unix != "" {
		s.uri = "mongodb://" + url.PathEscape(sock) + "/"
	} else {
		s.uri = f.MongoDBURI()
	}
	return s, nil
}

// URI returns the connection string for the MongoDB driver.
func (s *Server) URI() string { return s.uri }

// Dir returns the absolute data directory.
func (s *Server) Dir() string { return s.dir }

// Stop closes the listener and all connections, flushes and closes the
// SQLite databases and releases the directory lock. It is safe to call
// more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.cancel()
		<-s.done
		s.unlock()
	})
	return nil
}

var errLocked = errors.New("in use by another process (lock file held)")

// lazyHandler defers WithAttrs and WithGroup until a record is written.
// FerretDB derives a logger for every SQL statement, and slog's text
// handler formats the attributes at once: about 8% of the server's CPU
// per insert (measured with BenchmarkSubmitRatio), for records that are
// almost never written (errors only).
type lazyHandler struct {
	base slog.Handler
	ops  []func(slog.Handler) slog.Handler
}

func (h *lazyHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.base.Enabled(ctx, l) }

func (h *lazyHandler) Handle(ctx context.Context, r slog.Record) error {
	x := h.base
	for _, op := range h.ops {
		x = op(x)
	}
	return x.Handle(ctx, r)
}

func (h *lazyHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })
}

func (h *lazyHandler) WithGroup(name string) slog.Handler {
	return h.with(func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
}

func (h *lazyHandler) with(op func(slog.Handler) slog.Handler) slog.Handler {
	ops := make([]func(slog.Handler) slog.Handler, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &lazyHandler{base: h.base, ops: append(ops, op)}
}
