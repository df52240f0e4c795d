package engine

import (
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
)

// ecmaPattern rewrites a Go (RE2) regular expression as an ECMA-262 one
// that matches exactly the same strings, for JSON Schema, whose patterns
// are ECMA-262. The two dialects read the same text differently: \s in
// ECMA-262 also matches U+00A0 and U+2028, . excludes \r and U+2028, and
// POSIX classes, (?i) and \A do not exist there. So the expression is
// parsed and written out again with every class spelt as explicit
// ranges. The result is valid in both dialects (with or without ECMA's
// u flag), so Go validators read it the same way. Multi-line anchors
// (?m) cannot be expressed without flags and are an error.
func ecmaPattern(expr string) (string, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := writeECMA(&b, re); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeECMA(b *strings.Builder, re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpNoMatch:
		b.WriteString(`[^\s\S]`)
	case syntax.OpEmptyMatch:
		b.WriteString("(?:)")
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && unicode.SimpleFold(r) != r {
				b.WriteByte('[')
				for f := r; ; {
					writeClassRune(b, f)
					if f = unicode.SimpleFold(f); f == r {
						break
					}
				}
				b.WriteByte(']')
				continue
			}
			writeRune(b, r)
		}
	case syntax.OpCharClass:
		b.WriteByte('[')
		if len(re.Rune) == 0 {
			b.WriteString(`^\s\S`)
		}
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			writeClassRune(b, lo)
			if hi != lo {
				if hi > lo+1 {
					b.WriteByte('-')
				}
				writeClassRune(b, hi)
			}
		}
		b.WriteByte(']')
	case syntax.OpAnyCharNotNL:
		b.WriteString("[^\\n]")
	case syntax.OpAnyChar:
		// \s and \S differ between the dialects, but together they are
		// every character in both.
		b.WriteString(`[\s\S]`)
	case syntax.OpBeginText:
		b.WriteByte('^')
	case syntax.OpEndText:
		b.WriteByte('$')
	case syntax.OpBeginLine, syntax.OpEndLine:
		return fmt.Errorf("multi-line anchors ((?m)^ and $) have no ECMA-262 equivalent without flags")
	case syntax.OpWordBoundary:
		b.WriteString(`\b`)
	case syntax.OpNoWordBoundary:
		b.WriteString(`\B`)
	case syntax.OpCapture:
		b.WriteByte('(')
		if err := writeECMA(b, re.Sub[0]); err != nil {
			return err
		}
		b.WriteByte(')')
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if err := writeAtom(b, re.Sub[0]); err != nil {
			return err
		}
		switch re.Op {
		case syntax.OpStar:
			b.WriteByte('*')
		case syntax.OpPlus:
			b.WriteByte('+')
		case syntax.OpQuest:
			b.WriteByte('?')
		default:
			b.WriteString("{" + strconv.Itoa(re.Min))
			switch {
			case re.Max < 0:
				b.WriteString(",")
			case re.Max != re.Min:
				b.WriteString("," + strconv.Itoa(re.Max))
			}
			b.WriteByte('}')
		}
		if re.Flags&syntax.NonGreedy != 0 {
			b.WriteByte('?')
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if s.Op == syntax.OpAlternate {
				if err := writeGroup(b, s); err != nil {
					return err
				}
				continue
			}
			if err := writeECMA(b, s); err != nil {
				return err
			}
		}
	case syntax.OpAlternate:
		for i, s := range re.Sub {
			if i > 0 {
				b.WriteByte('|')
			}
			if err := writeECMA(b, s); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unsupported regular expression operator %v", re.Op)
	}
	return nil
}

// writeAtom writes re so that a following quantifier applies to all of it.
func writeAtom(b *strings.Builder, re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpCapture:
		return writeECMA(b, re)
	case syntax.OpLiteral:
		if len(re.Rune) == 1 {
			return writeECMA(b, re)
		}
	}
	return writeGroup(b, re)
}

func writeGroup(b *strings.Builder, re *syntax.Regexp) error {
	b.WriteString("(?:")
	if err := writeECMA(b, re); err != nil {
		return err
	}
	b.WriteByte(')')
	return nil
}

// writeRune writes a literal rune outside a class.
func writeRune(b *strings.Builder, r rune) {
	if strings.ContainsRune(`\^$.|?*+()[]{}/`, r) {
		b.WriteByte('\\')
		b.WriteRune(r)
		return
	}
	writePlain(b, r)
}

// writeClassRune writes a rune inside a class.
func writeClassRune(b *strings.Builder, r rune) {
	if strings.ContainsRune(`\]^-[`, r) {
		b.WriteByte('\\')
		b.WriteRune(r)
		return
	}
	writePlain(b, r)
}

// writePlain writes a rune that is not a metacharacter: printable ones as
// they are, others as an escape both dialects read alike.
func writePlain(b *strings.Builder, r rune) {
	switch {
	case r == '\t':
		b.WriteString(`\t`)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\r':
		b.WriteString(`\r`)
	case r == '\f':
		b.WriteString(`\f`)
	case r == '\v':
		b.WriteString(`\v`)
	case r < 0x20 || r == 0x7f:
		fmt.Fprintf(b, `\x%02X`, r)
	default:
		// Printable or not, a rune beyond ASCII is written as itself: no
		// escape is spelt alike in RE2 (\x{…}) and ECMA-262 (\u…).
		b.WriteRune(r)
	}
}
