package rql

import (
	"fmt"
	"strconv"

	"github.com/twinway/twinway/protocol"
)

// Search page sizes (Ditto's limits things-search default-page-size and
// max-page-size).
const (
	DefaultSize = 25
	MaxSize     = 200
	// MaxSortKeys bounds sort(…): Ditto sets no limit; 16 keys is plenty
	// and keeps the store's query small.
	MaxSortKeys = 16
)

// SortKey is one key of sort(+a,-b). Property is normalized as in filters
// (no leading '/').
type SortKey struct {
	Property   string
	Descending bool
}

// Options are the parsed search options.
type Options struct {
	Sort   []SortKey
	Size   int // 0: not given (DefaultSize applies)
	Cursor string
	Limit  *Limit // deprecated limit(offset,count); never together with Size or Cursor
}

// Limit is the deprecated limit(offset,count) option.
type Limit struct{ Offset, Count int }

// optionError is the 400 thing-search:search.option.invalid error.
func optionError(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeSearchOptionInvalid, format, args...)
}

func optionErrorAt(pos int, format string, args ...any) *protocol.Error {
	return optionError("Invalid option at position %d: %s.", pos, fmt.Sprintf(format, args...))
}

// ParseOptions parses search options as Ditto's RqlOptionParser does:
// sort(+p,-q), size(n), cursor(c) and limit(offset,count), separated by
// commas (no whitespace, but leading whitespace is allowed). size and the
// count of limit must be 1..MaxSize; limit cannot be combined with size or
// cursor; an option may appear once. Errors are *protocol.Error
// thing-search:search.option.invalid (400).
func ParseOptions(s string) (Options, error) {
	var o Options
	if len(s) > MaxFilterLength {
		return o, optionErrorAt(MaxFilterLength, "the options are longer than %d bytes", MaxFilterLength)
	}
	p := &lexer{s: s, mkErr: optionErrorAt}
	p.skipWS()
	seen := map[string]bool{}
	for {
		start := p.pos
		name := p.ident()
		switch name {
		case "sort", "size", "cursor", "limit":
		case "":
			return Options{}, p.errf("expected an option (sort, size, cursor or limit) but found %s", p.describe())
		default:
			return Options{}, p.errAt(start, "unknown option %q", name)
		}
		if seen[name] {
			return Options{}, p.errAt(start, "there may not be more than one '%s' option", name)
		}
		seen[name] = true
		if err := p.expect('('); err != nil {
			return Options{}, err
		}
		var err error
		switch name {
		case "sort":
			o.Sort, err = p.sortKeys()
		case "size":
			o.Size, err = p.size()
		case "cursor":
			o.Cursor, err = p.cursor()
		case "limit":
			o.Limit, err = p.limit()
		}
		if err != nil {
			return Options{}, err
		}
		if err := p.expect(')'); err != nil {
			return Options{}, err
		}
		if p.eof() {
			break
		}
		if err := p.expect(','); err != nil {
			return Options{}, err
		}
	}
	if o.Limit != nil && (o.Size != 0 || o.Cursor != "") {
		return Options{}, optionError("The option 'limit' must not be used together with 'size' or 'cursor'.")
	}
	return o, nil
}

func (p *lexer) sortKeys() ([]SortKey, error) {
	var keys []SortKey
	for {
		var k SortKey
		switch {
		case p.peek('+'):
		case p.peek('-'):
			k.Descending = true
		default:
			return nil, p.errf("expected '+' or '-' before a sort property but found %s", p.describe())
		}
		p.pos++
		start := p.pos
		raw, err := p.characters()
		if err != nil {
			return nil, err
		}
		k.Property = trimSlash(raw)
		if _, err := ResolveField(k.Property, UseSort); err != nil {
			return nil, p.errAt(start, "%s", err.Error())
		}
		if len(keys) == MaxSortKeys {
			return nil, p.errAt(start, "more than %d sort keys", MaxSortKeys)
		}
		keys = append(keys, k)
		if !p.peek(',') || p.pos+1 >= len(p.s) || (p.s[p.pos+1] != '+' && p.s[p.pos+1] != '-') {
			return keys, nil
		}
		p.pos++
	}
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// size reads the digits of size(n).
func (p *lexer) size() (int, error) {
	start := p.pos
	p.skipDigits()
	if p.pos == start {
		return 0, p.errf("expected the page size (digits) but found %s", p.describe())
	}
	n, err := strconv.Atoi(p.s[start:p.pos])
	if err != nil || n > MaxSize {
		return 0, p.errAt(start, "size(n) -- n must be between 1 and %d", MaxSize)
	}
	if n <= 0 {
		return 0, p.errAt(start, "the option 'size' must be a positive integer")
	}
	return n, nil
}

func (p *lexer) cursor() (string, error) {
	start := p.pos
	c, err := p.characters()
	if err != nil {
		return "", err
	}
	if c == "" {
		return "", p.errAt(start, "the option 'cursor' is empty")
	}
	return c, nil
}

// limit reads offset,count of limit(offset,count): Ditto's LongLiterals.
func (p *lexer) limit() (*Limit, error) {
	offsetPos := p.pos
	offset, err := p.optionInteger()
	if err != nil {
		return nil, err
	}
	if err := p.expect(','); err != nil {
		return nil, err
	}
	countPos := p.pos
	count, err := p.optionInteger()
	if err != nil {
		return nil, err
	}
	if offset < 0 || offset > 1<<31-1 {
		return nil, p.errAt(offsetPos, "the offset of limit must be between 0 and %d", 1<<31-1)
	}
	if count < 1 || count > MaxSize {
		return nil, p.errAt(countPos, "the count of limit must be between 1 and %d", MaxSize)
	}
	return &Limit{Offset: int(offset), Count: int(count)}, nil
}

// optionInteger reads an integer literal and the whitespace after it.
func (p *lexer) optionInteger() (int64, error) {
	if p.eof() || (p.s[p.pos] != '+' && p.s[p.pos] != '-' && (p.s[p.pos] < '0' || p.s[p.pos] > '9')) {
		return 0, p.errf("expected an integer but found %s", p.describe())
	}
	v, err := p.number()
	if err != nil {
		return 0, err
	}
	i, ok := v.(int64)
	if !ok {
		return 0, p.errf("expected an integer")
	}
	p.skipWS()
	return i, nil
}
