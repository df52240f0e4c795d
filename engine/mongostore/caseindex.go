package mongostore

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// The case index keeps a summary of every submission in memory (what an
// inbox row shows: everything but Data and Computed, a few hundred bytes)
// when this Store is the database's only writer (Options.ExclusiveDrafts,
// the embedded store). ListSubmissions and the retention sweep then read
// memory, at a cost that follows the page, not the archive.
//
// Exactness across crashes: before a write that changes a summary, the
// submission gets a change marker (an _id-keyed document in "changes");
// markers are removed only after a snapshot of the index that contains
// the change was written (packed into a few large documents in
// "case_index", because FerretDB decodes every document it scans at
// ~50–200 µs each, so scanning 100,000 summaries would take seconds).
// Opening the store loads the snapshot and re-reads the marked
// submissions by _id. A snapshot is written after snapshotEvery marked
// writes and on Close, so start-up reads at most about that many
// submissions besides the snapshot.
//
// Snapshots are incremental, so that their cost follows the rows that
// changed, not the archive: the index keeps the _ids of the rows set or
// removed since the last snapshot (dirty), and a snapshot normally writes
// only a delta — the current rows of those _ids and tombstones for the
// removed ones — as new pages, then commits it by replacing the "meta"
// document, which names a base (all rows) and the deltas after it in
// order. Start-up applies base and deltas in order, then the markers. The
// changed rows are copied under the exclusive gate (a base copies all
// rows there), so a delta holds every write whose marker it removes; a
// delta that fails puts its _ids back into dirty, so the next snapshot
// writes them before any marker or block marker covering them goes. Once
// the deltas would hold as many rows as the base, or there are
// deltaLimit of them, the snapshot is a new base instead, and every page
// the new meta does not name is deleted (also those of a snapshot
// interrupted before its commit, which the meta never named and start-up
// never reads). A changed row thus costs its share of one delta plus its
// share of rewriting the base, which happens once per as many changed
// rows as the base holds or per deltaLimit deltas, a number that grows
// with the base: a constant share either way. Measured (BenchmarkScale, docs/storage.md): a
// snapshot after 400 submits takes 7–18 ms of CPU at 10,000 and 9 ms at
// 100,000 stored submissions; written whole it took 64–81 and 330–590 ms.

// snapshotEvery is the number of marked submissions after which the
// index is written out; maxDeltas is the number of deltas after which
// the next snapshot of a base up to maxDeltas × baseRowsPerDelta rows is
// a new base. Variables for the tests.
var (
	snapshotEvery = 500
	maxDeltas     = 64
)

// baseRowsPerDelta is the number of rows of a larger base per delta
// allowed after it: the base is then rewritten once per a number of
// changes proportional to its size, and start-up reads a number of
// deltas proportional to the archive (50 per 100,000 rows).
const baseRowsPerDelta = 2000

// deltaLimit returns the number of deltas after which the next snapshot
// of a base of n rows is a new base.
func deltaLimit(n int) int { return max(maxDeltas, n/baseRowsPerDelta) }

// snapshotPage is the size of one snapshot document.
const snapshotPage = 1 << 20

type caseIndex struct {
	// gate is held shared by every tracked write from its marker to its
	// memory update, and exclusively while a snapshot is taken, so that
	// a snapshot never misses a write whose marker it removes.
	gate sync.RWMutex

	mu    sync.RWMutex
	rows  map[string]*record.Submission   // by submission _id
	lists map[string][]*record.Submission // by listKey, ascending (created, _id)
	// byUpdated lists each service's rows by (updated, _id), for retention.
	byUpdated map[string][]*record.Submission
	// keys maps the idempotency keys of the rows (idemValue without sid)
	// to their submission _id: with the only writer, a submit finds a
	// replay in memory and needs no claim document (see Submit).
	keys map[string]string
	// dirty holds the _ids of the rows set or removed since the last
	// snapshot took them: the next delta (see snapshot).
	dirty map[string]bool

	markMu sync.Mutex
	gen    uint64            // generation of marks; advanced by each snapshot
	marked map[string]uint64 // submission _id → generation of its last mark
	// covered counts the inserts under block markers since the last
	// snapshot (see trackCovered).
	covered int
	kept    map[string]bool // events not copied: keep the marker
	busy    atomic.Bool     // a background snapshot is running
	wg      sync.WaitGroup
	snapMu  sync.Mutex // one snapshot at a time
}

