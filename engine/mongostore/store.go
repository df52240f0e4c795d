// Package mongostore implements the store interfaces of the domain
// packages (intake, sweep, catalog; see engine/storetest) on MongoDB with the official
// driver v2. It uses only features that FerretDB v1 also offers (see
// docs/storage.md), so the same code runs against the embedded store.
//
// Atomicity: every write touches one document. Uniqueness (idempotency
// keys, reference-number blocks, event ids, imports) comes from inserts
// against unique indexes. Conditional updates (draft and submission
// versions, leases) use findOneAndUpdate with a version filter, which
// MongoDB executes atomically; FerretDB v1 does not (it reads, then writes
// by _id), so this package additionally serialises conditional updates per
// document inside the process. The embedded server therefore supports one
// process per data directory (enforced by a lock file); several server
// instances need MongoDB.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Options configure a Store. Zero values select the defaults.
type Options struct {
	Database string // default "amtsform"

	OpTimeout time.Duration // per-operation deadline when ctx has none; default 10s

	MaxFileBytes       int64    // per file; default 20 MiB
	MaxSubmissionBytes int64    // all files of one draft/submission; default 50 MiB
	AllowedTypes       []string // sniffed media types; default PDF, PNG, JPEG

	Logger *slog.Logger

	// ExclusiveDrafts declares that this Store is the only writer of the
	// database, as with the embedded store (one process per data
	// directory). Drafts are then also kept in memory, so that reading one
	// needs no round trip, and so is the case index (caseindex.go), which
	// answers inbox pages and the retention sweep without a query. Never
	// set it with several server instances.
	ExclusiveDrafts bool

	// disableEventCopy leaves embedded events in place (tests simulate a
	// crash between the submission insert and the event copy).
	disableEventCopy bool
	// mongoPath uses the MongoDB code path (conditions in the filter) even
	// on FerretDB, so tests without MongoDB exercise it too.
	mongoPath bool
	// monitor observes the commands of a client made by Connect (tests
	// count database operations per request).
	monitor *event.CommandMonitor
}

// Store is the MongoDB implementation of the domain packages' store
// interfaces.
type Store struct {
	client *mongo.Client
	owned  bool // Close disconnects the client
	db     *mongo.Database
	opts   Options
	log    *slog.Logger

	drafts, subs, events, counters, leases, files, chunks, versions *mongo.Collection
	// idem holds idempotency claims (idem.go), owners the files of each
	// upload owner (files.go), due the expiry buckets of drafts
	// (lifecycle.go), changes the markers of submissions written since
	// the last index snapshot or with events still to copy, and caseIdx
	// the snapshots of the in-memory case index (caseindex.go).
	idem, owners, due, changes, caseIdx *mongo.Collection

	// draftCache and cases are set with Options.ExclusiveDrafts.
	draftCache *draftCache
	cases      *caseIndex

	// ferret is set when the server is FerretDB, whose findAndModify is
	// not atomic and which pushes down only {_id: x} filters.
	ferret bool

	poolMu sync.Mutex
	pools  map[string]*refPool
	blocks map[string]*blockMark // marked blocks by marker _id (with the case index)

	closeMu sync.Mutex
	closed  bool

	ob outboxState // delivery outbox (outbox.go)
}

// Connect creates a client for uri and opens a Store that owns it.
func Connect(ctx context.Context, uri string, opts Options) (*Store, error) {
	co := options.Client().ApplyURI(uri).
		SetBSONOptions(&options.BSONOptions{DefaultDocumentMap: true}).
		SetTimeout(0)
	if opts.monitor != nil {
		co.SetMonitor(opts.monitor)
	}
	c, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("mongostore: connect: %w", err)
	}
	s, err := Open(ctx, c, opts)
	if err != nil {
		_ = c.Disconnect(context.Background())
		return nil, err
	}
	s.owned = true
	return s, nil
}

