package citizen

import (
	"testing"

	"github.com/amtsform/amtsform/engine"
)

// TestDateInputShowsGermanDate: a stored date (YYYY-MM-DD) is shown in
// the input as citizens write it (TT.MM.JJJJ); what the citizen typed and
// did not parse stays as typed.
func TestDateInputShowsGermanDate(t *testing.T) {
	f := &engine.Field{Widget: "date"}
	for _, c := range []struct{ in, want string }{
		{"2019-03-27", "27.03.2019"},
		{"27.3.2019x", "27.3.2019x"},
		{"", ""},
	} {
		if got := inputValue(f, c.in, true, "de"); got != c.want {
			t.Errorf("inputValue(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := inputValue(&engine.Field{Widget: "text"}, "2019-03-27", true, "de"); got != "2019-03-27" {
		t.Errorf("a text field changed its value: %q", got)
	}
}
