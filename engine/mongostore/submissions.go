package mongostore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// eventID returns an id that sorts by time within a submission. i
// separates events written at the same instant in one write.
func eventID(sid string, at time.Time, i int) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return formatEventID(sid, at.UnixNano()+int64(i), r)
}

// formatEventID writes what fmt.Sprintf("%s#%016x%08x", sid, n, r as a
// big-endian uint32) writes, without fmt for n ≥ 0 (a submit writes one
// or two).
func formatEventID(sid string, n int64, r [4]byte) string {
	if n < 0 {
		return fmt.Sprintf("%s#%016x%08x", sid, n, binary.BigEndian.Uint32(r[:]))
	}
	var t [12]byte
	binary.BigEndian.PutUint64(t[:], uint64(n))
	copy(t[8:], r[:])
	var h [24]byte
	hex.Encode(h[:], t[:])
	var b strings.Builder
	b.Grow(len(sid) + 1 + len(h))
	b.WriteString(sid)
	b.WriteByte('#')
	b.Write(h[:])
	return b.String()
}

func tombstoneID(sid string) string { return sid + "#~deleted" }

func idemValue(tenant, key, sid string) string {
	if key == "" {
		return "id/" + sid
	}
	return "key/" + tenant + "/" + key
}

// Submit implements the store interface of its domain package. The common path is one insert: the
// reference number comes from a reserved block, and the first events are
// embedded in the submission; they are copied to the events collection
// in the background (and on restart, if the process died before).
func (s *Store) Submit(ctx context.Context, req *record.SubmitRequest) (*record.Submission, bool, error) {
	if req.Tenant == "" || req.Service.ID == "" {
		return nil, false, fmt.Errorf("mongostore: submit needs tenant and service id")
	}
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	at := bsonTime(req.At)
	if req.At.IsZero() {
		at = now()
	}
	hash := req.PayloadHash
	if hash == "" {
		hash = record.HashPayload(req.Service.ID, req.Data, req.AttachmentIDs)
	}
	status := req.Status
	if status == "" {
		status = "submitted"
	}
	actor := req.Actor
	if actor == "" {
		actor = "citizen"
	}
	key := req.IdempotencyKey
	claimID := idemValue(req.Tenant, key, "")
	// With a key: look its claim up first (one _id read), so that a
	// replay returns without taking a reference number. A claim whose
	// submission is missing (its writer is still busy, or crashed before
	// the insert) is taken over with the same submission id: both
	// writers then link the files to, and insert, the same _id, and
	// whichever insert wins is the submission of the key.
	//
	// The only writer (the embedded store, with the case index) knows
	// every key in memory: submits of one key are serialised in-process,
	// a replay is one _id read and a new submit writes no claim (the
	// unique index on idem stays the authority).
	takeover := ""
	exclusive := s.cases != nil && key != ""
	if exclusive {
		defer lockSubmitKey(claimID)()
		if sid, ok := s.cases.keyHolder(claimID); ok {
			var doc submissionDoc
			err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
				options.FindOne().SetProjection(bson.D{{Key: "events", Value: 0}, {Key: "outbox", Value: 0}})).Decode(&doc)
			if err == nil && doc.Idem == claimID {
				sub, created, _, err := replayed(&doc, key, hash)
				return sub, created, err
			}
			if err != nil && !isNoDocs(err) {
				return nil, false, fmt.Errorf("mongostore: idempotency lookup: %w", err)
			}
		}
	} else if key != "" {
		sub, created, csub, err := s.replay(ctx, req.Tenant, key, hash)
		switch {
		case err == nil || errors.Is(err, record.ErrIdempotencyMismatch):
			return sub, created, err
		case errors.Is(err, errOrphan):
			takeover = csub
		case !errors.Is(err, record.ErrNotFound):
			return nil, false, err
		}
	}
	var atts []attachmentDoc
	if len(req.AttachmentIDs) > 0 {
		var err error
		if atts, err = s.checkAttachments(ctx, req.Tenant, req.AttachmentOwner, req.AttachmentIDs); err != nil {
			if errors.Is(err, record.ErrConflict) && key != "" {
				// the files may belong to the first submission of this key
				if sub, created, _, rerr := s.replay(ctx, req.Tenant, key, hash); rerr == nil || errors.Is(rerr, record.ErrIdempotencyMismatch) {
					return sub, created, rerr
				}
			}
			return nil, false, err
		}
	}
	year := req.Year // the installation's year of At
	if year == 0 {
		year = at.Year()
	}
	for attempt := 0; attempt < 20; attempt++ {
		var ref, sid string
		claimed, covered := false, false
		done := func() {}
		if takeover != "" {
			sid, takeover = takeover, ""
			_, ref = splitSubID(sid)
		} else {
			var err error
			if ref, done, covered, err = s.nextRef(ctx, req.Tenant, req.Service.ID, req.Prefix, year); err != nil {
				return nil, false, err
			}
			sid = subID(req.Tenant, ref)
			// Claim the key (one insert). A claim that appeared meanwhile
			// is a replay, or an orphan taken over as above.
			if key != "" && !exclusive {
				if claimed, err = s.claimKey(ctx, claimID, sid, at); err != nil {
					return nil, false, err
				}
				if !claimed {
					sub, created, csub, err := s.replay(ctx, req.Tenant, key, hash)
					if !errors.Is(err, errOrphan) && !errors.Is(err, record.ErrNotFound) {
						return sub, created, err
					}
					if csub != "" {
						sid = csub
						_, ref = splitSubID(sid)
						covered = false // another writer's number
					}
				}
			}
		}
		evs := []eventDoc{{
			ID: eventID(sid, at, 0), Tenant: req.Tenant, Submission: sid, Ref: ref,
			Type: record.EventSubmitted, At: at, Actor: actor,
			Data: map[string]any{"service": req.Service.ID, "version": req.Service.Version, "status": status},
		}}
		if req.Office != "" {
			evs = append(evs, eventDoc{
				ID: eventID(sid, at, 1), Tenant: req.Tenant, Submission: sid, Ref: ref,
				Type: record.EventRouted, At: at, Actor: "system",
				Data: map[string]any{"office": req.Office},
			})
		}
		doc := submissionDoc{
			ID: sid, Ref: ref, Tenant: req.Tenant, Service: toServiceDoc(req.Service),
			Data: req.Data, Computed: computedList(req.Computed), Office: req.Office, Attachments: atts,
			Status: status, Created: at, Updated: at, Version: 1, Due: optTime(req.Due),
			IdemKey: key, Idem: idemValue(req.Tenant, key, sid),
			PayloadHash: hash, Events: evs, Outbox: []eventDoc{}, Pending: false,
		}
		if len(atts) > 0 {
			if err := s.linkFiles(ctx, req.Tenant, atts, sid); err != nil {
				done()
				if errors.Is(err, record.ErrConflict) && key != "" {
					if sub, created, _, rerr := s.replay(ctx, req.Tenant, key, hash); rerr == nil || errors.Is(rerr, record.ErrIdempotencyMismatch) {
						return sub, created, rerr
					}
				}
				return nil, false, err
			}
		}
		doc.Jobs = newJobDocs(req, sid, ref, at) // delivery outbox: same write (outbox.go)
		err := s.insertSubmission(ctx, &doc, covered)
		done()
		if err == nil {
			s.jobsSubmitted(doc.ID, doc.Jobs)
			if key != "" && !claimed && !exclusive {
				// We took over a claim: make sure it points to us.
				if err := s.pointKey(ctx, claimID, sid); err != nil {
					s.log.Warn("idempotency claim not repointed (repaired on replay)", "err", err)
				}
			}
			sub := doc.summary()
			sub.Data, sub.Computed = plainMap(req.Data), req.Computed
			if sub.Computed == nil || !isPlain(sub.Computed, 0) {
				sub.Computed = computedMap(doc.Computed)
			}
			return sub, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			s.unclearInsert(ctx, &doc)
			return nil, false, fmt.Errorf("mongostore: submit: %w", err)
		}
		if key != "" {
			// Another writer of this key won (the same _id, or another
			// one holding the key)?
			sub, created, _, rerr := s.replay(ctx, req.Tenant, key, hash)
			if rerr == nil || errors.Is(rerr, record.ErrIdempotencyMismatch) {
				return sub, created, rerr
			}
			if !s.exists(ctx, sid) {
				// Not our reference number but the key: another submission holds it.
				mine := ""
				if claimed {
					mine = sid
				}
				return s.replayAfterConflict(ctx, req.Tenant, key, hash, mine)
			}
		}
		// The reference number is taken (e.g. imported data): skip the block.
		s.dropBlock(req.Tenant, req.Service.ID, year)
	}
	return nil, false, fmt.Errorf("mongostore: submit: no free reference number: %w", record.ErrConflict)
}

