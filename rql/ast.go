package rql

import (
	"math"
	"strconv"
	"strings"
)

// Node is a node of a filter's syntax tree: *And, *Or, *Not, *Compare, *In,
// *Exists or *Empty. The set is sealed.
type Node interface{ node() }

// And matches when every child matches.
type And struct{ Children []Node }

// Or matches when at least one child matches.
type Or struct{ Children []Node }

// Not matches when its child does not.
type Not struct{ Child Node }

// Compare is eq, ne, gt, ge, lt, le, like or ilike of a property with a
// literal. Value is a string, an int64 (integers stay exact), a float64, a
// bool, nil (the literal null) or a Placeholder (time:now…). Pos is the byte
// offset of the operator in the filter text.
type Compare struct {
	Op       string
	Property string
	Value    any
	Pos      int
}

// In matches when the property equals one of Values (each as Compare's Value).
type In struct {
	Property string
	Values   []any
}

// Exists matches when the property is present (a null value counts).
type Exists struct{ Property string }

// Empty matches when the property is absent, null, "", [] or {}.
type Empty struct{ Property string }

// Placeholder is a placeholder literal, resolved each time a filter is
// evaluated: Name is "time:now", "time:now_epoch_millis" or either with an
// offset and/or a truncation ("time:now-1h[d]"). See ResolveTime.
type Placeholder struct{ Name string }

func (*And) node()     {}
func (*Or) node()      {}
func (*Not) node()     {}
func (*Compare) node() {}
func (*In) node()      {}
func (*Exists) node()  {}
func (*Empty) node()   {}

// The comparison operators of Compare.Op.
const (
	OpEq    = "eq"
	OpNe    = "ne"
	OpGt    = "gt"
	OpGe    = "ge"
	OpLt    = "lt"
	OpLe    = "le"
	OpLike  = "like"
	OpILike = "ilike"
)

// Properties returns every property n refers to, each once, in order of
// first appearance: what a caller checks READ permission on before it lets a
// subject filter by it. Placeholder properties (topic:action, …) are
// included; ResolveField tells them apart.
func Properties(n Node) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	walk(n, func(n Node) {
		if isNilNode(n) {
			return
		}
		switch n := n.(type) {
		case *Compare:
			add(n.Property)
		case *In:
			add(n.Property)
		case *Exists:
			add(n.Property)
		case *Empty:
			add(n.Property)
		}
	})
	return out
}

// walk calls f for n and every node below it, parents first. Trees come from
// ParseFilter, whose depth is bounded, so recursion is safe.
func walk(n Node, f func(Node)) {
	f(n)
	switch n := n.(type) {
	case *And:
		if n != nil {
			for _, c := range n.Children {
				walk(c, f)
			}
		}
	case *Or:
		if n != nil {
			for _, c := range n.Children {
				walk(c, f)
			}
		}
	case *Not:
		if n != nil {
			walk(n.Child, f)
		}
	}
}

// Format writes n as RQL text that ParseFilter turns into the same tree: the
// canonical form of a filter (one spelling per tree), used to compare filters
// and to carry them inside search cursors. A nil n formats as "". The text
// is about as long as the filter parsed (escapes may make it slightly
// longer, even beyond MaxFilterLength for a filter of nothing but quotes).
func Format(n Node) string {
	var b strings.Builder
	format(&b, n)
	return b.String()
}

func format(b *strings.Builder, n Node) {
	if isNilNode(n) {
		return
	}
	switch n := n.(type) {
	case *And:
		formatLogical(b, "and", n.Children)
	case *Or:
		formatLogical(b, "or", n.Children)
	case *Not:
		b.WriteString("not(")
		format(b, n.Child)
		b.WriteByte(')')
	case *Compare:
		b.WriteString(n.Op)
		b.WriteByte('(')
		formatProperty(b, n.Property)
		b.WriteByte(',')
		formatLiteral(b, n.Value)
		b.WriteByte(')')
	case *In:
		b.WriteString("in(")
		formatProperty(b, n.Property)
		for _, v := range n.Values {
			b.WriteByte(',')
			formatLiteral(b, v)
		}
		b.WriteByte(')')
	case *Exists:
		b.WriteString("exists(")
		formatProperty(b, n.Property)
		b.WriteByte(')')
	case *Empty:
		b.WriteString("empty(")
		formatProperty(b, n.Property)
		b.WriteByte(')')
	}
}

// isNilNode reports whether n is nil or a nil pointer.
func isNilNode(n Node) bool {
	switch n := n.(type) {
	case nil:
		return true
	case *And:
		return n == nil
	case *Or:
		return n == nil
	case *Not:
		return n == nil
	case *Compare:
		return n == nil
	case *In:
		return n == nil
	case *Exists:
		return n == nil
	case *Empty:
		return n == nil
	}
	return false
}

func formatLogical(b *strings.Builder, name string, children []Node) {
	b.WriteString(name)
	b.WriteByte('(')
	for i, c := range children {
		if i > 0 {
			b.WriteByte(',')
		}
		format(b, c)
	}
	b.WriteByte(')')
}

// formatProperty escapes what cannot appear raw in a property: the
// characters that end it (, ) ") and the backslash.
func formatProperty(b *strings.Builder, p string) {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case ',', ')':
			writeUnicodeEscape(b, rune(c))
		default:
			b.WriteByte(c)
		}
	}
}

func formatLiteral(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(formatFloat(v))
	case string:
		formatString(b, v)
	case Placeholder:
		b.WriteString(v.Name)
	default:
		b.WriteString("null")
	}
}

// formatFloat writes f in RQL's decimal grammar (digits '.' digits, no
// exponent), exactly enough digits to read back the same float64.
func formatFloat(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null" // no RQL spelling; the parser never produces these
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// formatString quotes s with the quote character it contains less often;
// only that quote and the backslash are escaped, so the text grows little.
func formatString(b *strings.Builder, s string) {
	quote := byte('"')
	if strings.Count(s, `"`) > strings.Count(s, "'") {
		quote = '\''
	}
	b.WriteByte(quote)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == quote || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(quote)
}

func writeUnicodeEscape(b *strings.Builder, r rune) {
	const hex = "0123456789abcdef"
	b.WriteString(`\u`)
	b.WriteByte(hex[r>>12&0xf])
	b.WriteByte(hex[r>>8&0xf])
	b.WriteByte(hex[r>>4&0xf])
	b.WriteByte(hex[r&0xf])
}
