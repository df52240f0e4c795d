package mongostore

import (
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/record"
)

// Stored document shapes. Every stored field has a bson tag; the field
// names are part of the on-disk format (and of the export format).

type serviceDoc struct {
	ID      string `bson:"id"`
	Version string `bson:"version"`
	Hash    string `bson:"hash"`
}

type draftDoc struct {
	ID      string         `bson:"_id"`
	Tenant  string         `bson:"tenant"`
	Service serviceDoc     `bson:"service"`
	Page    string         `bson:"page"`
	Data    map[string]any `bson:"data"`
	Created time.Time      `bson:"created"`
	Updated time.Time      `bson:"updated"`
	Expires time.Time      `bson:"expires"`
	Version int64          `bson:"version"`
}

type attachmentDoc struct {
	ID          string `bson:"id"`
	Name        string `bson:"name"`
	Size        int64  `bson:"size"`
	SHA256      string `bson:"sha256"`
	ContentType string `bson:"contentType"`
}

type eventDoc struct {
	ID         string         `bson:"_id"`
	Tenant     string         `bson:"tenant"`
	Submission string         `bson:"submission"` // submission _id (tenant/ref)
	Ref        string         `bson:"ref"`
	Type       string         `bson:"type"`
	At         time.Time      `bson:"at"`
	Actor      string         `bson:"actor"`
	Data       map[string]any `bson:"data,omitempty"`
}

// eventLogDoc is the event log of one submission in the events
// collection: events are only ever added to it ($addToSet of the exact
// event document, so copying twice is harmless); after deletion it holds
// only the tombstone.
type eventLogDoc struct {
	ID      string     `bson:"_id"` // submission _id
	Tenant  string     `bson:"tenant"`
	Ref     string     `bson:"ref"`
	Events  []eventDoc `bson:"events"`
	Deleted *eventDoc  `bson:"deleted,omitempty"` // tombstone
}

type submissionDoc struct {
	ID          string          `bson:"_id"` // tenant/ref
	Ref         string          `bson:"ref"`
	Tenant      string          `bson:"tenant"`
	Service     serviceDoc      `bson:"service"`
	Data        map[string]any  `bson:"data"`
	Computed    []computedDoc   `bson:"computed"`
	Office      string          `bson:"office"`
	Attachments []attachmentDoc `bson:"attachments"`
	Status      string          `bson:"status"`
	Created     time.Time       `bson:"created"`
	Updated     time.Time       `bson:"updated"`
	Version     int64           `bson:"version"`
	IdemKey     string          `bson:"idemKey"`
	Idem        string          `bson:"idem"` // unique: tenant-scoped key, or the _id when no key
	PayloadHash string          `bson:"payloadHash"`
	// Case fields (see cases.go); absent when unset.
	Assignee string     `bson:"assignee,omitempty"`
	Due      *time.Time `bson:"due,omitempty"`
	FollowUp *time.Time `bson:"followUp,omitempty"`
	Priority int        `bson:"priority,omitempty"`
	// Events are the first events (submitted, routed), written with the
	// submission in one insert and kept with it. Outbox holds events of
	// later changes, written atomically with the change, until they are
	// copied to the submission's log in the events collection right
	// after; Pending is true while the outbox is not empty (a crash in
	// between is repaired by RepairEvents on the next start).
	Events  []eventDoc `bson:"events"`
	Outbox  []eventDoc `bson:"outbox"`
	Pending bool       `bson:"pending"`
}

type counterDoc struct {
	ID    string `bson:"_id"`
	N     int64  `bson:"n"`     // blocks handed out (counters) or 0 (block claims)
	Block int64  `bson:"block"` // numbers per block (informational)
}

type leaseDoc struct {
	ID     string    `bson:"_id"`
	Holder string    `bson:"holder"`
	Until  time.Time `bson:"until"`
}

