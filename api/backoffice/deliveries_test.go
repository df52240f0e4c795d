package backoffice_test

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/api/apitest"
	bo "github.com/amtsform/amtsform/api/backoffice"
	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/directory"
	"github.com/amtsform/amtsform/engine/record"
)

// TestCaseDeliveries: the case view shows every destination's state;
// only an admin gets the retry button, for a dead-lettered job; the
// retry is audited and a retry of a job not dead-lettered is refused.
func TestCaseDeliveries(t *testing.T) {
	f := newFixture(t)
	inst, err := engine.LoadInstallation(filepath.Join(apitest.ExamplesDir(), "installation"))
	if err != nil {
		t.Fatal(err)
	}
	d := deps(f.w)
	d.Directory = directory.New(inst)
	f.app = newAppDeps(t, d)
	f.w.addUser(&bo.User{ID: "ida", Tenant: "musterstadt", Name: "Ida Imhof", Roles: []string{"admin"}}, "ida-pw")
	anna, ida := f.w.session("anna"), f.w.session("ida")

	r := f.get(anna, "/backoffice/cases/"+refA1)
	r.want(t, 200, "Übermittlung an Fachverfahren", "Fachverfahren Jugendhilfe", "gescheitert, zurückgestellt", "12 Versuche",
		"HTTP 503 Service Unavailable", "vom Fachverfahren angenommen")
	if strings.Contains(r.body, "Übermittlung wiederholen") {
		t.Error("a caseworker is offered the retry")
	}
	f.get(anna, "/backoffice/cases/"+refA2).want(t, 200, "wird erneut versucht", "3 Versuche", "nächster Versuch", "connection reset by peer",
		"vom Fachverfahren abgelehnt", "Zuständigkeit fehlt")
	f.get(f.w.session("dirk"), "/backoffice/cases/"+refB1+"?lang=en").want(t, 200, "delivered", "1 attempt")

	r = f.get(ida, "/backoffice/cases/"+refA1)
	r.want(t, 200, "Übermittlung wiederholen", `action="/backoffice/cases/`+refA1+`/retry"`, `name="destination" value="fachverfahren"`)
	if strings.Count(r.body, "Übermittlung wiederholen") != 1 {
		t.Error("the retry is offered for a job that is not dead-lettered")
	}
	if r := f.post(anna, "/backoffice/cases/"+refA1+"/retry", url.Values{"destination": {"fachverfahren"}}); r.StatusCode != 403 {
		t.Errorf("caseworker's retry: %d", r.StatusCode)
	}
	r = f.post(ida, "/backoffice/cases/"+refA1+"/retry", url.Values{"destination": {"abruf"}})
	r.want(t, 422, "nicht zurückgestellt")
	r = f.post(ida, "/backoffice/cases/"+refA1+"/retry", url.Values{"destination": {"fachverfahren"}})
	if r.StatusCode != 303 || !strings.HasSuffix(r.Header.Get("Location"), "?done=retry") {
		t.Fatalf("retry: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	f.get(ida, "/backoffice/cases/"+refA1+"?done=retry").want(t, 200, "Die Übermittlung wird erneut versucht.")
	if j := f.w.deliveries["musterstadt/"+refA1][0].Job; j.Status != record.DeliveryPending {
		t.Errorf("after the retry: %s", j.Status)
	}
	last := f.w.audit[len(f.w.audit)-1]
	for _, e := range f.w.audit {
		if e.Action == "delivery.retried" {
			last = e
		}
	}
	if last.Action != "delivery.retried" || last.Actor != "ida" || last.Object != refA1 {
		t.Errorf("audit: %+v", last)
	}
}
