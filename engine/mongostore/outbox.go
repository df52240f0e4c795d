package mongostore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// The delivery outbox (the store of engine/delivery).
//
// A submission's delivery jobs are written into the submission document
// itself ("jobs"), in the insert that stores it: a submission the citizen
// was told about always has its jobs. The Store that wrote it keeps them
// in memory ("fresh") and hands them to its dispatcher at once; another
// instance finds them by a periodic look for submissions with jobs (an
// index on jobs._id), the embedded store by one look at start-up (a scan).
// A job gets its own document in "outbox" only when an attempt fails
// (open: pending or dead); a finished job (delivered, rejected) moves to
// "delivery_done", and when all jobs of a submission are finished they
// are removed from it. The common path, delivered at the first attempt,
// costs three writes: the claim, the finished record and the removal.
//
// Exclusivity comes from inserts only, because FerretDB v1's conditional
// updates are not atomic: every attempt is a claim document with _id
// job#attempt, so two dispatchers never make the same attempt; every
// completed step is a document with _id job#step. A claim is refused
// for a finished job (checked after the insert, and the finished record
// is written before anything is removed), so a job found again in its
// submission after it finished is never sent again.

// outboxState is what a Store keeps in memory for the outbox.
type outboxState struct {
	mu sync.Mutex
	// fresh are jobs written with a submission (by this Store, or found
	// left in one) that have no outbox document.
	fresh    map[string]*jobDoc
	scanned  bool      // jobs left by an earlier run were looked for
	lastScan time.Time // the last look for jobs left in submissions
	// open holds the outbox documents when this Store is the only writer
	// (the embedded store, with the case index): the dispatcher's poll
	// reads memory instead of scanning the outbox. Loaded by one scan at
	// the first poll; nil until then.
	open map[string]*jobDoc
}

// setOpen and dropOpen keep the in-memory outbox (if loaded); setOpen
// also ends a job's being fresh.
func (s *Store) setOpen(d *jobDoc) {
	s.ob.mu.Lock()
	if s.ob.open != nil {
		c := *d
		s.ob.open[d.ID] = &c
	}
	delete(s.ob.fresh, d.ID)
	s.ob.mu.Unlock()
}

func (s *Store) dropOpen(id string) {
	s.ob.mu.Lock()
	if s.ob.open != nil {
		delete(s.ob.open, id)
	}
	delete(s.ob.fresh, id)
	s.ob.mu.Unlock()
}

// addFresh notes jobs to deliver that have no outbox document.
func (s *Store) addFresh(jobs ...jobDoc) {
	s.ob.mu.Lock()
	if s.ob.fresh == nil {
		s.ob.fresh = map[string]*jobDoc{}
	}
	for i := range jobs {
		c := jobs[i]
		s.ob.fresh[c.ID] = &c
	}
	s.ob.mu.Unlock()
}

// loadOpen reads the outbox into memory (the only writer, once).
func (s *Store) loadOpen(ctx context.Context) error {
	s.ob.mu.Lock()
	loaded := s.ob.open != nil
	s.ob.mu.Unlock()
	if loaded || s.cases == nil {
		return nil
	}
	cur, err := s.outbox().Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	m := make(map[string]*jobDoc, len(docs))
	for i := range docs {
		m[docs[i].ID] = &docs[i]
	}
	s.ob.mu.Lock()
	if s.ob.open == nil {
		s.ob.open = m
	}
	s.ob.mu.Unlock()
	return nil
}

// jobDoc is a delivery job: in a submission's "jobs" until taken in, in
// "outbox" while open (pending, dead), in "delivery_done" when finished.
type jobDoc struct {
	ID        string     `bson:"_id"`
	Tenant    string     `bson:"tenant"`
	Ref       string     `bson:"ref"`
	Sub       string     `bson:"sub"` // submission _id
	Service   serviceDoc `bson:"service"`
	Dest      string     `bson:"dest"`
	Kind      string     `bson:"kind"`
	Office    string     `bson:"office,omitempty"`
	Created   time.Time  `bson:"created"`
	Status    string     `bson:"status"`
	Attempts  int        `bson:"attempts"`
	Base      int        `bson:"base"`
	Since     time.Time  `bson:"since"`
	Next      time.Time  `bson:"next"`
	LastError string     `bson:"lastError,omitempty"`
	Delivered time.Time  `bson:"delivered,omitempty"`
	Verdict   string     `bson:"verdict,omitempty"`
	Updated   time.Time  `bson:"updated"`
}

