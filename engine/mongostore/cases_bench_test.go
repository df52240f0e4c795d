package mongostore

import (
	"context"
	"flag"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

var inboxMongoPath = flag.Bool("inbox-mongopath", false, "BenchmarkCaseInbox: also measure the MongoDB code path on the embedded FerretDB (every query decodes all 10,000 stored cases there: about a minute)")

// inboxCases is the archive of BenchmarkCaseInbox: 10,000 cases of one
// tenant, 20 % of them in the office measured.
const inboxCases = 10000

var inboxOffices = []string{"jugendamt-frankfurt", "jugendamt-kreis", "sozialamt", "buergeramt", "standesamt"}

// inboxDoc is the i-th case: scaleDoc with the case fields set.
func inboxDoc(i int, now time.Time) submissionDoc {
	d := scaleDoc(i)
	d.Office = inboxOffices[i%len(inboxOffices)]
	d.Created = now.Add(-time.Duration(inboxCases-i) * time.Hour)
	d.Updated = d.Created
	due := d.Created.AddDate(0, 0, 30)
	d.Due = &due
	if i%3 == 0 {
		d.Assignee = []string{"anna", "bernd", "cem"}[i%9/3]
	}
	d.Priority = i % 7 % 3
	if i%11 == 0 {
		f := now.Add(-time.Duration(i%48) * time.Hour)
		d.FollowUp = &f
	}
	return d
}

func inboxFill(b *testing.B, s *Store, now time.Time) {
	ctx := context.Background()
	t0 := time.Now()
	for have := 0; have < inboxCases; {
		batch := min(1000, inboxCases-have)
		docs := make([]any, batch)
		claims := make([]any, batch)
		for j := range docs {
			d := inboxDoc(have+j, now)
			docs[j] = d
			claims[j] = claimDoc{ID: d.Idem, Sub: d.ID, At: d.Created}
			if s.cases != nil {
				s.cases.set(d.ID, summary(d.submission()))
			}
		}
		if _, err := s.subs.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
		if _, err := s.idem.InsertMany(ctx, claims); err != nil {
			b.Fatal(err)
		}
		have += batch
	}
	if s.cases != nil {
		if err := s.snapshot(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d cases in %v", inboxCases, time.Since(t0).Round(time.Millisecond))
}

// median runs op k times and returns the median latency.
func median(k int, op func(i int)) time.Duration {
	lat := make([]time.Duration, k)
	for i := range lat {
		t0 := time.Now()
		op(i)
		lat[i] = time.Since(t0)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[k/2]
}

// BenchmarkCaseInbox measures an office's inbox page (50 cases with the
// total and the counts per status) among 10,000 stored cases of its
// tenant, 20 % in that office, against a lookup by reference in the same
// run, and reports the ratio (the target: within 5x on the embedded
// store). "embedded" is the store as serve runs it (case index in
// memory); "mongopath" the queries by declared index that MongoDB runs
// (with AMTSFORM_TEST_MONGODB_URI, or -inbox-mongopath on FerretDB,
// where every such query is a scan). Run with:
//
//	go test -run '^$' -bench CaseInbox -benchtime 1x ./engine/mongostore
//
// On FerretDB the MongoDB path is slow for one reason: FerretDB answers
// every query but one by _id by reading and decoding every stored
// document (~0.3 ms each, mostly its JSON decoding and the garbage it
// leaves), and an inbox page is two to four such queries (the page, for
// "due" a count and a second range, the counts per status): 10 to 20 s a
// page at 10,000 cases on two cores. The fill (bulk inserts of the
// stored documents, 7-9 s) is not the problem. So each query runs once
// there (k = 1; the lookup it is compared with still 41 times), and the
// flag stays off by default.
func BenchmarkCaseInbox(b *testing.B) {
	type variant struct {
		name string
		opts Options
	}
	variants := []variant{{"embedded", Options{ExclusiveDrafts: true, OpTimeout: 5 * time.Minute}}}
	if testServer == nil {
		variants = []variant{{"mongopath", Options{OpTimeout: 5 * time.Minute}}}
	} else if *inboxMongoPath {
		variants = append(variants, variant{"mongopath", Options{mongoPath: true, OpTimeout: 5 * time.Minute}})
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			s := open(b, dbName(), v.opts, true)
			inboxFill(b, s, now)
			ctx := context.Background()
			k := 41
			if v.name == "mongopath" && testServer != nil {
				k = 1 // a scan of the 10,000 cases per query
			}
			queries := []struct {
				name string
				q    record.InboxQuery
			}{
				{"office", record.InboxQuery{Office: "jugendamt-frankfurt", Status: []string{"submitted", "in_review"}, Sort: "age"}},
				{"due", record.InboxQuery{Office: "jugendamt-frankfurt", Sort: "due"}},
				{"overdue-unassigned", record.InboxQuery{Office: "jugendamt-frankfurt", Overdue: true, Assignee: "-", Sort: "priority"}},
				{"mine", record.InboxQuery{Offices: []string{"jugendamt-frankfurt", "sozialamt"}, Assignee: "anna", Sort: "-age"}},
			}
			for b.Loop() {
				// The lookup by reference (by _id, cheap on either path)
				// always takes the median of 41, so the ratios do not
				// rest on one sample.
				get := median(41, func(int) {
					if _, err := s.GetSubmission(ctx, "ffm", scaleDoc(rand.IntN(inboxCases)).Ref); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(get.Microseconds())/1000, "ms-get")
				for _, qc := range queries {
					q := qc.q
					q.Tenant, q.Now, q.Limit = "ffm", now, 50
					page := median(k, func(i int) {
						q.Skip = (i % 2) * 50
						p, err := s.InboxPage(ctx, q)
						if err != nil || len(p.Cases) == 0 || p.Total == 0 {
							b.Fatalf("%s: %+v %v", qc.name, p, err)
						}
					})
					if k == 1 {
						b.Logf("%s: %s page in %v", v.name, qc.name, page.Round(time.Millisecond))
					}
					b.ReportMetric(float64(page.Microseconds())/1000, "ms-"+qc.name)
					b.ReportMetric(float64(page)/float64(get), qc.name+"/get")
				}
			}
		})
	}
}
