package httpx

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/amtsform/amtsform/engine"
	"github.com/amtsform/amtsform/engine/catalog"
	"github.com/amtsform/amtsform/engine/intake"
	"github.com/amtsform/amtsform/engine/record"
)

// sentinels are errors whose text is fixed, so that ErrorKind may name them.
var sentinels = []struct {
	err  error
	name string
}{
	{context.DeadlineExceeded, "context.DeadlineExceeded"},
	{context.Canceled, "context.Canceled"},
	{io.EOF, "io.EOF"},
	{io.ErrUnexpectedEOF, "io.ErrUnexpectedEOF"},
	{engine.ErrTooLarge, "engine.ErrTooLarge"},
	{record.ErrNotFound, "record.ErrNotFound"},
	{record.ErrConflict, "record.ErrConflict"},
	{record.ErrExpired, "record.ErrExpired"},
	{record.ErrTooLarge, "record.ErrTooLarge"},
	{record.ErrIdempotencyMismatch, "record.ErrIdempotencyMismatch"},
	{record.ErrUnsupportedType, "record.ErrUnsupportedType"},
	{intake.ErrInvalid, "intake.ErrInvalid"},
	{intake.ErrPageNotReached, "intake.ErrPageNotReached"},
	{catalog.ErrUnavailable, "catalog.ErrUnavailable"},
}

// ErrorKind describes err for the log without its text, which can carry
// what a citizen sent (a number such as 1e400 in a strconv error, a file
// name, a store's duplicate key): the Go types along its wrapping chain,
// outermost first, with the fixed sentinel errors and HTTP errors named,
// e.g. "*fmt.wrapError > *strconv.NumError > *errors.errorString".
func ErrorKind(err error) string {
	var parts []string
	var walk func(error, int)
	walk = func(e error, depth int) {
		if e == nil || depth > 16 || len(parts) > 32 {
			return
		}
		for _, s := range sentinels {
			if e == s.err {
				parts = append(parts, s.name)
				return
			}
		}
		var fe *fiber.Error
		if x, ok := e.(*fiber.Error); ok {
			fe = x
			parts = append(parts, fmt.Sprintf("fiber.Error(%d)", fe.Code))
			return
		}
		parts = append(parts, fmt.Sprintf("%T", e))
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x, depth+1)
			}
		}
	}
	walk(err, 0)
	return strings.Join(parts, " > ")
}

// PanicKind describes a recovered panic value for the log: its type, and
// the text of runtime errors (index out of range, nil map…), which name
// no values a citizen sent.
func PanicKind(v any) string {
	if re, ok := v.(runtime.Error); ok {
		return fmt.Sprintf("%T: %s", v, re.Error())
	}
	if e, ok := v.(error); ok {
		return ErrorKind(e)
	}
	return fmt.Sprintf("%T", v)
}