// Open creates indexes (idempotently), repairs interrupted event copies
// and returns a Store using client. The caller keeps ownership of client.
func Open(ctx context.Context, client *mongo.Client, opts Options) (*Store, error) {
	if opts.Database == "" {
		opts.Database = "amtsform"
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = 10 * time.Second
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 20 << 20
	}
	if opts.MaxSubmissionBytes <= 0 {
		opts.MaxSubmissionBytes = 50 << 20
	}
	if len(opts.AllowedTypes) == 0 {
		opts.AllowedTypes = []string{"application/pdf", "image/png", "image/jpeg"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db := client.Database(opts.Database)
	s := &Store{
		client:   client,
		db:       db,
		opts:     opts,
		log:      opts.Logger,
		drafts:   db.Collection("drafts"),
		subs:     db.Collection("submissions"),
		events:   db.Collection("events"),
		counters: db.Collection("counters"),
		leases:   db.Collection("leases"),
		files:    db.Collection("files.files"),
		chunks:   db.Collection("files.chunks"),
		versions: db.Collection("service_versions"),
		idem:     db.Collection("idempotency"),
		owners:   db.Collection("file_owners"),
		due:      db.Collection("due"),
		changes:  db.Collection("changes"),
		caseIdx:  db.Collection("case_index"),
		pools:    map[string]*refPool{},
		blocks:   map[string]*blockMark{},
	}
	var bi bson.M
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&bi); err != nil {
		return nil, fmt.Errorf("mongostore: buildInfo: %w", err)
	}
	if opts.ExclusiveDrafts {
		s.draftCache = newDraftCache(defaultDraftCacheBytes)
	}
	_, s.ferret = bi["ferretdbVersion"]
	s.ferret = s.ferret && !opts.mongoPath
	if err := s.ensureIndexes(ctx); err != nil {
		return nil, err
	}
	if err := s.upgrade(ctx); err != nil {
		return nil, err
	}
	if opts.ExclusiveDrafts {
		// The case index reads the marked submissions anyway; it copies
		// their events instead of RepairEvents.
		pending, err := s.loadCases(ctx)
		if err != nil {
			return nil, err
		}
		for _, sid := range pending {
			if _, err := s.copyEvents(ctx, sid); err != nil {
				return nil, fmt.Errorf("mongostore: repair events: %w", err)
			}
			s.cases.keep(sid, false)
		}
		if len(pending) > 0 {
			s.log.Warn("repaired event log after an interrupted write", "submissions", len(pending))
		}
	} else if err := s.dropCaseSnapshot(ctx); err != nil {
		return nil, err
	} else if n, err := s.RepairEvents(ctx); err != nil {
		return nil, fmt.Errorf("mongostore: repair events: %w", err)
	} else if n > 0 {
		s.log.Warn("repaired event log after an interrupted write", "submissions", n)
	}
	return s, nil
}

// schemaVersion 2 added idempotency claims, file owner records, change
// markers and draft expiry buckets.
const schemaVersion = 2

// upgrade brings data written by an earlier version up to schemaVersion,
// once: submissions whose events were not copied get their change marker
// (RepairEvents reads only markers now). Idempotency claims and owner
// records of older data are repaired when first needed.
func (s *Store) upgrade(ctx context.Context) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var meta struct {
		Version int `bson:"version"`
	}
	err := s.caseIdx.FindOne(ctx, bson.D{{Key: "_id", Value: "schema"}}).Decode(&meta)
	if err != nil && !isNoDocs(err) {
		return fmt.Errorf("mongostore: schema: %w", err)
	}
	if meta.Version >= schemaVersion {
		return nil
	}
	cur, err := s.subs.Find(ctx, bson.D{{Key: "pending", Value: true}}, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return fmt.Errorf("mongostore: upgrade: %w", err)
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return fmt.Errorf("mongostore: upgrade: %w", err)
	}
	for _, d := range ids {
		if err := s.mark(ctx, d.ID); err != nil {
			return err
		}
	}
	_, err = s.caseIdx.UpdateOne(ctx, bson.D{{Key: "_id", Value: "schema"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: schemaVersion}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("mongostore: schema: %w", err)
	}
	return nil
}

func (s *Store) ensureIndexes(ctx context.Context) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	// The indexes every query needs (docs/storage.md lists the queries).
	// Everything else is read by _id.
	inbox := func(name string, keys ...string) mongo.IndexModel {
		d := bson.D{}
		for _, k := range keys {
			d = append(d, bson.E{Key: k, Value: 1})
		}
		d = append(d, bson.E{Key: "created", Value: -1}, bson.E{Key: "_id", Value: -1})
		return mongo.IndexModel{Keys: d, Options: options.Index().SetName(name)}
	}
	idx := map[*mongo.Collection][]mongo.IndexModel{
		s.subs: {
			// the authority for idempotency keys (see idem.go)
			{Keys: bson.D{{Key: "idem", Value: 1}}, Options: options.Index().SetUnique(true).SetName("idem_unique")},
			// inbox pages: tenant, optional office, optional status, newest first
			inbox("inbox_office_status", "tenant", "office", "status"),
			inbox("inbox_status", "tenant", "status"),
			inbox("inbox_office", "tenant", "office"),
			inbox("inbox_tenant", "tenant"),
			// retention: a service's submissions by last change; also
			// serves distinct("service.id")
			{Keys: bson.D{{Key: "service.id", Value: 1}, {Key: "updated", Value: 1}}, Options: options.Index().SetName("retention")},
			// export by tenant and creation time
			{Keys: bson.D{{Key: "tenant", Value: 1}, {Key: "created", Value: 1}}, Options: options.Index().SetName("export")},
		},
		s.events: { // one log document per submission, _id = submission _id
			{Keys: bson.D{{Key: "tenant", Value: 1}}, Options: options.Index().SetName("export")},
		},
		s.files: {
			{Keys: bson.D{{Key: "filename", Value: 1}, {Key: "uploadDate", Value: 1}}}, // GridFS standard
		},
		s.chunks: {
			{Keys: bson.D{{Key: "files_id", Value: 1}, {Key: "n", Value: 1}}, Options: options.Index().SetUnique(true)}, // GridFS standard
		},
	}
	idx[s.subs] = append(idx[s.subs], caseIndexModels()...) // cases.go
	// Create every collection up front (so that the embedded store can
	// index them, see embedded.Server.IndexIDs).
	for _, c := range []*mongo.Collection{s.drafts, s.subs, s.events, s.counters, s.leases, s.files, s.chunks, s.versions,
		s.idem, s.owners, s.due, s.changes, s.caseIdx} {
		if err := s.db.CreateCollection(ctx, c.Name()); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongostore: create collection %s: %w", c.Name(), err)
		}
	}
	if err := s.ensureAudit(ctx); err != nil { // audit.go
		return err
	}
	if err := s.ensureStaffIndexes(ctx); err != nil { // staff.go
		return err
	}
	for c, models := range idx {
		// One at a time: FerretDB v1.24 panics on createIndexes with
		// several indexes that all exist already.
		for _, m := range models {
			// FerretDB on SQLite answers every query but {_id} with a
			// scan whatever indexes exist (see docs/storage.md), so a
			// non-unique index there costs every insert and speeds up
			// nothing. Unique indexes stay: they enforce idempotency.
			if s.ferret && !isUnique(m) {
				continue
			}
			if _, err := c.Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("mongostore: create index on %s: %w", c.Name(), err)
			}
		}
	}
	if err := s.ensureOutbox(ctx); err != nil { // delivery outbox (outbox.go)
		return err
	}
	if !s.ferret {
		// Indexes of schema version 1 that no query uses any more: each
		// cost every write.
		for c, names := range map[*mongo.Collection][]string{
			s.drafts: {"expires_1"}, s.subs: {"pending_1", "inbox"}, s.files: {"metadata.owner_1"},
		} {
			for _, n := range names {
				if err := c.Indexes().DropOne(ctx, n); err != nil && !isIndexNotFound(err) {
					return fmt.Errorf("mongostore: drop obsolete index %s on %s: %w", n, c.Name(), err)
				}
			}
		}
	}
	return nil
}

