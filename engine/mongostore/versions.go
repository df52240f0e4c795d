package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/amtsform/amtsform/engine/record"
)

// versionDoc is a stored service version, keyed by its content hash.
type versionDoc struct {
	Hash      string     `bson:"_id"`
	ServiceID string     `bson:"service"`
	Version   string     `bson:"version"`
	Compiler  string     `bson:"compiler"`
	Files     []fileBlob `bson:"files"`
	Offered   time.Time  `bson:"offered"`
}

type fileBlob struct {
	Path string `bson:"path"`
	Data []byte `bson:"data"`
}

// PutVersion implements catalog.Versions. The first offer of a hash wins;
// a repeated one changes nothing.
func (s *Store) PutVersion(ctx context.Context, v *record.ServiceVersion) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	doc := versionDoc{Hash: v.Hash, ServiceID: v.ServiceID, Version: v.Version, Compiler: v.Compiler, Offered: bsonTime(v.Offered)}
	for _, f := range v.Files {
		doc.Files = append(doc.Files, fileBlob{Path: f.Path, Data: f.Data})
	}
	if _, err := s.versions.InsertOne(ctx, doc); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("mongostore: put version %.12s: %w", v.Hash, err)
	}
	return nil
}

// ServiceVersions implements catalog.Versions. The versions a server has
// offered are few (one per published change), so they are read whole.
func (s *Store) ServiceVersions(ctx context.Context) ([]*record.ServiceVersion, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	cur, err := s.versions.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("mongostore: versions: %w", err)
	}
	var docs []versionDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("mongostore: versions: %w", err)
	}
	out := make([]*record.ServiceVersion, 0, len(docs))
	for _, d := range docs {
		v := &record.ServiceVersion{Hash: d.Hash, ServiceID: d.ServiceID, Version: d.Version, Compiler: d.Compiler, Offered: d.Offered}
		for _, f := range d.Files {
			v.Files = append(v.Files, record.SourceFile{Path: f.Path, Data: f.Data})
		}
		out = append(out, v)
	}
	return out, nil
}