func newCaseIndex() *caseIndex {
	return &caseIndex{rows: map[string]*record.Submission{}, lists: map[string][]*record.Submission{},
		byUpdated: map[string][]*record.Submission{}, keys: map[string]string{}, marked: map[string]uint64{}, kept: map[string]bool{},
		dirty: map[string]bool{}}
}

func listKey(tenant, office, status string) string { return tenant + "\x00" + office + "\x00" + status }

// rowKeys returns the lists a row is in: its office and any office, its
// status and any status (each once; a row without office is only in the
// lists of any office).
func rowKeys(r *record.Submission) []string {
	keys := []string{listKey(r.Tenant, "", r.Status), listKey(r.Tenant, "", "")}
	if r.Office != "" {
		keys = append(keys, listKey(r.Tenant, r.Office, r.Status), listKey(r.Tenant, r.Office, ""))
	}
	return keys
}

// less orders rows by creation, then _id (the inbox order reversed).
func less(a, b *record.Submission) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.Before(b.Created)
	}
	return subID(a.Tenant, a.Ref) < subID(b.Tenant, b.Ref)
}

func lessUpdated(a, b *record.Submission) bool {
	if !a.Updated.Equal(b.Updated) {
		return a.Updated.Before(b.Updated)
	}
	return subID(a.Tenant, a.Ref) < subID(b.Tenant, b.Ref)
}

// insertSorted inserts r into l, ordered by lt.
func insertSorted(l []*record.Submission, r *record.Submission, lt func(a, b *record.Submission) bool) []*record.Submission {
	if n := len(l); n == 0 || !lt(r, l[n-1]) {
		// The usual case, a new submission: it goes last, and the
		// search would only touch rows of the list to say so.
		return append(l, r)
	}
	i := sort.Search(len(l), func(i int) bool { return lt(r, l[i]) })
	l = append(l, nil)
	copy(l[i+1:], l[i:])
	l[i] = r
	return l
}

// removeSorted removes r from l, ordered by lt.
func removeSorted(l []*record.Submission, r *record.Submission, lt func(a, b *record.Submission) bool) []*record.Submission {
	i := sort.Search(len(l), func(i int) bool { return !lt(l[i], r) })
	if i < len(l) && l[i] == r {
		l = append(l[:i], l[i+1:]...)
	}
	return l
}

// summary strips a submission to its index row.
func summary(sub *record.Submission) *record.Submission {
	r := *sub
	r.Data, r.Computed = nil, nil
	r.Attachments = append([]record.Attachment(nil), sub.Attachments...)
	return &r
}

// put sets (r != nil) or removes the row of sid. The caller holds mu.
func (c *caseIndex) put(sid string, r *record.Submission) {
	c.dirty[sid] = true
	if old := c.rows[sid]; old != nil {
		for _, k := range rowKeys(old) {
			if l := removeSorted(c.lists[k], old, less); len(l) == 0 {
				delete(c.lists, k)
			} else {
				c.lists[k] = l
			}
		}
		if l := removeSorted(c.byUpdated[old.Service.ID], old, lessUpdated); len(l) == 0 {
			delete(c.byUpdated, old.Service.ID)
		} else {
			c.byUpdated[old.Service.ID] = l
		}
		if old.IdempotencyKey != "" {
			if k := idemValue(old.Tenant, old.IdempotencyKey, ""); c.keys[k] == sid {
				delete(c.keys, k)
			}
		}
		delete(c.rows, sid)
	}
	if r == nil {
		return
	}
	c.rows[sid] = r
	if r.IdempotencyKey != "" {
		c.keys[idemValue(r.Tenant, r.IdempotencyKey, "")] = sid
	}
	for _, k := range rowKeys(r) {
		c.lists[k] = insertSorted(c.lists[k], r, less)
	}
	c.byUpdated[r.Service.ID] = insertSorted(c.byUpdated[r.Service.ID], r, lessUpdated)
}

