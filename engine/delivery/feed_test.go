package delivery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

// TestFeed: a receiver that crashes before acknowledging gets the same
// items again after the visibility timeout; after acknowledging, never
// again. Items come in order; two pollers never get the same item at
// once.
func TestFeed(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	sum := sha256.Sum256([]byte("feed-token"))
	b := delivery.StaticBindings{"ffm/postfach": {Kind: "feed", TokenSHA256: []string{hex.EncodeToString(sum[:])}, Visibility: "300ms"}}
	var refs []string
	for i := 0; i < 5; i++ {
		sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef,
			Data: map[string]any{"n": int64(i)}, Jobs: []record.DeliveryJob{{Destination: "postfach", Kind: "feed"}}})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, sub.Ref)
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	f := delivery.New(s, delivery.Options{Bindings: b, Logger: quiet}).Feed()
	if _, err := f.Authenticate("ffm", "wrong"); !errors.Is(err, delivery.ErrFeedAuth) {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := f.Authenticate("other", "feed-token"); !errors.Is(err, delivery.ErrFeedAuth) {
		t.Fatalf("token of another tenant: %v", err)
	}
	dest, err := f.Authenticate("ffm", "feed-token")
	if err != nil || dest != "postfach" {
		t.Fatalf("Authenticate = %q, %v", dest, err)
	}
	ids := func(p *delivery.FeedPage) []string {
		var out []string
		for _, it := range p.Items {
			out = append(out, it.Envelope.Reference)
		}
		return out
	}
	// A page of 3, then the rest of the round.
	p1, err := f.Poll(ctx, "ffm", dest, "", 3)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := f.Poll(ctx, "ffm", dest, p1.Next, 3)
	if err != nil {
		t.Fatal(err)
	}
	got := append(ids(p1), ids(p2)...)
	if fmt.Sprint(got) != fmt.Sprint(refs) || p2.Next != "" {
		t.Fatalf("first round %v (next %q), want %v", got, p2.Next, refs)
	}
	// Handed out: invisible to another poller now.
	if p, err := f.Poll(ctx, "ffm", dest, "", 10); err != nil || len(p.Items) != 0 {
		t.Fatalf("poll during the visibility timeout: %v %v", ids(p), err)
	}
	// The receiver crashed before acknowledging: after the timeout, the
	// same items come again, in order.
	time.Sleep(350 * time.Millisecond)
	p3, err := f.Poll(ctx, "ffm", dest, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(p3)) != fmt.Sprint(refs) {
		t.Fatalf("after the crash %v, want %v", ids(p3), refs)
	}
	if p3.Items[0].Envelope.DeliveryID != p1.Items[0].Envelope.DeliveryID {
		t.Fatal("delivery id changed between hand-outs")
	}
	// Acknowledge: two accepted, one rejected; the other two are not.
	for i, it := range p3.Items[:3] {
		if err := f.Ack(ctx, "ffm", dest, it.ID, i != 2, map[bool]string{true: "", false: "Zuständigkeit fehlt"}[i != 2]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Ack(ctx, "ffm", dest, p3.Items[0].ID, true, ""); err != nil {
		t.Fatalf("second ack: %v", err)
	}
	if err := f.Ack(ctx, "ffm", "anderes", p3.Items[3].ID, true, ""); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("ack for another destination: %v", err)
	}
	time.Sleep(350 * time.Millisecond)
	p4, err := f.Poll(ctx, "ffm", dest, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids(p4)) != fmt.Sprint(refs[3:]) {
		t.Fatalf("after acknowledging %v, want %v", ids(p4), refs[3:])
	}
	j, err := s.DeliveryJob(ctx, p3.Items[2].ID)
	if err != nil || j.Status != record.DeliveryRejected || j.Verdict != "reject: Zuständigkeit fehlt" {
		t.Fatalf("rejected item: %+v %v", j, err)
	}
	j, err = s.DeliveryJob(ctx, p3.Items[0].ID)
	if err != nil || j.Status != record.DeliveryDelivered || j.Verdict != "accept" || j.Attempts != 2 {
		t.Fatalf("accepted item: %+v %v", j, err)
	}
}

// saveFails is a store whose SaveDeliveryJob fails while fail is set.
type saveFails struct {
	delivery.Store
	fail bool
}

func (s *saveFails) SaveDeliveryJob(ctx context.Context, j *record.DeliveryJob, expectBase int) error {
	if s.fail {
		return errors.New("the store is away")
	}
	return s.Store.SaveDeliveryJob(ctx, j, expectBase)
}

// TestFeedAckCountedOnceStored: the metrics hook counts an
// acknowledgement once it is stored, not when storing it failed (the
// receiver sends it again) and not again for a repeated one.
func TestFeedAckCountedOnceStored(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	sum := sha256.Sum256([]byte("feed-token"))
	b := delivery.StaticBindings{"ffm/postfach": {Kind: "feed", TokenSHA256: []string{hex.EncodeToString(sum[:])}}}
	if _, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef,
		Data: map[string]any{"n": int64(1)}, Jobs: []record.DeliveryJob{{Destination: "postfach", Kind: "feed"}}}); err != nil {
		t.Fatal(err)
	}
	store := &saveFails{Store: s}
	counted := map[string]int{}
	f := delivery.New(store, delivery.Options{Bindings: b, Logger: quiet,
		Observe: func(tenant, dest, outcome string, _ time.Duration) { counted[tenant+"/"+dest+" "+outcome]++ }}).Feed()
	p, err := f.Poll(ctx, "ffm", "postfach", "", 10)
	if err != nil || len(p.Items) != 1 {
		t.Fatalf("poll: %+v %v", p, err)
	}
	id := p.Items[0].ID
	store.fail = true
	if err := f.Ack(ctx, "ffm", "postfach", id, true, ""); err == nil {
		t.Fatal("the acknowledgement was not stored, and Ack said nothing")
	}
	if len(counted) != 0 {
		t.Fatalf("counted before it was stored: %v", counted)
	}
	store.fail = false
	for i := 0; i < 2; i++ {
		if err := f.Ack(ctx, "ffm", "postfach", id, true, ""); err != nil {
			t.Fatal(err)
		}
	}
	if want := map[string]int{"ffm/postfach accept": 1}; fmt.Sprint(counted) != fmt.Sprint(want) {
		t.Fatalf("counted %v, want %v", counted, want)
	}
}

