package mongostore

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

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
// block means fewer counter writes: two per refBlock submissions.
const refBlock = 50

type refPool struct {
	next, end int64 // next number to hand out; end is exclusive
}

var prefixRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{0,15}$`)

func counterID(tenant, serviceID string, year int) string {
	return "ref/" + tenant + "/" + serviceID + "/" + strconv.Itoa(year)
}

// FormatRef formats a reference number.
func FormatRef(prefix string, year int, n int64) string {
	return fmt.Sprintf("%s-%04d-%06d", prefix, year, n)
}

// NextReference implements the store interface of its domain package.
func (s *Store) NextReference(ctx context.Context, tenant, serviceID, prefix string, year int) (string, error) {
	if !prefixRE.MatchString(prefix) {
		return "", fmt.Errorf("mongostore: invalid reference prefix %q (want A-Z, 0-9, -)", prefix)
	}
	key := counterID(tenant, serviceID, year)
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	p := s.pools[key]
	if p == nil || p.next >= p.end {
		first, end, err := s.reserveBlock(ctx, key)
		if err != nil {
			return "", err
		}
		p = &refPool{next: first, end: end}
		s.pools[key] = p
	}
	n := p.next
	p.next++
	return FormatRef(prefix, year, n), nil
}

// dropBlock forgets the reserved block of a counter (after a number turned
// out to be taken, e.g. by an import).
func (s *Store) dropBlock(tenant, serviceID string, year int) {
	s.poolMu.Lock()
	delete(s.pools, counterID(tenant, serviceID, year))
	s.poolMu.Unlock()
}

func (s *Store) reserveBlock(ctx context.Context, key string) (first, end int64, err error) {
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
			return 0, 0, fmt.Errorf("mongostore: reference counter: %w", err)
		}
		claim := counterDoc{ID: key + "#" + strconv.FormatInt(c.N, 10), Block: refBlock}
		if _, err := s.counters.InsertOne(ctx, claim); err != nil {
			if mongo.IsDuplicateKeyError(err) {
				continue // another client got the same block: take the next
			}
			return 0, 0, fmt.Errorf("mongostore: reference block claim: %w", err)
		}
		b := int64(refBlock)
		return (c.N-1)*b + 1, c.N*b + 1, nil
	}
	return 0, 0, fmt.Errorf("mongostore: reference counter %s: too much contention", key)
}
