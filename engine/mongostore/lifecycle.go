package mongostore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// AcquireLease implements the store interface of its domain package. The lease document is taken with
// findOneAndUpdate + upsert: if another holder's unexpired lease exists,
// the filter does not match and the upsert fails on the _id.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey("leases", name)()
	t := now()
	err := s.leases.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: name}, {Key: "$or", Value: bson.A{
			bson.D{{Key: "holder", Value: holder}},
			bson.D{{Key: "until", Value: bson.D{{Key: "$lte", Value: t}}}},
		}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "holder", Value: holder}, {Key: "until", Value: t.Add(ttl)}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
	).Err()
	if err == nil {
		return true, nil
	}
	if mongo.IsDuplicateKeyError(err) {
		return false, nil
	}
	return false, fmt.Errorf("mongostore: acquire lease %s: %w", name, err)
}

// ReleaseLease implements the store interface of its domain package.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey("leases", name)()
	_, err := s.leases.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "holder", Value: holder}})
	if err != nil {
		return fmt.Errorf("mongostore: release lease %s: %w", name, err)
	}
	return nil
}

// SubmissionServices implements the store interface of its domain package.
func (s *Store) SubmissionServices(ctx context.Context) ([]string, error) {
	if s.cases != nil {
		return s.cases.services(), nil
	}
	// FerretDB rejects distinct with maxTimeMS, which the driver derives
	// from a context deadline; cancel by timer instead.
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	timer := time.AfterFunc(s.opts.OpTimeout, cancel)
	defer timer.Stop()
	raw, err := s.subs.Distinct(ctx, "service.id", bson.D{}).Raw()
	if err != nil {
		return nil, fmt.Errorf("mongostore: services: %w", err)
	}
	vals, err := raw.Values()
	if err != nil {
		return nil, fmt.Errorf("mongostore: services: %w", err)
	}
	var ids []string
	for _, v := range vals {
		if id, ok := v.StringValueOK(); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// SubmissionsUpdatedBefore implements the store interface of its domain package.
func (s *Store) SubmissionsUpdatedBefore(ctx context.Context, serviceID string, t time.Time, limit int) ([]record.SubmissionKey, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if limit <= 0 {
		limit = 100
	}
	if s.cases != nil {
		return s.cases.updatedBefore(serviceID, t, limit), nil
	}
	cur, err := s.subs.Find(ctx,
		bson.D{{Key: "service.id", Value: serviceID}, {Key: "updated", Value: bson.D{{Key: "$lt", Value: t}}}},
		options.Find().SetLimit(int64(limit)).SetProjection(bson.D{{Key: "tenant", Value: 1}, {Key: "ref", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("mongostore: retention query: %w", err)
	}
	var docs []submissionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]record.SubmissionKey, len(docs))
	for i, d := range docs {
		out[i] = record.SubmissionKey{Tenant: d.Tenant, Ref: d.Ref}
	}
	return out, nil
}

// DeleteSubmission implements the store interface of its domain package. Order matters for crash
// safety: the tombstone first (fixed _id, so repeating is harmless), then
// events, files and finally the submission, whose presence makes the
// sweeper try again.
func (s *Store) DeleteSubmission(ctx context.Context, tenant, ref, reason string, at, before time.Time) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	sid := subID(tenant, ref)
	return s.track(ctx, sid, false, func() (*record.Submission, bool, error) {
		return nil, true, s.deleteSubmission(ctx, tenant, ref, sid, reason, at, before)
	})
}

func (s *Store) deleteSubmission(ctx context.Context, tenant, ref, sid, reason string, at, before time.Time) error {
	var doc submissionDoc
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
		options.FindOne().SetProjection(bson.D{{Key: "service", Value: 1}, {Key: "attachments", Value: 1}, {Key: "created", Value: 1}, {Key: "idemKey", Value: 1}, {Key: "deleting", Value: 1}})).Decode(&doc)
	if isNoDocs(err) {
		return fmt.Errorf("submission %s: %w", ref, record.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mongostore: delete submission: %w", err)
	}
	if at.IsZero() {
		at = now()
	}
	tomb := eventDoc{
		ID: tombstoneID(sid), Tenant: tenant, Submission: sid, Ref: ref,
		Type: record.EventDeleted, At: bsonTime(at), Actor: "system",
		Data: map[string]any{"reason": reason, "service": doc.Service.ID, "version": doc.Service.Version,
			"created": doc.Created, "files": int64(len(doc.Attachments))},
	}
	var log eventLogDoc
	resumed := false
	if err := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Decode(&log); err == nil && log.Deleted != nil {
		tomb, resumed = *log.Deleted, true // a repeated attempt keeps the first tombstone
	}
	if !before.IsZero() && !resumed && !doc.Deleting {
		// Due only if unchanged since before: claim the deletion by a
		// write conditional on that, which also steps the version and
		// marks the submission as being deleted. A caseworker's change
		// after this point fails (on the version, or because the
		// submission is no longer found), and a change before it leaves
		// the submission alone. A deletion once claimed or begun (the
		// tombstone is there) is finished the next time the sweeper
		// lists it, whatever the cutoff says then (its last change stays
		// as it was).
		unlock := lockKey("submissions", sid) // FerretDB updates are read-modify-write
		res, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}, {Key: "updated", Value: bson.D{{Key: "$lt", Value: before}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "deleting", Value: true}}}, {Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}}})
		unlock()
		if err != nil {
			return fmt.Errorf("mongostore: delete submission: %w", err)
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("submission %s changed since it was due: %w", ref, record.ErrConflict)
		}
	}
	wipe := func() error {
		defer lockKey("events", sid)()
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			_, err = s.events.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "tenant", Value: tenant}, {Key: "ref", Value: ref},
					{Key: "events", Value: bson.A{}}, {Key: "deleted", Value: tomb}}}},
				options.UpdateOne().SetUpsert(true))
			if !mongo.IsDuplicateKeyError(err) { // a concurrent upsert created it: update again
				break
			}
		}
		if err != nil {
			return fmt.Errorf("mongostore: tombstone: %w", err)
		}
		return nil
	}
	if err := wipe(); err != nil {
		return err
	}
	for _, a := range doc.Attachments {
		if err := s.removeFile(ctx, a.ID); err != nil {
			return err
		}
	}
	unlock := lockKey("submissions", sid)
	_, err = s.subs.DeleteOne(ctx, bson.D{{Key: "_id", Value: sid}})
	unlock()
	if err != nil {
		return fmt.Errorf("mongostore: delete submission: %w", err)
	}
	if doc.IdemKey != "" {
		if err := s.dropKey(ctx, idemValue(tenant, doc.IdemKey, ""), sid); err != nil {
			return err
		}
	}
	return wipe() // again, in case an event copy raced with the deletion
}