// reload sets the row of sid read again at start-up. A row equal to the
// snapshot's needs no delta: it is not marked dirty. The caller holds mu
// or is alone (loadCases).
func (c *caseIndex) reload(sid string, r *record.Submission) {
	if old := c.rows[sid]; old == nil && r == nil || old != nil && r != nil && reflect.DeepEqual(old, r) {
		return
	}
	c.put(sid, r)
}

// load adds many rows at once (at start-up): appended, then each list
// sorted once, instead of one sorted insertion per row.
func (c *caseIndex) load(rows []*record.Submission) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rows {
		sid := subID(r.Tenant, r.Ref)
		if c.rows[sid] != nil {
			c.put(sid, nil)
		}
		c.rows[sid] = r
		if r.IdempotencyKey != "" {
			c.keys[idemValue(r.Tenant, r.IdempotencyKey, "")] = sid
		}
		for _, k := range rowKeys(r) {
			c.lists[k] = append(c.lists[k], r)
		}
		c.byUpdated[r.Service.ID] = append(c.byUpdated[r.Service.ID], r)
	}
	for _, l := range c.lists {
		sort.Slice(l, func(i, j int) bool { return less(l[i], l[j]) })
	}
	for _, l := range c.byUpdated {
		sort.Slice(l, func(i, j int) bool { return lessUpdated(l[i], l[j]) })
	}
}

// all returns every row, each tenant's in inbox order (a tenant's list
// of any office and status). The caller holds mu.
func (c *caseIndex) all() []*record.Submission {
	rows := make([]*record.Submission, 0, len(c.rows))
	for k, l := range c.lists {
		if strings.HasSuffix(k, "\x00\x00") { // listKey(tenant, "", "")
			rows = append(rows, l...)
		}
	}
	if len(rows) == len(c.rows) {
		return rows
	}
	rows = rows[:0] // a row in no such list or twice (no status)
	for _, r := range c.rows {
		rows = append(rows, r)
	}
	return rows
}

// keyHolder returns the _id of the submission holding an idempotency
// key (idemValue without sid).
func (c *caseIndex) keyHolder(id string) (string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	sid, ok := c.keys[id]
	return sid, ok
}

func (c *caseIndex) set(sid string, r *record.Submission) {
	c.mu.Lock()
	c.put(sid, r)
	c.mu.Unlock()
}

