package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
)

// HashPayload returns a hex SHA-256 of the JSON encoding of parts, each
// as json.Encoder writes it (with its newline). Map keys are sorted by
// encoding/json, so equal values hash equally.
//
// The hashes are stored with submissions and compared on every replay
// of an idempotency key, so the bytes hashed never change: the usual
// values (maps, lists, strings, numbers, booleans, null) are written by
// appendCanonical exactly as encoding/json writes them, without
// reflection, and any other value falls back to encoding/json itself
// (TestHashPayloadMatchesEncodingJSON, FuzzHashPayload).
func HashPayload(parts ...any) string {
	h := sha256.New()
	bp := payloadBufs.Get().(*[]byte)
	for _, p := range parts {
		b, ok := appendCanonical((*bp)[:0], p, 0)
		if ok {
			h.Write(append(b, '\n'))
		} else if err := json.NewEncoder(h).Encode(p); err != nil {
			// unencodable values still hash deterministically by type
			io.WriteString(h, err.Error())
		}
		if cap(b) <= 64<<10 {
			*bp = b[:0]
		}
	}
	payloadBufs.Put(bp)
	return hex.EncodeToString(h.Sum(nil))
}

var payloadBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxCanonicalDepth bounds the recursion of appendCanonical; deeper
// values take encoding/json's path.
const maxCanonicalDepth = 100

// appendCanonical appends the JSON encoding of v as json.Marshal writes
// it, and reports false for a value it does not write (another type, a
// number encoding/json refuses, too deep); b is then garbage.
func appendCanonical(b []byte, v any, depth int) ([]byte, bool) {
	if depth > maxCanonicalDepth {
		return b, false
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case json.Number:
		s := string(x)
		if s == "" {
			s = "0" // encoding/json writes the zero Number as 0
		}
		if !validNumber(s) {
			return b, false
		}
		return append(b, s...), true
	case int64:
		return strconv.AppendInt(b, x, 10), true
	case int:
		return strconv.AppendInt(b, int64(x), 10), true
	case float64:
		return appendJSONFloat(b, x)
	case []string:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']'), true
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendCanonical(b, e, depth+1); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		var small [32]string
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json: sorted by strings.Compare
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var ok bool
			if b, ok = appendCanonical(b, x[k], depth+1); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false
}

// appendJSONString appends s quoted as json.Marshal does (HTML-safe).
// Plain ASCII is copied; anything else is left to encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json writes a float64.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 is written e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// validNumber reports whether s is a JSON number literal, as
// encoding/json checks a json.Number before writing it.
func validNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}