// noVersion is a service catalogue that has lost one service version.
type noVersion string

func (v noVersion) Pinned(ref record.ServiceRef) (*engine.Service, error) {
	if ref.Version == string(v) {
		return nil, fmt.Errorf("service %s version %s: %w", ref.ID, ref.Version, record.ErrNotFound)
	}
	return &engine.Service{ID: ref.ID, Version: ref.Version}, nil
}

// TestFeedBadItem: an item whose envelope cannot be built does not hold
// up the feed. A submission deleted before its item was handed out
// (retention) is dead-lettered at once; an item whose service version is
// missing fails its attempt and comes back after the backoff. The items
// after them are handed out in the same poll.
func TestFeedBadItem(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	b := delivery.StaticBindings{"ffm/postfach": {Kind: "feed", Visibility: "1h"}}
	var refs []string
	for i, version := range []string{"1.0.0", "1.0.0", "0.9.0", "1.0.0"} {
		svc := svcRef
		svc.Version = version
		sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svc,
			Data: map[string]any{"n": int64(i)}, Jobs: []record.DeliveryJob{{Destination: "postfach", Kind: "feed"}}})
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, sub.Ref)
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	if err := s.DeleteSubmission(ctx, "ffm", refs[1], "retention", time.Now(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	f := delivery.New(s, delivery.Options{Bindings: b, Logger: quiet, Services: noVersion("0.9.0"),
		Backoff: time.Hour, MaxBackoff: time.Hour,
		Observe: func(_, _, outcome string, _ time.Duration) { outcomes[outcome]++ }}).Feed()
	p, err := f.Poll(ctx, "ffm", "postfach", "", 10)
	if err != nil {
		t.Fatalf("poll with bad items: %v", err)
	}
	var got []string
	for _, it := range p.Items {
		got = append(got, it.Envelope.Reference)
	}
	if want := []string{refs[0], refs[3]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handed out %v, want %v", got, want)
	}
	if want := map[string]int{"failed": 1, "failed-permanently": 1}; fmt.Sprint(outcomes) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v, want %v", outcomes, want)
	}
	jobs, err := s.ListDeliveries(ctx, record.DeliveryQuery{Tenant: "ffm"})
	if err != nil {
		t.Fatal(err)
	}
	byRef := map[string]*record.DeliveryJob{}
	for _, j := range jobs {
		byRef[j.Ref] = j
	}
	if j := byRef[refs[1]]; j == nil || j.Status != record.DeliveryDead || !strings.Contains(j.LastError, "no longer stored") {
		t.Fatalf("item of the deleted submission: %+v", j)
	}
	if j := byRef[refs[2]]; j == nil || j.Status != record.DeliveryPending || !strings.Contains(j.LastError, "0.9.0") ||
		time.Until(j.Next) < 20*time.Minute {
		t.Fatalf("item without its service version: %+v", j)
	}
	// Neither comes back in the next poll; the good ones are invisible.
	if p, err := f.Poll(ctx, "ffm", "postfach", "", 10); err != nil || len(p.Items) != 0 {
		t.Fatalf("second poll: %+v %v", p, err)
	}
}

