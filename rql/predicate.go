package rql

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/scanner"
	"time"

	"github.com/PaesslerAG/gval"

	"github.com/twinway/twinway/protocol"
)

// Input is what a predicate is evaluated against.
type Input struct {
	// Thing is the thing's JSON as a generic tree (objects map[string]any,
	// arrays []any, numbers json.Number, float64 or any Go integer) with
	// the special fields _namespace, _revision, _created and _modified at the
	// top level when known. For an event it is the changed data plus the
	// extra fields.
	Thing map[string]any
	// Placeholder resolves "topic:action", "resource:path",
	// "header:correlation-id", … It may also resolve time placeholders
	// ("time:now", "time:now-1h"): its answer then replaces the current
	// time's. Nil resolves nothing.
	Placeholder func(name string) (string, bool)
}

// Predicate is a compiled filter. It is immutable: Match may be called
// concurrently.
type Predicate struct {
	eval gval.Evaluable
	// withInput: the filter uses placeholders, so leaves get *Input;
	// otherwise they get the Thing map (no allocation per Match).
	withInput bool
}

// CompileOption adjusts the semantics of Compile.
type CompileOption func(*compileConfig)

type compileConfig struct {
	neMatchesMissing bool
}

// NeMatchesMissing makes ne() match where the property is missing too, as
// Ditto's in-memory predicate (ThingPredicatePredicateVisitor, used for
// event filters and conditions) does. Without it ne() matches only where
// the property exists, as Ditto's search (and its documentation) does, and
// as a store's search does.
func NeMatchesMissing() CompileOption {
	return func(c *compileConfig) { c.neMatchesMissing = true }
}

// The evaluation language: gval's propositional logic (&&, || and ! with
// short-circuit evaluation, parentheses) over leaves written #<index>,
// which refer to the compiled comparisons of one predicate (passed in the
// parse context). Compile writes a filter's and/or/not structure in this
// language and gval builds the evaluable from it.
var logic = gval.NewLanguage(
	gval.PropositionalLogic(),
	gval.PrefixExtension('#', parseLeafRef),
)

type leavesKey struct{}

func parseLeafRef(ctx context.Context, p *gval.Parser) (gval.Evaluable, error) {
	if p.Scan() != scanner.Int {
		return nil, p.Expected("leaf index", scanner.Int)
	}
	i, err := strconv.Atoi(p.TokenText())
	leaves, _ := ctx.Value(leavesKey{}).([]gval.Evaluable)
	if err != nil || i < 0 || i >= len(leaves) {
		return nil, fmt.Errorf("rql: no leaf #%s", p.TokenText())
	}
	return leaves[i], nil
}

// Compile compiles n (nil: match everything) into a predicate. The tree is
// checked as ParseFilter checks it, so hand-built trees are safe too; errors
// are *protocol.Error rql.expression.invalid.
func Compile(n Node, opts ...CompileOption) (*Predicate, error) {
	var cfg compileConfig
	for _, o := range opts {
		o(&cfg)
	}
	if n == nil { // not a nil pointer: that is an error below
		return &Predicate{eval: func(context.Context, any) (any, error) { return true, nil }}, nil
	}
	c := compiler{cfg: cfg}
	var expr strings.Builder
	if err := c.build(&expr, n, 0); err != nil {
		return nil, err
	}
	ctx := context.WithValue(context.Background(), leavesKey{}, c.leaves)
	eval, err := logic.NewEvaluableWithContext(ctx, expr.String())
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInternal, "rql: compile %q: %v", expr.String(), err)
	}
	return &Predicate{eval: eval, withInput: c.withInput}, nil
}

// Match reports whether in matches the filter.
func (p *Predicate) Match(in Input) bool {
	var param any = in.Thing
	if p.withInput {
		withInput := in // allocated here only, not for every Match
		param = &withInput
	}
	v, err := p.eval(context.Background(), param)
	return err == nil && v == true
}

type compiler struct {
	cfg       compileConfig
	leaves    []gval.Evaluable
	withInput bool
}

func compileError(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeRQLInvalid, "Invalid RQL expression: %s.", fmt.Sprintf(format, args...))
}

