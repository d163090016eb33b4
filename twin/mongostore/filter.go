package mongostore

// The RQL → BSON translation. Filter turns a filter's syntax tree into a
// MongoDB query over the stored documents (doc.go) that matches exactly the
// things rql.Compile's predicate matches (package rql documents the
// semantics; the store contract suite holds every store to it).
//
// A leaf becomes a condition on one path: t.<escaped keys> for the thing's
// JSON, f.v.<escaped keys> for features/*/…, or a top-level field for
// thingId (_id), _namespace, policyId, _revision, _created and _modified.
// MongoDB's own path semantics then do what rql's do: an array met on the
// way is entered element by element (objects only; an array inside an
// array is never entered, and t stores those as []), and a comparison
// matches a value or one element of an array value. Comparisons are
// type-strict in MongoDB too ("type bracketing": $gt 5 never matches a
// string), numbers compare exactly across int64 and double, strings by
// their bytes, false < true. Where MongoDB differs, the translation says
// so:
//
//   - eq(p,null): {p: null} also matches a missing p; $type "null" does not.
//   - ne(p,v): $ne alone also matches a missing p; $exists: true is added
//     (as Ditto does).
//   - gt/ge/lt/le with null match nothing in rql; {$gte: null} would match
//     missing values.
//   - like/ilike: an anchored $regex; '*' and '?' become [\s\S]* and
//     [\s\S] (one code point: MongoDB's regexes are UTF-8), every other
//     character is literal, and ilike folds ASCII letters only, as [aA]
//     classes, never with the 'i' option (which folds Unicode).
//   - empty(p): "no value at p has content", i.e. none of: a number or a
//     boolean ($type), a non-empty string ($gt ""), a non-empty object
//     ($gt {}: {} is the least document), a non-empty array (p.0 exists;
//     no stored key is a number, see escape.go, so p.0 can only be an
//     array index).
//   - features/*: f holds every feature as {id, v}; a leaf on
//     features/*/x is a condition on f.v.x, which MongoDB answers for
//     some feature, as rql does; empty(features/*/x) needs one feature
//     with nothing at x, so it uses $elemMatch.

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// matchNone and matchAll are the constant filters.
var (
	matchNone = bson.D{{Key: fieldID, Value: bson.D{{Key: "$in", Value: bson.A{}}}}}
	matchAll  = bson.D{}
)

func rqlError(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeRQLInvalid, "Invalid RQL expression: %s.", fmt.Sprintf(format, args...))
}

// Filter translates an RQL filter (nil: every thing) into a MongoDB query
// document. Time placeholders (time:now…) resolve at now, so the result
// depends on nothing but its arguments. Errors are *protocol.Error
// rql.expression.invalid (400).
func Filter(n rql.Node, now time.Time) (bson.D, error) {
	if n == nil {
		return matchAll, nil
	}
	tr := translator{now: now}
	return tr.node(n, 0)
}

type translator struct{ now time.Time }

func (tr *translator) node(n rql.Node, depth int) (bson.D, error) {
	if depth > rql.MaxDepth+1 {
		return nil, rqlError("and, or and not nest deeper than %d levels", rql.MaxDepth)
	}
	switch n := n.(type) {
	case *rql.And:
		if n != nil {
			return tr.logical("$and", n.Children, depth)
		}
	case *rql.Or:
		if n != nil {
			return tr.logical("$or", n.Children, depth)
		}
	case *rql.Not:
		if n == nil || n.Child == nil {
			return nil, rqlError("not() needs a query")
		}
		c, err := tr.node(n.Child, depth+1)
		if err != nil {
			return nil, err
		}
		return not(c), nil
	case *rql.Compare:
		if n != nil {
			return tr.compare(n)
		}
	case *rql.In:
		if n != nil {
			if len(n.Values) == 0 {
				return nil, rqlError("in() needs at least one value")
			}
			return tr.comparison(n.Property, rql.OpEq, n.Values)
		}
	case *rql.Exists:
		if n != nil {
			return tr.presence(n.Property, false)
		}
	case *rql.Empty:
		if n != nil {
			return tr.presence(n.Property, true)
		}
	}
	return nil, rqlError("unknown node %T", n)
}