// list answers an inbox query from memory: newest first, merging the
// lists of the requested statuses.
func (c *caseIndex) list(q record.InboxQuery) []*record.Submission {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var ls [][]*record.Submission
	if len(q.Status) == 0 {
		ls = append(ls, c.lists[listKey(q.Tenant, q.Office, "")])
	} else {
		seen := map[string]bool{}
		for _, st := range q.Status {
			if !seen[st] {
				seen[st] = true
				ls = append(ls, c.lists[listKey(q.Tenant, q.Office, st)])
			}
		}
	}
	pos := make([]int, len(ls))
	for i, l := range ls {
		pos[i] = len(l) - 1
	}
	out := make([]*record.Submission, 0, min(q.Limit, 64))
	for skip := q.Skip; len(out) < q.Limit; {
		best := -1
		for i, l := range ls {
			if pos[i] >= 0 && (best < 0 || less(ls[best][pos[best]], l[pos[i]])) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		r := ls[best][pos[best]]
		pos[best]--
		if skip > 0 {
			skip--
			continue
		}
		cp := *r
		cp.Attachments = append([]record.Attachment(nil), r.Attachments...)
		out = append(out, &cp)
	}
	return out
}

// updatedBefore returns up to limit submissions of a service last
// changed before t, oldest first: the front of the service's list.
func (c *caseIndex) updatedBefore(serviceID string, t time.Time, limit int) []record.SubmissionKey {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []record.SubmissionKey
	for _, r := range c.byUpdated[serviceID] {
		if len(out) >= limit || !r.Updated.Before(t) {
			break
		}
		out = append(out, record.SubmissionKey{Tenant: r.Tenant, Ref: r.Ref})
	}
	return out
}

func (c *caseIndex) services() []string {
	c.mu.RLock()
	out := make([]string, 0, len(c.byUpdated))
	for id := range c.byUpdated {
		out = append(out, id)
	}
	c.mu.RUnlock()
	sort.Strings(out)
	return out
}

// pendingIDs returns the submissions whose events are still to copy.
func (c *caseIndex) pendingIDs() []string {
	c.markMu.Lock()
	defer c.markMu.Unlock()
	out := make([]string, 0, len(c.kept))
	for id := range c.kept {
		out = append(out, id)
	}
	return out
}

// track runs a write of submission sid. With the case index it holds the
// gate, marks sid first and applies the row write returns (nil with
// deleted: the submission is gone); when write fails, the row is re-read,
// since a failed write may still have been applied. Without the index it
// only marks sid when mark is set.
func (s *Store) track(ctx context.Context, sid string, mark bool, write func() (row *record.Submission, deleted bool, err error)) error {
	c := s.cases
	if c == nil {
		if mark {
			if err := s.mark(ctx, sid); err != nil {
				return err
			}
		}
		_, _, err := write()
		return err
	}
	c.gate.RLock()
	defer c.gate.RUnlock()
	c.markMu.Lock()
	c.marked[sid] = c.gen
	n := len(c.marked)
	c.markMu.Unlock()
	if err := s.mark(ctx, sid); err != nil {
		return err
	}
	row, deleted, err := write()
	switch {
	case errors.Is(err, record.ErrConflict) || errors.Is(err, record.ErrNotFound) || mongo.IsDuplicateKeyError(err):
		// nothing was written
	case err != nil:
		if rerr := s.reloadRow(context.WithoutCancel(ctx), sid); rerr != nil {
			s.log.Warn("case index: row not reloaded after a failed write (exact again after restart)", "err", rerr)
		}
	case deleted:
		c.set(sid, nil)
	case row != nil:
		c.set(sid, summary(row))
	}
	s.maybeSnapshot(n)
	return err
}

// trackCovered runs the insert of submission sid whose reference number
// comes from a marked block (see blockMark): no marker of its own, the
// block's marker covers it until a snapshot holds its row.
func (s *Store) trackCovered(ctx context.Context, sid string, write func() (*record.Submission, error)) error {
	c := s.cases
	c.gate.RLock()
	defer c.gate.RUnlock()
	row, err := write()
	switch {
	case mongo.IsDuplicateKeyError(err):
		// nothing was written
	case err != nil:
		if rerr := s.reloadRow(context.WithoutCancel(ctx), sid); rerr != nil {
			s.log.Warn("case index: row not reloaded after a failed write (exact again after restart)", "err", rerr)
		}
	case row != nil:
		c.set(sid, summary(row))
	}
	c.markMu.Lock()
	c.covered++
	n := len(c.marked) + c.covered
	c.markMu.Unlock()
	s.maybeSnapshot(n)
	return err
}

// maybeSnapshot starts a snapshot in the background once n writes are
// not yet in one.
func (s *Store) maybeSnapshot(n int) {
	c := s.cases
	if n >= snapshotEvery && c.busy.CompareAndSwap(false, true) {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			defer c.busy.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), 10*s.opts.OpTimeout)
			defer cancel()
			if err := s.snapshot(ctx); err != nil {
				s.log.Warn("case index snapshot failed (retried)", "err", err)
			}
		}()
	}
}

// keep records that sid has events still to copy (its marker stays).
func (c *caseIndex) keep(sid string, pending bool) {
	if c == nil {
		return
	}
	c.markMu.Lock()
	if pending {
		c.kept[sid] = true
	} else {
		delete(c.kept, sid)
	}
	c.markMu.Unlock()
}

// closeIndex waits for a snapshot in progress and writes a final one if
// anything changed since.
func (s *Store) closeIndex(ctx context.Context) error {
	c := s.cases
	if c == nil {
		return nil
	}
	c.wg.Wait()
	c.markMu.Lock()
	n := len(c.marked) - len(c.kept) + c.covered
	c.markMu.Unlock()
	c.mu.RLock()
	n += len(c.dirty)
	c.mu.RUnlock()
	if n == 0 && len(s.settledBlocks()) == 0 {
		return nil
	}
	return s.snapshot(ctx)
}

