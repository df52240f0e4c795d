package delivery

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/amtsform/amtsform/engine/delivery/receiver"
	"github.com/amtsform/amtsform/engine/record"
)

// The wire format is defined in package receiver, which receivers
// import without the engine.
type (
	Envelope                = receiver.Envelope
	Metadata                = receiver.Metadata
	ContentStructure        = receiver.ContentStructure
	DataInfo                = receiver.DataInfo
	Hash                    = receiver.Hash
	SubmissionSchema        = receiver.SubmissionSchema
	AttachmentInfo          = receiver.AttachmentInfo
	PublicServiceType       = receiver.PublicServiceType
	AdditionalReferenceInfo = receiver.AdditionalReferenceInfo
	AttachmentContent       = receiver.AttachmentContent
)

// file is an attachment's content as read for an attempt.
type file struct {
	info AttachmentInfo
	data []byte
}

// envelope builds the envelope of an attempt. Attachments larger than the
// inline limit (in total) are left for upload steps: inline is false for
// them and their content comes back in files.
func (d *Dispatcher) envelope(ctx context.Context, a *Attempt) (*Envelope, error) {
	env, _, err := d.build(ctx, a, true)
	return env, err
}

func (d *Dispatcher) build(ctx context.Context, a *Attempt, inline bool) (*Envelope, []file, error) {
	sub := a.Sub
	data, err := encodeJSON(deliveredData(a))
	if err != nil {
		return nil, nil, err
	}
	sum := sha512.Sum512(data)
	env := &Envelope{
		DeliveryID: a.DeliveryID, Reference: sub.Ref, Tenant: sub.Tenant, Office: sub.Office,
		Destination: a.Job.Destination, Service: receiver.ServiceRef(sub.Service), SubmittedAt: sub.Created.UTC(),
		Metadata: Metadata{
			ContentStructure: ContentStructure{
				Data: DataInfo{
					Hash:             Hash{Type: "sha512", Content: hex.EncodeToString(sum[:])},
					SubmissionSchema: SubmissionSchema{SchemaURI: d.SchemaURL(sub), MimeType: "application/json"},
				},
				Attachments: []AttachmentInfo{},
			},
			AdditionalReferenceInfo: &AdditionalReferenceInfo{SenderReference: sub.Ref, ApplicationDate: sub.Created.In(berlin).Format("2006-01-02")},
		},
		Data:        data,
		Attachments: []AttachmentContent{},
	}
	if a.Service != nil && a.Service.Form != nil && a.Service.Form.LeiKa != "" {
		env.Metadata.PublicServiceType = &PublicServiceType{Identifier: "urn:de:fim:leika:leistung:" + a.Service.Form.LeiKa, Name: a.Service.Form.Title.De}
	}
	var files []file
	if d.opt.Receipt != nil {
		pdf, err := d.opt.Receipt(ctx, a.Service, sub)
		if err != nil {
			return nil, nil, fmt.Errorf("receipt: %w", err)
		}
		files = append(files, newFile("receipt", "form", "application/pdf", sub.Ref+".pdf", pdf))
	}
	for _, at := range sub.Attachments {
		rc, meta, err := d.store.OpenFile(ctx, sub.Tenant, at.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("attachment %s: %w", at.ID, err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("attachment %s: %w", at.ID, err)
		}
		ct := meta.ContentType
		if ct == "" {
			ct = at.ContentType
		}
		files = append(files, newFile(at.ID, "attachment", ct, at.Name, b))
	}
	var total int64
	for _, f := range files {
		total += int64(len(f.data))
	}
	limit := d.opt.InlineLimit
	if a.Binding != nil && a.Binding.InlineLimit > 0 {
		limit = a.Binding.InlineLimit
	}
	if a.allInline {
		limit = math.MaxInt64
	}
	key, err := receiverKey(a)
	if err != nil {
		return nil, nil, &Permanent{Err: err}
	}
	if key != nil {
		if env.EncryptedData, err = encrypt(key, data, "application/json"); err != nil {
			return nil, nil, err
		}
		env.Data = nil
	}
	for _, f := range files {
		env.Metadata.ContentStructure.Attachments = append(env.Metadata.ContentStructure.Attachments, f.info)
		c := AttachmentContent{AttachmentID: f.info.AttachmentID}
		switch {
		case !inline || total > limit:
			c.Uploaded = true
		case key != nil:
			if c.EncryptedContent, err = encrypt(key, f.data, f.info.MimeType); err != nil {
				return nil, nil, err
			}
		default:
			c.Content = base64.StdEncoding.EncodeToString(f.data)
		}
		env.Attachments = append(env.Attachments, c)
	}
	return env, files, nil
}

func newFile(id, purpose, mime, name string, b []byte) file {
	sum := sha512.Sum512(b)
	return file{info: AttachmentInfo{AttachmentID: id, Hash: Hash{Type: "sha512", Content: hex.EncodeToString(sum[:])},
		Purpose: purpose, MimeType: mime, Filename: name, Size: int64(len(b))}, data: b}
}

// deliveredData is the document a receiver gets: the submission's data
// (validated, hidden answers dropped, computed values recomputed by the
// server), as the published JSON Schema describes it, or what the
// destination's mapping (of the version the submission was made with)
// makes of it.
func deliveredData(a *Attempt) map[string]any {
	if a.Sub.Data == nil {
		return map[string]any{}
	}
	data := a.Sub.Data
	if a.Service != nil {
		data = a.Service.Delivered(a.Job.Destination, data) // the destination's mapping, if any
	}
	return jsonable(data).(map[string]any)
}

// jsonable turns stored values into what encoding/json writes as the
// schema expects (times as dates).
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = jsonable(e)
		}
		return l
	case time.Time:
		return x.Format("2006-01-02")
	default:
		return v
	}
}