// build writes n in the logic language.
func (c *compiler) build(b *strings.Builder, n Node, depth int) error {
	if depth > MaxDepth+1 {
		return compileError("and, or and not nest deeper than %d levels", MaxDepth)
	}
	if isNilNode(n) {
		return compileError("a query is missing")
	}
	switch n := n.(type) {
	case *And:
		return c.buildLogical(b, n.Children, " && ", depth)
	case *Or:
		return c.buildLogical(b, n.Children, " || ", depth)
	case *Not:
		if n.Child == nil {
			return compileError("not() needs a query")
		}
		b.WriteString("!(")
		if err := c.build(b, n.Child, depth+1); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	case *Compare:
		if n == nil {
			break
		}
		l, err := c.compareLeaf(n)
		if err != nil {
			return err
		}
		c.addLeaf(b, l)
		return nil
	case *In:
		if n == nil {
			break
		}
		if len(n.Values) == 0 {
			return compileError("in() needs at least one value")
		}
		l, err := c.leafFor(n.Property, UseFilter, opIn, n.Values)
		if err != nil {
			return err
		}
		c.addLeaf(b, l)
		return nil
	case *Exists:
		if n == nil {
			break
		}
		l, err := c.leafFor(n.Property, UseExists, opExists, nil)
		if err != nil {
			return err
		}
		c.addLeaf(b, l)
		return nil
	case *Empty:
		if n == nil {
			break
		}
		l, err := c.leafFor(n.Property, UseExists, opEmpty, nil)
		if err != nil {
			return err
		}
		c.addLeaf(b, l)
		return nil
	}
	return compileError("unknown node %T", n)
}

func (c *compiler) buildLogical(b *strings.Builder, children []Node, op string, depth int) error {
	if len(children) == 0 {
		return compileError("and() and or() need at least one query")
	}
	b.WriteByte('(')
	for i, ch := range children {
		if i > 0 {
			b.WriteString(op)
		}
		if err := c.build(b, ch, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte(')')
	return nil
}

func (c *compiler) addLeaf(b *strings.Builder, l *leaf) {
	b.WriteByte('#')
	b.WriteString(strconv.Itoa(len(c.leaves)))
	c.leaves = append(c.leaves, l.eval)
	if l.field.Kind == FieldPlaceholder || l.dynamic {
		c.withInput = true
	}
}

func (c *compiler) compareLeaf(n *Compare) (*leaf, error) {
	var o op
	switch n.Op {
	case OpEq:
		o = opEq
	case OpNe:
		o = opNe
	case OpGt:
		o = opGt
	case OpGe:
		o = opGe
	case OpLt:
		o = opLt
	case OpLe:
		o = opLe
	case OpLike, OpILike:
		s, ok := n.Value.(string)
		if !ok {
			return nil, compileError("%s needs a string pattern (at position %d)", n.Op, n.Pos)
		}
		l, err := c.leafFor(n.Property, UseFilter, opLike, nil)
		if err != nil {
			return nil, err
		}
		l.pattern = compilePattern(s, n.Op == OpILike)
		return l, nil
	default:
		return nil, compileError("unknown operator %q (at position %d)", n.Op, n.Pos)
	}
	return c.leafFor(n.Property, UseFilter, o, []any{n.Value})
}

func (c *compiler) leafFor(property string, use Use, o op, values []any) (*leaf, error) {
	f, err := ResolveField(property, use)
	if err != nil {
		return nil, compileError("%s", err.Error())
	}
	l := &leaf{field: f, op: o, neMissing: c.cfg.neMatchesMissing}
	for _, v := range values {
		lit, err := literalOf(v)
		if err != nil {
			return nil, err
		}
		l.dynamic = l.dynamic || lit.dynamic
		l.lits = append(l.lits, lit)
	}
	return l, nil
}

// literal is a compiled value: a scalar, or a time placeholder resolved at
// each evaluation.
type literal struct {
	scalar
	dynamic bool
	name    string   // the placeholder
	spec    timeSpec // its parsed form
	// instant is set when the literal is a string that reads as an ISO-8601
	// instant: _created and _modified then compare as instants.
	instant   time.Time
	isInstant bool
}

func literalOf(v any) (literal, error) {
	switch v := v.(type) {
	case Placeholder:
		spec, err := parseTime(v.Name)
		if err != nil {
			return literal{}, compileError("%s", err.Error())
		}
		return literal{dynamic: true, name: v.Name, spec: spec}, nil
	case nil, string, bool, int64, float64:
		lit := literal{scalar: scalarOf(v)}
		if s, ok := v.(string); ok {
			lit.instant, lit.isInstant = ParseInstant(s)
		}
		return lit, nil
	}
	return literal{}, compileError("unsupported literal %T", v)
}

// resolve gives the literal's value for one evaluation.
func (lit *literal) resolve(in *Input) literal {
	if !lit.dynamic {
		return *lit
	}
	if in != nil && in.Placeholder != nil {
		if s, ok := in.Placeholder(lit.name); ok {
			out := literal{scalar: scalar{kind: kindString, s: s}}
			if lit.spec.millis {
				if n := numberOf(s); n.kind == kindNumber {
					out.scalar = n
				}
			}
			out.instant, out.isInstant = ParseInstant(s)
			return out
		}
	}
	now := time.Now()
	if lit.spec.millis {
		return literal{scalar: scalar{kind: kindNumber, isInt: true, i: lit.spec.resolve(now).(int64)}}
	}
	t := lit.spec.instantAt(now)
	return literal{scalar: scalar{kind: kindString, s: protocol.FormatInstant(t)}, instant: t, isInstant: true}
}
