package mongostore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// The audit trail (engine/audit) lives in the collection "audit", one
// document per entry under _id "<tenant>/<seq, 16 digits>": inserts with
// a unique _id make each seq exclusive on MongoDB and FerretDB alike, and
// the zero padding makes _id order chain order, so every query is an _id
// lookup or an _id range (served by the _id index on MongoDB). Entries are
// never updated or deleted by this package.

const auditCollection = "audit"

type auditDoc struct {
	ID     string            `bson:"_id"`
	Tenant string            `bson:"tenant"`
	Seq    int64             `bson:"seq"`
	At     time.Time         `bson:"at"`
	Actor  string            `bson:"actor,omitempty"`
	Action string            `bson:"action"`
	Object string            `bson:"object,omitempty"`
	Addr   string            `bson:"addr,omitempty"`
	Detail map[string]string `bson:"detail,omitempty"`
	Prev   string            `bson:"prev"`
	Hash   string            `bson:"hash"`
}

func (s *Store) audit() *mongo.Collection { return s.db.Collection(auditCollection) }

// ensureAudit creates the audit collection; the _id index serves every
// query.
func (s *Store) ensureAudit(ctx context.Context) error {
	if err := s.db.CreateCollection(ctx, auditCollection); err != nil && !isNamespaceExists(err) {
		return fmt.Errorf("mongostore: create collection %s: %w", auditCollection, err)
	}
	return nil
}

func auditID(tenant string, seq int64) string { return fmt.Sprintf("%s/%016d", tenant, seq) }

// auditRange is the _id filter of tenant's entries above seq after.
func auditRange(tenant string, after int64) bson.D {
	// tenants contain no '/', and '0' follows '/'
	return bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: auditID(tenant, after)}, {Key: "$lt", Value: tenant + "0"}}}}
}

func (d *auditDoc) entry() *record.AuditEntry {
	e := &record.AuditEntry{Tenant: d.Tenant, Seq: d.Seq, At: d.At.UTC(), Actor: d.Actor, Action: d.Action,
		Object: d.Object, Addr: d.Addr, Detail: d.Detail, Prev: d.Prev, Hash: d.Hash}
	if i := strings.LastIndexByte(d.ID, '/'); i >= 0 {
		e.Slot, _ = strconv.ParseInt(d.ID[i+1:], 10, 64)
	}
	return e
}

// InsertAudit implements audit.Store.
func (s *Store) InsertAudit(ctx context.Context, e *record.AuditEntry) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if strings.Contains(e.Tenant, "/") || e.Seq <= 0 {
		return fmt.Errorf("mongostore: audit entry %q/%d: bad key", e.Tenant, e.Seq)
	}
	d := auditDoc{ID: auditID(e.Tenant, e.Seq), Tenant: e.Tenant, Seq: e.Seq, At: bsonTime(e.At), Actor: e.Actor,
		Action: e.Action, Object: e.Object, Addr: e.Addr, Detail: e.Detail, Prev: e.Prev, Hash: e.Hash}
	if len(d.Detail) == 0 {
		d.Detail = nil
	}
	if _, err := s.audit().InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongostore: audit entry %s: %w", d.ID, record.ErrConflict)
		}
		return fmt.Errorf("mongostore: audit entry %s: %w", d.ID, err)
	}
	return nil
}

// AuditEntry implements audit.Store.
func (s *Store) AuditEntry(ctx context.Context, tenant string, seq int64) (*record.AuditEntry, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d auditDoc
	err := s.audit().FindOne(ctx, bson.D{{Key: "_id", Value: auditID(tenant, seq)}}).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("mongostore: audit entry %s/%d: %w", tenant, seq, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: audit entry %s/%d: %w", tenant, seq, err)
	}
	return d.entry(), nil
}

// LastAudit implements audit.Store.
func (s *Store) LastAudit(ctx context.Context, tenant string) (*record.AuditEntry, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d auditDoc
	err := s.audit().FindOne(ctx, auditRange(tenant, 0), options.FindOne().SetSort(bson.D{{Key: "_id", Value: -1}})).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("mongostore: audit of %s: %w", tenant, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: last audit entry of %s: %w", tenant, err)
	}
	return d.entry(), nil
}

// AuditEntries implements audit.Store. The walk is one cursor; fn runs
// while it is open, so ctx should carry the deadline of the whole walk
// (without one, each batch gets the default operation timeout).
func (s *Store) AuditEntries(ctx context.Context, tenant string, after int64, limit int, fn func(*record.AuditEntry) error) error {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(500)
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	fctx, cancel := s.opctx(ctx)
	cur, err := s.audit().Find(fctx, auditRange(tenant, after), opts)
	cancel()
	if err != nil {
		return fmt.Errorf("mongostore: audit entries of %s: %w", tenant, err)
	}
	defer cur.Close(context.Background())
	for {
		nctx, cancel := s.opctx(ctx)
		ok := cur.Next(nctx)
		cancel()
		if !ok {
			break
		}
		var d auditDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("mongostore: audit entry: %w", err)
		}
		if err := fn(d.entry()); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongostore: audit entries of %s: %w", tenant, err)
	}
	return nil
}

// AuditTenants implements audit.Store.
func (s *Store) AuditTenants(ctx context.Context) ([]string, error) {
	// FerretDB rejects distinct with maxTimeMS, which the driver derives
	// from a context deadline (see lifecycle.go).
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	timer := time.AfterFunc(s.opts.OpTimeout, cancel)
	defer timer.Stop()
	raw, err := s.audit().Distinct(ctx, "tenant", bson.D{}).Raw()
	if err != nil {
		return nil, fmt.Errorf("mongostore: audit tenants: %w", err)
	}
	vals, err := raw.Values()
	if err != nil {
		return nil, fmt.Errorf("mongostore: audit tenants: %w", err)
	}
	var ts []string
	for _, v := range vals {
		if t, ok := v.StringValueOK(); ok {
			ts = append(ts, t)
		}
	}
	sort.Strings(ts)
	return ts, nil
}
