package httpx

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/amtsform/amtsform/engine/record"
)

func TestErrorKind(t *testing.T) {
	_, numErr := strconv.ParseFloat("1e400", 64)
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("value %q: %w", "1e400", numErr), "*fmt.wrapError > *strconv.NumError > *errors.errorString"},
		{fmt.Errorf("draft %s: %w", "1e400", record.ErrNotFound), "*fmt.wrapError > record.ErrNotFound"},
		{errors.Join(errors.New("file 1e400.pdf"), record.ErrTooLarge), "*errors.joinError > *errors.errorString > record.ErrTooLarge"},
	} {
		got := ErrorKind(tc.err)
		if got != tc.want || strings.Contains(got, "1e400") {
			t.Errorf("ErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := PanicKind("1e400"); got != "string" {
		t.Errorf("PanicKind = %q", got)
	}
}