// reloadRow reads submission sid and sets its row.
func (s *Store) reloadRow(ctx context.Context, sid string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	var doc submissionDoc
	err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}, options.FindOne().SetProjection(rowProjection)).Decode(&doc)
	if isNoDocs(err) {
		s.cases.set(sid, nil)
		return nil
	}
	if err != nil {
		return err
	}
	s.cases.set(sid, doc.submission())
	return nil
}

var rowProjection = bson.D{{Key: "data", Value: 0}, {Key: "computed", Value: 0}, {Key: "events", Value: 0}, {Key: "outbox", Value: 0}}

// snapshotMeta is the "meta" document of case_index. It names the pages
// of the base (every row) and of the deltas written since, in order;
// replacing it commits a snapshot.
type snapshotMeta struct {
	ID     string `bson:"_id"`
	Format int    `bson:"format"` // snapshotFormat of the writer
	Gen    int64  `bson:"gen"`    // the base is in pages snap/<gen>/<i>
	Pages  int    `bson:"pages"`
	Count  int    `bson:"count"` // rows in the base
	// Seq is the number of the last delta written; it only grows, so a
	// new delta never overwrites a page the meta names.
	Seq    int64       `bson:"seq"`
	Deltas []deltaMeta `bson:"deltas"`
}

// deltaMeta describes one delta: pages delta/<seq>/<i>.
type deltaMeta struct {
	Seq   int64 `bson:"seq"`
	Pages int   `bson:"pages"`
	Rows  int   `bson:"rows"` // rows and tombstones
}

// deltaRows returns the rows and tombstones of all deltas.
func (m *snapshotMeta) deltaRows() int {
	n := 0
	for _, d := range m.Deltas {
		n += d.Rows
	}
	return n
}

// snapshotFormat changes when the rows mean something else (a field of
// record.Submission filled differently); a snapshot of another format is
// ignored and the index is rebuilt by a scan. Format 1 (before deltas)
// has the same rows and base pages and no deltas: it is read as a base.
const snapshotFormat = 2

// snapshotDelta is the content of a delta: the current rows of the
// submissions changed since the previous snapshot, and the _ids of
// those removed.
type snapshotDelta struct {
	Rows []*record.Submission
	Gone []string
}

type snapshotPageDoc struct {
	ID   string `bson:"_id"`
	Data []byte `bson:"data"`
}

func pageID(gen int64, i int) string { return fmt.Sprintf("snap/%d/%d", gen, i) }

func deltaPageID(seq int64, i int) string { return fmt.Sprintf("delta/%d/%d", seq, i) }

// testHookSnapshotWrite, when set by a test, is called before (done
// false) and after (done true) each page and meta write of a snapshot;
// an error it returns fails the snapshot there.
var testHookSnapshotWrite func(id string, done bool) error

