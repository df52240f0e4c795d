package mongostore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/storetest"
)

// The tests run against an embedded FerretDB in a fresh temporary data
// directory, or against the MongoDB named by AMTSFORM_TEST_MONGODB_URI.
// Each test gets its own database, dropped afterwards.

var (
	testURI    string
	testServer *embedded.Server // nil when testing against MongoDB
	dbSerial   atomic.Int64
	quiet      = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	testURI = os.Getenv("AMTSFORM_TEST_MONGODB_URI")
	if testURI == "" {
		dir, err := os.MkdirTemp("", "amtsform-store-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		srv, err := embedded.Start(dir, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer srv.Stop()
		testURI, testServer = srv.URI(), srv
	}
	return m.Run()
}

func dbName() string {
	return fmt.Sprintf("t%d_%d", time.Now().UnixNano()%1e9, dbSerial.Add(1))
}

// open connects a Store to database db and closes it (dropping db when
// drop is set) at the end of the test.
func open(t testing.TB, db string, opts Options, drop bool) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts.Database = db
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := Connect(ctx, testURI, opts)
	if err != nil {
		t.Fatal(err)
	}
	if testServer != nil && os.Getenv("AMTSFORM_TEST_NO_ID_INDEX") == "" {
		if err := testServer.IndexIDs(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if drop {
			_ = s.db.Drop(ctx)
		}
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newStore(t *testing.T) (storetest.Store, func() storetest.Store) {
	db := dbName()
	s := open(t, db, Options{}, true)
	return s, func() storetest.Store { return open(t, db, Options{}, false) }
}

func TestContract(t *testing.T) {
	storetest.Run(t, newStore)
}

// TestContractMongoPath runs the suite with the conditional updates the
// MongoDB way (condition in the findOneAndUpdate filter) when testing
// on the embedded store, so that code path is covered without MongoDB.
func TestContractMongoPath(t *testing.T) {
	if testServer == nil {
		t.Skip("already covered by TestContract against MongoDB")
	}
	storetest.Run(t, func(t *testing.T) (storetest.Store, func() storetest.Store) {
		db := dbName()
		s := open(t, db, Options{mongoPath: true}, true)
		return s, func() storetest.Store { return open(t, db, Options{mongoPath: true}, false) }
	})
}

// TestContractDraftCache runs the suite with the in-memory draft cache of
// the embedded store. The cache requires a single writer, so the "second
// client" is the same Store.
func TestContractDraftCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (storetest.Store, func() storetest.Store) {
		s := open(t, dbName(), Options{ExclusiveDrafts: true}, true)
		return s, func() storetest.Store { return s }
	})
}

func TestFileLimits(t *testing.T) {
	s := open(t, dbName(), Options{MaxFileBytes: 300 << 10, MaxSubmissionBytes: 700 << 10}, true)
	storetest.FileLimits(t, s, 300<<10, 700<<10)
}
