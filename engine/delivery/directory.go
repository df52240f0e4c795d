package delivery

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Directory writes the envelope and the attachments into the binding's
// directory for importers that poll a share: first every attachment as
// <deliveryId>.<attachmentId><ext> (one step each), then the envelope as
// <deliveryId>.json, which refers to them (Uploaded). Every file is
// written to a temporary name, synced and renamed, and the directory is
// synced: an importer that takes *.json files sees only complete
// deliveries, whose attachments are all there.
type Directory struct{}

// Send implements Sender.
func (Directory) Send(ctx context.Context, a *Attempt) error {
	dir := a.Binding.Dir
	if dir == "" {
		return &Permanent{Err: fmt.Errorf("directory %s has no dir", a.Job.Destination)}
	}
	env, files, err := a.d.build(ctx, a, false)
	if err != nil {
		return err
	}
	for _, f := range files {
		name := a.DeliveryID + "." + f.info.AttachmentID + extension(f.info.Filename)
		if _, err := a.Step(ctx, "file:"+f.info.AttachmentID, func(ctx context.Context) (string, error) {
			return name, WriteFileAtomic(dir, name, f.data)
		}); err != nil {
			return err
		}
	}
	body, err := encodeJSON(env)
	if err != nil {
		return err
	}
	_, err = a.Last(ctx, "envelope", func(ctx context.Context) (string, error) {
		name := a.DeliveryID + ".json"
		return name, WriteFileAtomic(dir, name, body)
	})
	return err
}

func extension(name string) string {
	ext := strings.ToLower(filepath.Ext(name))
	if len(ext) > 8 || strings.ContainsAny(ext, `/\ `) {
		return ""
	}
	return ext
}

// WriteFileAtomic writes data to dir/name: a temporary file in dir,
// fsync, rename, fsync of dir. A reader never sees a partial file.
func WriteFileAtomic(dir, name string, data []byte) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the rename: nothing to remove
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