// snapshot writes the rows changed since the last snapshot (a delta), or
// all rows when the deltas would hold as many rows as the base (a
// compaction), and then removes the markers and block markers it covers.
func (s *Store) snapshot(ctx context.Context) error {
	c := s.cases
	c.snapMu.Lock()
	defer c.snapMu.Unlock()
	var meta snapshotMeta
	err := s.caseIdx.FindOne(ctx, bson.D{{Key: "_id", Value: "meta"}}).Decode(&meta)
	if err != nil && !isNoDocs(err) {
		return fmt.Errorf("mongostore: case index snapshot: %w", err)
	}
	base := err == nil && (meta.Format == snapshotFormat || meta.Format == 1)

	c.gate.Lock()
	c.mu.Lock()
	dirty := c.dirty
	c.dirty = map[string]bool{}
	full := !base || len(meta.Deltas) >= deltaLimit(meta.Count) || meta.deltaRows()+len(dirty) >= meta.Count
	var rows []*record.Submission
	var gone []string
	if full {
		rows = c.all()
	} else {
		for id := range dirty {
			if r := c.rows[id]; r != nil {
				rows = append(rows, r)
			} else {
				gone = append(gone, id)
			}
		}
	}
	c.mu.Unlock()
	c.markMu.Lock()
	covered := c.gen
	c.gen++
	ncovered := c.covered
	c.covered = 0
	c.markMu.Unlock()
	// Blocks whose inserts have all finished are in this snapshot.
	blocks := s.settledBlocks()
	c.gate.Unlock()

	if full {
		// In inbox order, so that start-up sorts presorted lists (see
		// readSnapshot); the tenants' lists are each sorted already.
		sort.Slice(rows, func(i, j int) bool { return less(rows[i], rows[j]) })
	}
	if full || len(dirty) > 0 {
		if err := s.writeSnapshot(ctx, meta, full, rows, gone); err != nil {
			// Perhaps not committed: the next snapshot writes these rows
			// again, before any marker or block covering them goes.
			c.mu.Lock()
			for id := range dirty {
				c.dirty[id] = true
			}
			c.mu.Unlock()
			c.markMu.Lock()
			c.covered += ncovered
			c.markMu.Unlock()
			return err
		}
	}
	for _, id := range blocks {
		if err := s.forgetBlock(ctx, id); err != nil {
			return fmt.Errorf("mongostore: case index snapshot: %w", err)
		}
	}
	// Remove the markers of covered writes, unless the submission was
	// marked again since or still has events to copy.
	c.markMu.Lock()
	var ids []string
	for id, g := range c.marked {
		if g <= covered && !c.kept[id] {
			ids = append(ids, id)
		}
	}
	c.markMu.Unlock()
	for _, id := range ids {
		c.markMu.Lock()
		if g, ok := c.marked[id]; ok && g <= covered && !c.kept[id] {
			unlock := lockKey("changes", id)
			_, err = s.changes.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
			unlock()
			if err == nil {
				delete(c.marked, id)
			}
		}
		c.markMu.Unlock()
		if err != nil {
			return fmt.Errorf("mongostore: case index snapshot: %w", err)
		}
	}
	return nil
}

// writeSnapshot writes a base of rows (full) or a delta of rows and
// gone after the snapshot old names, and commits it by replacing the
// meta document. A new base replaces the old one and all deltas, whose
// pages are deleted afterwards, together with any page left by a
// snapshot interrupted before its commit.
func (s *Store) writeSnapshot(ctx context.Context, old snapshotMeta, full bool, rows []*record.Submission, gone []string) error {
	next := old
	next.ID, next.Format = "meta", snapshotFormat
	var err error
	if full {
		next.Gen++
		next.Count, next.Deltas = len(rows), nil
		next.Pages, err = s.writePages(ctx, func(i int) string { return pageID(next.Gen, i) }, rows)
	} else {
		next.Seq++
		d := deltaMeta{Seq: next.Seq, Rows: len(rows) + len(gone)}
		d.Pages, err = s.writePages(ctx, func(i int) string { return deltaPageID(d.Seq, i) }, snapshotDelta{Rows: rows, Gone: gone})
		next.Deltas = append(append([]deltaMeta(nil), old.Deltas...), d)
	}
	if err != nil {
		return fmt.Errorf("mongostore: case index snapshot: %w", err)
	}
	if err := s.writeSnapshotDoc(ctx, "meta", next); err != nil {
		return fmt.Errorf("mongostore: case index snapshot: %w", err)
	}
	if !full {
		return nil
	}
	keep := bson.A{"meta", "schema"}
	for i := 0; i < next.Pages; i++ {
		keep = append(keep, pageID(next.Gen, i))
	}
	_, err = s.caseIdx.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$regex", Value: "^(snap|delta)/"}, {Key: "$nin", Value: keep}}}})
	if err != nil {
		return fmt.Errorf("mongostore: case index snapshot: old pages: %w", err)
	}
	return nil
}

// writePages encodes v and writes it in pages of up to snapshotPage
// bytes, at least one, named by id. It returns the number of pages.
func (s *Store) writePages(ctx context.Context, id func(i int) string, v any) (int, error) {
	// gob, compressed: FerretDB handles binary data slowly (tens of ms
	// per MB), so fewer bytes read make start-up faster.
	var buf bytes.Buffer
	zw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	if err := gob.NewEncoder(zw).Encode(v); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	b := buf.Bytes()
	pages := 0
	for off := 0; off < len(b) || pages == 0; off += snapshotPage {
		end := min(off+snapshotPage, len(b))
		if err := s.writeSnapshotDoc(ctx, id(pages), snapshotPageDoc{ID: id(pages), Data: b[off:end]}); err != nil {
			return 0, err
		}
		pages++
	}
	return pages, nil
}

