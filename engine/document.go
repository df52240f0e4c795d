package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
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
// Exceeding a limit yields a *DocumentError wrapping ErrTooLarge; every
// other problem is a *DocumentError too.
//
// The document is read whole (it is at most MaxBytes) and parsed by a
// tokenizer over the bytes, which costs about what encoding/json costs
// to decode the same bytes into an any.
func ParseDocument(r io.Reader, lim Limits) (map[string]any, error) {
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
	data, err := readAll(r, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, &DocumentError{Offset: lim.MaxBytes, Reason: fmt.Sprintf("larger than %d bytes", lim.MaxBytes), err: ErrTooLarge}
	}
	if !utf8.ValidString(data) {
		return nil, &DocumentError{Reason: "not valid UTF-8"}
	}
	p := &docParser{data: data, lim: lim}
	p.space()
	if p.pos >= len(p.data) {
		return nil, p.malformed("unexpected end")
	}
	if p.data[p.pos] != '{' {
		return nil, &DocumentError{Reason: "expected a JSON object"}
	}
	p.pos++
	m, err := p.object(1)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.data) {
		return nil, &DocumentError{Offset: int64(p.pos), Reason: "unexpected data after the document"}
	}
	return m, nil
}

// readAll reads r up to one byte beyond max. The document is read into a
// string once: names, texts and numbers without escapes are slices of
// it rather than allocations of their own. A reader that knows its length
// (bytes.Reader, strings.Reader, bytes.Buffer) is read without growing a
// buffer.
func readAll(r io.Reader, max int64) (string, error) {
	var b strings.Builder
	if l, ok := r.(interface{ Len() int }); ok {
		if int64(l.Len()) > max {
			return "", &DocumentError{Offset: max, Reason: fmt.Sprintf("larger than %d bytes", max), err: ErrTooLarge}
		}
		b.Grow(l.Len())
		if _, err := io.Copy(&b, r); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	data, err := io.ReadAll(&io.LimitedReader{R: r, N: max + 1})
	return string(data), err
}

// docParser is a JSON tokenizer and parser over a whole document.
type docParser struct {
	data string
	pos  int
	lim  Limits
	buf  []byte // for strings with escapes
	// segs is the path to the value being read, rendered only for an
	// error.
	segs []pathSeg
}

func (p *docParser) push(name string, index int) {
	p.segs = append(p.segs, pathSeg{name: name, index: index})
}

func (p *docParser) pop() { p.segs = p.segs[:len(p.segs)-1] }

// path renders the path to the value being read.
func (p *docParser) path() string { return renderPath(p.segs) }

func (p *docParser) malformed(format string, args ...any) error {
	return &DocumentError{Path: p.path(), Offset: int64(p.pos), Reason: "malformed JSON: " + fmt.Sprintf(format, args...)}
}

func (p *docParser) tooLarge(format string, args ...any) error {
	return &DocumentError{Path: p.path(), Offset: int64(p.pos), Reason: fmt.Sprintf(format, args...), err: ErrTooLarge}
}

// unexpected reports the byte at pos, or the end.
func (p *docParser) unexpected(what string) error {
	if p.pos >= len(p.data) {
		return p.malformed("unexpected end")
	}
	return p.malformed("invalid character %q %s", p.data[p.pos], what)
}

func (p *docParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// object parses the members of an object whose '{' has been read.
func (p *docParser) object(depth int) (map[string]any, error) {
	m := map[string]any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return m, nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.unexpected("looking for the beginning of a member name")
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if len(m) >= p.lim.MaxKeys {
			return nil, p.tooLarge("more than %d members", p.lim.MaxKeys)
		}
		if len(key) > 200 {
			return nil, p.tooLarge("member name longer than 200 bytes")
		}
		p.push(key, -1)
		if _, dup := m[key]; dup {
			return nil, &DocumentError{Path: p.path(), Offset: int64(p.pos), Reason: "member given twice"}
		}
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.unexpected("after a member name")
		}
		p.pos++
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.pop()
		m[key] = v
		if done, err := p.next('}', "after an object member"); err != nil {
			return nil, err
		} else if done {
			return m, nil
		}
	}
}

