package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Limits bound the work a document can cause. The zero value means
// DefaultLimits.
type Limits struct {
	MaxBytes   int64 // whole document
	MaxDepth   int   // nesting of objects and arrays
	MaxItems   int   // entries of one array
	MaxKeys    int   // members of one object
	MaxString  int   // bytes of one string
	MaxNumbers int   // digits of one number
}

// DefaultLimits suit application forms: generous for people, tight for
// machines.
var DefaultLimits = Limits{MaxBytes: 1 << 20, MaxDepth: 16, MaxItems: 1000, MaxKeys: 500, MaxString: 64 << 10, MaxNumbers: 40}

// DocumentError reports a document that could not be read, with the
// path where reading stopped.
type DocumentError struct {
	Path   string
	Offset int64
	Reason string
	err    error
}

func (e *DocumentError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("document at %s (byte %d): %s", e.Path, e.Offset, e.Reason)
	}
	return fmt.Sprintf("document (byte %d): %s", e.Offset, e.Reason)
}

func (e *DocumentError) Unwrap() error { return e.err }

// ParseDocument reads one JSON object within the limits. Numbers are kept
// as json.Number so that 3 and 3.0 stay distinct, as they are in CUE.
// Exceeding a limit yields a *DocumentError wrapping ErrTooLarge.
func ParseDocument(r io.Reader, lim Limits) (map[string]any, error) {
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	lr := &io.LimitedReader{R: r, N: lim.MaxBytes + 1}
	data, err := io.ReadAll(lr)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, &DocumentError{Offset: lim.MaxBytes, Reason: fmt.Sprintf("larger than %d bytes", lim.MaxBytes), err: ErrTooLarge}
	}
	if !utf8.Valid(data) {
		return nil, &DocumentError{Reason: "not valid UTF-8"}
	}
	p := &docParser{dec: json.NewDecoder(bytes.NewReader(data)), lim: lim}
	p.dec.UseNumber()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(nil, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &DocumentError{Reason: "expected a JSON object"}
	}
	m, err := p.object(nil, 1)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &DocumentError{Offset: p.dec.InputOffset(), Reason: "unexpected data after the document"}
	}
	return m, nil
}

type docParser struct {
	dec *json.Decoder
	lim Limits
}

func (p *docParser) fail(path *pathElem, err error) error {
	var se *json.SyntaxError
	reason := err.Error()
	if errors.As(err, &se) {
		reason = "malformed JSON: " + se.Error()
	} else if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		reason = "malformed JSON: unexpected end"
	}
	return &DocumentError{Path: path.String(), Offset: p.dec.InputOffset(), Reason: reason}
}

func (p *docParser) tooLarge(path *pathElem, format string, args ...any) error {
	return &DocumentError{Path: path.String(), Offset: p.dec.InputOffset(), Reason: fmt.Sprintf(format, args...), err: ErrTooLarge}
}

func (p *docParser) object(path *pathElem, depth int) (map[string]any, error) {
	m := map[string]any{}
	for {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.fail(path, err)
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return m, nil
		}
		key, ok := tok.(string)
		if !ok {
			return nil, p.fail(path, fmt.Errorf("expected a member name"))
		}
		if len(m) >= p.lim.MaxKeys {
			return nil, p.tooLarge(path, "more than %d members", p.lim.MaxKeys)
		}
		if len(key) > 200 {
			return nil, p.tooLarge(path, "member name longer than 200 bytes")
		}
		kp := &pathElem{parent: path, name: key, index: -1}
		if _, dup := m[key]; dup {
			return nil, &DocumentError{Path: kp.String(), Offset: p.dec.InputOffset(), Reason: "member given twice"}
		}
		v, err := p.value(kp, depth)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
}

func (p *docParser) value(path *pathElem, depth int) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.fail(path, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= p.lim.MaxDepth {
			return nil, p.tooLarge(path, "nested deeper than %d levels", p.lim.MaxDepth)
		}
		switch t {
		case '{':
			return p.object(path, depth+1)
		case '[':
			var l []any
			for p.dec.More() {
				if len(l) >= p.lim.MaxItems {
					return nil, p.tooLarge(path, "more than %d entries", p.lim.MaxItems)
				}
				v, err := p.value(&pathElem{parent: path, index: len(l)}, depth+1)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.fail(path, err)
			}
			if l == nil {
				l = []any{}
			}
			return l, nil
		}
		return nil, p.fail(path, fmt.Errorf("unexpected %v", t))
	case string:
		if len(t) > p.lim.MaxString {
			return nil, p.tooLarge(path, "text longer than %d bytes", p.lim.MaxString)
		}
		return t, nil
	case json.Number:
		if len(t) > p.lim.MaxNumbers {
			return nil, p.tooLarge(path, "number longer than %d digits", p.lim.MaxNumbers)
		}
		return t, nil
	default:
		return t, nil // bool or nil
	}
}
