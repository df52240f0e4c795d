package delivery

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/record"
)

// Feed serves the feed destinations: receivers that cannot accept
// inbound connections pull envelopes in order and acknowledge each,
// accepting or rejecting it (like FIT-Connect's accept/reject events).
// An item handed out is invisible for the binding's visibility timeout;
// unless acknowledged by then it comes back. Every hand-out is an
// attempt claimed by insert, so two pollers never get the same item in
// the same period.
type Feed struct{ d *Dispatcher }

// Feed returns the feed service sharing the dispatcher's configuration
// (store, bindings, services, public URL). It needs no running
// dispatcher.
func (d *Dispatcher) Feed() *Feed { return &Feed{d: d} }

// FeedItem is one envelope handed out.
type FeedItem struct {
	ID       string    `json:"id"` // acknowledge with it
	Envelope *Envelope `json:"envelope"`
	// VisibleAgain is when the item comes back unless acknowledged.
	VisibleAgain time.Time `json:"visibleAgain"`
}

// FeedPage is the answer of a poll.
type FeedPage struct {
	Items []FeedItem `json:"items"`
	// Next is the cursor of the next page of this round, "" when there
	// is none: poll again later without a cursor.
	Next string `json:"next,omitempty"`
}

// ErrFeedAuth reports a token no feed destination of the tenant accepts.
var ErrFeedAuth = errors.New("feed: unknown token")

// MaxReason is the longest reject reason, in characters.
const MaxReason = 1000

// ErrReason reports a reject reason that is empty, longer than
// MaxReason or not plain text (engine.CheckText): caseworkers read it.
var ErrReason = fmt.Errorf("feed: a reject reason has 1 to %d characters, without control characters other than line breaks and tabs or invisible format characters", MaxReason)

// CheckReason returns ErrReason unless reason is a reject reason Ack
// takes, so that a whole batch can be checked before any item of it is
// acknowledged.
func CheckReason(reason string) error {
	n, code := engine.CheckText(reason)
	if strings.TrimSpace(reason) == "" || n > MaxReason || code != "" {
		return ErrReason
	}
	return nil
}

// Authenticate returns the feed destination of tenant whose binding
// lists the SHA-256 of token (compared in constant time).
func (f *Feed) Authenticate(tenant, token string) (string, error) {
	if token == "" {
		return "", ErrFeedAuth
	}
	sum := sha256.Sum256([]byte(token))
	got := hex.EncodeToString(sum[:])
	sb, ok := f.d.opt.Bindings.(StaticBindings)
	if !ok {
		return "", fmt.Errorf("feed: bindings cannot be listed")
	}
	names := make([]string, 0, len(sb))
	for k := range sb {
		names = append(names, k)
	}
	sort.Strings(names)
	found := ""
	for _, k := range names {
		b := sb[k]
		t, dest, _ := strings.Cut(k, "/")
		if t != tenant || b.Kind != "feed" {
			continue
		}
		for _, h := range b.TokenSHA256 {
			if subtle.ConstantTimeCompare([]byte(strings.ToLower(h)), []byte(got)) == 1 && found == "" {
				found = dest
			}
		}
	}
	if found == "" {
		return "", ErrFeedAuth
	}
	return found, nil
}

// Poll hands out up to limit visible items of a tenant's feed
// destination, oldest first, after cursor (from a previous page of this
// round; "" starts one).
func (f *Feed) Poll(ctx context.Context, tenant, destination, cursor string, limit int) (*FeedPage, error) {
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	b, ok := f.d.opt.Bindings.Binding(tenant, destination)
	if !ok || b.Kind != "feed" {
		return nil, fmt.Errorf("feed %s: %w", destination, record.ErrNotFound)
	}
	jobs, err := f.d.store.FeedDeliveries(ctx, tenant, destination, 1000)
	if err != nil {
		return nil, err
	}
	page := &FeedPage{Items: []FeedItem{}}
	now := f.d.now()
	until := now.Add(b.VisibilityTimeout())
	var last *record.DeliveryJob
	failed, size := 0, 0
	for _, j := range jobs {
		if cursor != "" && feedCursor(j) <= cursor {
			continue
		}
		if len(page.Items) == limit || size >= maxFeedPageBytes {
			page.Next = feedCursor(last)
			break
		}
		n := j.Attempts + 1
		if err := f.d.store.ClaimDelivery(ctx, &record.DeliveryClaim{Job: j.ID, N: n, Holder: f.d.opt.Holder, Started: now, Until: until}); err != nil {
			if errors.Is(err, record.ErrConflict) {
				continue // handed out to another poller just now
			}
			return nil, err
		}
		nj := *j
		nj.Attempts, nj.Next, nj.Updated = n, until, now
		if err := f.d.store.SaveDeliveryJob(ctx, &nj, j.Base); err != nil && !errors.Is(err, record.ErrConflict) {
			return nil, err
		}
		env, err := f.item(ctx, &nj, n, b)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err // the poller went away: the item comes back
			}
			// One item that cannot be built must not hold up the feed:
			// its attempt fails as a push attempt would (dead-lettered
			// when retrying cannot help, else due again after the
			// backoff), and the poll goes on with the next item.
			if err := f.fail(ctx, &nj, n, now, until, err); err != nil {
				return nil, err
			}
			// Each costs a few writes: after maxFeedFailures the poll
			// answers what it has, and the next page goes on after it.
			if failed++; failed == maxFeedFailures {
				page.Next = feedCursor(j)
				break
			}
			continue
		}
		last = j
		page.Items = append(page.Items, FeedItem{ID: j.ID, Envelope: env, VisibleAgain: until})
		size += len(env.Data) + len(env.EncryptedData)
		for _, c := range env.Attachments {
			size += len(c.Content) + len(c.EncryptedContent)
		}
	}
	return page, nil
}

