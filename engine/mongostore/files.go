package mongostore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/amtsform/amtsform/engine/record"
)

// Files are stored in GridFS format (collections files.files and
// files.chunks, standard field names), written and read by this package
// one chunk at a time. The driver's GridFS upload stream is not used
// because it buffers 16 MiB per upload; here memory per transfer is one
// chunk. Chunk _ids are "<file id>#<n>", so reads are _id lookups.

const chunkSize = 255 << 10

var magics = map[string][]byte{
	"application/pdf": []byte("%PDF-"),
	"image/png":       []byte("\x89PNG\r\n\x1a\n"),
	"image/jpeg":      {0xFF, 0xD8, 0xFF},
}

// sniff returns the media type of head (the first bytes of a file) as
// http.DetectContentType sees it, cross-checked against file magic for
// the types that have one.
func sniff(head []byte) string {
	mt, _, err := mime.ParseMediaType(http.DetectContentType(head))
	if err != nil {
		return "application/octet-stream"
	}
	if m, ok := magics[mt]; ok && !bytes.HasPrefix(head, m) {
		return "application/octet-stream"
	}
	return mt
}

func (s *Store) allowed(mt string) bool {
	for _, a := range s.opts.AllowedTypes {
		if a == mt {
			return true
		}
	}
	return false
}

func chunkID(fileID string, n int) string { return fmt.Sprintf("%s#%06d", fileID, n) }

// PutFile implements the store interface of its domain package.
func (s *Store) PutFile(ctx context.Context, tenant, owner, name string, r io.Reader) (*record.Attachment, error) {
	if tenant == "" || owner == "" {
		return nil, fmt.Errorf("mongostore: file needs tenant and owner")
	}
	buf := make([]byte, chunkSize)
	n, err := io.ReadFull(r, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("mongostore: read upload: %w", err)
	}
	eof := err != nil
	mt := sniff(buf[:min(n, 512)])
	if n == 0 || !s.allowed(mt) {
		return nil, fmt.Errorf("file %q is %s: %w", name, mt, record.ErrUnsupportedType)
	}
	limit := s.opts.MaxFileBytes
	used, err := s.ownerBytes(ctx, owner)
	if err != nil {
		return nil, err
	}
	if rest := s.opts.MaxSubmissionBytes - used; rest < limit {
		limit = rest
	}
	id := record.NewToken()
	h := sha256.New()
	var total int64
	var written int
	fail := func(err error) (*record.Attachment, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.OpTimeout)
		defer cancel()
		_ = s.deleteChunks(cctx, id, written)
		return nil, err
	}
	for {
		total += int64(n)
		if total > limit {
			return fail(fmt.Errorf("file %q exceeds %d bytes (file limit %d, per-submission limit %d): %w",
				name, limit, s.opts.MaxFileBytes, s.opts.MaxSubmissionBytes, record.ErrTooLarge))
		}
		if n > 0 {
			h.Write(buf[:n])
			wctx, cancel := s.opctx(ctx)
			_, err := s.chunks.InsertOne(wctx, chunkDoc{ID: chunkID(id, written), FilesID: id, N: int32(written), Data: buf[:n]})
			cancel()
			if err != nil {
				return fail(fmt.Errorf("mongostore: write chunk: %w", err))
			}
			written++
		}
		if eof {
			break
		}
		n, err = io.ReadFull(r, buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			eof = true
		} else if err != nil {
			return fail(fmt.Errorf("mongostore: read upload: %w", err))
		}
	}
	fd := fileDoc{
		ID: id, Length: total, ChunkSize: chunkSize, UploadDate: now(), Filename: name,
		Metadata: fileMeta{Tenant: tenant, Owner: owner, ContentType: mt, SHA256: hex.EncodeToString(h.Sum(nil))},
	}
	wctx, cancel := s.opctx(ctx)
	defer cancel()
	// The owner record first: a file is never stored without being
	// findable by its owner (for the limit and the draft's deletion).
	if err := s.addOwnerFile(wctx, tenant, owner, id); err != nil {
		return fail(err)
	}
	if _, err := s.files.InsertOne(wctx, fd); err != nil {
		return fail(fmt.Errorf("mongostore: write file: %w", err))
	}
	return fd.attachment(), nil
}