func isIndexNotFound(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 27 || ce.Code == 26 || ce.Name == "IndexNotFound" || ce.Name == "NamespaceNotFound")
}

func isUnique(m mongo.IndexModel) bool {
	if m.Options == nil {
		return false
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		_ = set(&o)
	}
	return o.Unique != nil && *o.Unique
}

// Close disconnects the client if the Store created it.
func (s *Store) Close(ctx context.Context) error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	s.retireBlocks()
	if err := s.closeIndex(ctx); err != nil {
		s.log.Warn("case index not saved (rebuilt from change markers at next start)", "err", err)
	}
	if s.owned {
		return s.client.Disconnect(ctx)
	}
	return nil
}

// Client returns the underlying client (for tests and tools).
func (s *Store) Client() *mongo.Client { return s.client }

// opctx applies the default deadline when ctx has none.
func (s *Store) opctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opts.OpTimeout)
}

// now returns the current time at BSON (millisecond) precision, so values
// read back compare equal to values written.
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

func bsonTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// keyed locks serialise conditional updates per document inside the
// process (see package doc). They are package-level so that several Store
// values in one process (tests, tools) share them.
var keyLocks [512]sync.Mutex

func lockKey(parts ...string) func() {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	m := &keyLocks[h.Sum32()%uint32(len(keyLocks))]
	m.Lock()
	return m.Unlock
}

func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")
}

func isNoDocs(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }

// condUpdate applies update to document id if it satisfies cond (a
// MongoDB filter) / check (the same condition in Go) and returns the
// updated document, or nil if it does not match. The caller holds the
// document's key lock. On MongoDB this is one atomic findOneAndUpdate; on
// FerretDB, where that is not atomic and any filter beyond {_id} is a full
// scan, the condition is checked in Go on an _id lookup under the lock.
func (s *Store) condUpdate(ctx context.Context, c *mongo.Collection, id string, cond bson.D, check func(bson.Raw) bool, update bson.D) (bson.Raw, error) {
	byID := bson.D{{Key: "_id", Value: id}}
	after := options.FindOneAndUpdate().SetReturnDocument(options.After)
	if !s.ferret {
		raw, err := c.FindOneAndUpdate(ctx, append(byID, cond...), update, after).Raw()
		if isNoDocs(err) {
			return nil, nil
		}
		return raw, err
	}
	raw, err := c.FindOne(ctx, byID).Raw()
	if isNoDocs(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !check(raw) {
		return nil, nil
	}
	raw, err = c.FindOneAndUpdate(ctx, byID, update, after).Raw()
	if isNoDocs(err) {
		return nil, nil
	}
	return raw, err
}

// exists reports whether a submission exists (an _id lookup). On error
// it answers true, so that nothing is deleted by mistake.
func (s *Store) exists(ctx context.Context, sid string) bool {
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	return !isNoDocs(err)
}

// subID is the _id of a submission: reference numbers are unique per
// tenant, so the tenant is part of the key.
func subID(tenant, ref string) string { return tenant + "/" + ref }

func splitSubID(id string) (tenant, ref string) {
	i := strings.LastIndexByte(id, '/')
	if i < 0 {
		return "", id
	}
	return id[:i], id[i+1:]
}
