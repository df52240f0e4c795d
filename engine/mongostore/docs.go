package mongostore

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

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
	Jobs    []jobDoc   `bson:"jobs,omitempty"` // delivery jobs not yet taken into the outbox (outbox.go)
	// Deleting is set when retention claimed the submission's deletion
	// (lifecycle.go): from then on it is not found, and not changed.
	Deleting bool `bson:"deleting,omitempty"`
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
	Tenant     string `bson:"tenant"`
	Owner      string `bson:"owner"`      // draft token the file was uploaded for
	Submission string `bson:"submission"` // submission _id once attached
	// LinkedUntil is set with Submission, before the submission's
	// insert: until then a missing submission may still come (linkedUntil).
	LinkedUntil time.Time `bson:"linkedUntil,omitempty"`
	// Deleting is set, conditional on Submission, before a file is
	// removed on its own or with its draft: from then on no submit can
	// link it (linkFiles), on any instance.
	Deleting    bool   `bson:"deleting,omitempty"`
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
	s := d.summary()
	s.Data, s.Computed = normMap(d.Data), computedMap(d.Computed)
	return s
}

// summary is the submission without Data and Computed: a case index row,
// built without copying the answers.
func (d *submissionDoc) summary() *record.Submission {
	s := &record.Submission{
		Ref: d.Ref, Tenant: d.Tenant, Service: d.Service.ref(), Office: d.Office,
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

// plainMap returns m when it holds nothing but the plain values of
// record's Data (string, bool, int64, float64, nil, UTC time.Time, maps
// and lists of them), as a validated document does, and otherwise a
// normalised copy: a fresh submission answers with the answers it was
// given, without copying them.
func plainMap(m map[string]any) map[string]any {
	if isPlain(m, 0) {
		return m
	}
	return normMap(m)
}

func isPlain(v any, depth int) bool {
	if depth > 64 {
		return false
	}
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return true
	case time.Time:
		return x.Location() == time.UTC
	case map[string]any:
		for _, e := range x {
			if !isPlain(e, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range x {
			if !isPlain(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
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

// Encoding. The submit path writes one submissionDoc per request, and
// the driver's reflection codec (a registry lookup and a value writer
// state per field, the map of the answers through reflect.MapKeys) cost
// a tenth of a submit's handler time. MarshalBSON encodes the same
// document with a plan of its fields made once from the bson tags: a
// field or a value of a type the plan does not know is handed to
// bson.MarshalValue, so a field added to the struct is stored exactly
// as before, only without the fast path (TestEncodingMatchesReflection
// compares the two encodings field by field).

// MarshalBSON implements bson.Marshaler.
func (d *submissionDoc) MarshalBSON() ([]byte, error) {
	return submissionPlan.encode(make([]byte, 0, 4096), reflect.ValueOf(d).Elem()) // a Kita submission is 3.6 KB
}

var submissionPlan = planFor(reflect.TypeFor[submissionDoc]())

// structPlan encodes one struct type as a BSON document.
type structPlan struct {
	fields []fieldPlan
}

type fieldPlan struct {
	index     int
	key       string
	omitEmpty bool
	enc       func(dst []byte, key string, v reflect.Value) ([]byte, error)
}

var (
	plansMu sync.Mutex
	plans   = map[reflect.Type]*structPlan{}
)

// planFor returns the plan of struct type t (made once per type).
func planFor(t reflect.Type) *structPlan {
	plansMu.Lock()
	defer plansMu.Unlock()
	return planLocked(t)
}

func planLocked(t reflect.Type) *structPlan {
	if p, ok := plans[t]; ok {
		return p
	}
	p := &structPlan{}
	plans[t] = p // before the fields: a type may contain itself
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("bson")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name) // the driver's default key
		}
		p.fields = append(p.fields, fieldPlan{index: i, key: name,
			omitEmpty: slices.Contains(strings.Split(opts, ","), "omitempty"), enc: encoderFor(f.Type)})
	}
	return p
}

func (p *structPlan) encode(dst []byte, v reflect.Value) ([]byte, error) {
	idx, dst := bsoncore.AppendDocumentStart(dst)
	var err error
	for i := range p.fields {
		f := &p.fields[i]
		fv := v.Field(f.index)
		if f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		if dst, err = f.enc(dst, f.key, fv); err != nil {
			return nil, err
		}
	}
	return bsoncore.AppendDocumentEnd(dst, idx)
}

// isEmptyValue is the driver's omitempty rule for the kinds stored here.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		return false
	}
	return !v.IsValid() || v.IsZero()
}

var (
	tTime   = reflect.TypeFor[time.Time]()
	tAnyMap = reflect.TypeFor[map[string]any]()
	tAny    = reflect.TypeFor[any]()
)

// encoderFor returns the encoder of a field of type t.
func encoderFor(t reflect.Type) func([]byte, string, reflect.Value) ([]byte, error) {
	switch {
	case t == tTime:
		return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
			if v.CanAddr() {
				return bsoncore.AppendDateTimeElement(dst, key, v.Addr().Interface().(*time.Time).UnixMilli()), nil
			}
			return bsoncore.AppendDateTimeElement(dst, key, v.Interface().(time.Time).UnixMilli()), nil
		}
	case t == tAnyMap:
		return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
			if v.IsNil() {
				return bsoncore.AppendNullElement(dst, key), nil
			}
			return appendMap(dst, key, v.Interface().(map[string]any))
		}
	case t == tAny:
		return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
			return appendAny(dst, key, v.Interface())
		}
	}
	switch t.Kind() {
	case reflect.String:
		if t.PkgPath() == "" { // not a named type with its own codec
			return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
				return bsoncore.AppendStringElement(dst, key, v.String()), nil
			}
		}
	case reflect.Int64:
		if t.PkgPath() == "" {
			return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
				return bsoncore.AppendInt64Element(dst, key, v.Int()), nil
			}
		}
	case reflect.Bool:
		if t.PkgPath() == "" {
			return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
				return bsoncore.AppendBooleanElement(dst, key, v.Bool()), nil
			}
		}
	case reflect.Struct:
		if plainStruct(t) {
			p := planLocked(t)
			return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
				return p.encode(bsoncore.AppendHeader(dst, bsoncore.TypeEmbeddedDocument, key), v)
			}
		}
	case reflect.Slice:
		if e := t.Elem(); e.Kind() == reflect.Struct && plainStruct(e) {
			p := planLocked(e)
			return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
				if v.IsNil() {
					return bsoncore.AppendNullElement(dst, key), nil
				}
				idx, dst := bsoncore.AppendArrayElementStart(dst, key)
				var err error
				for i := 0; i < v.Len(); i++ {
					if dst, err = p.encode(bsoncore.AppendHeader(dst, bsoncore.TypeEmbeddedDocument, strconv.Itoa(i)), v.Index(i)); err != nil {
						return nil, err
					}
				}
				return bsoncore.AppendArrayEnd(dst, idx)
			}
		}
	case reflect.Pointer:
		if e := t.Elem(); e.Kind() == reflect.Struct && plainStruct(e) {
			p := planLocked(e)
			return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
				if v.IsNil() {
					return bsoncore.AppendNullElement(dst, key), nil
				}
				return p.encode(bsoncore.AppendHeader(dst, bsoncore.TypeEmbeddedDocument, key), v.Elem())
			}
		}
	}
	return func(dst []byte, key string, v reflect.Value) ([]byte, error) {
		return appendMarshalled(dst, key, v.Interface())
	}
}

