package record

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// Delivery job states.
const (
	// DeliveryPending: not delivered yet; the dispatcher (or, for a feed,
	// the receiver's next poll) takes it when Next is due.
	DeliveryPending = "pending"
	// DeliveryDelivered: the receiver took it (HTTP 2xx, file renamed,
	// mail accepted, feed item acknowledged as accepted).
	DeliveryDelivered = "delivered"
	// DeliveryRejected: a feed receiver acknowledged it with a rejection.
	DeliveryRejected = "rejected"
	// DeliveryDead: dead-lettered after the last attempt or past the
	// maximum age; only a manual retry brings it back.
	DeliveryDead = "dead"
)

// DeliveryJob is one submission to be handed to one destination. Its
// identity (ID, Tenant, Ref, Destination, Kind, Created) is written with
// the submission in the same document write (SubmitRequest.Jobs); the
// rest is the job's state, written by the holder of the current
// attempt's claim.
type DeliveryJob struct {
	ID          string // see DeliveryJobID; also the seed of the stable delivery id
	Tenant      string
	Ref         string // submission reference number
	Service     ServiceRef
	Destination string // name of the destination in the service's spec
	Kind        string // webhook, feed, mail or directory
	Office      string // office the submission was routed to
	Created     time.Time

	Status   string // DeliveryPending etc.; "" is pending
	Attempts int    // attempts started (claims taken)
	// Base is Attempts at the last manual retry: the attempt limit counts
	// from it, so a manual retry always gets a full set of attempts.
	Base int
	// Since is Created or the time of the last manual retry: the maximum
	// age counts from it.
	Since     time.Time
	Next      time.Time // when the job is due (again)
	LastError string
	Delivered time.Time // when the receiver took it
	// Verdict is a feed receiver's acknowledgement: "accept" or
	// "reject: <reason>".
	Verdict string
	Updated time.Time
}

// DeliveryJobID is the id of the job that hands a submission to a
// destination: stable, so that every attempt carries the same delivery
// id.
func DeliveryJobID(tenant, ref, destination string) string {
	return tenant + "/" + ref + "/" + destination
}

// DeliveryID is the stable delivery id receivers deduplicate on: a UUID
// (version 8, name-based on SHA-256) derived from the job id.
func DeliveryID(jobID string) string {
	h := sha256.Sum256([]byte("amtsform-delivery:" + jobID))
	h[6] = h[6]&0x0f | 0x80 // version 8
	h[8] = h[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// DeliveryClaim is one attempt of a job. Claims are exclusive by insert:
// the first to insert (Job, N) makes attempt N; the holder alone writes
// its outcome.
type DeliveryClaim struct {
	Job     string
	N       int // attempt number, from 1
	Holder  string
	Started time.Time
	Until   time.Time // the claim's lease: nobody else takes the job before
	Ended   time.Time // zero while running (or when the holder died)
	Outcome string    // "", "delivered", "failed", "rejected", "leased" (feed)
	Error   string
}

// DeliveryStep is a completed step of a multi-step delivery (an uploaded
// attachment, then the envelope): a retry resumes after the last one and
// never repeats a step the receiver already took.
type DeliveryStep struct {
	Job    string
	Name   string
	At     time.Time
	Result string // what the receiver answered (e.g. its id for an upload)
}

// DeliveryQuery selects jobs for "amtsform deliveries list".
type DeliveryQuery struct {
	Tenant      string   // "" = all
	Status      []string // any of; none = all
	Destination string
	Ref         string
	Limit       int // default 100
}