// unclearInsert follows an insert of doc that failed without saying
// whether it was applied (a deadline, a lost connection: the server may
// have written it, and a retry with the key then finds it stored). The
// submission's jobs must reach the dispatcher as after a successful
// insert: if the submission is stored, they are noted as fresh; if that
// cannot be told now (or the insert may still land), the next poll looks
// for jobs left in submissions again (see lookForLeftovers).
func (s *Store) unclearInsert(ctx context.Context, doc *submissionDoc) {
	if len(doc.Jobs) == 0 {
		return
	}
	ctx, cancel := s.opctx(context.WithoutCancel(ctx))
	defer cancel()
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: doc.ID}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	if err == nil {
		s.jobsSubmitted(doc.ID, doc.Jobs)
		return
	}
	s.lookAgainForLeftovers()
}

// lookAgainForLeftovers makes the next poll look for jobs left in
// submissions (lookForLeftovers), for jobs written without this Store
// noting them as fresh.
func (s *Store) lookAgainForLeftovers() {
	s.ob.mu.Lock()
	s.ob.scanned, s.ob.lastScan = false, time.Time{}
	s.ob.mu.Unlock()
}

// live returns record.ErrNotFound unless submission sid is stored and
// not being deleted (lifecycle.go): one _id read.
func (s *Store) live(ctx context.Context, sid string) error {
	var cur struct {
		Deleting bool `bson:"deleting"`
	}
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
		options.FindOne().SetProjection(bson.D{{Key: "deleting", Value: 1}})).Decode(&cur)
	if isNoDocs(err) || (err == nil && cur.Deleting) {
		_, ref := splitSubID(sid)
		return fmt.Errorf("submission %s: %w", ref, record.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mongostore: read submission: %w", err)
	}
	return nil
}