// plainStruct reports whether the plan may encode struct type t field by
// field: no codec or method of its own decides its encoding.
func plainStruct(t reflect.Type) bool {
	if t == tTime || t.PkgPath() != "github.com/amtsform/amtsform/engine/mongostore" {
		return false
	}
	pt := reflect.PointerTo(t)
	for _, i := range []reflect.Type{reflect.TypeFor[bson.Marshaler](), reflect.TypeFor[bson.ValueMarshaler](), reflect.TypeFor[bson.Zeroer]()} {
		if t.Implements(i) || pt.Implements(i) {
			return false
		}
	}
	return true
}

// appendMarshalled encodes v as the driver's default codecs do.
func appendMarshalled(dst []byte, key string, v any) ([]byte, error) {
	t, data, err := bson.MarshalValue(v)
	if err != nil {
		return nil, fmt.Errorf("mongostore: encode %s: %w", key, err)
	}
	return bsoncore.AppendValueElement(dst, key, bsoncore.Value{Type: bsoncore.Type(t), Data: data}), nil
}

// appendAny encodes a value of the answers: the plain Go values of a
// parsed document (see engine.ParseDocument), and anything else as the
// driver would.
func appendAny(dst []byte, key string, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return bsoncore.AppendNullElement(dst, key), nil
	case string:
		return bsoncore.AppendStringElement(dst, key, x), nil
	case int64:
		return bsoncore.AppendInt64Element(dst, key, x), nil
	case float64:
		return bsoncore.AppendDoubleElement(dst, key, x), nil
	case bool:
		return bsoncore.AppendBooleanElement(dst, key, x), nil
	case map[string]any:
		if x == nil {
			return bsoncore.AppendNullElement(dst, key), nil
		}
		return appendMap(dst, key, x)
	case []any:
		if x == nil {
			return bsoncore.AppendNullElement(dst, key), nil
		}
		idx, dst := bsoncore.AppendArrayElementStart(dst, key)
		var err error
		for i, e := range x {
			if dst, err = appendAny(dst, strconv.Itoa(i), e); err != nil {
				return nil, err
			}
		}
		return bsoncore.AppendArrayEnd(dst, idx)
	}
	return appendMarshalled(dst, key, v)
}

func appendMap(dst []byte, key string, m map[string]any) ([]byte, error) {
	idx, dst := bsoncore.AppendDocumentElementStart(dst, key)
	var err error
	for k, v := range m {
		if strings.IndexByte(k, 0) >= 0 {
			return nil, fmt.Errorf("mongostore: encode %s: a key contains a NUL byte", key)
		}
		if dst, err = appendAny(dst, k, v); err != nil {
			return nil, err
		}
	}
	return bsoncore.AppendDocumentEnd(dst, idx)
}
