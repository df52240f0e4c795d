package mongostore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// Export format (NDJSON, one record a line):
//
//	{"kind":"header","format":"amtsform-export","version":1,...}
//	{"kind":"counter","doc":{...}}
//	{"kind":"submission","doc":{...}}
//	{"kind":"chunk","doc":{...}}     all chunks of a file precede it
//	{"kind":"file","doc":{...}}
//	{"kind":"events","doc":{...}}    a submission's event log
//	{"kind":"version","doc":{...}}   a service version a submission was made with
//	{"kind":"delivery-done","doc":{...}}  a finished delivery job
//	{"kind":"delivery","doc":{...}}       an open one (pending, dead)
//	{"kind":"delivery-claim","doc":{...}} an attempt of a job
//	{"kind":"delivery-step","doc":{...}}  a completed step of a job
//	{"kind":"user","doc":{...}}      a staff account (no sessions)
//	{"kind":"api-token","doc":{...}} an API token (its hash)
//
// "doc" is the stored document in canonical MongoDB Extended JSON, so
// every BSON type (int32/int64/double, dates, binary) survives the trip;
// chunk data is base64 inside it.

const exportFormat = "amtsform-export"

type exportLine struct {
	Kind string          `json:"kind"`
	Doc  json.RawMessage `json:"doc,omitempty"`

	Format   string `json:"format,omitempty"`
	Version  int    `json:"version,omitempty"`
	Exported string `json:"exported,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	Since    string `json:"since,omitempty"`
}

// Export implements the store interface of its domain package.
func (s *Store) Export(ctx context.Context, f record.ExportFilter, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	hdr := exportLine{Kind: "header", Format: exportFormat, Version: 1, Exported: now().Format(time.RFC3339Nano), Tenant: f.Tenant}
	if !f.Since.IsZero() {
		hdr.Since = f.Since.UTC().Format(time.RFC3339Nano)
	}
	if err := writeJSONLine(bw, hdr); err != nil {
		return err
	}
	// counters (not block claims)
	err := s.each(ctx, s.counters, bson.D{}, nil, func(raw bson.Raw) error {
		id, _ := raw.Lookup("_id").StringValueOK()
		if strings.Contains(id, "#") || (f.Tenant != "" && !strings.HasPrefix(id, "ref/"+f.Tenant+"/")) {
			return nil
		}
		return writeDoc(bw, "counter", raw)
	})
	if err != nil {
		return err
	}
	filter := bson.D{}
	if f.Tenant != "" {
		filter = append(filter, bson.E{Key: "tenant", Value: f.Tenant})
	}
	if !f.Since.IsZero() {
		filter = append(filter, bson.E{Key: "created", Value: bson.D{{Key: "$gte", Value: f.Since}}})
	}
	subs, hashes, jobs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	err = s.each(ctx, s.subs, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), func(raw bson.Raw) error {
		var d submissionDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if d.Deleting {
			return nil // being deleted by retention: its tombstone goes with the events
		}
		subs[d.ID], hashes[d.Service.Hash] = true, true
		for _, j := range d.Jobs {
			jobs[j.ID] = true
		}
		if err := writeDoc(bw, "submission", raw); err != nil {
			return err
		}
		for _, a := range d.Attachments {
			if err := s.exportFile(ctx, bw, a.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	evFilter := bson.D{}
	if f.Tenant != "" {
		evFilter = append(evFilter, bson.E{Key: "tenant", Value: f.Tenant})
	}
	err = s.each(ctx, s.events, evFilter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}), func(raw bson.Raw) error {
		var l eventLogDoc
		if err := bson.Unmarshal(raw, &l); err != nil {
			return err
		}
		keep := subs[l.ID] || (l.Deleted != nil && !l.Deleted.At.Before(f.Since))
		if !keep {
			return nil
		}
		return writeDoc(bw, "events", raw)
	})
	if err != nil {
		return err
	}
	if err := s.exportRest(ctx, bw, f, subs, hashes, jobs); err != nil {
		return err
	}
	return bw.Flush()
}

// exportRest writes what belongs to the exported submissions besides
// their files and events — the service versions they were made with, and
// their delivery jobs with every attempt and step, so that an open job is
// delivered from the target and a finished one is not sent again — and
// the tenant's staff accounts and API tokens. Each is one scan (a bulk
// job), filtered here.
func (s *Store) exportRest(ctx context.Context, w io.Writer, f record.ExportFilter, subs, hashes, jobs map[string]bool) error {
	byID := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	tenant := bson.D{}
	if f.Tenant != "" {
		tenant = bson.D{{Key: "tenant", Value: f.Tenant}}
	}
	str := func(raw bson.Raw, key string) string {
		v, _ := raw.Lookup(key).StringValueOK()
		return v
	}
	all := func(bson.Raw) bool { return true }
	// In this order: the delivery jobs name the attempts and steps to
	// write, and the outbox is read before the finished jobs, the way
	// jobs move (a job finishing meanwhile is in one or both).
	for _, x := range []struct {
		kind   string
		c      *mongo.Collection
		filter bson.D
		keep   func(bson.Raw) bool
		job    bool // a delivery job (its attempts and steps follow)
		ofJob  bool // an attempt or step of one
	}{
		{kind: "version", c: s.versions, filter: bson.D{}, keep: func(raw bson.Raw) bool { return hashes[str(raw, "_id")] }},
		{kind: "delivery", c: s.outbox(), filter: tenant, keep: func(raw bson.Raw) bool { return subs[str(raw, "sub")] }, job: true},
		{kind: "delivery-done", c: s.done(), filter: tenant, keep: func(raw bson.Raw) bool { return subs[str(raw, "sub")] }, job: true},
		{kind: "delivery-claim", c: s.claims(), filter: bson.D{}, keep: func(raw bson.Raw) bool { return jobs[str(raw, "job")] }, ofJob: true},
		{kind: "delivery-step", c: s.steps(), filter: bson.D{}, keep: func(raw bson.Raw) bool { return jobs[str(raw, "job")] }, ofJob: true},
		{kind: "user", c: s.staffColl(collStaffUsers), filter: tenant, keep: all},
		{kind: "api-token", c: s.staffColl(collAPITokens), filter: tenant, keep: all},
	} {
		if x.ofJob && len(jobs) == 0 {
			continue // no jobs: no attempts or steps to look for
		}
		err := s.each(ctx, x.c, x.filter, byID, func(raw bson.Raw) error {
			if !x.keep(raw) {
				return nil
			}
			if x.job {
				jobs[str(raw, "_id")] = true
			}
			return writeDoc(w, x.kind, raw)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) exportFile(ctx context.Context, w io.Writer, id string) error {
	octx, cancel := s.opctx(ctx)
	var raw bson.Raw
	err := s.files.FindOne(octx, bson.D{{Key: "_id", Value: id}}).Decode(&raw)
	cancel()
	if isNoDocs(err) {
		return nil // attachment deleted meanwhile; nothing to export
	}
	if err != nil {
		return fmt.Errorf("mongostore: export file %s: %w", id, err)
	}
	var fd fileDoc
	if err := bson.Unmarshal(raw, &fd); err != nil {
		return err
	}
	var got int64
	for n := 0; got < fd.Length; n++ {
		octx, cancel := s.opctx(ctx)
		var c bson.Raw
		err := s.chunks.FindOne(octx, bson.D{{Key: "_id", Value: chunkID(id, n)}}).Decode(&c)
		cancel()
		if err != nil {
			return fmt.Errorf("mongostore: export file %s chunk %d: %w", id, n, err)
		}
		_, data := c.Lookup("data").Binary()
		if len(data) == 0 {
			return fmt.Errorf("mongostore: export file %s: empty chunk %d", id, n)
		}
		got += int64(len(data))
		if err := writeDoc(w, "chunk", c); err != nil {
			return err
		}
	}
	return writeDoc(w, "file", raw)
}

// each streams the documents of a query as raw BSON.
func (s *Store) each(ctx context.Context, c *mongo.Collection, filter bson.D, opts *options.FindOptionsBuilder, fn func(bson.Raw) error) error {
	if opts == nil {
		opts = options.Find()
	}
	cur, err := c.Find(ctx, filter, opts.SetBatchSize(100))
	if err != nil {
		return fmt.Errorf("mongostore: export %s: %w", c.Name(), err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("mongostore: export %s: %w", c.Name(), err)
	}
	return nil
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

func writeDoc(w io.Writer, kind string, raw bson.Raw) error {
	doc, err := bson.MarshalExtJSON(raw, true, false)
	if err != nil {
		return fmt.Errorf("mongostore: export %s: %w", kind, err)
	}
	return writeJSONLine(w, exportLine{Kind: kind, Doc: doc})
}

// Import implements the store interface of its domain package.
func (s *Store) Import(ctx context.Context, r io.Reader) (record.ImportStats, error) {
	var st record.ImportStats
	jobsLeft := false // an imported submission carries jobs
	defer func() {
		if jobsLeft {
			// Jobs not yet taken into the outbox came in with their
			// submissions (also if the import stopped on an error): the
			// next poll looks for them (lookForLeftovers).
			s.lookAgainForLeftovers()
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var l exportLine
		if err := json.Unmarshal(b, &l); err != nil {
			return st, fmt.Errorf("import line %d: %w", line, err)
		}
		if line == 1 || l.Kind == "header" {
			if l.Kind != "header" || l.Format != exportFormat || l.Version != 1 {
				return st, fmt.Errorf("import line %d: not an %s v1 file", line, exportFormat)
			}
			continue
		}
		var doc bson.D
		if err := bson.UnmarshalExtJSON(l.Doc, true, &doc); err != nil {
			return st, fmt.Errorf("import line %d: %w", line, err)
		}
		var c *mongo.Collection
		var counter *int
		switch l.Kind {
		case "submission":
			c, counter = s.subs, &st.Submissions
		case "events":
			changed, err := s.importEventLog(ctx, doc)
			if err != nil {
				return st, fmt.Errorf("import line %d: %w", line, err)
			}
			if changed {
				st.Events++
			} else {
				st.Skipped++
			}
			continue
		case "chunk":
			c, counter = s.chunks, &st.Chunks
		case "file":
			c, counter = s.files, &st.Files
		case "counter":
			if err := s.importCounter(ctx, doc); err != nil {
				return st, fmt.Errorf("import line %d: %w", line, err)
			}
			st.Counters++
			continue
		case "version":
			c, counter = s.versions, &st.Versions
		case "delivery-done":
			c, counter = s.done(), &st.Deliveries
		case "delivery":
			c, counter = s.outbox(), &st.Deliveries
		case "delivery-claim":
			c, counter = s.claims(), &st.DeliveryRecords
		case "delivery-step":
			c, counter = s.steps(), &st.DeliveryRecords
		case "user":
			c, counter = s.staffColl(collStaffUsers), &st.Accounts
		case "api-token":
			c, counter = s.staffColl(collAPITokens), &st.Accounts
		default:
			return st, fmt.Errorf("import line %d: unknown record kind %q", line, l.Kind)
		}
		var res insertResult
		var err error
		if l.Kind == "submission" {
			sid, _ := docID(doc).(string)
			err = s.track(ctx, sid, false, func() (*record.Submission, bool, error) {
				var err error
				if res, err = s.insertOrCompare(ctx, c, doc); err == nil && res == inserted && s.cases != nil {
					err = s.reloadRow(ctx, sid)
				}
				return nil, false, err
			})
		} else {
			res, err = s.insertOrCompare(ctx, c, doc)
		}
		if err != nil {
			return st, fmt.Errorf("import line %d (%s): %w", line, l.Kind, err)
		}
		switch res {
		case inserted:
			*counter++
			switch l.Kind {
			case "submission":
				if err := s.claimImported(ctx, doc); err != nil {
					return st, fmt.Errorf("import line %d: %w", line, err)
				}
				jobsLeft = jobsLeft || hasJobs(doc)
			case "delivery":
				if err := s.importedOpen(doc); err != nil {
					return st, fmt.Errorf("import line %d: %w", line, err)
				}
			}
		case identical:
			st.Skipped++
		case differs:
			st.Conflicts++
			s.log.Warn("import: record exists with different content; kept the existing one", "kind", l.Kind, "id", doc[0].Value)
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("import line %d: %w", line+1, err)
	}
	if _, err := s.RepairEvents(ctx); err != nil {
		return st, fmt.Errorf("import: copy events: %w", err)
	}
	return st, nil
}

// claimImported writes the idempotency claim of an imported submission
// that carries a key (an existing claim is left alone).
func (s *Store) claimImported(ctx context.Context, doc bson.D) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	var d submissionDoc
	if err := bson.Unmarshal(raw, &d); err != nil {
		return err
	}
	if d.IdemKey == "" {
		return nil
	}
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err = s.claimKey(ctx, d.Idem, d.ID, d.Created)
	return err
}

// hasJobs reports whether a submission document carries delivery jobs
// not taken into the outbox.
func hasJobs(doc bson.D) bool {
	for _, e := range doc {
		if e.Key == "jobs" {
			a, ok := e.Value.(bson.A)
			return ok && len(a) > 0
		}
	}
	return false
}

// importedOpen adds an imported open job to the in-memory outbox, if this
// store keeps one.
func (s *Store) importedOpen(doc bson.D) error {
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	var j jobDoc
	if err := bson.Unmarshal(raw, &j); err != nil {
		return err
	}
	s.setOpen(&j)
	return nil
}

type insertResult int

const (
	inserted insertResult = iota
	identical
	differs
)

func (s *Store) insertOrCompare(ctx context.Context, c *mongo.Collection, doc bson.D) (insertResult, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := c.InsertOne(ctx, doc)
	if err == nil {
		return inserted, nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return 0, err
	}
	id := docID(doc)
	var have bson.Raw
	if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&have); err != nil {
		if isNoDocs(err) { // duplicate on another unique key (e.g. idempotency)
			return differs, nil
		}
		return 0, err
	}
	want, err := bson.Marshal(doc)
	if err != nil {
		return 0, err
	}
	if sameDoc(have, want) {
		return identical, nil
	}
	return differs, nil
}

// sameDoc compares two documents by content. Submissions are compared
// without the event outbox, which the store clears after copying it.
func sameDoc(a, b bson.Raw) bool {
	strip := func(r bson.Raw) bson.D {
		var d, out bson.D
		if bson.Unmarshal(r, &d) != nil {
			return nil
		}
		for _, e := range d {
			if e.Key != "outbox" && e.Key != "pending" {
				out = append(out, e)
			}
		}
		return out
	}
	ja, err1 := bson.MarshalExtJSON(strip(a), true, false)
	jb, err2 := bson.MarshalExtJSON(strip(b), true, false)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func docID(doc bson.D) any {
	for _, e := range doc {
		if e.Key == "_id" {
			return e.Value
		}
	}
	return nil
}

// importEventLog merges an event log into the target's: events are added
// with $addToSet (as raw documents), a tombstone is kept if present.
func (s *Store) importEventLog(ctx context.Context, doc bson.D) (bool, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	b, err := bson.Marshal(doc)
	if err != nil {
		return false, err
	}
	raw := bson.Raw(b)
	sid, _ := raw.Lookup("_id").StringValueOK()
	tenant, _ := raw.Lookup("tenant").StringValueOK()
	ref, _ := raw.Lookup("ref").StringValueOK()
	before, err := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Raw()
	if err != nil && !isNoDocs(err) {
		return false, err
	}
	evs := bson.A{}
	if arr, ok := raw.Lookup("events").ArrayOK(); ok {
		vals, err := arr.Values()
		if err != nil {
			return false, err
		}
		for _, v := range vals {
			evs = append(evs, v)
		}
	}
	if err := s.appendLog(ctx, sid, tenant, ref, evs); err != nil {
		return false, err
	}
	if del, ok := raw.Lookup("deleted").DocumentOK(); ok {
		var have eventLogDoc
		if err := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Decode(&have); err != nil {
			return false, err
		}
		if have.Deleted == nil {
			if _, err := s.events.UpdateOne(ctx, bson.D{{Key: "_id", Value: sid}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "deleted", Value: del}}}}); err != nil {
				return false, err
			}
		}
	}
	after, err := s.events.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}).Raw()
	if err != nil {
		return false, err
	}
	return !bytes.Equal(before, after), nil
}

// importCounter raises the target counter to at least the imported value,
// so numbers allocated later never collide with imported ones.
func (s *Store) importCounter(ctx context.Context, doc bson.D) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	raw, err := bson.Marshal(doc)
	if err != nil {
		return err
	}
	var c counterDoc
	if err := bson.Unmarshal(raw, &c); err != nil {
		return err
	}
	defer lockKey("counters", c.ID)()
	for attempt := 0; attempt < 10; attempt++ {
		var have counterDoc
		err = s.counters.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}).Decode(&have)
		if isNoDocs(err) {
			_, err = s.counters.InsertOne(ctx, c)
			if mongo.IsDuplicateKeyError(err) {
				continue
			}
			return err
		}
		if err != nil || have.N >= c.N {
			return err
		}
		res, err := s.counters.UpdateOne(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "n", Value: have.N}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "n", Value: c.N}}}})
		if err != nil || res.MatchedCount == 1 {
			return err
		}
	}
	return fmt.Errorf("counter %s: too much contention", c.ID)
}
