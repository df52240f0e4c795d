package receiver

import (
	"encoding/json"
	"time"
)

// ServiceRef names the exact service version a submission was made with.
type ServiceRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Hash    string `json:"hash"`
}

// Envelope is what a destination receives, shaped like a FIT-Connect
// submission: metadata (FIT-Connect metadata fields where they apply),
// the data and the attachments. Data is the submission's document as the
// server validated it, encoded once; Metadata.ContentStructure.Data.Hash
// is the SHA-512 of exactly those bytes (of the plaintext when the data
// is encrypted).
type Envelope struct {
	DeliveryID  string     `json:"deliveryId"` // stable across attempts: deduplicate on it
	Reference   string     `json:"reference"`
	Tenant      string     `json:"tenant"`
	Office      string     `json:"office,omitempty"`
	Destination string     `json:"destination"`
	Service     ServiceRef `json:"service"`
	SubmittedAt time.Time  `json:"submittedAt"`
	Metadata    Metadata   `json:"metadata"`
	// Data is the document (JSON) unless EncryptedData (JWE compact
	// serialisation of the same bytes) is set.
	Data          json.RawMessage     `json:"data,omitempty"`
	EncryptedData string              `json:"encryptedData,omitempty"`
	Attachments   []AttachmentContent `json:"attachments"`
}

// Metadata follows FIT-Connect's metadata schema where it applies.
type Metadata struct {
	ContentStructure        ContentStructure         `json:"contentStructure"`
	PublicServiceType       *PublicServiceType       `json:"publicServiceType,omitempty"`
	AdditionalReferenceInfo *AdditionalReferenceInfo `json:"additionalReferenceInfo,omitempty"`
}

// ContentStructure describes the data and the attachments.
type ContentStructure struct {
	Data        DataInfo         `json:"data"`
	Attachments []AttachmentInfo `json:"attachments"`
}

// DataInfo carries the data's hash and the schema it conforms to.
type DataInfo struct {
	Hash             Hash             `json:"hash"`
	SubmissionSchema SubmissionSchema `json:"submissionSchema"`
}

// Hash is a FIT-Connect hash: {type: sha512, content: hex}.
type Hash struct {
	Type    string `json:"type"`
	Content string `json:"content"`
}

// SubmissionSchema names the JSON Schema the data conforms to: this
// service version's published schema.
type SubmissionSchema struct {
	SchemaURI string `json:"schemaUri"`
	MimeType  string `json:"mimeType"`
}

// AttachmentInfo describes one attachment; purpose "form" is the receipt
// PDF, "attachment" a citizen's upload.
type AttachmentInfo struct {
	AttachmentID string `json:"attachmentId"`
	Hash         Hash   `json:"hash"`
	Purpose      string `json:"purpose"`
	MimeType     string `json:"mimeType"`
	Filename     string `json:"filename"`
	Size         int64  `json:"size"`
}

// PublicServiceType names the service in the Leistungskatalog (LeiKa).
type PublicServiceType struct {
	Identifier string `json:"identifier"` // urn:de:fim:leika:leistung:<key>
	Name       string `json:"name,omitempty"`
}

// AdditionalReferenceInfo carries the application date and our
// reference.
type AdditionalReferenceInfo struct {
	SenderReference string `json:"senderReference"`
	ApplicationDate string `json:"applicationDate"` // YYYY-MM-DD
}

// AttachmentContent is an attachment's content: inline (base64, or JWE
// when encrypted), or uploaded before the envelope (Uploaded, one step
// each; see Webhook).
type AttachmentContent struct {
	AttachmentID     string `json:"attachmentId"`
	Content          string `json:"content,omitempty"`
	EncryptedContent string `json:"encryptedContent,omitempty"`
	Uploaded         bool   `json:"uploaded,omitempty"`
}
