package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
)

// storeFlags registers the store selection flags shared by every command
// that opens the store.
type storeFlags struct {
	uri     string
	dataDir string
	verbose bool
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.uri, "mongodb-uri", os.Getenv("AMTSFORM_MONGODB_URI"),
		"MongoDB connection string (env AMTSFORM_MONGODB_URI); empty starts the embedded store")
	fs.StringVar(&f.dataDir, "data-dir", "./data", "data directory of the embedded store (used without --mongodb-uri)")
	fs.BoolVar(&f.verbose, "v", false, "log which store is used and how (quiet by default: warnings and errors only)")
}

// logger is the log of a command that opens the store: warnings and
// errors only unless -v asks for more.
func (f *storeFlags) logger(stderr io.Writer) *slog.Logger {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// openStore connects to MongoDB at uri or, when uri is empty, starts the
// embedded FerretDB on dataDir and connects to that. It logs which store
// is in use. The returned function closes the store (and stops the
// embedded server); call it exactly once.
func openStore(ctx context.Context, uri, dataDir string, log *slog.Logger) (*mongostore.Store, func(), error) {
	if uri != "" {
		s, err := mongostore.Connect(ctx, uri, mongostore.Options{Logger: log})
		if err != nil {
			return nil, nil, err
		}
		log.Info("store: MongoDB", "uri", redact(uri), "database", "amtsform")
		return s, func() { closeStore(s, log) }, nil
	}
	srv, err := embedded.Start(dataDir, nil)
	if err != nil {
		return nil, nil, err
	}
	// The embedded store locks its data directory: this process is the
	// only writer, so drafts may be kept in memory too.
	s, err := mongostore.Connect(ctx, srv.URI(), mongostore.Options{Logger: log, ExclusiveDrafts: true})
	if err == nil {
		err = srv.IndexIDs(ctx)
	}
	if err != nil {
		if s != nil {
			closeStore(s, log)
		}
		_ = srv.Stop()
		return nil, nil, err
	}
	log.Info("store: embedded FerretDB (SQLite), for development, evaluation and small installations",
		"data_dir", srv.Dir(),
		"limits", "one process per data directory (no second server instance); reads by _id and in-memory indexes keep request paths flat to 100,000 submissions (see docs/storage.md)",
		"switch", "set --mongodb-uri or AMTSFORM_MONGODB_URI to use MongoDB; move data with 'amtsform export' and 'amtsform import'")
	return s, func() {
		closeStore(s, log)
		if err := srv.Stop(); err != nil {
			log.Error("stop embedded store", "err", err)
		}
	}, nil
}

func closeStore(s *mongostore.Store, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		log.Error("close store", "err", err)
	}
}

// redact hides credentials in a connection string for logging.
func redact(uri string) string {
	for i := 0; i+3 <= len(uri); i++ {
		if uri[i:i+3] == "://" {
			rest := uri[i+3:]
			for j := 0; j < len(rest) && rest[j] != '/'; j++ {
				if rest[j] == '@' {
					return uri[:i+3] + "***@" + rest[j+1:]
				}
			}
			break
		}
	}
	return uri
}

func storeError(stderr interface{ Write([]byte) (int, error) }, cmd string, err error) int {
	fmt.Fprintf(stderr, "amtsform %s: %v\n", cmd, err)
	return 1
}