func (tr *translator) logical(op string, children []rql.Node, depth int) (bson.D, error) {
	if len(children) == 0 {
		return nil, rqlError("and() and or() need at least one query")
	}
	if len(children) == 1 {
		return tr.node(children[0], depth+1)
	}
	parts := make(bson.A, 0, len(children))
	for _, c := range children {
		d, err := tr.node(c, depth+1)
		if err != nil {
			return nil, err
		}
		parts = append(parts, d)
	}
	return bson.D{{Key: op, Value: parts}}, nil
}

func not(d bson.D) bson.D { return bson.D{{Key: "$nor", Value: bson.A{d}}} }

func and(ds ...bson.D) bson.D {
	if len(ds) == 1 {
		return ds[0]
	}
	a := make(bson.A, len(ds))
	for i, d := range ds {
		a[i] = d
	}
	return bson.D{{Key: "$and", Value: a}}
}

func or(ds ...bson.D) bson.D {
	if len(ds) == 1 {
		return ds[0]
	}
	a := make(bson.A, len(ds))
	for i, d := range ds {
		a[i] = d
	}
	return bson.D{{Key: "$or", Value: a}}
}

func cond(path string, op string, v any) bson.D {
	return bson.D{{Key: path, Value: bson.D{{Key: op, Value: v}}}}
}

func (tr *translator) compare(n *rql.Compare) (bson.D, error) {
	switch n.Op {
	case rql.OpEq, rql.OpNe, rql.OpGt, rql.OpGe, rql.OpLt, rql.OpLe, rql.OpLike, rql.OpILike:
		return tr.comparison(n.Property, n.Op, []any{n.Value})
	}
	return nil, rqlError("unknown operator %q (at position %d)", n.Op, n.Pos)
}

// target is where a property's values are stored.
type target struct {
	kind   targetKind
	path   string // the MongoDB path (for a time: the int64 field)
	text   string // a time's ISO-8601 text field
	field  rql.Field
	column bool // a top-level field that every stored thing has
	isText bool // column: a string (else _revision, an int64)
}

type targetKind uint8

const (
	targetJSON targetKind = iota
	targetTime
	targetWildcard // features/*/…: path is below f (f.v.…)
)

// columns are the properties answered by a top-level field.
var columns = map[string]struct {
	field  string
	isText bool
}{
	"thingId":    {fieldID, true},
	"_namespace": {fieldNamespace, true},
	"policyId":   {fieldPolicyID, true},
	"_revision":  {fieldRevision, false},
}

func resolve(property string, use rql.Use) (target, error) {
	f, err := rql.ResolveField(property, use)
	if err != nil {
		return target{}, rqlError("%s", err.Error())
	}
	switch {
	case f.Kind == rql.FieldPlaceholder:
		return target{}, rqlError("the placeholder <%s> cannot be used in a search", property)
	case len(f.Keys) > maxSearchKeys:
		return target{}, rqlError("the property <%s> is deeper than %d keys", property, maxSearchKeys)
	}
	if f.Kind == rql.FieldTime {
		if f.Keys[0] == "_created" {
			return target{kind: targetTime, path: fieldCreated, text: fieldCreatedText, field: f}, nil
		}
		return target{kind: targetTime, path: fieldModified, text: fieldModifiedText, field: f}, nil
	}
	if c, ok := columns[f.Keys[0]]; ok && len(f.Keys) == 1 {
		return target{kind: targetJSON, path: c.field, field: f, column: true, isText: c.isText}, nil
	}
	if f.Wildcard() {
		return target{kind: targetWildcard, path: escapePath(fieldFeatures+"."+fieldFeatureValue, f.Keys[2:]), field: f}, nil
	}
	return target{kind: targetJSON, path: escapePath(fieldThing, f.Keys), field: f}, nil
}