// SubmissionByKey implements the store interface of its domain package:
// the submission an idempotency key points to (two _id reads), or
// record.ErrNotFound.
func (s *Store) SubmissionByKey(ctx context.Context, tenant, key string) (*record.Submission, error) {
	if key == "" {
		return nil, fmt.Errorf("submission without idempotency key: %w", record.ErrNotFound)
	}
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if s.cases != nil {
		if sid, ok := s.cases.keyHolder(idemValue(tenant, key, "")); ok {
			var doc submissionDoc
			err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
				options.FindOne().SetProjection(bson.D{{Key: "events", Value: 0}, {Key: "outbox", Value: 0}})).Decode(&doc)
			if err == nil && doc.Idem == idemValue(tenant, key, "") {
				return doc.submission(), nil
			}
			if err != nil && !isNoDocs(err) {
				return nil, fmt.Errorf("mongostore: idempotency lookup: %w", err)
			}
		}
	}
	sub, _, _, err := s.replay(ctx, tenant, key, "")
	if errors.Is(err, errOrphan) {
		// A claim without its submission: a writer still busy, or a crash
		// after a takeover; the unique index on idem is the authority.
		return s.keyHolder(ctx, tenant, key)
	}
	return sub, err
}

// keyHolder reads the submission holding key by its idem value (a scan
// on FerretDB; only for orphaned claims).
func (s *Store) keyHolder(ctx context.Context, tenant, key string) (*record.Submission, error) {
	var doc submissionDoc
	err := s.subs.FindOne(ctx, bson.D{{Key: "idem", Value: idemValue(tenant, key, "")}},
		options.FindOne().SetProjection(bson.D{{Key: "events", Value: 0}, {Key: "outbox", Value: 0}})).Decode(&doc)
	if isNoDocs(err) {
		return nil, fmt.Errorf("submission with idempotency key: %w", record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: idempotency lookup: %w", err)
	}
	return doc.submission(), nil
}

// GetSubmission implements the store interface of its domain package.
func (s *Store) GetSubmission(ctx context.Context, tenant, ref string) (*record.Submission, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var doc submissionDoc
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: subID(tenant, ref)}},
		options.FindOne().SetProjection(bson.D{{Key: "events", Value: 0}, {Key: "outbox", Value: 0}})).Decode(&doc)
	if isNoDocs(err) || (err == nil && doc.Deleting) { // being deleted (lifecycle.go)
		return nil, fmt.Errorf("submission %s: %w", ref, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: get submission: %w", err)
	}
	return doc.submission(), nil
}