// ownerDoc lists the files uploaded under one owner (a draft token), so
// that they are found by _id reads instead of a query on metadata.owner.
// Ids are only added; a listed file that no longer exists is skipped.
type ownerDoc struct {
	ID     string   `bson:"_id"` // owner
	Tenant string   `bson:"tenant"`
	Files  []string `bson:"files"`
}

func (s *Store) addOwnerFile(ctx context.Context, tenant, owner, id string) error {
	defer lockKey("owners", owner)() // FerretDB updates are read-modify-write
	_, err := s.owners.UpdateOne(ctx, bson.D{{Key: "_id", Value: owner}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "tenant", Value: tenant}}},
			{Key: "$addToSet", Value: bson.D{{Key: "files", Value: id}}}},
		options.UpdateOne().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) { // concurrent upsert
		_, err = s.owners.UpdateOne(ctx, bson.D{{Key: "_id", Value: owner}},
			bson.D{{Key: "$addToSet", Value: bson.D{{Key: "files", Value: id}}}})
	}
	if err != nil {
		return fmt.Errorf("mongostore: file owner: %w", err)
	}
	return nil
}

// ownerFiles returns the stored files of an owner: one _id read for the
// owner record and one per file.
func (s *Store) ownerFiles(ctx context.Context, owner string) ([]fileDoc, error) {
	ids, err := s.ownerFileIDs(ctx, owner)
	if err != nil {
		return nil, err
	}
	var out []fileDoc
	for _, id := range ids {
		var fd fileDoc
		err := s.files.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&fd)
		if isNoDocs(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mongostore: files of owner: %w", err)
		}
		out = append(out, fd)
	}
	return out, nil
}

// ownerFileIDs returns the ids in an owner's record (one _id read).
func (s *Store) ownerFileIDs(ctx context.Context, owner string) ([]string, error) {
	var od ownerDoc
	err := s.owners.FindOne(ctx, bson.D{{Key: "_id", Value: owner}}).Decode(&od)
	if isNoDocs(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: files of owner: %w", err)
	}
	return od.Files, nil
}

func (s *Store) ownerBytes(ctx context.Context, owner string) (int64, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	docs, err := s.ownerFiles(ctx, owner)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, d := range docs {
		if !d.Metadata.Deleting {
			sum += d.Length
		}
	}
	return sum, nil
}

func (s *Store) getFile(ctx context.Context, tenant, id string) (*fileDoc, error) {
	var fd fileDoc
	err := s.files.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&fd)
	if isNoDocs(err) || (err == nil && (fd.Metadata.Tenant != tenant || fd.Metadata.Deleting)) {
		return nil, fmt.Errorf("file %s: %w", id, record.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mongostore: get file: %w", err)
	}
	return &fd, nil
}

// claimRemoval marks file fd as being deleted unless a submit linked it
// since it was read (its submission changed): a conditional write, so
// that across instances either the link or the removal wins. A removal
// cut short after it is finished by the next attempt.
func (s *Store) claimRemoval(ctx context.Context, fd *fileDoc) (bool, error) {
	// The link as read: its submission and its validity (a submit that
	// resumes the same submission links again with a new validity).
	var until any = bson.D{{Key: "$exists", Value: false}}
	if !fd.Metadata.LinkedUntil.IsZero() {
		until = fd.Metadata.LinkedUntil
	}
	res, err := s.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: fd.ID}, {Key: "metadata.submission", Value: fd.Metadata.Submission},
		{Key: "metadata.linkedUntil", Value: until}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.deleting", Value: true}}}})
	if err != nil {
		return false, fmt.Errorf("mongostore: delete file: %w", err)
	}
	return res.MatchedCount == 1, nil
}

// OpenFile implements the store interface of its domain package.
func (s *Store) OpenFile(ctx context.Context, tenant, id string) (io.ReadCloser, *record.Attachment, error) {
	octx, cancel := s.opctx(ctx)
	fd, err := s.getFile(octx, tenant, id)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	return &fileReader{s: s, ctx: ctx, fd: fd}, fd.attachment(), nil
}

