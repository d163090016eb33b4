package rql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/twinway/twinway/protocol"
)

// Limits of ParseFilter. Ditto sets none of its own; these keep parsing,
// evaluation and the SQL a store builds bounded. 16 KiB is the longest
// header value Ditto accepts (a condition header, for instance).
const (
	// MaxFilterLength is the longest filter, in bytes.
	MaxFilterLength = 16 << 10
	// MaxDepth is how deeply and, or and not may nest.
	MaxDepth = 64
)

// ParseFilter parses an RQL filter into its syntax tree. It follows Ditto's
// grammar (RqlPredicateParser) exactly, whitespace rules included:
// whitespace may lead the filter, follow a literal and follow the comma
// between the children of and/or, nowhere else (a space before a literal or
// after a ')' is an error, a space inside a property belongs to it).
// Properties are checked against the thing model (see ResolveField).
//
// Errors are *protocol.Error rql.expression.invalid (400) whose message names
// the byte offset (from 0) where the filter went wrong.
func ParseFilter(s string) (Node, error) {
	if len(s) > MaxFilterLength {
		return nil, invalidAt(MaxFilterLength, "the filter is longer than %d bytes", MaxFilterLength)
	}
	p := &lexer{s: s}
	p.skipWS()
	if p.eof() {
		return nil, p.errf("the filter is empty; expected an operator such as eq, and or exists")
	}
	n, err := p.query()
	if err != nil {
		return nil, err
	}
	if !p.eof() {
		return nil, p.errf("unexpected %s after the end of the expression", p.describe())
	}
	return n, nil
}

// invalidAt is the error for a filter that is wrong at byte offset pos.
func invalidAt(pos int, format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeRQLInvalid, "Invalid RQL expression at position %d: %s.", pos, fmt.Sprintf(format, args...))
}

// lexer reads RQL text: filters and, with options.go, search options.
type lexer struct {
	s     string
	pos   int
	depth int
	buf   []byte // scratch for decoding strings and properties
	// errf makes an error at the current position; nil: rql.expression.invalid.
	mkErr func(pos int, format string, args ...any) *protocol.Error
}

func (p *lexer) eof() bool { return p.pos >= len(p.s) }

func (p *lexer) errf(format string, args ...any) *protocol.Error {
	return p.errAt(p.pos, format, args...)
}

func (p *lexer) errAt(pos int, format string, args ...any) *protocol.Error {
	if p.mkErr != nil {
		return p.mkErr(pos, format, args...)
	}
	return invalidAt(pos, format, args...)
}

// describe names what is at the current position, for error messages.
func (p *lexer) describe() string {
	if p.eof() {
		return "the end of the input"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.pos:])
	return strconv.QuoteRune(r)
}

// skipWS skips RQL whitespace: space, \n, \r, \t and \f.
func (p *lexer) skipWS() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\n', '\r', '\t', '\f':
			p.pos++
		default:
			return
		}
	}
}

func (p *lexer) peek(c byte) bool { return p.pos < len(p.s) && p.s[p.pos] == c }

func (p *lexer) expect(c byte) *protocol.Error {
	if p.peek(c) {
		p.pos++
		return nil
	}
	return p.errf("expected '%c' but found %s", c, p.describe())
}