type deliveryClaimDoc struct {
	ID      string    `bson:"_id"` // job#attempt
	Job     string    `bson:"job"`
	N       int       `bson:"n"`
	Holder  string    `bson:"holder"`
	Started time.Time `bson:"started"`
	Until   time.Time `bson:"until"`
	Ended   time.Time `bson:"ended,omitempty"`
	Outcome string    `bson:"outcome,omitempty"`
	Error   string    `bson:"error,omitempty"`
}

type deliveryStepDoc struct {
	ID     string    `bson:"_id"` // job#step
	Job    string    `bson:"job"`
	Name   string    `bson:"name"`
	At     time.Time `bson:"at"`
	Result string    `bson:"result,omitempty"`
}

func deliveryClaimID(job string, n int) string { return fmt.Sprintf("%s#%04d", job, n) }
func deliveryStepID(job, name string) string   { return job + "#" + name }
func (s *Store) outbox() *mongo.Collection     { return s.db.Collection("outbox") }
func (s *Store) done() *mongo.Collection       { return s.db.Collection("delivery_done") }
func (s *Store) claims() *mongo.Collection     { return s.db.Collection("delivery_claims") }
func (s *Store) steps() *mongo.Collection      { return s.db.Collection("delivery_steps") }

// newJobDocs returns the jobs of a submission as they are written with it.
func newJobDocs(req *record.SubmitRequest, sid, ref string, at time.Time) []jobDoc {
	if len(req.Jobs) == 0 {
		return nil
	}
	out := make([]jobDoc, 0, len(req.Jobs))
	for _, j := range req.Jobs {
		out = append(out, jobDoc{
			ID: record.DeliveryJobID(req.Tenant, ref, j.Destination), Tenant: req.Tenant, Ref: ref, Sub: sid,
			Service: toServiceDoc(req.Service), Dest: j.Destination, Kind: j.Kind, Office: req.Office,
			Created: at, Status: record.DeliveryPending, Since: at, Next: at, Updated: at,
		})
	}
	return out
}

// jobsSubmitted notes a submission written with jobs, so the next
// DueDeliveries takes them in without looking for them.
func (s *Store) jobsSubmitted(sid string, jobs []jobDoc) {
	if len(jobs) > 0 {
		s.addFresh(jobs...)
	}
}

// ensureOutbox creates the outbox collections and the indexes MongoDB
// needs for the dispatcher's queries.
func (s *Store) ensureOutbox(ctx context.Context) error {
	for _, c := range []*mongo.Collection{s.outbox(), s.done(), s.claims(), s.steps()} {
		if err := s.db.CreateCollection(ctx, c.Name()); err != nil && !isNamespaceExists(err) {
			return fmt.Errorf("mongostore: create collection %s: %w", c.Name(), err)
		}
	}
	if s.ferret {
		return nil // scans anyway (see ensureIndexes)
	}
	for c, m := range map[*mongo.Collection][]mongo.IndexModel{
		s.outbox(): {
			{Keys: bson.D{{Key: "status", Value: 1}, {Key: "next", Value: 1}}, Options: options.Index().SetName("due")},
			{Keys: bson.D{{Key: "tenant", Value: 1}, {Key: "dest", Value: 1}, {Key: "created", Value: 1}, {Key: "_id", Value: 1}}, Options: options.Index().SetName("feed")},
		},
		s.subs:   {{Keys: bson.D{{Key: "jobs._id", Value: 1}}, Options: options.Index().SetName("outbox_jobs")}},
		s.done(): {{Keys: bson.D{{Key: "tenant", Value: 1}, {Key: "created", Value: -1}}, Options: options.Index().SetName("list")}},
	} {
		for _, im := range m {
			if _, err := c.Indexes().CreateOne(ctx, im); err != nil {
				return fmt.Errorf("mongostore: create index on %s: %w", c.Name(), err)
			}
		}
	}
	return nil
}

func (s *Store) isDone(ctx context.Context, id string) bool {
	err := s.done().FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	return err == nil
}

func (s *Store) inOutbox(ctx context.Context, id string) bool {
	s.ob.mu.Lock()
	if s.ob.open != nil {
		_, ok := s.ob.open[id]
		s.ob.mu.Unlock()
		return ok
	}
	s.ob.mu.Unlock()
	err := s.outbox().FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	return err == nil
}

