package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// Idempotency keys are records of their own in the collection
// "idempotency", keyed by _id = "key/<tenant>/<key>" and pointing to the
// submission stored under the key. A replay therefore costs _id reads
// (the claim, then the submission) whatever the size of the archive.
//
// The claim is inserted before the submission, so uniqueness comes from
// an insert. It is only a pointer, though: the authority is the unique
// index on the submission's "idem" field. A claim whose submission does
// not exist (its writer is still busy, or crashed between the two
// inserts) is an orphan; the next submit with the key then inserts its
// own submission, and whichever insert wins the unique index points the
// claim to itself. A claim whose submission exists but was never pointed
// to (legacy data, a crash right after such a takeover) is found once by
// a query on "idem" and repaired.

// claimDoc is an idempotency claim.
type claimDoc struct {
	ID  string    `bson:"_id"` // idemValue(tenant, key, "")
	Sub string    `bson:"sub"` // submission _id
	At  time.Time `bson:"at"`
}

// errOrphan reports a claim whose submission does not exist (yet).
var errOrphan = errors.New("idempotency claim without submission")

// claimKey inserts the claim for key pointing to sid. It reports false if
// a claim exists already.
func (s *Store) claimKey(ctx context.Context, id, sid string, at time.Time) (bool, error) {
	_, err := s.idem.InsertOne(ctx, claimDoc{ID: id, Sub: sid, At: at})
	if err == nil {
		return true, nil
	}
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	return false, fmt.Errorf("mongostore: idempotency claim: %w", err)
}

// pointKey makes the claim id point to sid.
func (s *Store) pointKey(ctx context.Context, id, sid string) error {
	defer lockKey("idem", id)()
	_, err := s.idem.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "sub", Value: sid}, {Key: "at", Value: now()}}}},
		options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // concurrent upsert
		_, err = s.idem.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "sub", Value: sid}}}})
	}
	if err != nil {
		return fmt.Errorf("mongostore: idempotency claim: %w", err)
	}
	return nil
}

// dropKey deletes the claim id if it points to sid (after the submission
// was deleted).
func (s *Store) dropKey(ctx context.Context, id, sid string) error {
	defer lockKey("idem", id)()
	var c claimDoc
	err := s.idem.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	if isNoDocs(err) || (err == nil && c.Sub != sid) {
		return nil
	}
	if err == nil {
		_, err = s.idem.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	}
	if err != nil {
		return fmt.Errorf("mongostore: drop idempotency claim: %w", err)
	}
	return nil
}

// replay returns the submission stored under an idempotency key: two _id
// reads. It returns record.ErrNotFound without a claim and errOrphan
// when the claim's submission does not exist (with its id, to be taken
// over) or carries another key (without an id). An empty hash matches
// any payload.
func (s *Store) replay(ctx context.Context, tenant, key, hash string) (*record.Submission, bool, string, error) {
	id := idemValue(tenant, key, "")
	var c claimDoc
	err := s.idem.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&c)
	if isNoDocs(err) {
		return nil, false, "", record.ErrNotFound
	}
	if err != nil {
		return nil, false, "", fmt.Errorf("mongostore: idempotency lookup: %w", err)
	}
	var doc submissionDoc
	err = s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: c.Sub}},
		options.FindOne().SetProjection(bson.D{{Key: "events", Value: 0}, {Key: "outbox", Value: 0}})).Decode(&doc)
	if isNoDocs(err) {
		return nil, false, c.Sub, errOrphan
	}
	if err == nil && doc.Idem != id {
		// The claim names a submission of another key (a crash between a
		// claim and its repointing): not one to take over.
		return nil, false, "", errOrphan
	}
	if err != nil {
		return nil, false, "", fmt.Errorf("mongostore: idempotency lookup: %w", err)
	}
	return replayed(&doc, key, hash)
}

func replayed(doc *submissionDoc, key, hash string) (*record.Submission, bool, string, error) {
	if hash != "" && doc.PayloadHash != hash {
		return nil, false, doc.ID, fmt.Errorf("idempotency key %q (submission %s): %w", key, doc.Ref, record.ErrIdempotencyMismatch)
	}
	return doc.submission(), false, doc.ID, nil
}

// replayAfterConflict is called when inserting a submission under key
// failed on the unique "idem" index: another submission holds the key.
// It waits briefly for that writer to point the claim to it; if the claim
// stays an orphan (or is our own, mine == its submission id), the holder
// is found by a query on "idem" (a scan on FerretDB; this happens only
// for data written before claims existed or after a crash) and the claim
// is repaired.
func (s *Store) replayAfterConflict(ctx context.Context, tenant, key, hash, mine string) (*record.Submission, bool, error) {
	delay := time.Millisecond
	for i := 0; i < 12; i++ {
		sub, created, csub, err := s.replay(ctx, tenant, key, hash)
		if !errors.Is(err, errOrphan) && !errors.Is(err, record.ErrNotFound) {
			return sub, created, err
		}
		if csub == mine && csub != "" {
			break
		}
		select {
		case <-ctx.Done():
			return nil, false, fmt.Errorf("mongostore: idempotency: %w", ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 20*time.Millisecond)
	}
	id := idemValue(tenant, key, "")
	var doc submissionDoc
	err := s.subs.FindOne(ctx, bson.D{{Key: "idem", Value: id}},
		options.FindOne().SetProjection(bson.D{{Key: "events", Value: 0}, {Key: "outbox", Value: 0}})).Decode(&doc)
	if isNoDocs(err) {
		return nil, false, fmt.Errorf("idempotency key %q: holder vanished: %w", key, record.ErrConflict)
	}
	if err != nil {
		return nil, false, fmt.Errorf("mongostore: idempotency lookup: %w", err)
	}
	if err := s.pointKey(ctx, id, doc.ID); err != nil {
		return nil, false, err
	}
	sub, created, _, err := replayed(&doc, key, hash)
	return sub, created, err
}