// next reads what follows a member or entry: ',' (another follows) or
// the closing bracket (done).
func (p *docParser) next(closer byte, where string) (done bool, err error) {
	p.space()
	if p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ',':
			p.pos++
			return false, nil
		case closer:
			p.pos++
			return true, nil
		}
	}
	return false, p.unexpected(where)
}

// array parses the entries of an array whose '[' has been read.
func (p *docParser) array(depth int) ([]any, error) {
	l := []any{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return l, nil
	}
	for {
		if len(l) >= p.lim.MaxItems {
			return nil, p.tooLarge("more than %d entries", p.lim.MaxItems)
		}
		p.push("", len(l))
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.pop()
		l = append(l, v)
		if done, err := p.next(']', "after an array entry"); err != nil {
			return nil, err
		} else if done {
			return l, nil
		}
	}
}

// value parses one value; depth is the nesting of the container that
// holds it.
func (p *docParser) value(depth int) (any, error) {
	p.space()
	if p.pos >= len(p.data) {
		return nil, p.malformed("unexpected end")
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		if depth >= p.lim.MaxDepth {
			return nil, p.tooLarge("nested deeper than %d levels", p.lim.MaxDepth)
		}
		p.pos++
		if c == '{' {
			return p.object(depth + 1)
		}
		return p.array(depth + 1)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		if len(s) > p.lim.MaxString {
			return nil, p.tooLarge("text longer than %d bytes", p.lim.MaxString)
		}
		return s, nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.unexpected("looking for the beginning of a value")
}

func (p *docParser) literal(lit string) error {
	if len(p.data)-p.pos < len(lit) || p.data[p.pos:p.pos+len(lit)] != lit {
		return p.malformed("invalid literal, expected %s", lit)
	}
	p.pos += len(lit)
	return nil
}

// number reads a number by the JSON grammar, keeping its text.
func (p *docParser) number() (any, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return nil, p.unexpected("in a number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.unexpected("after a decimal point")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.unexpected("in an exponent")
		}
	}
	if p.pos-start > p.lim.MaxNumbers {
		return nil, p.tooLarge("number longer than %d digits", p.lim.MaxNumbers)
	}
	return json.Number(p.data[start:p.pos]), nil
}

// str reads a string whose '"' is at pos. The document is valid UTF-8.
func (p *docParser) str() (string, error) {
	p.pos++
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := p.data[start:p.pos]
			p.pos++
			return s, nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", p.malformed("control character %q in a string", c)
		}
		p.pos++
	}
	return "", p.malformed("unexpected end in a string")
}

// escaped continues a string at its first backslash.
func (p *docParser) escaped(start int) (string, error) {
	b := append(p.buf[:0], p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			p.buf = b
			return string(b), nil
		case c < 0x20:
			return "", p.malformed("control character %q in a string", c)
		case c != '\\':
			b = append(b, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.data) {
			break
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.malformed("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A pair makes one character; a lone half is replaced,
				// as encoding/json does, and what follows it is read on
				// its own.
				r = p.pairWith(r)
			}
			b = utf8.AppendRune(b, r)
		default:
			p.pos--
			return "", p.malformed("invalid escape \\%c", e)
		}
	}
	return "", p.malformed("unexpected end in a string")
}

// hex4 reads the four hex digits of a \u escape.
func (p *docParser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for i := p.pos; i < p.pos+4; i++ {
		c := p.data[i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}

// pairWith completes the surrogate r with a \uXXXX escape directly
// following, if the two make a pair; otherwise it reads nothing and
// returns the replacement character.
func (p *docParser) pairWith(r rune) rune {
	if len(p.data)-p.pos < 6 || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
		return utf8.RuneError
	}
	save := p.pos
	p.pos += 2
	r2, ok := p.hex4()
	if ok {
		if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
			return dec
		}
	}
	p.pos = save
	return utf8.RuneError
}