// leftoverInterval is how often a Store that is not the only writer
// looks for jobs in submissions written by other instances.
const leftoverInterval = 10 * time.Second

// lookForLeftovers finds jobs in submissions that are neither fresh
// here, nor in the outbox, nor finished: written by another instance,
// or by an earlier run that died before delivering them. The embedded
// store looks once per start (a scan on FerretDB), others periodically
// (indexed on MongoDB).
func (s *Store) lookForLeftovers(ctx context.Context, now time.Time) (looked bool, err error) {
	s.ob.mu.Lock()
	look := false
	if s.cases != nil {
		look = !s.ob.scanned
	} else {
		look = now.Sub(s.ob.lastScan) >= leftoverInterval
	}
	s.ob.mu.Unlock()
	if !look {
		return false, nil
	}
	cur, err := s.subs.Find(ctx, bson.D{{Key: "jobs._id", Value: bson.D{{Key: "$exists", Value: true}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "jobs", Value: 1}}))
	if err != nil {
		return false, fmt.Errorf("mongostore: outbox: %w", err)
	}
	var subs []struct {
		ID   string   `bson:"_id"`
		Jobs []jobDoc `bson:"jobs"`
	}
	if err := cur.All(ctx, &subs); err != nil {
		return false, fmt.Errorf("mongostore: outbox: %w", err)
	}
	for _, sub := range subs {
		finished := 0
		for _, j := range sub.Jobs {
			s.ob.mu.Lock()
			_, known := s.ob.fresh[j.ID]
			s.ob.mu.Unlock()
			switch {
			case known:
			case s.isDone(ctx, j.ID):
				finished++
			case s.inOutbox(ctx, j.ID):
			default:
				s.addFresh(j)
			}
		}
		if finished == len(sub.Jobs) {
			if err := s.unsetJobs(ctx, sub.ID); err != nil {
				return false, err
			}
		}
	}
	s.ob.mu.Lock()
	s.ob.scanned, s.ob.lastScan = true, now
	s.ob.mu.Unlock()
	return true, nil
}

// unsetJobs removes the jobs of a submission whose jobs all finished.
func (s *Store) unsetJobs(ctx context.Context, sid string) error {
	defer lockKey("submissions", sid)() // FerretDB updates are read-modify-write
	if _, err := s.subs.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "jobs", Value: ""}}}}); err != nil {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	return nil
}

// DueDeliveries implements delivery.Store: the jobs of push kinds (not
// feeds) due at now, earliest first: fresh ones and those in the outbox.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*record.DeliveryJob, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if err := s.loadOpen(ctx); err != nil {
		return nil, err
	}
	looked, err := s.lookForLeftovers(ctx, now)
	if err != nil {
		return nil, err
	}
	if looked {
		if err := s.finishInterrupted(ctx); err != nil {
			return nil, err
		}
	}
	if limit <= 0 {
		limit = 100
	}
	isDue := func(d *jobDoc) bool {
		return d.Status == record.DeliveryPending && d.Kind != "feed" && !d.Next.After(now)
	}
	var due []*jobDoc
	s.ob.mu.Lock()
	for _, d := range s.ob.fresh {
		if isDue(d) {
			due = append(due, d)
		}
	}
	for _, d := range s.ob.open {
		if isDue(d) {
			due = append(due, d)
		}
	}
	s.ob.mu.Unlock()
	if s.cases == nil {
		cur, err := s.outbox().Find(ctx, bson.D{
			{Key: "status", Value: record.DeliveryPending},
			{Key: "next", Value: bson.D{{Key: "$lte", Value: now}}},
			{Key: "kind", Value: bson.D{{Key: "$ne", Value: "feed"}}},
		}, options.Find().SetSort(bson.D{{Key: "next", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
		if err != nil {
			return nil, fmt.Errorf("mongostore: outbox: %w", err)
		}
		var docs []jobDoc
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("mongostore: outbox: %w", err)
		}
		for i := range docs {
			due = append(due, &docs[i])
		}
	}
	sort.Slice(due, func(i, k int) bool {
		if !due[i].Next.Equal(due[k].Next) {
			return due[i].Next.Before(due[k].Next)
		}
		return due[i].ID < due[k].ID
	})
	out := make([]*record.DeliveryJob, 0, min(limit, len(due)))
	seen := map[string]bool{}
	for _, d := range due {
		if len(out) == limit {
			break
		}
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d.job())
		}
	}
	return out, nil
}