// item builds the envelope of feed job j for hand-out n.
func (f *Feed) item(ctx context.Context, j *record.DeliveryJob, n int, b *engine.DeliveryBinding) (*Envelope, error) {
	sub, err := f.d.store.GetSubmission(ctx, j.Tenant, j.Ref)
	if errors.Is(err, record.ErrNotFound) {
		return nil, &Permanent{Err: fmt.Errorf("submission %s is no longer stored", j.Ref)}
	}
	if err != nil {
		return nil, err
	}
	a := &Attempt{Job: j, N: n, DeliveryID: record.DeliveryID(j.ID), Sub: sub, Binding: b, d: f.d, allInline: true}
	if f.d.opt.Services != nil {
		if a.Service, err = f.d.opt.Services.Pinned(sub.Service); err != nil {
			return nil, err // the version may come back with a restart or redeploy
		}
	}
	return f.d.envelope(ctx, a)
}

// fail ends hand-out n of feed job j, whose envelope could not be built,
// as a failed attempt and writes the job's state (settle).
func (f *Feed) fail(ctx context.Context, j *record.DeliveryJob, n int, started, until time.Time, err error) error {
	c := &record.DeliveryClaim{Job: j.ID, N: n, Holder: f.d.opt.Holder, Started: started, Until: until,
		Ended: f.d.now(), Outcome: "failed", Error: errText(err)}
	var perm *Permanent
	if errors.As(err, &perm) {
		c.Outcome = "failed-permanently"
	}
	f.d.log.Warn("feed: item not handed out", "job", j.ID, "attempt", n, "err", c.Error)
	if f.d.opt.Observe != nil {
		f.d.opt.Observe(j.Tenant, j.Destination, c.Outcome, c.Ended.Sub(started))
	}
	if err := f.d.store.EndDeliveryClaim(ctx, c); err != nil {
		return err
	}
	return f.d.settle(ctx, j, c)
}

// maxFeedPageBytes bounds the envelopes of one poll's answer: a feed item
// carries its attachments inline, so a poll stops adding items once they
// hold this much (it always answers at least one).
const maxFeedPageBytes = 8 << 20

// maxFeedFailures is the number of items whose envelope could not be
// built after which a poll stops and answers the items it has.
const maxFeedFailures = 10

func feedCursor(j *record.DeliveryJob) string {
	return j.Created.UTC().Format("20060102T150405.000Z") + "|" + j.ID
}

// Ack acknowledges an item handed out by Poll: accepted (reason "") or
// rejected with a reason (ErrReason unless CheckReason takes it). An
// acknowledged item is never handed out again; acknowledging it twice is
// not an error.
func (f *Feed) Ack(ctx context.Context, tenant, destination, id string, accept bool, reason string) error {
	if !accept {
		if err := CheckReason(reason); err != nil {
			return err
		}
	}
	j, err := f.d.store.DeliveryJob(ctx, id)
	if err != nil {
		return err
	}
	if j.Tenant != tenant || j.Destination != destination || j.Kind != "feed" {
		return fmt.Errorf("feed item %s: %w", id, record.ErrNotFound)
	}
	if j.Status == record.DeliveryDelivered || j.Status == record.DeliveryRejected {
		return nil
	}
	if j.Attempts == 0 {
		return fmt.Errorf("feed item %s was not handed out: %w", id, record.ErrConflict)
	}
	nj := *j
	nj.Delivered, nj.Updated = f.d.now(), f.d.now()
	nj.Status, nj.Verdict = record.DeliveryDelivered, "accept"
	if !accept {
		nj.Status, nj.Verdict = record.DeliveryRejected, "reject: "+reason
	}
	if err := f.d.store.SaveDeliveryJob(ctx, &nj, j.Base); err != nil {
		return err
	}
	// Counted once stored: an acknowledgement that failed is sent again.
	if f.d.opt.Observe != nil {
		f.d.opt.Observe(tenant, destination, strings.SplitN(nj.Verdict, ":", 2)[0], 0)
	}
	return nil
}