// presence is exists(property), or empty(property).
func (tr *translator) presence(property string, empty bool) (bson.D, error) {
	tg, err := resolve(property, rql.UseExists)
	if err != nil {
		return nil, err
	}
	switch {
	case tg.kind == targetTime:
		// A stored time always has content.
		return cond(tg.path, "$exists", !empty), nil
	case tg.column:
		switch {
		case !empty:
			return matchAll, nil
		case tg.isText:
			return bson.D{{Key: tg.path, Value: ""}}, nil
		}
		return matchNone, nil
	case tg.kind == targetWildcard && len(tg.field.Keys) == 2:
		// features/* itself: some feature exists, or none does.
		return cond(fieldFeatures+"."+fieldFeatureID, "$exists", !empty), nil
	case tg.kind == targetWildcard && empty:
		// Some feature has nothing with content there.
		rel := escapePath(fieldFeatureValue, tg.field.Keys[2:])
		return cond(fieldFeatures, "$elemMatch", not(hasContent(rel))), nil
	case empty:
		return not(hasContent(tg.path)), nil
	}
	return cond(tg.path, "$exists", true), nil
}

// hasContent matches when some value at path is not null, "", [] or {}.
func hasContent(path string) bson.D {
	return or(
		cond(path, "$type", bson.A{"number", "bool"}),
		cond(path, "$gt", ""),
		cond(path, "$gt", bson.D{}),
		cond(path+".0", "$exists", true),
	)
}

// literal is a filter value with its placeholder resolved: nil, bool,
// string, int64 or float64.
func (tr *translator) literal(v any) (any, error) {
	switch x := v.(type) {
	case rql.Placeholder:
		r, err := rql.ResolveTime(x.Name, tr.now)
		if err != nil {
			return nil, rqlError("%s", err.Error())
		}
		return r, nil
	case nil, bool, string, int64:
		return x, nil
	case float64:
		if x != x || x > 1.7976931348623157e308 || x < -1.7976931348623157e308 {
			return nil, rqlError("the number %v is not allowed", x)
		}
		return x, nil
	}
	return nil, rqlError("unsupported value %T", v)
}

// comparison is op (eq, ne, gt, ge, lt, le, like, ilike; eq with several
// values is in) of the property with values.
func (tr *translator) comparison(property, op string, values []any) (bson.D, error) {
	tg, err := resolve(property, rql.UseFilter)
	if err != nil {
		return nil, err
	}
	lits := make([]any, len(values))
	for i, v := range values {
		if lits[i], err = tr.literal(v); err != nil {
			return nil, err
		}
	}
	if op == rql.OpLike || op == rql.OpILike {
		pat, ok := lits[0].(string)
		if !ok {
			return nil, rqlError("%s needs a string pattern", op)
		}
		path := tg.path
		if tg.kind == targetTime {
			path = tg.text
		}
		return cond(path, "$regex", likeRegex(pat, op == rql.OpILike)), nil
	}
	if tg.kind == targetTime {
		return timeComparison(tg, op, lits), nil
	}
	switch op {
	case rql.OpEq:
		return eqAny(tg.path, lits), nil
	case rql.OpNe:
		v := lits[0]
		if tg.column {
			return cond(tg.path, "$ne", v), nil
		}
		if v == nil {
			return bson.D{{Key: tg.path, Value: bson.D{{Key: "$exists", Value: true}, {Key: "$not", Value: bson.D{{Key: "$type", Value: "null"}}}}}}, nil
		}
		return bson.D{{Key: tg.path, Value: bson.D{{Key: "$exists", Value: true}, {Key: "$ne", Value: v}}}}, nil
	}
	v := lits[0]
	if v == nil {
		return matchNone, nil // gt/ge/lt/le with null match nothing
	}
	return cond(tg.path, orderOps[op], v), nil
}

var orderOps = map[string]string{rql.OpGt: "$gt", rql.OpGe: "$gte", rql.OpLt: "$lt", rql.OpLe: "$lte"}

// eqAny matches when some value at path equals one of lits (null: a
// present null).
func eqAny(path string, lits []any) bson.D {
	var vals bson.A
	null := false
	for _, v := range lits {
		if v == nil {
			null = true
			continue
		}
		vals = append(vals, v)
	}
	var parts []bson.D
	switch len(vals) {
	case 0:
	case 1:
		parts = append(parts, bson.D{{Key: path, Value: vals[0]}})
	default:
		parts = append(parts, cond(path, "$in", vals))
	}
	if null {
		parts = append(parts, cond(path, "$type", "null"))
	}
	return or(parts...)
}

