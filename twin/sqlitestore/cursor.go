package sqlitestore

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

// Sorting and the keyset cursor of search pages.

// sortComponent is one ORDER BY term.
type sortComponent struct {
	expr     string
	desc     bool
	column   bool // a plain column, which an index may order
	nullable bool // a column that may be NULL (_created, _modified)
}

// sortPlan turns normalized sort keys into ORDER BY terms: a column, or for
// a JSON path its type rank then its value.
func (b *sqlBuilder) sortPlan(keys []rql.SortKey) ([]sortComponent, error) {
	var plan []sortComponent
	for _, k := range keys {
		f, err := rql.ResolveField(k.Property, rql.UseSort)
		if err != nil {
			return nil, optionError("Invalid sort option: %s.", err.Error())
		}
		if len(f.Keys) > maxSearchKeys {
			return nil, optionError("Invalid sort option: the property <%s> is deeper than %d keys.", k.Property, maxSearchKeys)
		}
		if col, ok := columnFields[f.Keys[0]]; ok && len(f.Keys) == 1 {
			plan = append(plan, sortComponent{expr: col.column, desc: k.Descending, column: true, nullable: f.Kind == rql.FieldTime})
			continue
		}
		path := b.jsonPath(f.Keys)
		rank, val := "0", "NULL"
		if path != "" {
			typ := "json_type(" + docExpr + "," + path + ")"
			rank = "(CASE " + typ + " WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 WHEN 'object' THEN 3" +
				" WHEN 'array' THEN 4 WHEN 'false' THEN 5 WHEN 'true' THEN 5 ELSE 0 END)"
			val = "json_extract(" + docExpr + "," + path + ")"
		}
		plan = append(plan,
			sortComponent{expr: rank, desc: k.Descending},
			sortComponent{expr: val, desc: k.Descending})
	}
	return plan, nil
}

// after is the condition for the rows strictly after the row whose sort
// values are values, in plan's order (NULL is the smallest value), and a
// redundant bound on the first key ("" if none) that lets an index on it
// start at the cursor instead of at the beginning.
func (b *sqlBuilder) after(plan []sortComponent, encoded []cursorValue) (bound, cond string, err error) {
	values, err := decodeValues(encoded)
	if err != nil || len(values) != len(plan) {
		return "", "", invalidCursor("The cursor does not fit the sort.")
	}
	for i := len(plan) - 1; i >= 0; i-- {
		c, v := plan[i], values[i]
		expr := c.expr
		if c.column {
			// Unary plus: SQLite is not to split this OR over the index
			// (MULTI-INDEX OR), which would lose the index order.
			expr = "+" + expr
		}
		var gt, eq string
		if v == nil {
			eq = expr + " IS NULL"
			if c.desc {
				gt = "0"
			} else {
				gt = expr + " IS NOT NULL"
			}
		} else {
			p := b.param(v)
			eq = expr + " = " + p
			if c.desc {
				gt = "(" + expr + " < " + p + " OR " + expr + " IS NULL)"
			} else {
				gt = expr + " > " + p
			}
		}
		if cond == "" {
			cond = gt
		} else {
			cond = "(" + gt + " OR (" + eq + " AND " + cond + "))"
		}
	}
	// Descending, NULLs come last: a nullable column gets no bound.
	if first := plan[0]; first.column && values[0] != nil {
		switch {
		case !first.desc:
			bound = first.expr + " >= " + b.param(values[0])
		case !first.nullable:
			bound = first.expr + " <= " + b.param(values[0])
		}
	}
	return bound, "(" + cond + ")", nil
}

// Cursors: base64url (no padding) of the JSON of cursorData, deflated when
// it is large.

type cursorData struct {
	Filter     string        `json:"f,omitempty"`
	Namespaces []string      `json:"n,omitempty"`
	Sort       []rql.SortKey `json:"s"`
	Values     []cursorValue `json:"v"`
}

// cursorValue is a sort value with its type: [] (NULL), ["i","42"],
// ["f","1.5"] or ["s","text"].
type cursorValue []string

func encodeValues(values []any) []cursorValue {
	out := make([]cursorValue, len(values))
	for i, v := range values {
		switch x := v.(type) {
		case nil:
			out[i] = cursorValue{}
		case int64:
			out[i] = cursorValue{"i", strconv.FormatInt(x, 10)}
		case float64:
			out[i] = cursorValue{"f", strconv.FormatFloat(x, 'g', -1, 64)}
		case string:
			out[i] = cursorValue{"s", x}
		case []byte:
			out[i] = cursorValue{"s", string(x)}
		case bool:
			out[i] = cursorValue{"i", map[bool]string{false: "0", true: "1"}[x]}
		default:
			out[i] = cursorValue{"s", fmt.Sprint(x)}
		}
	}
	return out
}

func decodeValues(cv []cursorValue) ([]any, error) {
	out := make([]any, len(cv))
	for i, v := range cv {
		switch {
		case len(v) == 0:
			out[i] = nil
		case len(v) == 2 && v[0] == "i":
			n, err := strconv.ParseInt(v[1], 10, 64)
			if err != nil {
				return nil, err
			}
			out[i] = n
		case len(v) == 2 && v[0] == "f":
			f, err := strconv.ParseFloat(v[1], 64)
			if err != nil {
				return nil, err
			}
			out[i] = f
		case len(v) == 2 && v[0] == "s":
			out[i] = v[1]
		default:
			return nil, errors.New("bad cursor value")
		}
	}
	return out, nil
}

// Cursor encodings, the first byte of the decoded cursor.
const (
	cursorPlain    = 'j' // JSON follows
	cursorDeflated = 'z' // deflated JSON follows
	// deflateAbove is the JSON size from which a cursor is deflated (a
	// deflater costs about a megabyte of memory, too much for every page).
	deflateAbove = 1024
)

func (c cursorData) encode() (string, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("sqlitestore: encode cursor: %w", err)
	}
	if len(raw) <= deflateAbove {
		return base64.RawURLEncoding.EncodeToString(append([]byte{cursorPlain}, raw...)), nil
	}
	buf := bytes.NewBuffer([]byte{cursorDeflated})
	w, _ := flate.NewWriter(buf, flate.BestSpeed)
	_, _ = w.Write(raw)
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("sqlitestore: encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

func invalidCursor(description string) *protocol.Error { return twin.InvalidCursor(description) }

func decodeCursor(s string) (cursorData, error) {
	var c cursorData
	if len(s) > maxCursorLength {
		return c, invalidCursor("The cursor is too long.")
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(data) == 0 {
		return c, invalidCursor("The cursor is not one this service issued.")
	}
	raw := data[1:]
	switch data[0] {
	case cursorPlain:
	case cursorDeflated:
		raw, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), maxCursorJSON+1))
		if err != nil || len(raw) > maxCursorJSON {
			return c, invalidCursor("The cursor is not one this service issued.")
		}
	default:
		return c, invalidCursor("The cursor is not one this service issued.")
	}
	if err := json.Unmarshal(raw, &c); err != nil || len(c.Sort) == 0 {
		return c, invalidCursor("The cursor is not one this service issued.")
	}
	return c, nil
}

// reconcile checks a query against the cursor it continues (see
// twin.Continued).
func (c cursorData) reconcile(filter rql.Node, namespaces []string, keys []rql.SortKey) (rql.Node, []string, []rql.SortKey, error) {
	return twin.Continued{Filter: c.Filter, Namespaces: c.Namespaces, Sort: c.Sort}.Continue(filter, namespaces, keys)
}