// UpdateSubmission implements the store interface of its domain package.
func (s *Store) UpdateSubmission(ctx context.Context, tenant, ref string, expectVersion int64, ch record.SubmissionChange) (*record.Submission, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	sid := subID(tenant, ref)
	var added []attachmentDoc
	if len(ch.AddAttachments) > 0 { // linked first, without the submission's lock (cases.go)
		var err error
		if added, err = s.addAttachments(ctx, tenant, sid, ch.AttachmentOwner, ch.AddAttachments); err != nil {
			return nil, err
		}
	}
	// The marker first (track): a crash after the change and before the
	// event copy leaves it, and RepairEvents finds the submission by it.
	var sub *record.Submission
	var pushed bool
	err := s.track(ctx, sid, true, func() (*record.Submission, bool, error) {
		var err error
		sub, pushed, err = s.updateSubmission(ctx, tenant, ref, expectVersion, ch, added)
		return sub, false, err
	})
	if errors.Is(err, record.ErrConflict) || errors.Is(err, record.ErrNotFound) || (err == nil && !pushed) {
		s.unmark(ctx, sid) // nothing was written
	}
	if err != nil || !pushed {
		return sub, err
	}
	if s.opts.disableEventCopy {
		s.cases.keep(sid, true)
		return sub, nil
	}
	// Right after the change: move its event to the log. Not under the
	// submission's lock (locks are never nested).
	if _, err := s.copyEvents(ctx, sid); err != nil {
		// The change and its event are stored; RepairEvents (sweeper,
		// restart) redoes the copy.
		s.log.Warn("copy events (will be repaired)", "submission", ref, "err", err)
		s.cases.keep(sid, true)
		return sub, nil
	}
	s.unmark(ctx, sid)
	return sub, nil
}

// changeDoc marks a submission whose event outbox may not be copied yet
// (and, with the case index, one written since the last index snapshot).
// Markers are few, so RepairEvents reads them instead of scanning the
// submissions.
type changeDoc struct {
	ID string    `bson:"_id"` // submission _id
	At time.Time `bson:"at"`
}

func (s *Store) mark(ctx context.Context, sid string) error {
	defer lockKey("changes", sid)()
	_, err := s.changes.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: now()}}}}, options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // concurrent upsert: it exists
		err = nil
	}
	if err != nil {
		return fmt.Errorf("mongostore: change marker: %w", err)
	}
	return nil
}