// likeRegex is the anchored regular expression of a like pattern: '*' any
// run of characters, '?' exactly one, everything else literal; ilike folds
// ASCII letters. A leading or trailing '*' drops its anchor instead (the
// same strings match, and a prefix regex can use an index).
func likeRegex(pattern string, fold bool) bson.Regex {
	var b strings.Builder
	runes := []rune(pattern)
	start, end := 0, len(runes)
	if start < end && runes[start] == '*' {
		for start < end && runes[start] == '*' {
			start++
		}
	} else {
		b.WriteByte('^')
	}
	trailing := false
	if end > start && runes[end-1] == '*' {
		for end > start && runes[end-1] == '*' {
			end--
		}
		trailing = true
	}
	for i := start; i < end; i++ {
		switch r := runes[i]; {
		case r == '*':
			if runes[i-1] != '*' {
				b.WriteString(`[\s\S]*`)
			}
		case r == '?':
			b.WriteString(`[\s\S]`)
		case fold && r >= 'a' && r <= 'z':
			b.WriteString("[" + string(r-'a'+'A') + string(r) + "]")
		case fold && r >= 'A' && r <= 'Z':
			b.WriteString("[" + string(r) + string(r-'A'+'a') + "]")
		case r == 0:
			b.WriteString(`\x00`) // a BSON regex is a C string
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if !trailing && (start < end || start == 0) {
		b.WriteString(`\z`)
	}
	return bson.Regex{Pattern: b.String()}
}

// timeComparison compares _created or _modified as rql does: a literal
// that reads as an instant compares with the stored instant (truncated to
// the microsecond, as it is written), as bounds on the int64 nanoseconds;
// any other string with its ISO-8601 text; other literals never match.
func timeComparison(tg target, op string, lits []any) bson.D {
	eqOp := op
	if op == rql.OpNe {
		eqOp = rql.OpEq
	}
	var terms []bson.D
	for _, v := range lits {
		s, ok := v.(string)
		if !ok {
			continue
		}
		var t bson.D
		if inst, ok := rql.ParseInstant(s); ok {
			t = instantCondition(tg.path, eqOp, inst)
		} else if eqOp == rql.OpEq {
			t = bson.D{{Key: tg.text, Value: s}}
		} else {
			t = cond(tg.text, orderOps[eqOp], s)
		}
		if t != nil {
			terms = append(terms, t)
		}
	}
	var eq bson.D
	if len(terms) > 0 {
		eq = or(terms...)
	}
	if op == rql.OpNe {
		exists := cond(tg.path, "$exists", true)
		if eq == nil {
			return exists
		}
		return and(exists, not(eq))
	}
	if eq == nil {
		return matchNone
	}
	return eq
}

// instantCondition compares T(path) with the instant l, where T truncates
// the stored nanoseconds to microseconds; nil matches nothing.
func instantCondition(path, op string, l time.Time) bson.D {
	const guard = 1 << 20 // stay clear of int64's ends
	present := cond(path, "$exists", true)
	switch {
	case l.Before(minTime.Add(guard)):
		if op == rql.OpGt || op == rql.OpGe {
			return present
		}
		return nil
	case l.After(maxTime.Add(-guard)):
		if op == rql.OpLt || op == rql.OpLe {
			return present
		}
		return nil
	}
	ns := l.UnixNano()
	floorK := ns - ((ns%1000)+1000)%1000
	ceilK := floorK
	if ns != floorK {
		ceilK += 1000
	}
	switch op {
	case rql.OpGt:
		return cond(path, "$gte", floorK+1000)
	case rql.OpGe:
		return cond(path, "$gte", ceilK)
	case rql.OpLt:
		return cond(path, "$lt", ceilK)
	case rql.OpLe:
		return cond(path, "$lt", floorK+1000)
	}
	if ns != floorK {
		return nil // T(path) is a whole microsecond
	}
	return bson.D{{Key: path, Value: bson.D{{Key: "$gte", Value: ns}, {Key: "$lt", Value: ns + 1000}}}}
}
