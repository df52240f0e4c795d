package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
	"github.com/amtsform/amtsform/engine/storetest"
)

// TestExportImportCLI moves a tenant's data from one embedded store to
// another with the CLI, imports twice, and compares field by field.
func TestExportImportCLI(t *testing.T) {
	t.Setenv("AMTSFORM_MONGODB_URI", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dirA, dirB := t.TempDir(), t.TempDir()

	src, closeA, err := openStore(ctx, "", dirA, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	svc := record.ServiceRef{ID: "kita", Version: "1.0.0", Hash: "h1"}
	var refs []string
	for i := 0; i < 3; i++ {
		req := &record.SubmitRequest{Tenant: "ffm", Prefix: "KITA", Service: svc, Office: "amt",
			Data: map[string]any{"i": int64(i), "f": 0.5, "s": "Größe", "l": []any{int64(1), "x"}, "t": time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)}}
		if i == 1 {
			a, err := src.PutFile(ctx, "ffm", record.NewToken(), "nachweis.pdf", bytes.NewReader(storetest.PDF(300<<10)))
			if err != nil {
				t.Fatal(err)
			}
			req.AttachmentIDs = []string{a.ID}
		}
		sub, _, err := src.Submit(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, sub.Ref)
	}
	if _, err := src.UpdateSubmission(ctx, "ffm", refs[0], 1, record.SubmissionChange{Status: "done", Actor: "sb"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := src.Submit(ctx, &record.SubmitRequest{Tenant: "other", Prefix: "KITA", Service: svc, Data: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	closeA()

	var out, errb bytes.Buffer
	if code := run([]string{"export", "--data-dir", dirA, "--tenant", "ffm"}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	file := filepath.Join(t.TempDir(), "ffm.ndjson")
	if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 2; round++ {
		var iout, ierr bytes.Buffer
		if code := run([]string{"import", "--data-dir", dirB, file}, &iout, &ierr); code != 0 {
			t.Fatalf("import %d: exit %d: %s %s", round, code, iout.String(), ierr.String())
		}
		want := "imported: 3 submissions"
		if round == 1 {
			want = "imported: 0 submissions, 0 event logs, 0 files (0 chunks)"
		}
		if !strings.Contains(iout.String(), want) {
			t.Fatalf("import %d said %q, want %q", round, iout.String(), want)
		}
	}

	src, closeA, err = openStore(ctx, "", dirA, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeA()
	dst, closeB, err := openStore(ctx, "", dirB, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer closeB()
	for _, ref := range refs {
		a, err := src.GetSubmission(ctx, "ffm", ref)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.GetSubmission(ctx, "ffm", ref)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("%s differs after import: %v\n%#v\n%#v", ref, err, a, b)
		}
		ea, _ := src.Events(ctx, "ffm", ref)
		eb, _ := dst.Events(ctx, "ffm", ref)
		if len(ea) == 0 || !reflect.DeepEqual(ea, eb) {
			t.Fatalf("events of %s differ", ref)
		}
		for _, att := range a.Attachments {
			ra, _, err := src.OpenFile(ctx, "ffm", att.ID)
			if err != nil {
				t.Fatal(err)
			}
			rb, _, err := dst.OpenFile(ctx, "ffm", att.ID)
			if err != nil {
				t.Fatal(err)
			}
			ba, _ := io.ReadAll(ra)
			bb, _ := io.ReadAll(rb)
			ra.Close()
			rb.Close()
			if !bytes.Equal(ba, bb) || len(ba) != 300<<10 {
				t.Fatalf("file %s differs", att.ID)
			}
		}
	}
	if l, err := dst.ListSubmissions(ctx, record.InboxQuery{Tenant: "other"}); err != nil || len(l) != 0 {
		t.Fatalf("tenant filter: %v %d", err, len(l))
	}
}

func TestExportFlags(t *testing.T) {
	t.Setenv("AMTSFORM_MONGODB_URI", "")
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := run([]string{"export", "--data-dir", dir, "--since", "2999-01-01"}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	if lines := strings.Count(out.String(), "\n"); lines != 1 || !strings.Contains(out.String(), `"kind":"header"`) {
		t.Fatalf("empty export: %q", out.String())
	}
	if code := run([]string{"export", "--since", "yesterday"}, &out, &errb); code != 2 {
		t.Fatalf("bad --since: exit %d", code)
	}
	if code := run([]string{"import", "--data-dir", dir}, &out, &errb); code != 2 {
		t.Fatalf("import without file: exit %d", code)
	}
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte("{\"kind\":\"submission\"}\n"), 0o600)
	errb.Reset()
	if code := run([]string{"import", "--data-dir", dir, bad}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "not an amtsform-export") {
		t.Fatalf("foreign file: exit %d %s", code, errb.String())
	}
}
