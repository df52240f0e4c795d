package api

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/amtsform/amtsform/engine/record"
)

// TestCitizenHandover: the status page says "an die zuständige Stelle
// übermittelt" only once every destination took the submission; while
// a delivery is retried, or dead-lettered, it says it is underway, never
// that it failed.
func TestCitizenHandover(t *testing.T) {
	st := newBackofficeStack(t)
	sub := st.submitKita(t, "65719")
	status := "/" + testTenant + "/kita-gebuehren/r/" + sub.Reference + "?s=" + url.QueryEscape(sub.StatusSecret)
	cz := newStaffBrowser(t, st.base)
	const done, underway = "an die zuständige Stelle übermittelt", "wird an die zuständige Stelle übermittelt"
	check := func(want string, lang ...string) {
		t.Helper()
		q := status
		if len(lang) > 0 {
			q += "&lang=" + lang[0]
		}
		p := cz.get(q)
		p.must(t, 200, "", want)
		if want == underway && strings.Contains(strings.ReplaceAll(p.body, underway, ""), done) {
			t.Errorf("underway, but the page says handed over:\n%s", p.body)
		}
		for _, bad := range []string{"fehlgeschlagen", "gescheitert", "failed"} {
			if strings.Contains(p.body, bad) {
				t.Errorf("the status page says %q", bad)
			}
		}
	}
	check(underway)

	ctx := context.Background()
	jobs, err := st.store.DueDeliveries(ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("due: %v, %v", jobs, err)
	}
	j := jobs[0]
	attempt := func(n int, status, lastError string) {
		t.Helper()
		now := time.Now().UTC()
		if err := st.store.ClaimDelivery(ctx, &record.DeliveryClaim{Job: j.ID, N: n, Holder: "test", Started: now, Until: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		j.Attempts, j.Status, j.LastError, j.Updated, j.Next = n, status, lastError, now, now.Add(time.Minute)
		if status == record.DeliveryDelivered {
			j.Delivered = now
		}
		if err := st.store.SaveDeliveryJob(ctx, j, j.Base); err != nil {
			t.Fatal(err)
		}
	}
	attempt(1, record.DeliveryPending, "HTTP 500") // failed, to be retried
	check(underway)
	attempt(2, record.DeliveryDead, "HTTP 500") // dead-lettered: an admin will retry
	check(underway)
	if j, err = st.store.RetryDelivery(ctx, j.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	attempt(3, record.DeliveryDelivered, "")
	check(done)
	check("handed to the responsible office", "en")
}
