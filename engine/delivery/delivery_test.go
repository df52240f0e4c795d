package delivery_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/delivery"
	"github.com/amtsform/amtsform/engine/delivery/receiver"
	"github.com/amtsform/amtsform/engine/mongostore"
	"github.com/amtsform/amtsform/engine/mongostore/embedded"
	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var (
	testServer *embedded.Server
	dbSerial   int
	dbMu       sync.Mutex
)

func TestMain(m *testing.M) {
	if os.Getenv("AMTSFORM_DELIVERY_CRASH_DIR") != "" {
		os.Exit(m.Run()) // the crash test's child
	}
	dir, err := os.MkdirTemp("", "amtsform-delivery-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := embedded.Start(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testServer = srv
	code := m.Run()
	srv.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// openStore opens a fresh database on the embedded server as the
// embedded store does (the only writer).
func openStore(t testing.TB) *mongostore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbMu.Lock()
	dbSerial++
	db := fmt.Sprintf("d%d_%d", time.Now().UnixNano()%1e9, dbSerial)
	dbMu.Unlock()
	s, err := mongostore.Connect(ctx, testServer.URI(), mongostore.Options{Database: db, ExclusiveDrafts: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := testServer.IndexIDs(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func tctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func submit(t *testing.T, s *mongostore.Store, i int, data map[string]any, svc record.ServiceRef, atts []string, owner string, dests ...string) *record.Submission {
	t.Helper()
	req := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svc, Data: data, Office: "amt",
		AttachmentIDs: atts, AttachmentOwner: owner, IdempotencyKey: fmt.Sprintf("k%d", i)}
	for _, d := range dests {
		req.Jobs = append(req.Jobs, record.DeliveryJob{Destination: d, Kind: "webhook"})
	}
	sub, _, err := s.Submit(tctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

var svcRef = record.ServiceRef{ID: "kita", Version: "1.0.0", Hash: "sha256:0123456789abcdef"}

// dedupReceiver is a Fachverfahren that deduplicates on the delivery id:
// it keeps the first envelope of every id and counts arrivals.
type dedupReceiver struct {
	mu       sync.Mutex
	secret   []byte
	key      *jose.JSONWebKey // private; nil: data not encrypted
	accepted map[string]*receiver.Envelope
	arrivals map[string][]time.Time // by delivery id, envelopes only
	uploads  map[string][]time.Time // by delivery id + attachment id
	inflight map[string]bool
	overlap  int
	bad      []string
	// fail decides how the n-th arrival (from 1) of an envelope is
	// answered: "" accepts.
	fail func(id string, n int) string
	// delay is how long every request takes.
	delay time.Duration
}

func newReceiver(secret []byte) *dedupReceiver {
	return &dedupReceiver{secret: secret, accepted: map[string]*receiver.Envelope{}, arrivals: map[string][]time.Time{},
		uploads: map[string][]time.Time{}, inflight: map[string]bool{}}
}

func (r *dedupReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	id := req.Header.Get(delivery.HeaderDeliveryID)
	time.Sleep(r.delay)
	body, err := receiver.ReadVerified(req, r.secret, 64<<20)
	if err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, err.Error())
		r.mu.Unlock()
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	r.mu.Lock()
	if req.Header.Get(delivery.HeaderPart) == "attachment" {
		k := id + "/" + req.Header.Get(delivery.HeaderAttachment)
		r.uploads[k] = append(r.uploads[k], time.Now())
		r.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "upload-%d", len(body))
		return
	}
	if r.inflight[id] {
		r.overlap++
	}
	r.inflight[id] = true
	r.arrivals[id] = append(r.arrivals[id], time.Now())
	n := len(r.arrivals[id])
	mode := ""
	if r.fail != nil {
		mode = r.fail(id, n)
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.inflight, id)
		r.mu.Unlock()
	}()
	switch mode {
	case "500":
		http.Error(w, "down", http.StatusInternalServerError)
		return
	case "timeout":
		select { // beyond the dispatcher's attempt timeout
		case <-time.After(time.Second):
		case <-req.Context().Done():
		}
		return
	case "reset":
		hj, ok := w.(http.Hijacker)
		if ok {
			c, _, _ := hj.Hijack()
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST
			}
			c.Close()
			return
		}
	case "slow":
		// headers at once, then the body dribbles past the timeout
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		for i := 0; i < 10 && req.Context().Err() == nil; i++ {
			_, _ = w.Write([]byte(" "))
			w.(http.Flusher).Flush()
			select {
			case <-time.After(150 * time.Millisecond):
			case <-req.Context().Done():
			}
		}
		return
	}
	var env receiver.Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.DeliveryID != id {
		r.mu.Lock()
		r.bad = append(r.bad, fmt.Sprintf("envelope %v (id %q vs header %q)", err, env.DeliveryID, id))
		r.mu.Unlock()
		http.Error(w, "bad envelope", http.StatusBadRequest)
		return
	}
	if _, err := env.DataBytes(r.key); err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, err.Error())
		r.mu.Unlock()
		http.Error(w, "bad data", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	if _, dup := r.accepted[id]; !dup {
		r.accepted[id] = &env
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "case-", env.Reference)
}

func (r *dedupReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.accepted)
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func run(t *testing.T, d *delivery.Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestFlakyReceiver: a receiver on loopback fails the first attempts of
// every delivery (500, timeout, connection reset, slow body); every
// submission arrives exactly once after deduplication, with backoff
// between the attempts.
func TestFlakyReceiver(t *testing.T) {
	s := openStore(t)
	secret := []byte("s3cr3t")
	rc := newReceiver(secret)
	modes := []string{"500", "timeout", "reset", "slow"}
	rc.fail = func(id string, n int) string {
		if n <= 2 { // every delivery fails twice, in varying ways
			return modes[(len(id)+n)%len(modes)]
		}
		return ""
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	const n = 40
	for i := 0; i < n; i++ {
		submit(t, s, i, map[string]any{"name": fmt.Sprintf("Erika %d", i)}, svcRef, nil, "", "fv")
	}
	backoff := 100 * time.Millisecond
	d := delivery.New(s, delivery.Options{
		Bindings: delivery.StaticBindings{"ffm/fv": {Kind: "webhook", URL: srv.URL, SecretEnv: "FV_SECRET"}},
		Env:      func(k string) string { return map[string]string{"FV_SECRET": string(secret)}[k] },
		Poll:     20 * time.Millisecond, Timeout: 400 * time.Millisecond, Backoff: backoff, MaxBackoff: time.Second,
		Logger: quiet, PublicURL: "https://amtsform.example",
	})
	run(t, d)
	waitFor(t, "all deliveries", 60*time.Second, func() bool { return rc.count() == n })
	// The dispatcher records a delivery after the receiver's answer has
	// reached it: wait for the store to say so too.
	var jobs []*record.DeliveryJob
	waitFor(t, "all jobs recorded as delivered", 60*time.Second, func() bool {
		var err error
		if jobs, err = s.ListDeliveries(tctx(t), record.DeliveryQuery{Tenant: "ffm", Limit: 1000}); err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Status != record.DeliveryDelivered {
				return false
			}
		}
		return len(jobs) == n
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		t.Fatalf("receiver refused: %v", rc.bad)
	}
	if rc.overlap > 0 {
		t.Fatalf("%d deliveries arrived while their previous attempt was in flight", rc.overlap)
	}
	for id, at := range rc.arrivals {
		if len(at) < 3 {
			t.Fatalf("delivery %s arrived %d times, want 3 (two failures, one success)", id, len(at))
		}
		for k := 1; k < len(at); k++ {
			// attempt k failed; the next waits backoff·2^(k-1) with
			// jitter down to half of it (plus up to the timeout the
			// failure itself took, which the gap includes).
			min := backoff << (k - 1) / 2
			if gap := at[k].Sub(at[k-1]); gap < min {
				t.Fatalf("delivery %s: attempt %d came %v after attempt %d, backoff is at least %v", id, k+1, gap, k, min)
			}
		}
	}
	for _, env := range rc.accepted {
		if env.Metadata.ContentStructure.Data.SubmissionSchema.SchemaURI != "https://amtsform.example/api/v1/ffm/services/kita/versions/sha256:0123456789abcdef/schema.json" {
			t.Fatalf("schema uri %q", env.Metadata.ContentStructure.Data.SubmissionSchema.SchemaURI)
		}
	}
	for _, j := range jobs {
		if j.Status != record.DeliveryDelivered || j.Attempts != 3 {
			t.Fatalf("job %s: %s after %d attempts", j.ID, j.Status, j.Attempts)
		}
	}
}

// TestDeadLetterAndManualRetry: a permanent refusal dead-letters at once;
// a manual retry delivers, whatever the attempt count.
func TestDeadLetterAndManualRetry(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	var mu sync.Mutex
	refuse := true
	got := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			http.Error(w, "unknown office", http.StatusUnprocessableEntity)
			return
		}
		got++
	}))
	defer srv.Close()
	sub := submit(t, s, 1, map[string]any{"name": "Erika"}, svcRef, nil, "", "fv")
	d := delivery.New(s, delivery.Options{Bindings: delivery.StaticBindings{"ffm/fv": {Kind: "webhook", URL: srv.URL}},
		Poll: 20 * time.Millisecond, Backoff: 10 * time.Millisecond, Logger: quiet})
	run(t, d)
	id := record.DeliveryJobID("ffm", sub.Ref, "fv")
	waitFor(t, "dead letter", 20*time.Second, func() bool {
		j, err := s.DeliveryJob(ctx, id)
		return err == nil && j.Status == record.DeliveryDead
	})
	j, _ := s.DeliveryJob(ctx, id)
	if j.Attempts != 1 || !strings.Contains(j.LastError, "422") {
		t.Fatalf("dead letter %+v", j)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	if _, err := delivery.Retry(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	d.Wake()
	waitFor(t, "delivery after the manual retry", 20*time.Second, func() bool {
		j, err := s.DeliveryJob(ctx, id)
		return err == nil && j.Status == record.DeliveryDelivered
	})
	mu.Lock()
	defer mu.Unlock()
	if got != 1 {
		t.Fatalf("delivered %d times", got)
	}
}

// TestStepsResume: attachments beyond the inline limit are uploaded
// first, one step each; when the envelope fails, the retry does not
// upload them again.
func TestStepsResume(t *testing.T) {
	s := openStore(t)
	ctx := tctx(t)
	var atts []string
	for i := 0; i < 3; i++ {
		a, err := s.PutFile(ctx, "ffm", "draft1", fmt.Sprintf("beleg%d.pdf", i), bytes.NewReader(storetest.PDF(4000+i)))
		if err != nil {
			t.Fatal(err)
		}
		atts = append(atts, a.ID)
	}
	rc := newReceiver([]byte("k"))
	rc.fail = func(id string, n int) string {
		if n == 1 {
			return "500"
		}
		return ""
	}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	submit(t, s, 1, map[string]any{"name": "Erika", "belege": atts}, svcRef, atts, "draft1", "fv")
	d := delivery.New(s, delivery.Options{
		Bindings: delivery.StaticBindings{"ffm/fv": {Kind: "webhook", URL: srv.URL, SecretEnv: "K", InlineLimit: 1000}},
		Env:      func(string) string { return "k" }, Poll: 20 * time.Millisecond, Backoff: 20 * time.Millisecond, Logger: quiet,
	})
	run(t, d)
	waitFor(t, "delivery", 20*time.Second, rc.countIs(1))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.uploads) != 3 {
		t.Fatalf("uploads %v", rc.uploads)
	}
	for k, at := range rc.uploads {
		if len(at) != 1 {
			t.Fatalf("attachment %s uploaded %d times", k, len(at))
		}
	}
	for _, env := range rc.accepted {
		if len(env.Attachments) != 3 || !env.Attachments[0].Uploaded || len(env.Metadata.ContentStructure.Attachments) != 3 {
			t.Fatalf("attachments in the envelope: %+v", env.Attachments)
		}
		for _, a := range env.Metadata.ContentStructure.Attachments {
			if a.Purpose != "attachment" || a.MimeType != "application/pdf" || len(a.Hash.Content) != 128 {
				t.Fatalf("attachment metadata %+v", a)
			}
		}
	}
}

func (r *dedupReceiver) countIs(n int) func() bool { return func() bool { return r.count() == n } }

// TestJWEAndSchema delivers a submission of the example kita service
// encrypted to the receiver's key: the receiver package decrypts data
// and attachments with the private key, the hashes match, and the data
// validates against the published JSON Schema with an independent
// validator.
func TestJWEAndSchema(t *testing.T) {
	svc, err := engine.Load("../../examples/kita-gebuehren")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	for _, tc := range svc.Tests {
		if tc.Valid {
			doc = tc.Input
			break
		}
	}
	res := svc.Evaluate(doc, engine.Options{Today: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if !res.Valid() {
		t.Fatalf("spec test input invalid: %v", res.Err())
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: priv, KeyID: "fv-2026", Algorithm: string(jose.RSA_OAEP_256), Use: "enc"}
	pub, err := jwk.Public().MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "fv.jwk")
	if err := os.WriteFile(keyFile, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t)
	ctx := tctx(t)
	att, err := s.PutFile(ctx, "ffm", "d", "nachweis.pdf", bytes.NewReader(storetest.PDF(3000)))
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver([]byte("k"))
	rc.key = &jwk
	srv := httptest.NewServer(rc)
	defer srv.Close()
	ref := record.ServiceRef{ID: svc.ID, Version: svc.Version, Hash: svc.Hash}
	submit(t, s, 1, res.Data, ref, []string{att.ID}, "d", "fachverfahren")
	d := delivery.New(s, delivery.Options{
		Bindings: delivery.StaticBindings{"ffm/fachverfahren": {Kind: "webhook", URL: srv.URL, SecretEnv: "K", ReceiverKey: keyFile}},
		Env:      func(string) string { return "k" }, Services: pinned{svc}, Poll: 20 * time.Millisecond, Logger: quiet,
		Receipt: func(ctx context.Context, svc *engine.Service, sub *record.Submission) ([]byte, error) {
			return storetest.PDF(2000), nil
		},
	})
	run(t, d)
	waitFor(t, "delivery", 20*time.Second, rc.countIs(1))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var env *receiver.Envelope
	for _, e := range rc.accepted {
		env = e
	}
	if env.EncryptedData == "" || len(env.Data) != 0 {
		t.Fatal("data not encrypted")
	}
	data, err := env.DataBytes(&jwk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.DataBytes(nil); err == nil {
		t.Fatal("encrypted data read without a key")
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	if _, err := env.DataBytes(&jose.JSONWebKey{Key: other}); err == nil {
		t.Fatal("decrypted with another key")
	}
	for _, a := range env.Metadata.ContentStructure.Attachments {
		b, up, err := env.Attachment(a.AttachmentID, &jwk)
		if err != nil || up || len(b) == 0 {
			t.Fatalf("attachment %s: %v %v %d", a.AttachmentID, err, up, len(b))
		}
	}
	if p := env.Metadata.ContentStructure.Attachments; len(p) != 2 || p[0].Purpose != "form" || p[1].Purpose != "attachment" {
		t.Fatalf("attachments %+v", p)
	}
	if env.Metadata.PublicServiceType == nil || env.Metadata.PublicServiceType.Identifier != "urn:de:fim:leika:leistung:"+svc.Form.LeiKa {
		t.Fatalf("publicServiceType %+v", env.Metadata.PublicServiceType)
	}
	if env.Metadata.AdditionalReferenceInfo.ApplicationDate == "" || env.Service.Hash != svc.Hash {
		t.Fatalf("envelope %+v", env)
	}
	// The independent validator against the published schema.
	validateData(t, svc, data)
}

// validateData validates delivered data against the service's published
// JSON Schema with an independent validator (santhosh-tekuri).
func validateData(t *testing.T, svc *engine.Service, data []byte) {
	t.Helper()
	sb, _ := json.Marshal(svc.JSONSchema())
	sdoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sb))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", sdoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("delivered data does not validate against the published schema: %v\n%s", err, data)
	}
}

type pinned struct{ s *engine.Service }

func (p pinned) Pinned(record.ServiceRef) (*engine.Service, error) { return p.s, nil }
