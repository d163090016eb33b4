package sqlitestore

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twinway/twinway/rql"
)

// The translation of an RQL filter into a SQL WHERE clause over the
// things table, with every value a bound parameter.

// sqlBuilder collects the SQL of one query and its parameters. Parameters
// are numbered (?N); a string bound twice (a JSON path, typically) gets one
// number.
type sqlBuilder struct {
	args    []any
	strings map[string]string
	aliases int
	now     time.Time
}

func newSQLBuilder() *sqlBuilder {
	return &sqlBuilder{strings: map[string]string{}, now: time.Now()}
}

func (b *sqlBuilder) param(v any) string {
	if s, ok := v.(string); ok {
		if p, ok := b.strings[s]; ok {
			return p
		}
	}
	b.args = append(b.args, v)
	p := "?" + strconv.Itoa(len(b.args))
	if s, ok := v.(string); ok {
		b.strings[s] = p
	}
	return p
}

func (b *sqlBuilder) alias() string {
	b.aliases++
	return "j" + strconv.Itoa(b.aliases)
}

// jsonPath is the parameter holding SQLite's JSON path for keys, or "" when
// a key cannot occur in a stored thing (a control character: Ditto's keys
// exclude them), so that the path resolves to nothing.
func (b *sqlBuilder) jsonPath(keys []string) string {
	var p strings.Builder
	p.WriteByte('$')
	for _, k := range keys {
		p.WriteString(`."`)
		for i := 0; i < len(k); i++ {
			c := k[i]
			switch {
			case c < 0x20 || c == 0x7f:
				return ""
			case c == '"' || c == '\\':
				p.WriteByte('\\')
			}
			p.WriteByte(c)
		}
		p.WriteByte('"')
	}
	return b.param(p.String())
}

// where is the WHERE clause for the live things in namespaces (all when
// empty) matching filter (all when nil).
func (b *sqlBuilder) where(filter rql.Node, namespaces []string) (string, error) {
	w, f, err := b.clauses(filter, namespaces)
	if f != "" {
		w += " AND " + f
	}
	return w, err
}

// clauses is where in two parts: the live things in namespaces, and the
// filter's condition ("" for none).
func (b *sqlBuilder) clauses(filter rql.Node, namespaces []string) (string, string, error) {
	w := "deleted = 0"
	if len(namespaces) > 0 {
		ps := make([]string, len(namespaces))
		for i, ns := range namespaces {
			ps[i] = b.param(ns)
		}
		w += " AND namespace IN (" + strings.Join(ps, ", ") + ")"
	}
	if filter == nil {
		return w, "", nil
	}
	f, err := b.filter(filter, 0)
	return w, f, err
}

// filter translates n into an SQL expression that is 0 or 1, never NULL.
func (b *sqlBuilder) filter(n rql.Node, depth int) (string, error) {
	if depth > rql.MaxDepth+1 {
		return "", rqlError("and, or and not nest deeper than %d levels", rql.MaxDepth)
	}
	switch n := n.(type) {
	case *rql.And:
		if n != nil {
			return b.logical(n.Children, " AND ", depth)
		}
	case *rql.Or:
		if n != nil {
			return b.logical(n.Children, " OR ", depth)
		}
	case *rql.Not:
		if n == nil || n.Child == nil {
			return "", rqlError("not() needs a query")
		}
		c, err := b.filter(n.Child, depth+1)
		if err != nil {
			return "", err
		}
		return "(NOT " + c + ")", nil
	case *rql.Compare:
		if n != nil {
			return b.compare(n)
		}
	case *rql.In:
		if n != nil {
			if len(n.Values) == 0 {
				return "", rqlError("in() needs at least one value")
			}
			return b.comparison(n.Property, rql.OpEq, n.Values)
		}
	case *rql.Exists:
		if n != nil {
			return b.presence(n.Property, false)
		}
	case *rql.Empty:
		if n != nil {
			return b.presence(n.Property, true)
		}
	}
	return "", rqlError("unknown node %T", n)
}

// logical joins the children as a balanced tree: SQLite parses a chain of
// ANDs as one deep expression, and it limits expression depth.
func (b *sqlBuilder) logical(children []rql.Node, op string, depth int) (string, error) {
	if len(children) == 0 {
		return "", rqlError("and() and or() need at least one query")
	}
	if len(children) == 1 {
		return b.filter(children[0], depth+1)
	}
	mid := len(children) / 2
	l, err := b.logical(children[:mid], op, depth)
	if err != nil {
		return "", err
	}
	r, err := b.logical(children[mid:], op, depth)
	if err != nil {
		return "", err
	}
	return "(" + l + op + r + ")", nil
}

