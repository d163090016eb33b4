package rql

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// kind is the JSON type of a value as comparisons see it. Values of
// different kinds never compare: no coercion between strings, numbers and
// booleans (as Ditto's search, and as its documentation states).
type kind uint8

const (
	kindOther kind = iota // objects, arrays, anything unknown
	kindNull
	kindBool
	kindNumber
	kindString
)

// scalar is a comparable value: a literal or a candidate from a thing.
type scalar struct {
	kind  kind
	b     bool
	isInt bool // number: i is exact; else f
	i     int64
	f     float64
	s     string
}

// scalarOf classifies a value of a decoded JSON tree (encoding/json with or
// without UseNumber) or a literal of the syntax tree.
func scalarOf(v any) scalar {
	switch v := v.(type) {
	case nil:
		return scalar{kind: kindNull}
	case string:
		return scalar{kind: kindString, s: v}
	case bool:
		return scalar{kind: kindBool, b: v}
	case json.Number:
		return numberOf(string(v))
	case float64:
		return floatScalar(v)
	case int64:
		return scalar{kind: kindNumber, isInt: true, i: v}
	case int:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case int32:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case float32:
		return floatScalar(float64(v))
	case uint64:
		if v > math.MaxInt64 {
			return floatScalar(float64(v))
		}
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case uint:
		return scalarOf(uint64(v))
	case uint32:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case int8:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case int16:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case uint8:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	case uint16:
		return scalar{kind: kindNumber, isInt: true, i: int64(v)}
	}
	return scalar{}
}

// numberOf reads JSON number text: an int64 when it is an integer that fits,
// else a float64 (as SQLite's JSON functions do).
func numberOf(text string) scalar {
	if isIntegerText(text) {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return scalar{kind: kindNumber, isInt: true, i: i}
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeErr(err) {
		return scalar{}
	}
	return floatScalar(f)
}

// isIntegerText reports whether text is -?digits: only then is ParseInt
// worth trying (its errors allocate).
func isIntegerText(text string) bool {
	if len(text) > 0 && text[0] == '-' {
		text = text[1:]
	}
	if text == "" {
		return false
	}
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return false
		}
	}
	return true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func floatScalar(f float64) scalar {
	if math.IsNaN(f) {
		return scalar{} // not comparable
	}
	return scalar{kind: kindNumber, f: f}
}

// compare orders two scalars of the same kind: -1, 0 or 1; ok is false when
// they cannot be ordered (different kinds, null, other).
func compare(a, b scalar) (c int, ok bool) {
	if a.kind != b.kind {
		return 0, false
	}
	switch a.kind {
	case kindString:
		switch {
		case a.s < b.s:
			return -1, true
		case a.s > b.s:
			return 1, true
		}
		return 0, true
	case kindNumber:
		return compareNumbers(a, b), true
	case kindBool:
		switch {
		case a.b == b.b:
			return 0, true
		case b.b: // false < true
			return -1, true
		}
		return 1, true
	}
	return 0, false
}

// compareNumbers compares exactly, also an int64 with a float64 (as SQLite
// does), never through a lossy conversion.
func compareNumbers(a, b scalar) int {
	switch {
	case a.isInt && b.isInt:
		return cmp3(a.i < b.i, a.i > b.i)
	case !a.isInt && !b.isInt:
		return cmp3(a.f < b.f, a.f > b.f)
	case a.isInt:
		return compareIntFloat(a.i, b.f)
	}
	return -compareIntFloat(b.i, a.f)
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

// compareIntFloat compares i with f exactly.
func compareIntFloat(i int64, f float64) int {
	const two63 = 9223372036854775808.0
	switch {
	case f >= two63:
		return -1
	case f < -two63:
		return 1
	}
	t := math.Trunc(f) // exact, and in int64's range
	ti := int64(t)
	switch {
	case i < ti:
		return -1
	case i > ti:
		return 1
	}
	return cmp3(f > t, f < t)
}

// equal reports whether a equals b: same kind and same value; null equals
// null.
func equal(a, b scalar) bool {
	if a.kind == kindNull && b.kind == kindNull {
		return true
	}
	c, ok := compare(a, b)
	return ok && c == 0
}

// pattern is a compiled like/ilike pattern: '*' any run of characters, '?'
// exactly one character (a Unicode code point), everything else literal;
// anchored at both ends. Ditto has no escape for a literal '*' or '?'.
type pattern struct {
	runes []rune
	fold  bool // ilike: ASCII letters match regardless of case
}

func compilePattern(s string, fold bool) *pattern {
	p := &pattern{fold: fold}
	for _, r := range s {
		if r == '*' && len(p.runes) > 0 && p.runes[len(p.runes)-1] == '*' {
			continue // ** is *
		}
		if fold {
			r = foldASCII(r)
		}
		p.runes = append(p.runes, r)
	}
	return p
}

// foldASCII lowers ASCII letters only: Ditto's ilike (Java's
// CASE_INSENSITIVE without UNICODE_CASE) and SQLite's LIKE both fold ASCII
// only.
func foldASCII(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + ('a' - 'A')
	}
	return r
}

// match reports whether s matches the whole pattern. It backtracks only to
// the last '*', so it runs in O(len(s)·len(pattern)) and never allocates.
func (p *pattern) match(s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		r, size := utf8.DecodeRuneInString(s[si:])
		if p.fold {
			r = foldASCII(r)
		}
		if pi < len(p.runes) {
			switch pr := p.runes[pi]; {
			case pr == '*':
				starP, starS = pi, si
				pi++
				continue
			case pr == '?' || pr == r:
				pi++
				si += size
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' take one more character and retry.
		_, size = utf8.DecodeRuneInString(s[starS:])
		starS += size
		pi, si = starP+1, starS
	}
	for pi < len(p.runes) && p.runes[pi] == '*' {
		pi++
	}
	return pi == len(p.runes)
}