// ident reads an operator name.
func (p *lexer) ident() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '_' {
			break
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

// query parses one query. Recursion is bounded by MaxDepth.
func (p *lexer) query() (Node, error) {
	start := p.pos
	name := p.ident()
	switch name {
	case OpEq, OpNe, OpGt, OpGe, OpLt, OpLe, OpLike, OpILike:
		if err := p.expect('('); err != nil {
			return nil, err
		}
		prop, err := p.property(UseFilter)
		if err != nil {
			return nil, err
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
		valuePos := p.pos
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		if name == OpLike || name == OpILike {
			if _, ok := v.(string); !ok {
				return nil, p.errAt(valuePos, "%s needs a quoted string pattern", name)
			}
		}
		return &Compare{Op: name, Property: prop, Value: v, Pos: start}, nil
	case "in":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		prop, err := p.property(UseFilter)
		if err != nil {
			return nil, err
		}
		var values []any
		for {
			if err := p.expect(','); err != nil {
				if len(values) > 0 {
					break
				}
				return nil, err
			}
			v, err := p.literal()
			if err != nil {
				return nil, err
			}
			values = append(values, v)
		}
		if err := p.expect(')'); err != nil {
			return nil, p.errf("expected ',' or ')' but found %s", p.describe())
		}
		return &In{Property: prop, Values: values}, nil
	case "and", "or", "not":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		if p.depth++; p.depth > MaxDepth {
			return nil, p.errAt(start, "and, or and not nest deeper than %d levels", MaxDepth)
		}
		var children []Node
		for {
			c, err := p.query()
			if err != nil {
				return nil, err
			}
			children = append(children, c)
			if name == "not" || !p.peek(',') {
				break
			}
			p.pos++
			p.skipWS()
		}
		if err := p.expect(')'); err != nil {
			if name == "not" {
				return nil, err
			}
			return nil, p.errf("expected ',' or ')' but found %s", p.describe())
		}
		p.depth--
		switch name {
		case "and":
			return &And{Children: children}, nil
		case "or":
			return &Or{Children: children}, nil
		}
		return &Not{Child: children[0]}, nil
	case "exists", "empty":
		if err := p.expect('('); err != nil {
			return nil, err
		}
		prop, err := p.property(UseExists)
		if err != nil {
			return nil, err
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		if name == "exists" {
			return &Exists{Property: prop}, nil
		}
		return &Empty{Property: prop}, nil
	case "":
		return nil, p.errf("expected an operator (eq, ne, gt, ge, lt, le, like, ilike, in, exists, empty, and, or, not) but found %s", p.describe())
	}
	return nil, p.errAt(start, "unknown operator %q", name)
}

// property reads a property: any characters up to ',' ')' '"' or the end,
// with backslash escapes as in double-quoted strings. The optional leading
// '/' is dropped; the property must fit use.
func (p *lexer) property(use Use) (string, error) {
	start := p.pos
	raw, err := p.characters()
	if err != nil {
		return "", err
	}
	prop := strings.TrimPrefix(raw, "/")
	if _, err := ResolveField(prop, use); err != nil {
		return "", p.errAt(start, "%s", err.Error())
	}
	return prop, nil
}

// characters reads Ditto's "Characters": anything but , ) " and \, or a
// backslash escape.
func (p *lexer) characters() (string, error) {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == ',' || c == ')' || c == '"' {
			break
		}
		if c == '\\' {
			return p.escapedCharacters(start)
		}
		p.pos++
	}
	return p.s[start:p.pos], nil
}

// escapedCharacters continues characters() from the first backslash,
// decoding into the scratch buffer.
func (p *lexer) escapedCharacters(start int) (string, error) {
	buf := append(p.buf[:0], p.s[start:p.pos]...)
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c == ',' || c == ')' || c == '"' {
			break
		}
		if c == '\\' {
			var err error
			if buf, err = p.escape(buf, '"'); err != nil {
				return "", err
			}
			continue
		}
		buf = append(buf, c)
		p.pos++
	}
	p.buf = buf
	return string(buf), nil
}

// escape decodes the escape sequence at the current position (a
// backslash) and appends it to buf. quote is the quote character that may be
// escaped: the double quote in double-quoted strings and properties, the
// single quote in single-quoted strings.
func (p *lexer) escape(buf []byte, quote byte) ([]byte, error) {
	at := p.pos
	p.pos++ // the backslash
	if p.eof() {
		return nil, p.errAt(at, "the escape sequence is incomplete")
	}
	c := p.s[p.pos]
	p.pos++
	switch c {
	case quote, '\\', '/':
		return append(buf, c), nil
	case 'b':
		return append(buf, '\b'), nil
	case 'f':
		return append(buf, '\f'), nil
	case 'n':
		return append(buf, '\n'), nil
	case 'r':
		return append(buf, '\r'), nil
	case 't':
		return append(buf, '\t'), nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return nil, p.errAt(at, `\u needs four hexadecimal digits`)
		}
		if utf16.IsSurrogate(r) {
			// A pair of escapes forms one character, as in Java's strings.
			if r < 0xdc00 && strings.HasPrefix(p.s[p.pos:], `\u`) {
				save := p.pos
				p.pos += 2
				if r2, ok := p.hex4(); ok && r2 >= 0xdc00 && r2 <= 0xdfff {
					return utf8.AppendRune(buf, utf16.DecodeRune(r, r2)), nil
				}
				p.pos = save
			}
			r = utf8.RuneError
		}
		return utf8.AppendRune(buf, r), nil
	}
	return nil, p.errAt(at, "invalid escape sequence %s", strconv.Quote(`\`+string(rune(c))))
}

func (p *lexer) hex4() (rune, bool) {
	if p.pos+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		c := p.s[p.pos+i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.pos += 4
	return r, true
}

// literal reads a value and the whitespace after it: a quoted string, an
// integer (int64), a decimal (float64, no exponent), true, false, null or a
// time placeholder. Unquoted words are errors.
func (p *lexer) literal() (any, error) {
	if p.eof() {
		return nil, p.errf("expected a value but found the end of the input")
	}
	var (
		v   any
		err error
	)
	switch c := p.s[p.pos]; {
	case c == '"' || c == '\'':
		v, err = p.quoted()
	case c == '+' || c == '-' || (c >= '0' && c <= '9'):
		v, err = p.number()
	case strings.HasPrefix(p.s[p.pos:], timePrefix):
		start := p.pos
		var name string
		if name, err = p.characters(); err == nil {
			if _, terr := parseTime(name); terr != nil {
				err = p.errAt(start, "%s", terr.Error())
			}
			v = Placeholder{Name: name}
		}
	case strings.HasPrefix(p.s[p.pos:], "true"):
		p.pos += 4
		v = true
	case strings.HasPrefix(p.s[p.pos:], "false"):
		p.pos += 5
		v = false
	case strings.HasPrefix(p.s[p.pos:], "null"):
		p.pos += 4
		v = nil
	default:
		return nil, p.errf("expected a value (a quoted string, a number, true, false, null or time:now) but found %s; strings must be quoted", p.describe())
	}
	if err != nil {
		return nil, err
	}
	p.skipWS()
	return v, nil
}

func (p *lexer) quoted() (string, error) {
	start := p.pos
	quote := p.s[p.pos]
	p.pos++
	from := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.s) && p.s[p.pos] != quote && p.s[p.pos] != '\\' {
		p.pos++
	}
	if p.pos < len(p.s) && p.s[p.pos] == quote {
		p.pos++
		return p.s[from : p.pos-1], nil
	}
	buf := append(p.buf[:0], p.s[from:p.pos]...)
	for {
		if p.eof() {
			return "", p.errAt(start, "the string is not terminated")
		}
		c := p.s[p.pos]
		if c == quote {
			p.pos++
			break
		}
		if c == '\\' {
			var err error
			if buf, err = p.escape(buf, quote); err != nil {
				return "", err
			}
			continue
		}
		buf = append(buf, c)
		p.pos++
	}
	p.buf = buf
	return string(buf), nil
}

// number reads [+-]?(0|[1-9][0-9]*)(\.[0-9]+)?: an int64 without fraction
// ("-0" is not one), else a float64.
func (p *lexer) number() (any, error) {
	start := p.pos
	if c := p.s[p.pos]; c == '+' || c == '-' {
		p.pos++
	}
	switch {
	case p.peek('0'):
		p.pos++
	case p.pos < len(p.s) && p.s[p.pos] >= '1' && p.s[p.pos] <= '9':
		p.skipDigits()
	default:
		return nil, p.errf("expected a digit but found %s", p.describe())
	}
	if p.peek('.') && p.pos+1 < len(p.s) && p.s[p.pos+1] >= '0' && p.s[p.pos+1] <= '9' {
		p.pos++
		p.skipDigits()
		f, err := strconv.ParseFloat(p.s[start:p.pos], 64)
		if err != nil {
			return nil, p.errAt(start, "the number %s is out of range", p.s[start:p.pos])
		}
		return f, nil
	}
	text := p.s[start:p.pos]
	if text == "-0" {
		return nil, p.errAt(start, "-0 is not a valid integer")
	}
	i, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, p.errAt(start, "the integer %s is out of range", text)
	}
	return i, nil
}

func (p *lexer) skipDigits() {
	for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
		p.pos++
	}
}
