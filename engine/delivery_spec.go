package engine

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"
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
	if kind == "webhook" {url!: =~"^https?://"}
	url?: =~"^https?://"
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
