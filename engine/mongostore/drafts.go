package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// CreateDraft implements the store interface of its domain package.
func (s *Store) CreateDraft(ctx context.Context, d *record.Draft) error {
	if d.Tenant == "" {
		return fmt.Errorf("mongostore: draft without tenant")
	}
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if d.ID == "" {
		d.ID = record.NewToken()
	}
	t := now()
	d.Created, d.Updated, d.Version = t, t, 1
	d.Expires = bsonTime(d.Expires)
	doc := draftDoc{
		ID: d.ID, Tenant: d.Tenant, Service: toServiceDoc(d.Service), Page: d.Page,
		Data: d.Data, Created: t, Updated: t, Expires: d.Expires, Version: 1,
	}
	// The expiry bucket first, so that no stored draft escapes the sweeper.
	due := d.Expires
	if due.Before(t) {
		due = t
	}
	if err := s.addDue(ctx, draftBucket(due), d.ID); err != nil {
		return err
	}
	if _, err := s.drafts.InsertOne(ctx, doc); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongostore: draft %s: %w", d.ID, record.ErrConflict)
		}
		return fmt.Errorf("mongostore: create draft: %w", err)
	}
	if s.draftCache != nil {
		if raw, err := bson.Marshal(doc); err == nil {
			s.draftCache.put(d.ID, raw)
		}
	}
	return nil
}

// GetDraft implements the store interface of its domain package.
func (s *Store) GetDraft(ctx context.Context, tenant, id string) (*record.Draft, error) {
	return s.getDraft(ctx, tenant, id, false)
}

// getDraft reads a draft; locked tells that the caller holds the draft's
// key lock already.
func (s *Store) getDraft(ctx context.Context, tenant, id string, locked bool) (*record.Draft, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	raw, ok := s.draftCache.get(id)
	if !ok {
		// With the cache, a miss is filled under the draft's lock, which
		// every write of the draft holds too: a value read before a write
		// can never be cached after it.
		if s.draftCache != nil && !locked {
			defer lockKey("drafts", id)()
		}
		var err error
		raw, err = s.drafts.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			if isNoDocs(err) {
				return nil, fmt.Errorf("draft: %w", record.ErrNotFound)
			}
			return nil, fmt.Errorf("mongostore: get draft: %w", err)
		}
		s.draftCache.put(id, raw)
	}
	var doc draftDoc
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("mongostore: get draft: %w", err)
	}
	if doc.Tenant != tenant {
		return nil, fmt.Errorf("draft: %w", record.ErrNotFound)
	}
	if !doc.Expires.IsZero() && !now().Before(doc.Expires) {
		return nil, fmt.Errorf("draft: %w", record.ErrExpired)
	}
	return doc.draft(), nil
}

// UpdateDraft implements the store interface of its domain package.
func (s *Store) UpdateDraft(ctx context.Context, d *record.Draft) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey("drafts", d.ID)()
	t := now()
	cond := bson.D{
		{Key: "tenant", Value: d.Tenant},
		{Key: "version", Value: d.Version},
		{Key: "expires", Value: bson.D{{Key: "$gt", Value: t}}},
	}
	check := func(raw bson.Raw) bool {
		var cur draftDoc
		return bson.Unmarshal(raw, &cur) == nil && cur.Tenant == d.Tenant && cur.Version == d.Version && cur.Expires.After(t)
	}
	update := bson.D{
		{Key: "$set", Value: bson.D{
			{Key: "page", Value: d.Page},
			{Key: "data", Value: d.Data},
			{Key: "expires", Value: bsonTime(d.Expires)},
			{Key: "updated", Value: t},
		}},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
	}
	raw, err := s.condUpdate(ctx, s.drafts, d.ID, cond, check, update)
	if err != nil {
		s.draftCache.drop(d.ID)
		return fmt.Errorf("mongostore: update draft: %w", err)
	}
	if raw != nil {
		s.draftCache.put(d.ID, raw)
		var doc draftDoc
		if err := bson.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("mongostore: update draft: %w", err)
		}
		d.Version, d.Updated, d.Expires = doc.Version, doc.Updated.UTC(), doc.Expires.UTC()
		return nil
	}
	// No match: tell apart unknown, expired and stale.
	s.draftCache.drop(d.ID)
	cur, gerr := s.getDraft(ctx, d.Tenant, d.ID, true)
	if gerr != nil {
		return gerr
	}
	return fmt.Errorf("draft version %d, stored %d: %w", d.Version, cur.Version, record.ErrConflict)
}

// DeleteDraft implements the store interface of its domain package. Files uploaded for the draft that
// were not attached to a submission are deleted too.
func (s *Store) DeleteDraft(ctx context.Context, tenant, id string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var doc draftDoc
	err := s.drafts.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "tenant", Value: 1}})).Decode(&doc)
	if isNoDocs(err) || (err == nil && doc.Tenant != tenant) {
		return fmt.Errorf("draft: %w", record.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mongostore: delete draft: %w", err)
	}
	unlock := lockKey("drafts", id)
	_, err = s.drafts.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	s.draftCache.drop(id)
	unlock()
	if err != nil {
		return fmt.Errorf("mongostore: delete draft: %w", err)
	}
	// A file still being attached by a submit stays with its owner
	// record; the sweeper looks again when the draft's expiry comes.
	_, _, err = s.deleteOwnerFiles(ctx, id)
	return err
}
