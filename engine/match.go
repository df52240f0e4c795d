package engine

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// This file holds fast paths for the two string checks that dominate the
// validation of a typical form: patterns of the simple, anchored kind
// service designers write (^[0-9]{5}$), and ISO dates.

// matcherFor returns a function that reports whether a string matches
// re, exactly as re.MatchString does: a linear matcher without
// backtracking when the pattern allows one, else re.MatchString. It is
// called once per pattern when a service is compiled (compilePlan).
func matcherFor(re *regexp.Regexp) func(string) bool {
	if seq, ok := compileSeq(re.String()); ok {
		return seq.match
	}
	return re.MatchString
}

// item is one step of a simple pattern: a character set repeated min to
// max times (max < 0: unbounded), or an optional group (sub).
type item struct {
	ascii    [2]uint64 // members below 128
	ranges   []rune    // members from 128 on, as lo, hi pairs
	min, max int
	sub      seq // an optional group (x)?
}

type seq []item

// compileSeq translates an anchored pattern (^…$) into a sequence the
// greedy matcher decides correctly: every step of variable length must
// be followed only by characters it cannot itself take, so that taking
// as many as possible is never wrong.
func compileSeq(pattern string) (seq, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 {
		return nil, false
	}
	subs := re.Sub
	if subs[0].Op != syntax.OpBeginText || subs[len(subs)-1].Op != syntax.OpEndText {
		return nil, false
	}
	s, ok := toSeq(subs[1 : len(subs)-1])
	if !ok || !deterministic(s, item{}) {
		return nil, false
	}
	return s, true
}

func toSeq(res []*syntax.Regexp) (seq, bool) {
	var out seq
	for _, re := range res {
		switch re.Op {
		case syntax.OpLiteral:
			if re.Flags&syntax.FoldCase != 0 {
				return nil, false
			}
			for _, r := range re.Rune {
				out = append(out, setItem([]rune{r, r}, 1, 1))
			}
		case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
			out = append(out, setItem(classOf(re), 1, 1))
		case syntax.OpRepeat, syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
			min, max := re.Min, re.Max
			switch re.Op {
			case syntax.OpStar:
				min, max = 0, -1
			case syntax.OpPlus:
				min, max = 1, -1
			case syntax.OpQuest:
				min, max = 0, 1
			}
			sub := re.Sub[0]
			for sub.Op == syntax.OpCapture {
				sub = sub.Sub[0]
			}
			if set := classOf(sub); set != nil {
				out = append(out, setItem(set, min, max))
				continue
			}
			if re.Op != syntax.OpQuest {
				return nil, false
			}
			inner := []*syntax.Regexp{sub}
			if sub.Op == syntax.OpConcat {
				inner = sub.Sub
			}
			g, ok := toSeq(inner)
			if !ok || len(g) == 0 || g[0].min == 0 {
				return nil, false
			}
			out = append(out, item{sub: g})
		case syntax.OpCapture:
			g, ok := toSeq(re.Sub)
			if !ok {
				return nil, false
			}
			out = append(out, g...)
		case syntax.OpConcat:
			g, ok := toSeq(re.Sub)
			if !ok {
				return nil, false
			}
			out = append(out, g...)
		default:
			return nil, false
		}
	}
	return out, true
}

// classOf returns the character set of a single-character expression as
// lo, hi pairs, or nil.
func classOf(re *syntax.Regexp) []rune {
	switch re.Op {
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return nil
		}
		return re.Rune
	case syntax.OpAnyCharNotNL:
		return []rune{0, '\n' - 1, '\n' + 1, utf8.MaxRune}
	case syntax.OpAnyChar:
		return []rune{0, utf8.MaxRune}
	case syntax.OpLiteral:
		if len(re.Rune) == 1 && re.Flags&syntax.FoldCase == 0 {
			return []rune{re.Rune[0], re.Rune[0]}
		}
	}
	return nil
}

func setItem(pairs []rune, min, max int) item {
	it := item{min: min, max: max}
	for i := 0; i < len(pairs); i += 2 {
		lo, hi := pairs[i], pairs[i+1]
		for r := lo; r <= hi && r < 128; r++ {
			it.ascii[r/64] |= 1 << (r % 64)
		}
		if hi >= 128 {
			it.ranges = append(it.ranges, max32(lo, 128), hi)
		}
	}
	return it
}

func max32(a, b rune) rune {
	if a > b {
		return a
	}
	return b
}

func (it *item) has(r rune) bool {
	if r < 128 {
		return it.ascii[r/64]&(1<<(r%64)) != 0
	}
	for i := 0; i < len(it.ranges); i += 2 {
		if r >= it.ranges[i] && r <= it.ranges[i+1] {
			return true
		}
	}
	return false
}

// first returns the set of characters s can start with (as an item's
// set), and whether s can match the empty string.
func (s seq) first() (item, bool) {
	var f item
	for _, it := range s {
		set := it
		if it.sub != nil {
			set, _ = it.sub.first()
		}
		f = union(f, set)
		if it.sub == nil && it.min > 0 {
			return f, false
		}
	}
	return f, true
}

func union(a, b item) item {
	u := item{ascii: [2]uint64{a.ascii[0] | b.ascii[0], a.ascii[1] | b.ascii[1]}}
	u.ranges = append(append(u.ranges, a.ranges...), b.ranges...)
	return u
}

func disjoint(a, b item) bool {
	if a.ascii[0]&b.ascii[0] != 0 || a.ascii[1]&b.ascii[1] != 0 {
		return false
	}
	for i := 0; i < len(a.ranges); i += 2 {
		for j := 0; j < len(b.ranges); j += 2 {
			if a.ranges[i] <= b.ranges[j+1] && b.ranges[j] <= a.ranges[i+1] {
				return false
			}
		}
	}
	return true
}

// deterministic reports whether greedy matching of s, followed by what
// follow can start with, never needs to give back a character.
func deterministic(s seq, follow item) bool {
	for i, it := range s {
		next, empty := s[i+1:].first()
		if empty {
			next = union(next, follow)
		}
		if it.sub != nil {
			f, _ := it.sub.first()
			if !disjoint(f, next) || !deterministic(it.sub, next) {
				return false
			}
			continue
		}
		if it.min != it.max && !disjoint(it, next) {
			return false
		}
	}
	return true
}

// match reports whether all of s is matched.
func (q seq) match(s string) bool {
	n, ok := q.consume(s)
	return ok && n == len(s)
}

// consume matches q at the start of s greedily and returns the bytes
// taken.
func (q seq) consume(s string) (int, bool) {
	pos := 0
	for i := range q {
		it := &q[i]
		if it.sub != nil {
			if n, ok := it.sub.consume(s[pos:]); ok {
				pos += n
			}
			continue
		}
		count := 0
		for it.max < 0 || count < it.max {
			if pos >= len(s) {
				break
			}
			r, size := rune(s[pos]), 1
			if r >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(s[pos:])
			}
			if !it.has(r) {
				break
			}
			pos += size
			count++
		}
		if count < it.min {
			return 0, false
		}
	}
	return pos, true
}

// validDate reports whether s is a date time.Parse("2006-01-02", s)
// accepts: four-digit year, two-digit month and day, the day within the
// month.
func validDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9} {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	year := int(s[0]-'0')*1000 + int(s[1]-'0')*100 + int(s[2]-'0')*10 + int(s[3]-'0')
	month := int(s[5]-'0')*10 + int(s[6]-'0')
	day := int(s[8]-'0')*10 + int(s[9]-'0')
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}