// unmark removes the marker of sid after its events were copied, unless
// the case index still needs it (it is removed with the next snapshot).
// A failure only leaves work for RepairEvents.
func (s *Store) unmark(ctx context.Context, sid string) {
	if s.cases != nil {
		return
	}
	defer lockKey("changes", sid)()
	_, _ = s.changes.DeleteOne(ctx, bson.D{{Key: "_id", Value: sid}})
}

func (s *Store) updateSubmission(ctx context.Context, tenant, ref string, expectVersion int64, ch record.SubmissionChange, added []attachmentDoc) (*record.Submission, bool, error) {
	sid := subID(tenant, ref)
	defer lockKey("submissions", sid)()
	cur, err := s.GetSubmission(ctx, tenant, ref)
	if err != nil {
		return nil, false, err
	}
	if cur.Version != expectVersion {
		return nil, false, fmt.Errorf("submission %s version %d, stored %d: %w", ref, expectVersion, cur.Version, record.ErrConflict)
	}
	if ch.ExpectAssignee != nil && cur.Assignee != *ch.ExpectAssignee {
		return nil, false, fmt.Errorf("submission %s assigned to another user: %w", ref, record.ErrConflict)
	}
	at := bsonTime(ch.At)
	if ch.At.IsZero() {
		at = now()
	}
	set, unset, evs := changeSet(cur, ch)
	atts := newAttachments(cur, added)
	if len(atts) > 0 && len(evs) == 0 {
		evs = []eventDoc{{Type: record.EventStatusChanged, Data: map[string]any{}}}
	}
	if len(evs) == 0 {
		return cur, false, nil
	}
	set = append(bson.D{{Key: "updated", Value: at}, {Key: "pending", Value: true}}, set...)
	for i := range evs {
		evs[i].ID, evs[i].Tenant, evs[i].Submission, evs[i].Ref = eventID(sid, at, i), tenant, sid, ref
		evs[i].At, evs[i].Actor = at, ch.Actor
	}
	cond := bson.D{{Key: "version", Value: expectVersion}}
	if ch.ExpectAssignee != nil {
		cond = append(cond, assigneeFilter(*ch.ExpectAssignee))
	}
	push := bson.D{{Key: "outbox", Value: bson.D{{Key: "$each", Value: evs}}}}
	update := bson.D{
		{Key: "$set", Value: set},
		{Key: "$inc", Value: bson.D{{Key: "version", Value: int64(1)}}},
		{Key: "$push", Value: push},
	}
	if len(atts) > 0 && len(cur.Attachments) == 0 { // the stored list may be null
		update[0].Value = append(set, bson.E{Key: "attachments", Value: atts})
	} else if len(atts) > 0 {
		push = append(push, bson.E{Key: "attachments", Value: bson.D{{Key: "$each", Value: atts}}})
		update[2].Value = push
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	raw, err := s.condUpdate(ctx, s.subs, sid, cond,
		func(r bson.Raw) bool {
			v, _ := r.Lookup("version").AsInt64OK()
			if ch.ExpectAssignee != nil {
				a, _ := r.Lookup("assignee").StringValueOK()
				if a != *ch.ExpectAssignee {
					return false
				}
			}
			return v == expectVersion
		}, update)
	if err != nil {
		return nil, false, fmt.Errorf("mongostore: update submission: %w", err)
	}
	if raw == nil {
		return nil, false, fmt.Errorf("submission %s version %d: %w", ref, expectVersion, record.ErrConflict)
	}
	var doc submissionDoc
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return nil, false, fmt.Errorf("mongostore: update submission: %w", err)
	}
	return doc.submission(), true, nil
}

// ListSubmissions implements the store interface of its domain package
// (see InboxPage for the filters).
func (s *Store) ListSubmissions(ctx context.Context, q record.InboxQuery) ([]*record.Submission, error) {
	p, err := s.inbox(ctx, q, false)
	if err != nil {
		return nil, err
	}
	return p.Cases, nil
}