func (b *sqlBuilder) compare(n *rql.Compare) (string, error) {
	switch n.Op {
	case rql.OpEq, rql.OpGt, rql.OpGe, rql.OpLt, rql.OpLe, rql.OpLike, rql.OpILike:
		return b.comparison(n.Property, n.Op, []any{n.Value})
	case rql.OpNe:
		// ne: the property exists and no value equals (Ditto's $ne + $exists).
		eq, err := b.comparison(n.Property, rql.OpEq, []any{n.Value})
		if err != nil {
			return "", err
		}
		exists, err := b.presence(n.Property, false)
		if err != nil {
			return "", err
		}
		return "(" + exists + " AND NOT " + eq + ")", nil
	}
	return "", rqlError("unknown operator %q (at position %d)", n.Op, n.Pos)
}

// field resolves a property for the store.
func (b *sqlBuilder) field(property string, use rql.Use) (rql.Field, error) {
	f, err := rql.ResolveField(property, use)
	if err != nil {
		return rql.Field{}, rqlError("%s", err.Error())
	}
	switch {
	case f.Kind == rql.FieldPlaceholder:
		return rql.Field{}, rqlError("the placeholder <%s> cannot be used in a search", property)
	case len(f.Keys) > maxSearchKeys:
		return rql.Field{}, rqlError("the property <%s> is deeper than %d keys", property, maxSearchKeys)
	}
	return f, nil
}

// presence is exists(property), or empty(property) when empty is set.
func (b *sqlBuilder) presence(property string, empty bool) (string, error) {
	f, err := b.field(property, rql.UseExists)
	if err != nil {
		return "", err
	}
	var has string
	if col, ok := columnFields[f.Keys[0]]; ok && len(f.Keys) == 1 {
		switch {
		case f.Kind == rql.FieldTime:
			has = "(" + col.column + " IS NOT NULL)"
		case !empty:
			has = "1"
		case col.text:
			has = "(" + col.column + " <> '')"
		default:
			has = "1"
		}
	} else if empty && f.Wildcard() {
		// empty(features/*): no feature; empty(features/*/…): some feature
		// has nothing with content there (Ditto's $elemMatch).
		if len(f.Keys) == 2 {
			return "(NOT " + b.anyValue(f, func(v jsonValue) string { return b.test(v, modeExists, nil) }) + ")", nil
		}
		return b.someFeature(func(e string) string {
			return "NOT (" + e + ".type = 'object' AND " + b.pathAny(e+".value", f.Keys[2:], max(f.Model-2, 0),
				func(v jsonValue) string { return b.test(v, modeNotEmpty, nil) }) + ")"
		}), nil
	} else {
		m := modeExists
		if empty {
			m = modeNotEmpty
		}
		has = b.anyValue(f, func(v jsonValue) string { return b.test(v, m, nil) })
	}
	if empty {
		return "(NOT " + has + ")", nil
	}
	return has, nil
}

// comparison is op (eq, gt, ge, lt, le, like, ilike; eq with several values
// is in) of the property with values: some value the property resolves to,
// or an element of an array value, satisfies it.
func (b *sqlBuilder) comparison(property, op string, values []any) (string, error) {
	f, err := b.field(property, rql.UseFilter)
	if err != nil {
		return "", err
	}
	c := &condition{op: op}
	for _, v := range values {
		lit, err := b.literal(v)
		if err != nil {
			return "", err
		}
		c.lits = append(c.lits, lit)
	}
	if op == rql.OpLike || op == rql.OpILike {
		pat, ok := c.lits[0].value.(string)
		if !ok {
			return "", rqlError("%s needs a string pattern", op)
		}
		c.pattern = b.param(likePattern(pat, op == rql.OpILike))
	}
	if col, ok := columnFields[f.Keys[0]]; ok && len(f.Keys) == 1 {
		if f.Kind == rql.FieldTime {
			return b.timeCondition(col.column, c), nil
		}
		typ := "integer"
		if col.text {
			typ = "text"
		}
		return b.columnCondition(col.column, typ, c), nil
	}
	return b.anyValue(f, func(v jsonValue) string { return b.test(v, modeCompare, c) }), nil
}

// literal is a resolved value: time placeholders are resolved now, once for
// the query.
type literal struct {
	value   any // string, int64, float64, bool or nil
	param   string
	instant time.Time
	isTime  bool
}