// SchemaURL is the published JSON Schema of the version sub was made
// with (served by api/apiv1 at this path).
func (d *Dispatcher) SchemaURL(sub *record.Submission) string {
	return SchemaURL(d.opt.PublicURL, sub.Tenant, sub.Service.ID, sub.Service.Hash)
}

// SchemaURL is the URL of a service version's JSON Schema:
// {public}/api/v1/{tenant}/services/{id}/versions/{hash}/schema.json.
func SchemaURL(public, tenant, id, hash string) string {
	return strings.TrimRight(public, "/") + "/api/v1/" + tenant + "/services/" + id + "/versions/" + hash + "/schema.json"
}

func receiverKey(a *Attempt) (*jose.JSONWebKey, error) {
	if a.Binding == nil || a.Binding.ReceiverKey == "" {
		return nil, nil
	}
	b, err := os.ReadFile(a.Binding.ReceiverKey)
	if err != nil {
		return nil, fmt.Errorf("receiver key of %s: %w", a.Job.Destination, err)
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("receiver key of %s: %w", a.Job.Destination, err)
	}
	if !k.IsPublic() {
		k = k.Public()
	}
	return &k, nil
}

// encrypt returns b as a JWE (compact serialisation) to key:
// RSA-OAEP-256 key management, A256GCM content encryption, as FIT-Connect
// encrypts.
func encrypt(key *jose.JSONWebKey, b []byte, contentType string) (string, error) {
	opts := (&jose.EncrypterOptions{}).WithContentType(jose.ContentType(contentType))
	if key.KeyID != "" {
		opts = opts.WithHeader("kid", key.KeyID)
	}
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: key.Key, KeyID: key.KeyID}, opts)
	if err != nil {
		return "", fmt.Errorf("jwe: %w", err)
	}
	obj, err := enc.Encrypt(b)
	if err != nil {
		return "", fmt.Errorf("jwe: %w", err)
	}
	return obj.CompactSerialize()
}

// Sign returns the FIT-Connect callback headers for body (see
// receiver.Sign).
func Sign(secret []byte, body []byte, at time.Time) (timestamp, signature string) {
	return receiver.Sign(secret, body, at)
}

// berlin is the zone of application dates.
var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return l
}()

// encodeJSON encodes v without HTML escaping.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