// OwnedFile implements the store interface of its domain package: one
// _id read.
func (s *Store) OwnedFile(ctx context.Context, tenant, owner, id string) (*record.Attachment, error) {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	fd, err := s.getFile(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if owner == "" || fd.Metadata.Owner != owner {
		return nil, fmt.Errorf("file %s of this owner: %w", id, record.ErrNotFound)
	}
	return fd.attachment(), nil
}

type fileReader struct {
	s    *Store
	ctx  context.Context
	fd   *fileDoc
	n    int   // next chunk
	read int64 // bytes delivered
	buf  []byte
	err  error
}

func (f *fileReader) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if f.read >= f.fd.Length {
			return 0, io.EOF
		}
		ctx, cancel := f.s.opctx(f.ctx)
		var c chunkDoc
		err := f.s.chunks.FindOne(ctx, bson.D{{Key: "_id", Value: chunkID(f.fd.ID, f.n)}}).Decode(&c)
		cancel()
		if err != nil {
			f.err = fmt.Errorf("mongostore: file %s chunk %d: %w", f.fd.ID, f.n, err)
			return 0, f.err
		}
		f.n++
		f.buf = c.Data
		if len(c.Data) == 0 {
			f.err = fmt.Errorf("mongostore: file %s: empty chunk %d", f.fd.ID, f.n-1)
		}
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	f.read += int64(n)
	return n, nil
}

func (f *fileReader) Close() error { f.buf = nil; f.err = errors.New("closed"); return nil }

// DeleteFile implements the store interface of its domain package. Files attached to a submission are
// deleted only with the submission.
func (s *Store) DeleteFile(ctx context.Context, tenant, id string) error {
	ctx, cancel := s.opctx(ctx)
	defer cancel()
	defer lockKey("files", id)() // not while a submit links it (linkFiles)
	var fd *fileDoc
	var cur fileDoc
	err := s.files.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
	switch {
	case isNoDocs(err) || (err == nil && cur.Metadata.Tenant != tenant):
		return fmt.Errorf("file %s: %w", id, record.ErrNotFound)
	case err != nil:
		return fmt.Errorf("mongostore: delete file: %w", err)
	case cur.Metadata.Deleting:
		return s.removeFile(ctx, id) // a removal cut short: finish it
	}
	fd = &cur
	if attached, pending := s.linked(ctx, fd); attached || pending {
		return fmt.Errorf("file %s is attached to a submission: %w", id, record.ErrConflict)
	}
	if ok, err := s.claimRemoval(ctx, fd); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("file %s is being attached to a submission: %w", id, record.ErrConflict)
		}
		return err
	}
	return s.removeFile(ctx, id)
}

// removeFile deletes the chunks (by _id, computed from the length) and
// then the file document, so a crash in between leaves a file document
// that the next attempt finds again.
func (s *Store) removeFile(ctx context.Context, id string) error {
	var fd fileDoc
	err := s.files.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&fd)
	if isNoDocs(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mongostore: delete file: %w", err)
	}
	n := int((fd.Length + chunkSize - 1) / chunkSize)
	if err := s.deleteChunks(ctx, id, n); err != nil {
		return err
	}
	if _, err := s.files.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("mongostore: delete file: %w", err)
	}
	return nil
}

func (s *Store) deleteChunks(ctx context.Context, id string, n int) error {
	for i := 0; i < n; i++ {
		if _, err := s.chunks.DeleteOne(ctx, bson.D{{Key: "_id", Value: chunkID(id, i)}}); err != nil {
			return fmt.Errorf("mongostore: delete chunk: %w", err)
		}
	}
	return nil
}

// linkedUntil is the time until which the insert of a submission whose
// files are linked under ctx may still land: the submit's deadline (every
// store operation has one, see opctx), and as long again as OpTimeout
// for a command the server received just before it.
func (s *Store) linkedUntil(ctx context.Context) time.Time {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(s.opts.OpTimeout)
	}
	return bsonTime(dl.Add(s.opts.OpTimeout))
}

// linked reports whether file fd is attached to a stored submission, or
// linked to one whose insert may still come (pending).
func (s *Store) linked(ctx context.Context, fd *fileDoc) (attached, pending bool) {
	if fd.Metadata.Submission == "" {
		return false, false
	}
	if s.exists(ctx, fd.Metadata.Submission) {
		return true, false
	}
	return false, now().Before(fd.Metadata.LinkedUntil)
}