// AppendEvent implements the store interface of its domain package.
func (s *Store) AppendEvent(ctx context.Context, ev *record.Event) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if ev.At.IsZero() {
		ev.At = now()
	}
	ev.At = bsonTime(ev.At)
	sid := subID(ev.Tenant, ev.Submission)
	if ev.ID == "" {
		ev.ID = eventID(sid, ev.At, 0)
	}
	if err := s.live(ctx, sid); err != nil {
		return err
	}
	doc := eventDoc{ID: ev.ID, Tenant: ev.Tenant, Submission: sid, Ref: ev.Submission,
		Type: ev.Type, At: ev.At, Actor: ev.Actor, Data: ev.Data}
	if err := s.appendLog(ctx, sid, ev.Tenant, ev.Submission, bson.A{doc}); err != nil {
		return fmt.Errorf("mongostore: append event: %w", err)
	}
	return nil
}

// appendLog adds events to a submission's log document (creating it).
func (s *Store) appendLog(ctx context.Context, sid, tenant, ref string, evs bson.A) error {
	defer lockKey("events", sid)() // FerretDB updates are read-modify-write
	_, err := s.events.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "tenant", Value: tenant}, {Key: "ref", Value: ref}}},
			{Key: "$addToSet", Value: bson.D{{Key: "events", Value: bson.D{{Key: "$each", Value: evs}}}}},
		},
		options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // concurrent upsert: the document exists now
		_, err = s.events.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}},
			bson.D{{Key: "$addToSet", Value: bson.D{{Key: "events", Value: bson.D{{Key: "$each", Value: evs}}}}}})
	}
	return err
}

// Events implements engine.Store: the event log merged with embedded
// events not yet copied.
func (s *Store) Events(ctx context.Context, tenant, ref string) ([]record.Event, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	sid := subID(tenant, ref)
	var log eventLogDoc
	lerr := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Decode(&log)
	if lerr != nil && !isNoDocs(lerr) {
		return nil, fmt.Errorf("mongostore: events: %w", lerr)
	}
	var sub submissionDoc
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
		options.FindOne().SetProjection(bson.D{{Key: "events", Value: 1}, {Key: "outbox", Value: 1}})).Decode(&sub)
	if err != nil && !isNoDocs(err) {
		return nil, fmt.Errorf("mongostore: events: %w", err)
	}
	if isNoDocs(err) && isNoDocs(lerr) {
		return nil, fmt.Errorf("submission %s: %w", ref, record.ErrNotFound)
	}
	if log.Deleted != nil {
		log.Events = append(log.Events, *log.Deleted)
	}
	seen := map[string]bool{}
	var out []record.Event
	for _, list := range [][]eventDoc{sub.Events, log.Events, sub.Outbox} {
		for i := range list {
			if !seen[list[i].ID] {
				seen[list[i].ID] = true
				out = append(out, list[i].event())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// copyEvents moves the outbox of one submission to its log in the events
// collection. Adding is idempotent ($addToSet of the same documents); the
// outbox is cleared only if no new event was pushed meanwhile. The caller
// must not hold a lock. It reports whether the submission was pending.
func (s *Store) copyEvents(ctx context.Context, sid string) (bool, error) {
	raw, err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}},
		options.FindOne().SetProjection(bson.D{{Key: "tenant", Value: 1}, {Key: "ref", Value: 1}, {Key: "outbox", Value: 1}, {Key: "version", Value: 1}, {Key: "pending", Value: 1}})).Raw()
	if isNoDocs(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p, ok := raw.Lookup("pending").BooleanOK(); ok && !p {
		return false, nil
	}
	tenant, _ := raw.Lookup("tenant").StringValueOK()
	ref, _ := raw.Lookup("ref").StringValueOK()
	version, _ := raw.Lookup("version").AsInt64OK()
	// The events are passed on as raw BSON: $addToSet compares documents
	// byte for byte, and re-encoding a decoded map could reorder keys.
	evs := bson.A{}
	if arr, ok := raw.Lookup("outbox").ArrayOK(); ok {
		vals, err := arr.Values()
		if err != nil {
			return false, err
		}
		for _, v := range vals {
			evs = append(evs, v)
		}
	}
	if len(evs) > 0 {
		if err := s.appendLog(ctx, sid, tenant, ref, evs); err != nil {
			return false, err
		}
	}
	defer lockKey("submissions", sid)()
	upd, err := s.condUpdate(ctx, s.subs, sid,
		bson.D{{Key: "version", Value: version}},
		func(r bson.Raw) bool { v, _ := r.Lookup("version").AsInt64OK(); return v == version },
		bson.D{{Key: "$set", Value: bson.D{{Key: "outbox", Value: bson.A{}}, {Key: "pending", Value: false}}}})
	if err == nil && upd == nil && !s.exists(ctx, sid) {
		// deleted meanwhile (retention): do not leave copied events behind
		_, err = s.events.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}}, bson.D{{Key: "$set", Value: bson.D{{Key: "events", Value: bson.A{}}}}})
	}
	return true, err
}