// finishInterrupted finishes the jobs whose move to delivery_done was
// interrupted (with the look for jobs left in submissions).
func (s *Store) finishInterrupted(ctx context.Context) error {
	cur, err := s.outbox().Find(ctx, bson.D{{Key: "status", Value: bson.D{{Key: "$in", Value: bson.A{record.DeliveryDelivered, record.DeliveryRejected}}}}})
	if err != nil {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	var fin []jobDoc
	if err := cur.All(ctx, &fin); err != nil {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	for i := range fin {
		if err := s.finish(ctx, &fin[i]); err != nil {
			return err
		}
	}
	return nil
}

func jobList(ctx context.Context, cur *mongo.Cursor) ([]*record.DeliveryJob, error) {
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongostore: outbox: %w", err)
	}
	out := make([]*record.DeliveryJob, len(docs))
	for i := range docs {
		out[i] = docs[i].job()
	}
	return out, nil
}

func (d *jobDoc) job() *record.DeliveryJob {
	return &record.DeliveryJob{
		ID: d.ID, Tenant: d.Tenant, Ref: d.Ref, Service: d.Service.ref(), Destination: d.Dest, Kind: d.Kind,
		Office: d.Office, Created: d.Created.UTC(), Status: d.Status, Attempts: d.Attempts, Base: d.Base,
		Since: d.Since.UTC(), Next: d.Next.UTC(), LastError: d.LastError, Delivered: utcOrZero(d.Delivered),
		Verdict: d.Verdict, Updated: d.Updated.UTC(),
	}
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() || t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}

func toJobDoc(j *record.DeliveryJob) jobDoc {
	return jobDoc{
		ID: j.ID, Tenant: j.Tenant, Ref: j.Ref, Sub: subID(j.Tenant, j.Ref), Service: toServiceDoc(j.Service),
		Dest: j.Destination, Kind: j.Kind, Office: j.Office, Created: bsonTime(j.Created), Status: j.Status,
		Attempts: j.Attempts, Base: j.Base, Since: bsonTime(j.Since), Next: bsonTime(j.Next), LastError: j.LastError,
		Delivered: bsonTime(j.Delivered), Verdict: j.Verdict, Updated: bsonTime(j.Updated),
	}
}

// finish moves a finished job to delivery_done (inserted first), removes
// its outbox document and, when all jobs of its submission are finished,
// the jobs from the submission.
func (s *Store) finish(ctx context.Context, d *jobDoc) error {
	if _, err := s.done().InsertOne(ctx, d); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	if s.cases == nil || s.inOutbox(ctx, d.ID) {
		unlock := lockKey("outbox", d.ID)
		_, err := s.outbox().DeleteOne(ctx, bson.D{{Key: "_id", Value: d.ID}})
		unlock()
		if err != nil {
			return fmt.Errorf("mongostore: outbox: %w", err)
		}
	}
	s.dropOpen(d.ID)
	sid := d.Sub
	if sid == "" {
		sid = subID(d.Tenant, d.Ref)
	}
	var sub struct {
		Jobs []jobDoc `bson:"jobs"`
	}
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}, options.FindOne().SetProjection(bson.D{{Key: "jobs", Value: 1}})).Decode(&sub)
	if isNoDocs(err) || (err == nil && len(sub.Jobs) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mongostore: outbox: %w", err)
	}
	for _, j := range sub.Jobs {
		if j.ID != d.ID && !s.isDone(ctx, j.ID) {
			return nil
		}
	}
	return s.unsetJobs(ctx, sid)
}

// DeliveryJob implements delivery.Store.
func (s *Store) DeliveryJob(ctx context.Context, id string) (*record.DeliveryJob, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	s.ob.mu.Lock()
	f := s.ob.fresh[id]
	s.ob.mu.Unlock()
	if f != nil && !s.isDone(ctx, id) {
		return f.job(), nil
	}
	for _, c := range []*mongo.Collection{s.outbox(), s.done()} {
		var d jobDoc
		err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
		if err == nil {
			return d.job(), nil
		}
		if !isNoDocs(err) {
			return nil, fmt.Errorf("mongostore: delivery job: %w", err)
		}
	}
	// Not taken in yet: still in its submission.
	tenant, ref, ok := splitJobID(id)
	if ok {
		var sub struct {
			Jobs []jobDoc `bson:"jobs"`
		}
		err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: subID(tenant, ref)}}, options.FindOne().SetProjection(bson.D{{Key: "jobs", Value: 1}})).Decode(&sub)
		if err != nil && !isNoDocs(err) {
			return nil, fmt.Errorf("mongostore: delivery job: %w", err)
		}
		for i := range sub.Jobs {
			if sub.Jobs[i].ID == id {
				return sub.Jobs[i].job(), nil
			}
		}
	}
	return nil, fmt.Errorf("delivery job %s: %w", id, record.ErrNotFound)
}