// GridFS documents (standard field names, so GridFS tools can read them).
type fileDoc struct {
	ID         string    `bson:"_id"`
	Length     int64     `bson:"length"`
	ChunkSize  int32     `bson:"chunkSize"`
	UploadDate time.Time `bson:"uploadDate"`
	Filename   string    `bson:"filename"`
	Metadata   fileMeta  `bson:"metadata"`
}

type fileMeta struct {
	Tenant      string `bson:"tenant"`
	Owner       string `bson:"owner"`      // draft token the file was uploaded for
	Submission  string `bson:"submission"` // submission _id once attached
	ContentType string `bson:"contentType"`
	SHA256      string `bson:"sha256"`
}

type chunkDoc struct {
	ID      string `bson:"_id"` // files_id#n, so chunks are read by _id
	FilesID string `bson:"files_id"`
	N       int32  `bson:"n"`
	Data    []byte `bson:"data"`
}

func toServiceDoc(r record.ServiceRef) serviceDoc {
	return serviceDoc{ID: r.ID, Version: r.Version, Hash: r.Hash}
}

func (d serviceDoc) ref() record.ServiceRef {
	return record.ServiceRef{ID: d.ID, Version: d.Version, Hash: d.Hash}
}

func (d *draftDoc) draft() *record.Draft {
	return &record.Draft{
		ID: d.ID, Tenant: d.Tenant, Service: d.Service.ref(), Page: d.Page,
		Data: normMap(d.Data), Created: d.Created.UTC(), Updated: d.Updated.UTC(),
		Expires: d.Expires.UTC(), Version: d.Version,
	}
}

func (d *submissionDoc) submission() *record.Submission {
	s := &record.Submission{
		Ref: d.Ref, Tenant: d.Tenant, Service: d.Service.ref(),
		Data: normMap(d.Data), Computed: computedMap(d.Computed), Office: d.Office,
		Status: d.Status, Created: d.Created.UTC(), Updated: d.Updated.UTC(),
		Version: d.Version, IdempotencyKey: d.IdemKey, PayloadHash: d.PayloadHash,
		Assignee: d.Assignee, Priority: d.Priority,
	}
	if d.Due != nil {
		s.Due = d.Due.UTC()
	}
	if d.FollowUp != nil {
		s.FollowUp = d.FollowUp.UTC()
	}
	for _, a := range d.Attachments {
		s.Attachments = append(s.Attachments, record.Attachment(a))
	}
	return s
}

func (e *eventDoc) event() record.Event {
	return record.Event{
		ID: e.ID, Tenant: e.Tenant, Submission: e.Ref, Type: e.Type,
		At: e.At.UTC(), Actor: e.Actor, Data: normMap(e.Data),
	}
}

func (f *fileDoc) attachment() *record.Attachment {
	return &record.Attachment{
		ID: f.ID, Name: f.Filename, Size: f.Length,
		SHA256: f.Metadata.SHA256, ContentType: f.Metadata.ContentType,
	}
}

// normMap converts decoded BSON values into the plain Go values promised
// by engine (map[string]any, []any, int64, float64, string, bool, nil,
// time.Time).
// computedDoc is one computed value. Computed values are keyed by paths
// such as "dogs[0].listed", and a BSON key must not contain a dot, so
// they are stored as a list of path and value, sorted by path.
type computedDoc struct {
	Path  string `bson:"path"`
	Value any    `bson:"value"`
}

func computedList(m map[string]any) []computedDoc {
	out := make([]computedDoc, 0, len(m))
	for k, v := range m {
		out = append(out, computedDoc{Path: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func computedMap(l []computedDoc) map[string]any {
	if l == nil {
		return nil
	}
	m := make(map[string]any, len(l))
	for _, c := range l {
		m[c.Path] = c.Value
	}
	return normMap(m)
}

func normMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = norm(v)
	}
	return out
}

func norm(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return normMap(x)
	case bson.M:
		return normMap(x)
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = norm(e.Value)
		}
		return m
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case bson.DateTime:
		return x.Time().UTC()
	case time.Time:
		return x.UTC()
	case bson.Null, bson.Undefined:
		return nil
	default:
		return v
	}
}