// writeSnapshotDoc writes (replaces) one document of case_index.
func (s *Store) writeSnapshotDoc(ctx context.Context, id string, doc any) error {
	if h := testHookSnapshotWrite; h != nil {
		if err := h(id, false); err != nil {
			return err
		}
	}
	if _, err := s.caseIdx.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true)); err != nil {
		return err
	}
	if h := testHookSnapshotWrite; h != nil {
		return h(id, true)
	}
	return nil
}

// readPages reads pages 0 … n-1 named by id and decodes them into v.
func (s *Store) readPages(ctx context.Context, id func(i int) string, n int, v any) error {
	var b []byte
	for i := 0; i < n; i++ {
		var p snapshotPageDoc
		if err := s.caseIdx.FindOne(ctx, bson.D{{Key: "_id", Value: id(i)}}).Decode(&p); err != nil {
			return fmt.Errorf("page %s: %w", id(i), err)
		}
		b = append(b, p.Data...)
	}
	if err := gob.NewDecoder(flate.NewReader(bytes.NewReader(b))).Decode(v); err != nil {
		return fmt.Errorf("page %s: %w", id(0), err)
	}
	return nil
}

// readSnapshot returns the rows of the snapshot meta names: the base,
// then each delta in order (its rows replace, its tombstones remove).
func (s *Store) readSnapshot(ctx context.Context, meta snapshotMeta) ([]*record.Submission, error) {
	var rows []*record.Submission
	if err := s.readPages(ctx, func(i int) string { return pageID(meta.Gen, i) }, meta.Pages, &rows); err != nil {
		return nil, err
	}
	if len(meta.Deltas) > 0 {
		changed := map[string]*record.Submission{} // nil: removed
		for _, dm := range meta.Deltas {
			var d snapshotDelta
			if err := s.readPages(ctx, func(i int) string { return deltaPageID(dm.Seq, i) }, dm.Pages, &d); err != nil {
				return nil, err
			}
			for _, r := range d.Rows {
				changed[subID(r.Tenant, r.Ref)] = r
			}
			for _, id := range d.Gone {
				changed[id] = nil
			}
		}
		var add []*record.Submission
		for _, r := range changed {
			if r != nil {
				add = append(add, r)
			}
		}
		sort.Slice(add, func(i, j int) bool { return less(add[i], add[j]) })
		// Merge the base rows left with the changed ones, keeping the
		// inbox order of the base (a base of format 1 has none).
		out := make([]*record.Submission, 0, len(rows)+len(add))
		for _, r := range rows {
			if _, ok := changed[subID(r.Tenant, r.Ref)]; ok {
				continue
			}
			for len(add) > 0 && less(add[0], r) {
				out, add = append(out, add[0]), add[1:]
			}
			out = append(out, r)
		}
		rows = append(out, add...)
	}
	for _, r := range rows {
		r.Created, r.Updated = r.Created.UTC(), r.Updated.UTC()
	}
	return rows, nil
}