func (b *sqlBuilder) literal(v any) (literal, error) {
	if ph, ok := v.(rql.Placeholder); ok {
		r, err := rql.ResolveTime(ph.Name, b.now)
		if err != nil {
			return literal{}, rqlError("%s", err.Error())
		}
		v = r
	}
	var lit literal
	switch x := v.(type) {
	case nil, bool:
		lit.value = x
	case string:
		lit.value, lit.param = x, b.param(x)
		lit.instant, lit.isTime = rql.ParseInstant(x)
	case int64:
		lit.value, lit.param = x, b.param(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return literal{}, rqlError("the number %v is not allowed", x)
		}
		lit.value, lit.param = x, b.param(x)
	default:
		return literal{}, rqlError("unsupported value %T", v)
	}
	return lit, nil
}

// likePattern turns a like pattern ('*' any run, '?' one character) into
// GLOB syntax, or for ilike into LIKE syntax with '\' as the escape.
func likePattern(p string, ilike bool) string {
	var out strings.Builder
	for _, r := range p {
		switch {
		case r == '*':
			if ilike {
				out.WriteByte('%')
			} else {
				out.WriteByte('*')
			}
		case r == '?':
			if ilike {
				out.WriteByte('_')
			} else {
				out.WriteByte('?')
			}
		case !ilike && r == '[':
			out.WriteString("[[]")
		case ilike && (r == '%' || r == '_' || r == '\\'):
			out.WriteByte('\\')
			out.WriteRune(r)
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}

// condition is a comparison to apply to candidate values.
type condition struct {
	op      string // eq (several lits: in), gt, ge, lt, le, like, ilike
	lits    []literal
	pattern string // the like/ilike parameter
}

type mode uint8

const (
	modeExists mode = iota
	modeNotEmpty
	modeCompare
)

// jsonValue is a JSON value in SQL: its scalar value (json_extract's
// result), its type (json_type's, NULL when missing) and the arguments that
// make json_each iterate it.
type jsonValue struct{ val, typ, each string }

func pathValue(src, path string) jsonValue {
	return jsonValue{
		val:  "json_extract(" + src + "," + path + ")",
		typ:  "json_type(" + src + "," + path + ")",
		each: src + "," + path,
	}
}

// test is the SQL for m applied to one resolved value v.
func (b *sqlBuilder) test(v jsonValue, m mode, c *condition) string {
	switch m {
	case modeExists:
		return "(" + v.typ + " IS NOT NULL)"
	case modeNotEmpty:
		return "(CASE " + v.typ + " WHEN 'text' THEN " + v.val + " <> ''" +
			" WHEN 'array' THEN EXISTS(SELECT 1 FROM json_each(" + v.each + "))" +
			" WHEN 'object' THEN EXISTS(SELECT 1 FROM json_each(" + v.each + "))" +
			" WHEN 'null' THEN 0 ELSE " + v.typ + " IS NOT NULL END)"
	}
	branches := b.typed(v.val, c)
	if len(branches) == 0 {
		return "0"
	}
	e := b.alias()
	branches = append(branches, "WHEN 'array' THEN EXISTS(SELECT 1 FROM json_each("+v.each+") AS "+e+
		" WHERE CASE "+e+".type "+strings.Join(b.typed(e+".value", c), " ")+" ELSE 0 END)")
	return "(CASE " + v.typ + " " + strings.Join(branches, " ") + " ELSE 0 END)"
}

// jsonTypes are the JSON types of scalars, in the order typed lists them.
var jsonTypes = []string{"text", "integer", "real", "true", "false", "null"}

// typed is c applied to a scalar whose value is val, as CASE branches by
// its JSON type ("WHEN 'text' THEN val = ?3"); a type that cannot satisfy
// c has no branch, so values are never compared across types. Each branch
// is 0 or 1 (val is not NULL in it).
func (b *sqlBuilder) typed(val string, c *condition) []string {
	conds := map[string][]string{}
	add := func(cond string, types ...string) {
		for _, t := range types {
			conds[t] = append(conds[t], cond)
		}
	}
	switch c.op {
	case rql.OpLike:
		add(val+" GLOB "+c.pattern, "text")
	case rql.OpILike:
		add(val+" LIKE "+c.pattern+` ESCAPE '\'`, "text")
	case rql.OpEq:
		// One IN list per type: in() may have thousands of values, and a
		// chain of ORs that long is deeper than SQLite allows.
		var texts, numbers []string
		for _, lit := range c.lits {
			switch v := lit.value.(type) {
			case nil:
				add("1", "null")
			case bool:
				add("1", strconv.FormatBool(v))
			case string:
				texts = append(texts, lit.param)
			default:
				numbers = append(numbers, lit.param)
			}
		}
		if len(texts) > 0 {
			add(inList(val, texts), "text")
		}
		if len(numbers) > 0 {
			add(inList(val, numbers), "integer", "real")
		}
	default:
		lit := c.lits[0]
		sqlOp := map[string]string{rql.OpGt: ">", rql.OpGe: ">=", rql.OpLt: "<", rql.OpLe: "<="}[c.op]
		switch v := lit.value.(type) {
		case bool: // false < true
			for _, cand := range []bool{false, true} {
				if holds(c.op, compareBools(cand, v)) {
					add("1", strconv.FormatBool(cand))
				}
			}
		case string:
			add(val+" "+sqlOp+" "+lit.param, "text")
		case int64, float64:
			add(val+" "+sqlOp+" "+lit.param, "integer", "real")
		}
	}
	var out []string
	for _, t := range jsonTypes {
		cs := conds[t]
		if len(cs) == 0 {
			continue
		}
		cond := "(" + balanced(cs, " OR ") + ")"
		if slices.Contains(cs, "1") {
			cond = "1"
		}
		out = append(out, "WHEN '"+t+"' THEN "+cond)
	}
	return out
}

// inList is "val = p", or "val IN (p, q, …)" for several parameters.
func inList(val string, params []string) string {
	if len(params) == 1 {
		return val + " = " + params[0]
	}
	return val + " IN (" + strings.Join(slices.Compact(params), ", ") + ")"
}

// balanced joins terms with op as a balanced tree, not a chain: SQLite
// limits expression depth.
func balanced(terms []string, op string) string {
	if len(terms) == 1 {
		return terms[0]
	}
	mid := len(terms) / 2
	return "(" + balanced(terms[:mid], op) + op + balanced(terms[mid:], op) + ")"
}

// columnCondition is c applied to a column of JSON type typ ("text" or
// "integer").
func (b *sqlBuilder) columnCondition(col, typ string, c *condition) string {
	prefix := "WHEN '" + typ + "' THEN "
	for _, branch := range b.typed(col, c) {
		if cond, ok := strings.CutPrefix(branch, prefix); ok {
			return cond
		}
	}
	return "0"
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

func holds(op string, r int) bool {
	switch op {
	case rql.OpGt:
		return r > 0
	case rql.OpGe:
		return r >= 0
	case rql.OpLt:
		return r < 0
	case rql.OpLe:
		return r <= 0
	}
	return r == 0
}

// anyValue is the SQL for "some value f resolves to in the thing passes
// test". With no array on the way, the value is at f's JSON path. An array
// before the last key is traversed element by element (objects only): a
// subquery per key, which runs only for documents that have such an array.
func (b *sqlBuilder) anyValue(f rql.Field, test func(jsonValue) string) string {
	if f.Wildcard() {
		// features/*/…: some feature passes.
		return b.someFeature(func(e string) string {
			if rest := f.Keys[2:]; len(rest) > 0 {
				return e + ".type = 'object' AND " + b.pathAny(e+".value", rest, max(f.Model-2, 0), test)
			}
			return test(jsonValue{val: e + ".value", typ: e + ".type", each: e + ".value"})
		})
	}
	return b.pathAny(docExpr, f.Keys, f.Model, test)
}

// someFeature is the SQL for "some feature satisfies body", body being SQL
// over the json_each row (alias e) of the feature.
func (b *sqlBuilder) someFeature(body func(e string) string) string {
	features := b.jsonPath([]string{"features"})
	e := b.alias()
	return "EXISTS(SELECT 1 FROM json_each(" + docExpr + "," + features + ") AS " + e +
		" WHERE json_type(" + docExpr + "," + features + ") IS 'object' AND " + body(e) + ")"
}

// pathAny resolves keys below the JSON object src; arrays are traversed
// below the first model keys.
func (b *sqlBuilder) pathAny(src string, keys []string, model int, test func(jsonValue) string) string {
	full := b.jsonPath(keys)
	if full == "" {
		return "0" // no stored thing has such a key
	}
	direct := test(pathValue(src, full))
	model = min(model, len(keys)-1)
	if model >= len(keys)-1 {
		return direct
	}
	// An array may stand at keys[model] … keys[len-2].
	var guard []string
	for j := model; j < len(keys)-1; j++ {
		guard = append(guard, "json_type("+src+","+b.jsonPath(keys[:j+1])+") IS 'array'")
	}
	general := b.through(src, keys[:model], keys[model:], test)
	return "(" + direct + " OR (" + balanced(guard, " OR ") + " AND " + general + "))"
}

// through resolves prefix+keys below src where the value of each key but the
// last may be an object (entered) or an array (each object element
// entered).
func (b *sqlBuilder) through(src string, prefix, keys []string, test func(jsonValue) string) string {
	path := b.jsonPath(append(slices.Clone(prefix), keys[0]))
	if len(keys) == 1 {
		return test(pathValue(src, path))
	}
	e := b.alias()
	return "EXISTS(SELECT 1 FROM json_each(CASE json_type(" + src + "," + path + ")" +
		" WHEN 'array' THEN " + src + " -> " + path +
		" WHEN 'object' THEN json_array(" + src + " -> " + path + ") END) AS " + e +
		" WHERE " + e + ".type = 'object' AND " + b.through(e+".value", nil, keys[1:], test) + ")"
}

// timeCondition compares _created or _modified (unix nanoseconds, NULL for
// none) the way rql does: literals that read as instants compare with the
// instant (truncated to the microsecond, as it is written), other strings
// with its ISO-8601 text.
func (b *sqlBuilder) timeCondition(col string, c *condition) string {
	present := func(cond string) string { return "(" + col + " IS NOT NULL AND " + cond + ")" }
	if c.op == rql.OpLike || c.op == rql.OpILike {
		like := " GLOB " + c.pattern
		if c.op == rql.OpILike {
			like = " LIKE " + c.pattern + ` ESCAPE '\'`
		}
		return present(instantText(col) + like)
	}
	var terms []string
	for _, lit := range c.lits {
		s, ok := lit.value.(string)
		if !ok {
			continue
		}
		var t string
		if lit.isTime {
			t = b.instantCondition(col, c.op, lit.instant)
		} else {
			op := map[string]string{rql.OpEq: "=", rql.OpGt: ">", rql.OpGe: ">=", rql.OpLt: "<", rql.OpLe: "<="}[c.op]
			t = present(instantText(col) + " " + op + " " + b.param(s))
		}
		if t != "0" {
			terms = append(terms, t)
		}
	}
	if len(terms) == 0 {
		return "0"
	}
	return "(" + balanced(terms, " OR ") + ")"
}

// instantCondition compares T(col) with the instant l, where T truncates
// nanoseconds to microseconds, as bounds on col itself (so that an index
// on col serves).
func (b *sqlBuilder) instantCondition(col, op string, l time.Time) string {
	const guard = 1 << 20 // stay clear of int64's ends
	present := "(" + col + " IS NOT NULL)"
	switch {
	case l.Before(minTime.Add(guard)):
		if op == rql.OpGt || op == rql.OpGe {
			return present
		}
		return "0"
	case l.After(maxTime.Add(-guard)):
		if op == rql.OpLt || op == rql.OpLe {
			return present
		}
		return "0"
	}
	ns := l.UnixNano()
	floorK := ns - ((ns%1000)+1000)%1000
	ceilK := floorK
	if ns != floorK {
		ceilK += 1000
	}
	cmp := func(sqlOp string, v int64) string {
		return "(" + col + " IS NOT NULL AND " + col + " " + sqlOp + " " + b.param(v) + ")"
	}
	switch op {
	case rql.OpGt:
		return cmp(">=", floorK+1000)
	case rql.OpGe:
		return cmp(">=", ceilK)
	case rql.OpLt:
		return cmp("<", ceilK)
	case rql.OpLe:
		return cmp("<", floorK+1000)
	}
	if ns != floorK {
		return "0" // T(col) is a whole microsecond
	}
	return "(" + col + " IS NOT NULL AND " + col + " >= " + b.param(ns) + " AND " + col + " < " + b.param(ns+1000) + ")"
}

// instantText is col's instant written as protocol.FormatInstant (and Java's
// Instant.toString) writes it: UTC, microseconds, 0, 3 or 6 fraction digits.
func instantText(col string) string {
	frac := "((" + col + " % 1000000000) + 1000000000) % 1000000000"
	secs := "((" + col + " - " + frac + ") / 1000000000)"
	us := "(" + frac + " / 1000)"
	return "(strftime('%Y-%m-%dT%H:%M:%S', " + secs + ", 'unixepoch') || CASE WHEN " + us + " = 0 THEN 'Z'" +
		" WHEN " + us + " % 1000 = 0 THEN printf('.%03dZ', " + us + " / 1000)" +
		" ELSE printf('.%06dZ', " + us + ") END)"
}