// RepairEvents implements sweep.Store. It reads the change markers (few:
// one per submission changed and not yet settled), not the submissions.
// A marker is removed once its submission has no events left to copy and
// the marker is older than two operation timeouts, so that the marker of
// a change still in flight on another instance stays.
func (s *Store) RepairEvents(ctx context.Context) (int, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if s.cases != nil {
		// The only writer knows what it left pending.
		n := 0
		for _, sid := range s.cases.pendingIDs() {
			copied, err := s.copyEvents(ctx, sid)
			if err != nil {
				return n, err
			}
			s.cases.keep(sid, false)
			if copied {
				n++
			}
		}
		return n, nil
	}
	cur, err := s.changes.Find(ctx, bson.D{})
	if err != nil {
		return 0, err
	}
	var marks []changeDoc
	if err := cur.All(ctx, &marks); err != nil {
		return 0, err
	}
	n := 0
	old := now().Add(-2 * s.opts.OpTimeout)
	for _, m := range marks {
		copied, err := s.copyEvents(ctx, m.ID)
		if err != nil {
			return n, err
		}
		s.cases.keep(m.ID, false)
		if copied {
			n++
		}
		if s.cases == nil && m.At.Before(old) {
			s.unmark(ctx, m.ID)
		}
	}
	return n, nil
}

// insertSubmission inserts a new submission document. covered: its
// number comes from a marked block (with the case index), so it needs no
// change marker of its own; otherwise the case index marks it first.
func (s *Store) insertSubmission(ctx context.Context, doc *submissionDoc, covered bool) error {
	if covered && s.cases != nil {
		return s.trackCovered(ctx, doc.ID, func() (*record.Submission, error) {
			if _, err := s.subs.InsertOne(ctx, doc); err != nil {
				return nil, err
			}
			return doc.summary(), nil
		})
	}
	return s.track(ctx, doc.ID, false, func() (*record.Submission, bool, error) {
		if _, err := s.subs.InsertOne(ctx, doc); err != nil {
			return nil, false, err
		}
		return doc.summary(), false, nil
	})
}

// submitKeyLocks serialise the submits of one idempotency key on the only
// writer (Submit with the case index). Only Submit takes them, one at a
// time, so they never nest with each other or with keyLocks.
var submitKeyLocks [256]sync.Mutex

func lockSubmitKey(id string) func() {
	h := fnv.New32a()
	h.Write([]byte(id))
	m := &submitKeyLocks[h.Sum32()%uint32(len(submitKeyLocks))]
	m.Lock()
	return m.Unlock
}