// loadCases builds the case index: from the last snapshot plus the marked
// submissions, or, without a snapshot (first start with this version),
// from a scan of all submissions. It returns the marked submissions whose
// events still need copying.
func (s *Store) loadCases(ctx context.Context) (pending []string, err error) {
	c := newCaseIndex()
	s.cases = c
	var meta snapshotMeta
	err = s.caseIdx.FindOne(ctx, bson.D{{Key: "_id", Value: "meta"}}).Decode(&meta)
	fresh := isNoDocs(err)
	if err != nil && !fresh {
		return nil, fmt.Errorf("mongostore: case index: %w", err)
	}
	if meta.Format != snapshotFormat && meta.Format != 1 {
		fresh = true
	}
	if fresh {
		cur, err := s.subs.Find(ctx, bson.D{}, options.Find().SetProjection(rowProjection).SetBatchSize(1000))
		if err != nil {
			return nil, fmt.Errorf("mongostore: case index: %w", err)
		}
		defer cur.Close(context.WithoutCancel(ctx))
		var rows []*record.Submission
		for cur.Next(ctx) {
			var doc submissionDoc
			if err := cur.Decode(&doc); err != nil {
				return nil, fmt.Errorf("mongostore: case index: %w", err)
			}
			rows = append(rows, doc.submission())
		}
		if err := cur.Err(); err != nil {
			return nil, fmt.Errorf("mongostore: case index: %w", err)
		}
		c.load(rows)
	} else {
		rows, err := s.readSnapshot(ctx, meta)
		if err != nil {
			return nil, fmt.Errorf("mongostore: case index: %w", err)
		}
		c.load(rows)
	}
	cur, err := s.changes.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongostore: case index: %w", err)
	}
	var marks []changeDoc
	if err := cur.All(ctx, &marks); err != nil {
		return nil, fmt.Errorf("mongostore: case index: %w", err)
	}
	nblocks := 0
	for _, m := range marks {
		if strings.HasPrefix(m.ID, blockMarkPrefix) {
			// A block of reference numbers handed out since the snapshot:
			// every number of it is read (its inserts wrote no marker).
			// This process takes numbers from new blocks only, so the
			// marker goes with the next snapshot.
			if err := s.loadBlock(ctx, m.ID); err != nil {
				return nil, err
			}
			s.blocks[m.ID] = &blockMark{id: m.ID, retired: true}
			nblocks++
			continue
		}
		var doc submissionDoc
		err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: m.ID}}, options.FindOne().SetProjection(rowProjection)).Decode(&doc)
		switch {
		case isNoDocs(err):
			c.reload(m.ID, nil)
		case err != nil:
			return nil, fmt.Errorf("mongostore: case index: %w", err)
		default:
			c.reload(m.ID, doc.submission())
			if doc.Pending {
				pending = append(pending, m.ID)
				c.kept[m.ID] = true
			}
		}
		c.marked[m.ID] = c.gen
	}
	if fresh || len(marks)-nblocks+nblocks*refBlock >= snapshotEvery {
		if err := s.snapshot(ctx); err != nil {
			return nil, err
		}
	}
	return pending, nil
}

// loadBlock reads the submissions numbered from a marked block into the
// index (during loadCases).
func (s *Store) loadBlock(ctx context.Context, id string) error {
	var b blockMarkDoc
	if err := s.changes.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&b); err != nil {
		return fmt.Errorf("mongostore: case index: block %s: %w", id, err)
	}
	for n := b.First; n < b.End; n++ {
		sid := subID(b.Tenant, FormatRef(b.Prefix, b.Year, n))
		var doc submissionDoc
		err := s.subs.FindOne(ctx, bson.D{{Key: "_id", Value: sid}}, options.FindOne().SetProjection(rowProjection)).Decode(&doc)
		switch {
		case isNoDocs(err):
			s.cases.reload(sid, nil)
		case err != nil:
			return fmt.Errorf("mongostore: case index: %w", err)
		default:
			s.cases.reload(sid, doc.submission())
		}
	}
	return nil
}

// dropCaseSnapshot invalidates the case index snapshot when a Store
// without the index opens the database: its writes leave no markers for
// submits and deletions, so the next Store with the index must rebuild it
// by a scan instead of trusting a snapshot that may miss them.
func (s *Store) dropCaseSnapshot(ctx context.Context) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	if _, err := s.caseIdx.DeleteOne(ctx, bson.D{{Key: "_id", Value: "meta"}}); err != nil {
		return fmt.Errorf("mongostore: case index: %w", err)
	}
	return nil
}

// scanCases returns the rows a full scan of the submissions gives (for
// tests comparing the index with the data).
func (s *Store) scanCases(ctx context.Context) (map[string]*record.Submission, error) {
	cur, err := s.subs.Find(ctx, bson.D{}, options.Find().SetProjection(rowProjection))
	if err != nil {
		return nil, err
	}
	var docs []submissionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := map[string]*record.Submission{}
	for i := range docs {
		out[docs[i].ID] = docs[i].submission()
	}
	return out, nil
}
