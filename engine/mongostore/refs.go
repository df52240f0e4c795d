package mongostore

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Reference numbers: a counter document per tenant/service/year counts
// handed-out blocks ($inc, upsert). Since FerretDB v1 does not execute
// $inc atomically across clients, each block is additionally claimed by
// inserting a document with a unique _id; a lost race on the counter
// only costs a retry, never a duplicate. Within a process, numbers are
// taken from the reserved block without I/O.

// refBlock is the number of reference numbers per block: block index n
// covers numbers (n-1)*refBlock+1 .. n*refBlock. It may grow between
// versions — a larger block n starts above every number an earlier,
// smaller block n' <= n handed out — but never shrink. A process that
// stops leaves the rest of its block unused (gaps are allowed); a larger
// block means fewer counter writes: two per refBlock submissions (three
// with the case index, whose block marker is the third), paid by the
// submit that opens the block. 200 makes that about 15 µs per submit on
// the embedded store, against 60 µs with blocks of 50. Close retires the
// blocks in use, so a restart does not read their numbers back (see
// loadBlock).
const refBlock = 200

type refPool struct {
	next, end int64 // next number to hand out; end is exclusive
	// block is the marker of the block with the case index (nil without).
	block *blockMark
}

// blockMark tracks a reserved block of reference numbers while its
// marker exists (with the case index, see caseindex.go): inserts of
// submissions numbered from a marked block need no marker of their own,
// because opening the store after a crash reads every number of each
// marked block by _id.
type blockMark struct {
	id          string // _id of the marker in "changes"
	outstanding int    // numbers handed out whose insert has not finished
	retired     bool   // no more numbers are handed out from the block
}

// blockMarkDoc is the marker of a block in "changes".
type blockMarkDoc struct {
	ID     string    `bson:"_id"` // blockMarkPrefix + block claim _id
	At     time.Time `bson:"at"`
	Tenant string    `bson:"tenant"`
	Prefix string    `bson:"prefix"`
	Year   int       `bson:"year"`
	First  int64     `bson:"first"`
	End    int64     `bson:"end"` // exclusive
}

const blockMarkPrefix = "block/"

var prefixRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,15}$`)

func counterID(tenant, serviceID string, year int) string {
	return "ref/" + tenant + "/" + serviceID + "/" + strconv.Itoa(year)
}

// FormatRef formats a reference number: prefix, year of four digits and
// number of at least six, as fmt.Sprintf("%s-%04d-%06d") does.
func FormatRef(prefix string, year int, n int64) string {
	if year < 0 || year > 9999 || n < 0 {
		return fmt.Sprintf("%s-%04d-%06d", prefix, year, n)
	}
	b := make([]byte, 0, len(prefix)+13)
	b = append(b, prefix...)
	b = append(b, '-')
	b = appendPadded(b, int64(year), 4)
	b = append(b, '-')
	b = appendPadded(b, n, 6)
	return string(b)
}

// appendPadded appends n (not negative) with leading zeros to width digits.
func appendPadded(b []byte, n int64, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// NextReference implements the store interface of its domain package.
func (s *Store) NextReference(ctx context.Context, tenant, serviceID, prefix string, year int) (string, error) {
	ref, done, _, err := s.nextRef(ctx, tenant, serviceID, prefix, year)
	if err != nil {
		return "", err
	}
	done()
	return ref, nil
}

// nextRef hands out a reference number. covered reports that it comes
// from a marked block (see blockMark); done must be called once the
// insert using it has finished (and its case index row is set).
func (s *Store) nextRef(ctx context.Context, tenant, serviceID, prefix string, year int) (ref string, done func(), covered bool, err error) {
	if !prefixRE.MatchString(prefix) {
		return "", nil, false, fmt.Errorf("mongostore: invalid reference prefix %q (want A-Z, 0-9, -)", prefix)
	}
	key := counterID(tenant, serviceID, year)
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	p := s.pools[key]
	if p == nil || p.next >= p.end {
		first, end, claim, err := s.reserveBlock(ctx, key)
		if err != nil {
			return "", nil, false, err
		}
		p = &refPool{next: first, end: end}
		if s.cases != nil {
			// The marker before the first number is handed out. Without
			// it, inserts mark themselves (see insertSubmission).
			b := &blockMark{id: blockMarkPrefix + claim}
			if err := s.markBlock(ctx, blockMarkDoc{ID: b.id, At: now(), Tenant: tenant, Prefix: prefix, Year: year, First: first, End: end}); err != nil {
				s.log.Warn("reference block not marked (submits mark themselves)", "err", err)
			} else {
				p.block = b
				s.blocks[b.id] = b
			}
		}
		s.pools[key] = p
	}
	n := p.next
	p.next++
	b := p.block
	if b == nil {
		return FormatRef(prefix, year, n), func() {}, false, nil
	}
	b.outstanding++
	if p.next >= p.end {
		b.retired = true
	}
	var once sync.Once
	return FormatRef(prefix, year, n), func() {
		once.Do(func() {
			s.poolMu.Lock()
			b.outstanding--
			s.poolMu.Unlock()
		})
	}, true, nil
}

func (s *Store) markBlock(ctx context.Context, d blockMarkDoc) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	_, err := s.changes.InsertOne(ctx, d)
	return err
}

// dropBlock forgets the reserved block of a counter (after a number turned
// out to be taken, e.g. by an import).
func (s *Store) dropBlock(tenant, serviceID string, year int) {
	s.poolMu.Lock()
	key := counterID(tenant, serviceID, year)
	if p := s.pools[key]; p != nil && p.block != nil {
		p.block.retired = true
	}
	delete(s.pools, key)
	s.poolMu.Unlock()
}

// retireBlocks ends every reserved block (at Close): no more numbers are
// handed out from them, so the closing snapshot covers and forgets their
// markers once their inserts have finished.
func (s *Store) retireBlocks() {
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	for key, p := range s.pools {
		if p.block != nil {
			p.block.retired = true
		}
		delete(s.pools, key)
	}
}

// settledBlocks returns the markers of blocks that hand out no more
// numbers and whose inserts have all finished: a snapshot taken now
// covers them.
func (s *Store) settledBlocks() []string {
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	var ids []string
	for id, b := range s.blocks {
		if b.retired && b.outstanding == 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// forgetBlock drops a block's marker after a snapshot covered it.
func (s *Store) forgetBlock(ctx context.Context, id string) error {
	if _, err := s.changes.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return err
	}
	s.poolMu.Lock()
	delete(s.blocks, id)
	s.poolMu.Unlock()
	return nil
}

func (s *Store) reserveBlock(ctx context.Context, key string) (first, end int64, claimID string, err error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	unlock := lockKey("counters", key)
	defer unlock()
	for attempt := 0; attempt < 50; attempt++ {
		var c counterDoc
		err := s.counters.FindOneAndUpdate(ctx,
			bson.D{{Key: "_id", Value: key}},
			bson.D{
				{Key: "$inc", Value: bson.D{{Key: "n", Value: int64(1)}}},
			},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
		).Decode(&c)
		if err != nil {
			if mongo.IsDuplicateKeyError(err) { // concurrent upsert of a new counter
				continue
			}
			return 0, 0, "", fmt.Errorf("mongostore: reference counter: %w", err)
		}
		claim := counterDoc{ID: key + "#" + strconv.FormatInt(c.N, 10), Block: refBlock}
		if _, err := s.counters.InsertOne(ctx, claim); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				continue // another client got the same block: take the next
			}
			return 0, 0, "", fmt.Errorf("mongostore: reference block claim: %w", err)
		}
		b := int64(refBlock)
		return (c.N-1)*b + 1, c.N*b + 1, claim.ID, nil
	}
	return 0, 0, "", fmt.Errorf("mongostore: reference counter %s: too much contention", key)
}