// splitJobID splits tenant/ref/destination.
func splitJobID(id string) (tenant, ref string, ok bool) {
	a := -1
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			if a < 0 {
				a = i
			} else {
				return id[:a], id[a+1 : i], true
			}
		}
	}
	return "", "", false
}

// ClaimDelivery implements delivery.Store: record.ErrConflict when the
// attempt is taken.
func (s *Store) ClaimDelivery(ctx context.Context, c *record.DeliveryClaim) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	d := deliveryClaimDoc{ID: deliveryClaimID(c.Job, c.N), Job: c.Job, N: c.N, Holder: c.Holder, Started: bsonTime(c.Started), Until: bsonTime(c.Until)}
	if _, err := s.claims().InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("delivery %s attempt %d: %w", c.Job, c.N, record.ErrConflict)
		}
		return fmt.Errorf("mongostore: claim delivery: %w", err)
	}
	// A job finished before this claim was taken (see the package
	// comment on taking in): the claim stands, the attempt is not made.
	if s.isDone(ctx, c.Job) {
		// and its outbox document left by an interrupted finish goes
		if _, err := s.outbox().DeleteOne(ctx, bson.D{{Key: "_id", Value: c.Job}}); err == nil {
			s.dropOpen(c.Job)
		}
		s.dropOpen(c.Job) // and not fresh either
		return fmt.Errorf("delivery %s finished: %w", c.Job, record.ErrConflict)
	}
	return nil
}

// DeliveryClaim implements delivery.Store.
func (s *Store) DeliveryClaim(ctx context.Context, job string, n int) (*record.DeliveryClaim, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d deliveryClaimDoc
	err := s.claims().FindOne(ctx, bson.D{{Key: "_id", Value: deliveryClaimID(job, n)}}).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("delivery %s attempt %d: %w", job, n, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: delivery claim: %w", err)
	}
	return &record.DeliveryClaim{Job: d.Job, N: d.N, Holder: d.Holder, Started: d.Started.UTC(), Until: d.Until.UTC(),
		Ended: utcOrZero(d.Ended), Outcome: d.Outcome, Error: d.Error}, nil
}

// EndDeliveryClaim implements delivery.Store: the holder writes its
// attempt's outcome (nobody else writes a claim).
func (s *Store) EndDeliveryClaim(ctx context.Context, c *record.DeliveryClaim) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.claims().UpdateOne(ctx, bson.D{{Key: "_id", Value: deliveryClaimID(c.Job, c.N)}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "ended", Value: bsonTime(c.Ended)}, {Key: "outcome", Value: c.Outcome}, {Key: "error", Value: c.Error}, {Key: "until", Value: bsonTime(c.Until)},
	}}})
	if err != nil {
		return fmt.Errorf("mongostore: end delivery claim: %w", err)
	}
	return nil
}

// SaveDeliveryJob implements delivery.Store: it writes j's state if the
// stored job has at most j.Attempts attempts and the base expectBase
// (a manual retry meanwhile is a record.ErrConflict). A finished job
// (delivered, rejected) moves to delivery_done unconditionally.
func (s *Store) SaveDeliveryJob(ctx context.Context, j *record.DeliveryJob, expectBase int) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	d := toJobDoc(j)
	d.Updated = now()
	if d.Status == record.DeliveryDelivered || d.Status == record.DeliveryRejected {
		// Finishing needs no condition: whoever finishes, the receiver
		// took it; a later write cannot bring it back.
		return s.finish(ctx, &d)
	}
	if !s.inOutbox(ctx, j.ID) {
		// The first failed attempt of a fresh job: its outbox document.
		if _, err := s.outbox().InsertOne(ctx, d); err == nil {
			s.setOpen(&d)
			return nil
		} else if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("mongostore: save delivery job: %w", err)
		}
	}
	unlock := lockKey("outbox", j.ID)
	raw, err := s.condUpdate(ctx, s.outbox(), j.ID,
		bson.D{{Key: "attempts", Value: bson.D{{Key: "$lte", Value: j.Attempts}}}, {Key: "base", Value: expectBase}},
		func(r bson.Raw) bool {
			a, _ := r.Lookup("attempts").AsInt64OK()
			b, _ := r.Lookup("base").AsInt64OK()
			return a <= int64(j.Attempts) && b == int64(expectBase)
		},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "status", Value: d.Status}, {Key: "attempts", Value: d.Attempts}, {Key: "next", Value: d.Next},
			{Key: "lastError", Value: d.LastError}, {Key: "delivered", Value: d.Delivered}, {Key: "verdict", Value: d.Verdict},
			{Key: "updated", Value: d.Updated},
		}}})
	unlock()
	if err != nil {
		return fmt.Errorf("mongostore: save delivery job: %w", err)
	}
	if raw == nil {
		return fmt.Errorf("delivery job %s: %w", j.ID, record.ErrConflict)
	}
	var cur jobDoc
	if err := bson.Unmarshal(raw, &cur); err != nil {
		return fmt.Errorf("mongostore: save delivery job: %w", err)
	}
	s.setOpen(&cur)
	return nil
}

