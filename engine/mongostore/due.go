package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Draft expiry by due-date buckets: one _id-keyed document per hour,
// "draft/2026-12-01T10", lists the drafts that expire in that hour (or,
// for drafts created already expired, the hour of creation). The sweeper
// reads the buckets from its cursor up to now, so its cost follows the
// drafts that fall due, not the drafts stored. Buckets are hints: every
// id is checked against the draft. A draft whose expiry moved later
// (every save extends it) is moved to the bucket of its current expiry
// when its old bucket falls due, so saving a draft writes no bucket.

// dueDoc is one bucket. N counts additions, so that a bucket is deleted
// only if nothing was added since it was read.
type dueDoc struct {
	ID  string   `bson:"_id"`
	IDs []string `bson:"ids"`
	N   int64    `bson:"n"`
}

const draftCursorID = "draft/cursor"

func draftBucket(t time.Time) string { return "draft/" + t.UTC().Format("2006-01-02T15") }

// addDue adds id to the bucket of hour t.
func (s *Store) addDue(ctx context.Context, bucket, id string) error {
	defer lockKey("due", bucket)() // FerretDB updates are read-modify-write
	upd := bson.D{{Key: "$addToSet", Value: bson.D{{Key: "ids", Value: id}}}, {Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}}}
	_, err := s.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: bucket}}, upd, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // concurrent upsert
		_, err = s.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: bucket}}, upd)
	}
	if err != nil {
		return fmt.Errorf("mongostore: due bucket: %w", err)
	}
	return nil
}

// dropDue deletes a bucket if nothing was added since it was read.
func (s *Store) dropDue(ctx context.Context, b *dueDoc) error {
	defer lockKey("due", b.ID)()
	var err error
	if s.ferret {
		var cur dueDoc
		err = s.due.FindOne(ctx, bson.D{{Key: "_id", Value: b.ID}}).Decode(&cur)
		if err == nil && cur.N == b.N {
			_, err = s.due.DeleteOne(ctx, bson.D{{Key: "_id", Value: b.ID}})
		}
		if isNoDocs(err) {
			err = nil
		}
	} else {
		_, err = s.due.DeleteOne(ctx, bson.D{{Key: "_id", Value: b.ID}, {Key: "n", Value: b.N}})
	}
	if err != nil {
		return fmt.Errorf("mongostore: due bucket: %w", err)
	}
	return nil
}

// DeleteExpiredDrafts implements sweep.Store: it reads the expiry buckets
// from the sweeper's cursor up to t. Buckets more than an hour in the
// past are deleted once every draft in them is handled, and the cursor
// moves past them; the last two hours are read again by the next run, so
// a draft written near an hour's end by a slower clock is not missed.
func (s *Store) DeleteExpiredDrafts(ctx context.Context, t time.Time) (int, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	t = t.UTC()
	last := t.Truncate(time.Hour)
	settled := last.Add(-time.Hour) // buckets before this hour may be deleted
	var cursor struct {
		Hour time.Time `bson:"hour"`
	}
	n := 0
	err := s.due.FindOne(ctx, bson.D{{Key: "_id", Value: draftCursorID}}).Decode(&cursor)
	first := isNoDocs(err)
	switch {
	case first:
		// First run on this database: drafts written before buckets
		// existed are found once by a query on expires.
		m, err := s.deleteExpiredDraftsByQuery(ctx, t)
		if err != nil {
			return m, err
		}
		n += m
		cursor.Hour = settled
	case err != nil:
		return 0, fmt.Errorf("mongostore: draft cursor: %w", err)
	}
	next := cursor.Hour.UTC()
	advance := true
	for h := cursor.Hour.UTC(); !h.After(last); h = h.Add(time.Hour) {
		var b dueDoc
		err := s.due.FindOne(ctx, bson.D{{Key: "_id", Value: draftBucket(h)}}).Decode(&b)
		if isNoDocs(err) {
			if advance && h.Before(settled) {
				next = h.Add(time.Hour)
			}
			continue
		}
		if err != nil {
			return n, fmt.Errorf("mongostore: due bucket: %w", err)
		}
		done := true
		for _, id := range b.IDs {
			deleted, handled, err := s.expireDraft(ctx, id, t, b.ID)
			if err != nil {
				return n, err
			}
			if deleted {
				n++
			}
			done = done && handled
		}
		if done && h.Before(settled) {
			if err := s.dropDue(ctx, &b); err != nil {
				return n, err
			}
			if advance {
				next = h.Add(time.Hour)
			}
			continue
		}
		advance = false
	}
	if first || !next.Equal(cursor.Hour.UTC()) {
		_, err := s.due.UpdateOne(ctx, bson.D{{Key: "_id", Value: draftCursorID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "hour", Value: next}}}}, options.UpdateOne().SetUpsert(true))
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return n, fmt.Errorf("mongostore: draft cursor: %w", err)
		}
	}
	return n, nil
}

// expireDraft deletes draft id if it expired at t. handled reports that
// the bucket no longer needs the id: the draft is gone, was deleted now,
// or expires later and was added to its later bucket.
func (s *Store) expireDraft(ctx context.Context, id string, t time.Time, bucket string) (deleted, handled bool, err error) {
	unlock := lockKey("drafts", id)
	var cur draftDoc
	err = s.drafts.FindOne(ctx, bson.D{{Key: "_id", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "expires", Value: 1}})).Decode(&cur)
	if isNoDocs(err) {
		unlock()
		// Deleted, but its files may not be: their removal failed, or a
		// submit was still attaching them then.
		_, pending, err := s.deleteOwnerFiles(ctx, id)
		return false, err == nil && !pending, err
	}
	if err != nil {
		unlock()
		return false, false, fmt.Errorf("mongostore: expire draft: %w", err)
	}
	if cur.Expires.After(t) { // extended meanwhile
		unlock()
		later := draftBucket(cur.Expires)
		if later == bucket {
			return false, false, nil
		}
		return false, true, s.addDue(ctx, later, id)
	}
	res, err := s.drafts.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	s.draftCache.drop(id)
	unlock()
	if err != nil {
		return false, false, fmt.Errorf("mongostore: delete draft: %w", err)
	}
	_, pending, err := s.deleteOwnerFiles(ctx, id)
	if err != nil {
		return false, false, err
	}
	return res.DeletedCount > 0, !pending, nil
}

// deleteExpiredDraftsByQuery is the expiry sweep of schema version 1 (a
// query on expires, a scan on FerretDB), run once per database.
func (s *Store) deleteExpiredDraftsByQuery(ctx context.Context, t time.Time) (int, error) {
	cur, err := s.drafts.Find(ctx, bson.D{{Key: "expires", Value: bson.D{{Key: "$lte", Value: t}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return 0, fmt.Errorf("mongostore: expired drafts: %w", err)
	}
	var ids []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &ids); err != nil {
		return 0, err
	}
	n := 0
	for _, d := range ids {
		deleted, handled, err := s.expireDraft(ctx, d.ID, t, "")
		if err != nil {
			return n, err
		}
		if deleted {
			n++
		}
		if !handled { // a file still being attached: look again in an hour
			if err := s.addDue(ctx, draftBucket(t.Add(time.Hour)), d.ID); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
