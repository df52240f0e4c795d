package engine

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"cuelang.org/go/cue"
)

// DeliveryNames returns the names of the declared destinations, sorted.
func (s *Service) DeliveryNames() []string {
	out := make([]string, 0, len(s.Deliveries))
	for k := range s.Deliveries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// SchemaPath is the path, below the API's tenant prefix, at which this
// service version's JSON Schema is published for receivers:
// services/{id}/versions/{hash}/schema.json. It is stable: a version's
// schema never changes, so receivers may cache it forever.
func (s *Service) SchemaPath() string {
	return "services/" + s.ID + "/versions/" + s.Hash + "/schema.json"
}

// DeliveryBinding binds a destination declared in a spec to one tenant's
// receiver. Bindings live in the installation directory (tenants: x:
// deliveries: name: {...}), never in a shared spec; secrets are named by
// environment variable, never written down.
type DeliveryBinding struct {
	Kind string `json:"kind"` // must equal the destination's kind
	// URL is a webhook receiver's HTTPS endpoint.
	URL string `json:"url,omitempty"`
	// SecretEnv names the environment variable holding the HMAC secret a
	// webhook signs with (callback-authentication).
	SecretEnv string `json:"secretEnv,omitempty"`
	// ReceiverKey is a file with the receiver's public JWK: data and
	// attachments are then sent as JWE (RSA-OAEP-256, A256GCM).
	ReceiverKey string `json:"receiverKey,omitempty"`
	// InlineLimit is the total size up to which attachments are sent
	// inline (base64) in the envelope; larger ones are uploaded first,
	// one step each. 0: the dispatcher's default.
	InlineLimit int64 `json:"inlineLimit,omitempty"`
	// Dir is a directory destination's target directory.
	Dir string `json:"dir,omitempty"`
	// Mailbox is a mail destination's address; empty: the office's.
	Mailbox string `json:"mailbox,omitempty"`
	// TokenSHA256 are the hex SHA-256 hashes of the tokens a feed
	// receiver authenticates with (several, to rotate).
	TokenSHA256 []string `json:"tokenSHA256,omitempty"`
	// Visibility is how long a feed item handed out stays invisible
	// before it comes back unless acknowledged; default 5m.
	Visibility string `json:"visibility,omitempty"`
	// Concurrency limits the attempts in flight to this destination.
	Concurrency int `json:"concurrency,omitempty"`
}

// VisibilityTimeout is Visibility parsed (default 5 minutes).
func (b *DeliveryBinding) VisibilityTimeout() time.Duration {
	if d, err := time.ParseDuration(b.Visibility); err == nil && d > 0 {
		return d
	}
	return 5 * time.Minute
}

// deliveryBindingSchema is the installation schema of bindings.
const deliveryBindingSchema = `
#DeliveryBinding: {
	kind!: "webhook" | "feed" | "mail" | "directory"
	if kind == "webhook" {url!: _}
	// HTTPS, or plain HTTP to this host only (a local relay or a test)
	url?: =~"^(https://|http://(localhost|127\\.0\\.0\\.1|\\[::1\\])(:[0-9]+)?(/|$))"
	secretEnv?: =~"^[A-Z_][A-Z0-9_]*$"
	receiverKey?: string
	inlineLimit?: int & >=0
	if kind == "directory" {dir!: string}
	dir?: string
	mailbox?: =~"^[^@\\s]+@[^@\\s]+$"
	if kind == "feed" {tokenSHA256!: [_, ...]}
	tokenSHA256?: [...=~"^[0-9a-f]{64}$"]
	visibility?: =~"^[0-9]+(ms|s|m|h)$"
	concurrency?: int & >=1
}
`

// resolveBindings makes the paths of a tenant's bindings absolute.
func resolveBindings(dir string, bs map[string]*DeliveryBinding) {
	for _, b := range bs {
		if b.ReceiverKey != "" && !filepath.IsAbs(b.ReceiverKey) {
			b.ReceiverKey = filepath.Join(dir, filepath.FromSlash(b.ReceiverKey))
		}
		if b.Dir != "" && !filepath.IsAbs(b.Dir) {
			b.Dir = filepath.Join(dir, filepath.FromSlash(b.Dir))
		}
	}
}

// checkBindings reports destinations a tenant's service declares that
// the tenant binds with another kind. An unbound destination is not an
// error (its jobs wait, visible as pending, until it is bound).
func checkBindings(t *TenantConfig, s *Service) []Problem {
	var out []Problem
	for _, name := range s.DeliveryNames() {
		b, ok := t.Deliveries[name]
		if !ok {
			continue
		}
		if k := s.Deliveries[name].Kind; b.Kind != k {
			out = append(out, Problem{Path: "deliveries." + name, Code: "deliveryKind",
				Message: fmt.Sprintf("deliveries.%s: tenant %s binds it as %s, the service declares %s", name, t.ID, b.Kind, k)})
		}
	}
	return out
}

// MappingTest is a designer-written test of a destination's mapping: the
// document the destination must receive for an input document.
type MappingTest struct {
	Input  map[string]any `json:"input"`
	Output map[string]any `json:"output"`
}

// Delivered returns the document destination dest receives for data
// (validated data, as stored): data itself, or with a mapping the mapped
// values only, at their target paths. A source without a value is left
// out; internal computed values (rules.internal) are never delivered.
func (s *Service) Delivered(dest string, data map[string]any) map[string]any {
	data = s.WithoutInternal(data) // internal.go
	d, ok := s.Deliveries[dest]
	if !ok || len(d.Mapping) == 0 {
		return data
	}
	out := map[string]any{}
	targets := make([]string, 0, len(d.Mapping))
	for t := range d.Mapping {
		targets = append(targets, t)
	}
	sort.Strings(targets)
	for _, t := range targets {
		if v, ok := lookupDotted(data, d.Mapping[t]); ok {
			setPath(out, t, v)
		}
	}
	return out
}

// lookupDotted returns the value at a dotted path (no list indexes).
func lookupDotted(m map[string]any, path string) (any, bool) {
	var cur any = m
	for _, seg := range strings.Split(path, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// checkDeliveryMappings reports mapping sources that are not in the data
// model, targets that collide, and mapping tests whose input does not
// map to their output.
func (s *Service) checkDeliveryMappings(v cue.Value, ce *CheckError) {
	for _, name := range s.DeliveryNames() {
		d := s.Deliveries[name]
		pos := posOf(v.LookupPath(cue.MakePath(cue.Str(name))))
		targets := make([]string, 0, len(d.Mapping))
		for t := range d.Mapping {
			targets = append(targets, t)
		}
		sort.Strings(targets)
		for i, t := range targets {
			src := d.Mapping[t]
			if s.dataNode(src) == nil {
				ce.add(pos, "deliveries."+name+".mapping", "unknownPath", "deliveries.%s.mapping: %q maps %q, which is not in the data model", name, t, src)
			}
			if i > 0 && strings.HasPrefix(t, targets[i-1]+".") {
				ce.add(pos, "deliveries."+name+".mapping", "mappingTarget", "deliveries.%s.mapping: %q lies inside %q", name, t, targets[i-1])
			}
		}
		for i, tc := range d.MappingTests {
			got := s.Delivered(name, normalize(tc.Input).(map[string]any))
			want := normalize(tc.Output)
			if !reflect.DeepEqual(normalize(got), want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				ce.add(pos, "deliveries."+name+".tests", "deliveryTest", "deliveries.%s.tests[%d]: delivered %s, want %s", name, i, gb, wb)
			}
		}
	}
}

// dataNode returns the data model node at a dotted path of struct
// fields, or nil.
func (s *Service) dataNode(path string) *Node {
	n := s.Data
	for _, seg := range strings.Split(path, ".") {
		if n == nil || n.Kind != KindStruct {
			return nil
		}
		n = n.Field(seg)
	}
	return n
}