// RecordDeliveryStep implements delivery.Store. Recording a step twice
// keeps the first record.
func (s *Store) RecordDeliveryStep(ctx context.Context, st record.DeliveryStep) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.steps().InsertOne(ctx, deliveryStepDoc{ID: deliveryStepID(st.Job, st.Name), Job: st.Job, Name: st.Name, At: bsonTime(st.At), Result: st.Result})
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: delivery step: %w", err)
	}
	return nil
}

// DeliveryStep implements delivery.Store: record.ErrNotFound when the
// step was not completed.
func (s *Store) DeliveryStep(ctx context.Context, job, name string) (*record.DeliveryStep, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var d deliveryStepDoc
	err := s.steps().FindOne(ctx, bson.D{{Key: "_id", Value: deliveryStepID(job, name)}}).Decode(&d)
	if isNoDocs(err) {
		return nil, fmt.Errorf("delivery %s step %s: %w", job, name, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: delivery step: %w", err)
	}
	return &record.DeliveryStep{Job: d.Job, Name: d.Name, At: d.At.UTC(), Result: d.Result}, nil
}

// RetryDelivery implements delivery.Store: a pending or dead-lettered
// job is due at once with a full set of attempts, whatever it used. A
// finished job is a record.ErrConflict.
func (s *Store) RetryDelivery(ctx context.Context, id string, at time.Time) (*record.DeliveryJob, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	at = bsonTime(at)
	if s.isDone(ctx, id) {
		return nil, fmt.Errorf("delivery job %s is finished: %w", id, record.ErrConflict)
	}
	if !s.inOutbox(ctx, id) {
		// Fresh, or left in its submission: give it its outbox document.
		j, err := s.DeliveryJob(ctx, id)
		if err != nil {
			return nil, err
		}
		d := toJobDoc(j)
		if _, err := s.outbox().InsertOne(ctx, d); err == nil {
			s.setOpen(&d)
		} else if !mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("mongostore: retry delivery: %w", err)
		}
	}
	defer lockKey("outbox", id)()
	for try := 0; try < 10; try++ {
		var d jobDoc
		err := s.outbox().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
		if isNoDocs(err) {
			if s.isDone(ctx, id) {
				return nil, fmt.Errorf("delivery job %s is finished: %w", id, record.ErrConflict)
			}
			return nil, fmt.Errorf("delivery job %s: %w", id, record.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("mongostore: retry delivery: %w", err)
		}
		if d.Status != record.DeliveryPending && d.Status != record.DeliveryDead {
			return nil, fmt.Errorf("delivery job %s is %s: %w", id, d.Status, record.ErrConflict)
		}
		raw, err := s.condUpdate(ctx, s.outbox(), id,
			bson.D{{Key: "attempts", Value: d.Attempts}, {Key: "base", Value: d.Base}},
			func(r bson.Raw) bool {
				a, _ := r.Lookup("attempts").AsInt64OK()
				b, _ := r.Lookup("base").AsInt64OK()
				return a == int64(d.Attempts) && b == int64(d.Base)
			},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "status", Value: record.DeliveryPending}, {Key: "base", Value: d.Attempts},
				{Key: "since", Value: at}, {Key: "next", Value: at}, {Key: "updated", Value: at},
			}}})
		if err != nil {
			return nil, fmt.Errorf("mongostore: retry delivery: %w", err)
		}
		if raw != nil {
			var cur jobDoc
			if err := bson.Unmarshal(raw, &cur); err != nil {
				return nil, fmt.Errorf("mongostore: retry delivery: %w", err)
			}
			s.setOpen(&cur)
			return cur.job(), nil
		}
	}
	return nil, fmt.Errorf("delivery job %s changes constantly: %w", id, record.ErrConflict)
}