// deleteOwnerFiles removes the files uploaded for a draft that are not
// attached to an existing submission. A file linked to a submission
// whose insert may still come is kept, and so is the owner record
// (pending): the caller looks again later. Repeating it is harmless.
func (s *Store) deleteOwnerFiles(ctx context.Context, owner string) (n int, pending bool, err error) {
	ids, err := s.ownerFileIDs(ctx, owner)
	if err != nil {
		return 0, false, err
	}
	for _, id := range ids {
		// Read under the lock linkFiles takes: not while a submit links
		// the file, nor from before it did.
		unlock := lockKey("files", id)
		var cur fileDoc
		err := s.files.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur)
		wait, removed := false, false
		switch {
		case isNoDocs(err):
			err = nil
		case err == nil:
			var attached, ok bool
			if attached, wait = s.linked(ctx, &cur); !attached && !wait {
				if ok, err = s.claimRemoval(ctx, &cur); ok {
					err, removed = s.removeFile(ctx, id), true
				} else if err == nil {
					wait = true // linked meanwhile (another instance)
				}
			}
		}
		unlock()
		if err != nil {
			return n, pending, fmt.Errorf("mongostore: files of owner: %w", err)
		}
		pending = pending || wait
		if removed {
			n++
		}
	}
	if pending {
		return n, true, nil
	}
	// Attached files go with their submission; the owner record is done.
	if _, err := s.owners.DeleteOne(ctx, bson.D{{Key: "_id", Value: owner}}); err != nil {
		return n, false, fmt.Errorf("mongostore: files of owner: %w", err)
	}
	return n, false, nil
}

// checkAttachments loads the stored metadata of the files to attach and
// enforces the per-submission total. A file attached to another existing
// submission is a conflict.
func (s *Store) checkAttachments(ctx context.Context, tenant, owner string, ids []string) ([]attachmentDoc, error) {
	var out []attachmentDoc
	var total int64
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		fd, err := s.getFile(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		if owner != "" && fd.Metadata.Owner != owner {
			return nil, fmt.Errorf("file %s: %w", id, record.ErrNotFound)
		}
		if fd.Metadata.Submission != "" && s.exists(ctx, fd.Metadata.Submission) {
			return nil, fmt.Errorf("file %s already attached: %w", id, record.ErrConflict)
		}
		total += fd.Length
		out = append(out, attachmentDoc{ID: fd.ID, Name: fd.Filename, Size: fd.Length,
			SHA256: fd.Metadata.SHA256, ContentType: fd.Metadata.ContentType})
	}
	if total > s.opts.MaxSubmissionBytes {
		return nil, fmt.Errorf("attachments total %d bytes, limit %d: %w", total, s.opts.MaxSubmissionBytes, record.ErrTooLarge)
	}
	return out, nil
}

// beforeLink, if set (tests), runs in linkFiles between its read of a
// file and the conditional write of the link.
var beforeLink func(id string)

// linkFiles marks files as attached to sid before the submission is
// inserted. If the insert never happens, the link points to a missing
// submission and the file counts as unattached again.
func (s *Store) linkFiles(ctx context.Context, tenant string, atts []attachmentDoc, sid string) error {
	for _, a := range atts {
		unlock := lockKey("files", a.ID)
		fd, err := s.getFile(ctx, tenant, a.ID)
		if err == nil && fd.Metadata.Submission != "" && fd.Metadata.Submission != sid && s.exists(ctx, fd.Metadata.Submission) {
			err = fmt.Errorf("file %s already attached: %w", a.ID, record.ErrConflict)
		}
		if err == nil && beforeLink != nil {
			beforeLink(a.ID)
		}
		if err == nil {
			var res *mongo.UpdateResult
			res, err = s.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}, {Key: "metadata.deleting", Value: bson.D{{Key: "$ne", Value: true}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "metadata.submission", Value: sid}, {Key: "metadata.linkedUntil", Value: s.linkedUntil(ctx)}}}})
			if err == nil && res.MatchedCount == 0 {
				err = fmt.Errorf("file %s: %w", a.ID, record.ErrNotFound) // being deleted
			}
		}
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}
