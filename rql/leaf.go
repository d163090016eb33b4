package rql

import (
	"context"
	"strings"
	"time"

	"github.com/twinway/twinway/protocol"
)

type op uint8

const (
	opEq op = iota
	opNe
	opGt
	opGe
	opLt
	opLe
	opLike // like and ilike (pattern.fold)
	opIn
	opExists
	opEmpty
)

// leaf is one compiled comparison, exists or empty. Its eval method is the
// gval evaluable the logic language refers to as #<index>.
type leaf struct {
	field     Field
	op        op
	lits      []literal
	dynamic   bool // a literal is a time placeholder
	pattern   *pattern
	neMissing bool
}

// mode is what walk tests at the values a property resolves to.
type mode uint8

const (
	modeExists   mode = iota // any value
	modeNotEmpty             // a value that is not null, "", [] or {}
	modeCompare              // a value (or an element of an array value) that satisfies op
)

// eval is a gval.Evaluable: param is the Thing map, or *Input when the
// predicate uses placeholders. It never fails.
func (l *leaf) eval(_ context.Context, param any) (any, error) {
	var (
		in    *Input
		thing map[string]any
	)
	switch x := param.(type) {
	case map[string]any:
		thing = x
	case *Input:
		in, thing = x, x.Thing
	}
	return l.match(thing, in), nil
}

func (l *leaf) match(thing map[string]any, in *Input) bool {
	lits := l.lits
	var one [1]literal
	if l.dynamic {
		resolved := one[:]
		if len(lits) > 1 {
			resolved = make([]literal, len(lits))
		}
		for i := range lits {
			resolved[i] = lits[i].resolve(in)
		}
		lits = resolved
	}
	switch l.op {
	case opExists:
		return l.resolveAny(thing, in, modeExists, nil)
	case opEmpty:
		if l.field.Wildcard() {
			return l.emptyInSomeFeature(thing)
		}
		// empty: no value the property resolves to has content (vacuously
		// true when it resolves to none).
		return !l.resolveAny(thing, in, modeNotEmpty, nil)
	case opNe:
		// ne: not equal. By default (Ditto's search) only where the
		// property exists.
		if l.resolveAny(thing, in, modeCompare, lits) {
			return false
		}
		return l.neMissing || l.resolveAny(thing, in, modeExists, nil)
	}
	return l.resolveAny(thing, in, modeCompare, lits)
}

// emptyInSomeFeature is empty(features/*/…): some feature has nothing
// with content there (Ditto's $elemMatch over the features);
// empty(features/*) itself means that there is no feature.
func (l *leaf) emptyInSomeFeature(thing map[string]any) bool {
	features, _ := thing["features"].(map[string]any)
	if len(l.field.Keys) == 2 {
		return len(features) == 0
	}
	for _, feature := range features {
		if !l.walk(feature, 2, modeNotEmpty, nil) {
			return true
		}
	}
	return false
}

// resolveAny reports whether some value the property resolves to in thing
// passes the test of m.
func (l *leaf) resolveAny(thing map[string]any, in *Input, m mode, lits []literal) bool {
	f := &l.field
	switch f.Kind {
	case FieldPlaceholder:
		if in == nil || in.Placeholder == nil {
			return false
		}
		s, ok := in.Placeholder(f.Name)
		switch {
		case !ok:
			return false
		case m == modeExists:
			return true
		case m == modeNotEmpty:
			return s != ""
		}
		return l.testScalar(scalar{kind: kindString, s: s}, lits)
	case FieldTime:
		v, ok := thing[f.Keys[0]]
		return ok && l.testTime(v, m, lits)
	}
	if f.Wildcard() {
		features, _ := thing["features"].(map[string]any)
		for _, feature := range features {
			if l.walk(feature, 2, m, lits) {
				return true
			}
		}
		return false
	}
	return l.walk(thing, 0, m, lits)
}

// walk follows field.Keys[i:] from v. Objects are entered by key; an array
// met before the last key is traversed element by element (objects only),
// unless it stands where the thing model has an object (i <= Model): the
// value reached is what Ditto's getValueFlatteningArrays collects.
func (l *leaf) walk(v any, i int, m mode, lits []literal) bool {
	keys := l.field.Keys
	for i < len(keys) {
		switch x := v.(type) {
		case map[string]any:
			child, ok := x[keys[i]]
			if !ok {
				return false
			}
			v = child
			i++
		case []any:
			if i <= l.field.Model {
				return false
			}
			for _, e := range x {
				if _, obj := e.(map[string]any); obj && l.walk(e, i, m, lits) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return l.test(v, m, lits)
}

// test applies m to one resolved value. A comparison matches an array when
// one of its elements matches.
func (l *leaf) test(v any, m mode, lits []literal) bool {
	switch m {
	case modeExists:
		return true
	case modeNotEmpty:
		return hasContent(v)
	}
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if l.testScalar(scalarOf(e), lits) {
				return true
			}
		}
		return false
	}
	return l.testScalar(scalarOf(v), lits)
}

// hasContent is the opposite of Ditto's "empty": absent, null, "", [] or {}.
func hasContent(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// testScalar applies the comparison to one candidate value; ne tests
// equality (match negates it).
func (l *leaf) testScalar(c scalar, lits []literal) bool {
	switch l.op {
	case opLike:
		return c.kind == kindString && l.pattern.match(c.s)
	case opEq, opNe, opIn:
		for i := range lits {
			if equal(c, lits[i].scalar) {
				return true
			}
		}
		return false
	}
	r, ok := compare(c, lits[0].scalar)
	return ok && l.orderHolds(r)
}

// orderHolds reads the result of comparing a candidate with the literal.
func (l *leaf) orderHolds(r int) bool {
	switch l.op {
	case opGt:
		return r > 0
	case opGe:
		return r >= 0
	case opLt:
		return r < 0
	case opLe:
		return r <= 0
	case opEq, opNe, opIn:
		return r == 0
	}
	return false
}

// testTime applies m to _created or _modified (an ISO-8601 string, or a
// time.Time). A literal that reads as an instant compares as an instant
// (the field is to the microsecond, as Ditto writes it); any other string
// compares with the field's ISO-8601 text; other literals never match.
func (l *leaf) testTime(v any, m mode, lits []literal) bool {
	var (
		s            string
		t            time.Time
		haveS, haveT bool
	)
	switch x := v.(type) {
	case string:
		s, haveS = x, true
	case time.Time:
		t, haveT = x.UTC().Truncate(time.Microsecond), true
	default:
		return m == modeExists && x != nil
	}
	switch m {
	case modeExists:
		return true
	case modeNotEmpty:
		return haveT || s != ""
	}
	if l.op == opLike {
		if !haveS {
			s = protocol.FormatInstant(t)
		}
		return l.pattern.match(s)
	}
	for i := range lits {
		lit := &lits[i]
		if lit.kind != kindString {
			continue
		}
		var r int
		if lit.isInstant {
			if !haveT {
				if t, haveT = ParseInstant(s); !haveT {
					continue
				}
				t = t.UTC()
			}
			r = t.Compare(lit.instant)
		} else {
			if !haveS {
				s, haveS = protocol.FormatInstant(t), true
			}
			r = strings.Compare(s, lit.s)
		}
		if l.orderHolds(r) {
			return true
		}
	}
	return false
}