// ListDeliveries implements delivery.Store: open and finished jobs,
// newest first.
func (s *Store) ListDeliveries(ctx context.Context, q record.DeliveryQuery) ([]*record.DeliveryJob, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if _, err := s.lookForLeftovers(ctx, now()); err != nil {
		return nil, err
	}
	if q.Limit <= 0 {
		q.Limit = 100
	}
	f := bson.D{}
	if q.Tenant != "" {
		f = append(f, bson.E{Key: "tenant", Value: q.Tenant})
	}
	if q.Destination != "" {
		f = append(f, bson.E{Key: "dest", Value: q.Destination})
	}
	if q.Ref != "" {
		f = append(f, bson.E{Key: "ref", Value: q.Ref})
	}
	if len(q.Status) > 0 {
		f = append(f, bson.E{Key: "status", Value: bson.D{{Key: "$in", Value: q.Status}}})
	}
	var out []*record.DeliveryJob
	seen := map[string]bool{}
	var fresh []*record.DeliveryJob
	s.ob.mu.Lock()
	for _, d := range s.ob.fresh {
		if (q.Tenant == "" || d.Tenant == q.Tenant) && (q.Destination == "" || d.Dest == q.Destination) &&
			(q.Ref == "" || d.Ref == q.Ref) && (len(q.Status) == 0 || slices.Contains(q.Status, d.Status)) {
			fresh = append(fresh, d.job())
		}
	}
	s.ob.mu.Unlock()
	for ci, c := range []*mongo.Collection{s.done(), s.outbox()} {
		cur, err := c.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "created", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(q.Limit)))
		if err != nil {
			return nil, fmt.Errorf("mongostore: list deliveries: %w", err)
		}
		l, err := jobList(ctx, cur)
		if err != nil {
			return nil, err
		}
		for _, j := range l {
			if !seen[j.ID] {
				seen[j.ID] = true
				out = append(out, j)
			}
		}
		if ci == 0 {
			// fresh jobs finished by another instance are not pending
			for _, j := range fresh {
				if !seen[j.ID] && !s.isDone(ctx, j.ID) {
					seen[j.ID] = true
					out = append(out, j)
				}
			}
		}
	}
	sort.Slice(out, func(i, k int) bool {
		if !out[i].Created.Equal(out[k].Created) {
			return out[i].Created.After(out[k].Created)
		}
		return out[i].ID > out[k].ID
	})
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// FeedDeliveries implements delivery.Store: the open feed jobs of one
// destination of a tenant that are visible (Next is due), oldest first.
func (s *Store) FeedDeliveries(ctx context.Context, tenant, destination string, limit int) ([]*record.DeliveryJob, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	t := now()
	if _, err := s.lookForLeftovers(ctx, t); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	cur, err := s.outbox().Find(ctx, bson.D{
		{Key: "tenant", Value: tenant}, {Key: "dest", Value: destination}, {Key: "kind", Value: "feed"},
		{Key: "status", Value: record.DeliveryPending}, {Key: "next", Value: bson.D{{Key: "$lte", Value: t}}},
	}, options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("mongostore: feed: %w", err)
	}
	out, err := jobList(ctx, cur)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, j := range out {
		seen[j.ID] = true
	}
	s.ob.mu.Lock()
	for _, d := range s.ob.fresh {
		if d.Tenant == tenant && d.Dest == destination && d.Kind == "feed" && d.Status == record.DeliveryPending && !d.Next.After(t) && !seen[d.ID] {
			out = append(out, d.job())
		}
	}
	s.ob.mu.Unlock()
	sort.Slice(out, func(i, k int) bool {
		if !out[i].Created.Equal(out[k].Created) {
			return out[i].Created.Before(out[k].Created)
		}
		return out[i].ID < out[k].ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// OnlyWriter implements delivery.OnlyWriter: with Options.ExclusiveDrafts
// this Store is the only writer of its database.
func (s *Store) OnlyWriter() bool { return s.cases != nil }
