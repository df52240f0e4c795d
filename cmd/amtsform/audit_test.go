package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/amtsform/amtsform/engine/audit"
	"github.com/amtsform/amtsform/engine/record"
)

// seedAudit writes n entries to tenant's chain in the embedded store at dir.
func seedAudit(ctx context.Context, dir, tenant string, n int) error {
	s, closeFn, err := openStore(ctx, "", dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer closeFn()
	l := audit.New(s)
	for i := 1; i <= n; i++ {
		err := l.Record(ctx, record.AuditEntry{Tenant: tenant, Actor: "u-anna", Action: "case.viewed",
			Object: fmt.Sprintf("KITA-2026-%06d", i), Addr: "192.0.2.1", Detail: map[string]string{"office": "jugendamt"}})
		if err != nil {
			return err
		}
	}
	return nil
}

// tamperAudit changes the audit collection of the embedded store at dir
// directly with the driver, as someone with database access could:
// "edit" changes entry a's action, "delete" removes entry a, "swap"
// exchanges the contents of entries a and b (each keeps its _id).
func tamperAudit(ctx context.Context, dir, how, tenant string, a, b int64) error {
	s, closeFn, err := openStore(ctx, "", dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer closeFn()
	c := s.Client().Database("amtsform").Collection("audit")
	id := func(seq int64) string { return fmt.Sprintf("%s/%016d", tenant, seq) }
	must := func(n int64, err error) error {
		if err == nil && n != 1 {
			err = fmt.Errorf("%s: %d documents changed", how, n)
		}
		return err
	}
	switch how {
	case "edit":
		r, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id(a)}}, bson.D{{Key: "$set", Value: bson.D{{Key: "action", Value: "case.exported"}}}})
		if err != nil {
			return err
		}
		return must(r.ModifiedCount, nil)
	case "delete":
		r, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id(a)}})
		if err != nil {
			return err
		}
		return must(r.DeletedCount, nil)
	case "swap":
		var da, db bson.D
		if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id(a)}}).Decode(&da); err != nil {
			return err
		}
		if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id(b)}}).Decode(&db); err != nil {
			return err
		}
		for _, x := range []struct {
			key string
			doc bson.D
		}{{id(a), db}, {id(b), da}} {
			doc := bson.D{{Key: "_id", Value: x.key}}
			for _, e := range x.doc {
				if e.Key != "_id" {
					doc = append(doc, e)
				}
			}
			r, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: x.key}}, doc)
			if err != nil {
				return err
			}
			if err := must(r.ModifiedCount, nil); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("tamper: unknown %q", how)
}

// TestAuditVerifyTampered writes chains, then edits one entry, deletes
// one and swaps two directly in the database, and checks that
// 'amtsform audit verify' names the exact entry each time.
func TestAuditVerifyTampered(t *testing.T) {
	t.Setenv("AMTSFORM_MONGODB_URI", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	for _, tenant := range []string{"edit", "delete", "swap", "clean"} {
		if err := seedAudit(ctx, dir, tenant, 12); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"audit", "verify", "--data-dir", dir}, args...), &out, &errb)
		if errb.Len() > 0 {
			t.Logf("stderr: %s", errb.String())
		}
		return code, out.String()
	}
	if code, out := verify(); code != 0 || strings.Count(out, ": ok, 12 entries, last 12 ") != 4 {
		t.Fatalf("clean chains: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		how    string
		tenant string
		a, b   int64
		want   string
	}{
		{"edit", "edit", 4, 0, "edit: DAMAGED: entry 4 altered: its content does not match its hash (entries before it: 3, intact)"},
		{"delete", "delete", 7, 0, "delete: DAMAGED: entry 7 removed: entry 7 is missing; the chain continues with entry 8 (entries before it: 6, intact)"},
		{"swap", "swap", 10, 11, "swap: DAMAGED: entry 10 reordered: the entry stored as 10 carries seq 11 (moved or swapped) (entries before it: 9, intact)"},
	} {
		if err := tamperAudit(ctx, dir, tc.how, tc.tenant, tc.a, tc.b); err != nil {
			t.Fatal(err)
		}
		code, out := verify("--tenant", tc.tenant)
		if code != 1 || strings.TrimSpace(out) != tc.want {
			t.Errorf("%s: exit %d\n%s\nwant exit 1\n%s", tc.how, code, out, tc.want)
		}
	}
	code, out := verify()
	if code != 1 || !strings.Contains(out, "clean: ok, 12 entries") || strings.Count(out, "DAMAGED") != 3 {
		t.Errorf("all tenants: exit %d\n%s", code, out)
	}
	if code, out := verify("--tenant", "clean"); code != 0 {
		t.Errorf("clean tenant: exit %d\n%s", code, out)
	}
}

// TestAuditScript runs the audit CLI scenarios in testdata/audit/*.txtar
// with commands that seed and tamper with the embedded store.
func TestAuditScript(t *testing.T) {
	t.Setenv("AMTSFORM_MONGODB_URI", "")
	testscript.Run(t, testscript.Params{
		Dir: "testdata/audit",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// auditseed DIR TENANT N
			"auditseed": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: auditseed DIR TENANT N")
				}
				n, err := strconv.Atoi(args[2])
				ts.Check(err)
				ts.Check(seedAudit(context.Background(), ts.MkAbs(args[0]), args[1], n))
			},
			// auditanchor VAR DIR TENANT SEQ sets VAR to SEQ:HASH of that entry
			"auditanchor": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 4 {
					ts.Fatalf("usage: auditanchor VAR DIR TENANT SEQ")
				}
				seq, err := strconv.ParseInt(args[3], 10, 64)
				ts.Check(err)
				ctx := context.Background()
				s, closeFn, err := openStore(ctx, "", ts.MkAbs(args[1]), slog.New(slog.NewTextHandler(io.Discard, nil)))
				ts.Check(err)
				defer closeFn()
				e, err := s.AuditEntry(ctx, args[2], seq)
				ts.Check(err)
				ts.Setenv(args[0], fmt.Sprintf("%d:%s", seq, e.Hash))
			},
			// audittamper DIR edit|delete|swap TENANT SEQ [SEQ]
			"audittamper": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 4 {
					ts.Fatalf("usage: audittamper DIR edit|delete|swap TENANT SEQ [SEQ]")
				}
				a, err := strconv.ParseInt(args[3], 10, 64)
				ts.Check(err)
				var b int64
				if len(args) > 4 {
					b, err = strconv.ParseInt(args[4], 10, 64)
					ts.Check(err)
				}
				ts.Check(tamperAudit(context.Background(), ts.MkAbs(args[0]), args[1], args[2], a, b))
			},
		},
	})
}