// TestFeedManyBadItems: a poll stops after a bounded number of items
// that cannot be built and answers with a cursor; following it reaches
// the good items behind them in the same round.
func TestFeedManyBadItems(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	b := delivery.StaticBindings{"ffm/postfach": {Kind: "feed", Visibility: "1h"}}
	var good string
	for i := 0; i < 13; i++ {
		sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef,
			Data: map[string]any{"n": int64(i)}, Jobs: []record.DeliveryJob{{Destination: "postfach", Kind: "feed"}}})
		if err != nil {
			t.Fatal(err)
		}
		if i < 12 {
			if err := s.DeleteSubmission(ctx, "ffm", sub.Ref, "retention", time.Now(), time.Time{}); err != nil {
				t.Fatal(err)
			}
		} else {
			good = sub.Ref
		}
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	f := delivery.New(s, delivery.Options{Bindings: b, Logger: quiet}).Feed()
	var got []string
	cursor, polls := "", 0
	for {
		p, err := f.Poll(ctx, "ffm", "postfach", cursor, 20)
		if err != nil {
			t.Fatal(err)
		}
		polls++
		for _, it := range p.Items {
			got = append(got, it.Envelope.Reference)
		}
		if cursor = p.Next; cursor == "" || polls > 5 {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{good}) || polls != 2 {
		t.Fatalf("handed out %v in %d polls, want [%s] in 2", got, polls, good)
	}
}

// TestFeedAttachmentsInline: a feed receiver cannot be sent uploads, so
// a feed item carries every attachment inline whatever the binding's
// inline limit; a poll stops adding items once they hold 8 MiB (it
// answers at least one), and the rest follow on the next page.
func TestFeedAttachmentsInline(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	b := delivery.StaticBindings{"ffm/postfach": {Kind: "feed", Visibility: "1h", InlineLimit: 1000}}
	var want []string
	for i := 0; i < 3; i++ {
		owner := fmt.Sprintf("draft%d", i)
		a, err := s.PutFile(ctx, "ffm", owner, "nachweis.pdf", bytes.NewReader(storetest.PDF(5<<20+i)))
		if err != nil {
			t.Fatal(err)
		}
		sub, _, err := s.Submit(ctx, &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svcRef,
			Data: map[string]any{"n": int64(i)}, AttachmentIDs: []string{a.ID}, AttachmentOwner: owner,
			Jobs: []record.DeliveryJob{{Destination: "postfach", Kind: "feed"}}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, sub.Ref)
		time.Sleep(2 * time.Millisecond) // distinct creation times
	}
	f := delivery.New(s, delivery.Options{Bindings: b, Logger: quiet}).Feed()
	var got []string
	cursor := ""
	for polls := 0; polls < 5; polls++ {
		p, err := f.Poll(ctx, "ffm", "postfach", cursor, 20)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Items) > 2 {
			t.Fatalf("a poll answered %d items of over 5 MiB each", len(p.Items))
		}
		for _, it := range p.Items {
			got = append(got, it.Envelope.Reference)
			if len(it.Envelope.Attachments) != 1 {
				t.Fatalf("attachments %+v", it.Envelope.Attachments)
			}
			c := it.Envelope.Attachments[0]
			raw, err := base64.StdEncoding.DecodeString(c.Content)
			if c.Uploaded || err != nil || len(raw) < 5<<20 {
				t.Fatalf("attachment not inline: uploaded %v, %d bytes, %v", c.Uploaded, len(raw), err)
			}
		}
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handed out %v, want %v", got, want)
	}
}
