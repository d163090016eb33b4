package mongostore

// Search pushdown: a search is one find over the things collection with
// the translated filter (filter.go), a sort and a limit; Count is one
// countDocuments. Nothing is filtered, sorted or counted in Go.
//
// Sort order, as the embedded store documents it: each key orders missing
// and null first (last when descending), then numbers (numerically), strings
// (by their UTF-8 bytes), objects, arrays (both by their compact JSON text),
// booleans (false before true); a key's value is the one at its path
// through objects only; thingId breaks ties (ascending) unless the sort
// names it, and keys after thingId are dropped. A property sorts by its
// path in s, whose layout (layout.go, sortTree) makes MongoDB's own BSON
// order this order; thingId, _namespace, policyId, _revision, _created and
// _modified sort by their top-level fields (times as int64 nanoseconds,
// chronologically).
//
// Paging is keyset paging, as in the embedded store: the cursor holds the
// last thing's sort values (BSON, so every type survives) and the next page
// is the things strictly after it in the sort order, so paging stays exact
// while things are created and deleted. Because MongoDB's $gt and $lt
// compare within one type only, "after" is spelled per type rank: a
// greater value of the same type, or any value of a later type. The cursor
// also carries the filter, namespaces and sort it was made for: a query
// with a cursor may omit them, but one that gives different ones is
// refused (thing-search:search.option.invalid).

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

var _ twin.Searcher = (*Store)(nil)

const (
	// maxCursorLength bounds a cursor's text and maxCursorBSON its
	// decompressed form.
	maxCursorLength = 64 << 10
	maxCursorBSON   = 1 << 20
)

func optionError(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeSearchOptionInvalid, format, args...)
}

func invalidCursor(description string) *protocol.Error { return twin.InvalidCursor(description) }

// Search returns one page of the live things matching q.
func (s *Store) Search(ctx context.Context, q twin.SearchQuery) (twin.SearchPage, error) {
	if s.closed.Load() {
		return twin.SearchPage{}, closedErr("search")
	}
	size := q.Size
	switch {
	case size == 0:
		size = rql.DefaultSize
	case size < 0 || size > rql.MaxSize:
		return twin.SearchPage{}, optionError("size(n) -- n must be between 1 and %d", rql.MaxSize)
	}
	req, err := buildSearch(q, size, time.Now())
	if err != nil {
		return twin.SearchPage{}, err
	}
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	opts := options.Find().SetSort(req.sort).SetLimit(int64(size + 1)).SetProjection(req.projection).SetAllowDiskUse(true)
	cur, err := s.things.Find(opCtx, req.filter, opts)
	if err != nil {
		return twin.SearchPage{}, s.fail(ctx, "search", err)
	}
	defer cur.Close(context.WithoutCancel(opCtx))
	var (
		page twin.SearchPage
		last []bson.RawValue
	)
	for cur.Next(opCtx) {
		if len(page.Records) == size {
			// A thing beyond the page: there is a next page, after the
			// last thing of this one.
			if page.NextCursor, err = req.cursor(last).encode(); err != nil {
				return twin.SearchPage{}, err
			}
			break
		}
		var st stored
		if err := bson.Unmarshal(cur.Current, &st); err != nil {
			return twin.SearchPage{}, fmt.Errorf("mongostore: search: decode %s: %w", cur.Current.Lookup(fieldID), err)
		}
		page.Records = append(page.Records, st.record())
		last = sortValues(cur.Current, req.plan)
	}
	if err := cur.Err(); err != nil {
		return twin.SearchPage{}, s.fail(ctx, "search", err)
	}
	return page, nil
}

// Count counts the live things matching q's Filter and Namespaces.
func (s *Store) Count(ctx context.Context, q twin.SearchQuery) (int64, error) {
	if s.closed.Load() {
		return 0, closedErr("count")
	}
	filter, err := queryFilter(q.Filter, normalizeNamespaces(q.Namespaces), time.Now())
	if err != nil {
		return 0, err
	}
	opCtx, cancel := s.opContext(ctx)
	defer cancel()
	n, err := s.things.CountDocuments(opCtx, filter)
	if err != nil {
		return 0, s.fail(ctx, "count", err)
	}
	return n, nil
}

// searchRequest is a search as MongoDB gets it.
type searchRequest struct {
	filter     bson.D
	sort       bson.D
	projection bson.D
	plan       []sortComponent
	// What the next page's cursor carries.
	filterText string
	namespaces []string
	keys       []rql.SortKey
}

func (r *searchRequest) cursor(values []bson.RawValue) cursorData {
	return cursorData{Filter: r.filterText, Namespaces: r.namespaces, Sort: toCursorKeys(r.keys), Values: values}
}

// buildSearch turns a query (its cursor included) into the find request.
func buildSearch(q twin.SearchQuery, size int, now time.Time) (*searchRequest, error) {
	filter, namespaces, keys := q.Filter, normalizeNamespaces(q.Namespaces), q.Sort
	var after *cursorData
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		if filter, namespaces, keys, err = c.reconcile(filter, namespaces, keys); err != nil {
			return nil, err
		}
		after = &c
	}
	keys = twin.NormalizeSort(keys)
	plan, err := sortPlan(keys)
	if err != nil {
		return nil, err
	}
	where, err := queryFilter(filter, namespaces, now)
	if err != nil {
		return nil, err
	}
	if after != nil {
		cond, err := afterCondition(plan, after.Values)
		if err != nil {
			return nil, err
		}
		where = and(where, cond)
	}
	return &searchRequest{
		filter:     where,
		sort:       sortDocument(plan),
		projection: projection(plan),
		plan:       plan,
		filterText: rql.Format(filter),
		namespaces: namespaces,
		keys:       keys,
	}, nil
}

// queryFilter is the query for the live things in namespaces (all when
// empty) matching filter (all when nil).
func queryFilter(filter rql.Node, namespaces []string, now time.Time) (bson.D, error) {
	parts := []bson.D{{{Key: fieldDeleted, Value: false}}}
	if len(namespaces) > 0 {
		ns := make(bson.A, len(namespaces))
		for i, n := range namespaces {
			ns[i] = n
		}
		parts = append(parts, cond(fieldNamespace, "$in", ns))
	}
	if filter != nil {
		f, err := Filter(filter, now)
		if err != nil {
			return nil, err
		}
		if len(f) > 0 {
			parts = append(parts, f)
		}
	}
	return and(parts...), nil
}

func normalizeNamespaces(ns []string) []string {
	if len(ns) == 0 {
		return nil
	}
	out := slices.Clone(ns)
	slices.Sort(out)
	return slices.Compact(out)
}

// sortComponent is one field of the sort.
type sortComponent struct {
	path     string
	desc     bool
	column   bool // a top-level field of one type (an index may serve it)
	nullable bool // a column that may be missing (_created, _modified)
}

var sortColumns = map[string]struct {
	field    string
	nullable bool
}{
	"thingId":    {fieldID, false},
	"_namespace": {fieldNamespace, false},
	"policyId":   {fieldPolicyID, false},
	"_revision":  {fieldRevision, false},
	"_created":   {fieldCreated, true},
	"_modified":  {fieldModified, true},
}

// sortPlan resolves normalized sort keys into fields, leaving out those
// that cannot change the order.
func sortPlan(keys []rql.SortKey) ([]sortComponent, error) {
	var plan []sortComponent
	for _, k := range keys {
		f, err := rql.ResolveField(k.Property, rql.UseSort)
		if err != nil {
			return nil, optionError("Invalid sort option: %s.", err.Error())
		}
		if len(f.Keys) > maxSearchKeys {
			return nil, optionError("Invalid sort option: the property <%s> is deeper than %d keys.", k.Property, maxSearchKeys)
		}
		c := sortComponent{desc: k.Descending}
		if col, ok := sortColumns[f.Keys[0]]; ok && len(f.Keys) == 1 {
			c.path, c.column, c.nullable = col.field, true, col.nullable
		} else {
			c.path = escapePath(fieldSort, f.Keys)
		}
		// A path sorted by before, or below one (equal objects have equal
		// members; below a non-object everything is missing), cannot
		// change the order.
		if slices.ContainsFunc(plan, func(p sortComponent) bool {
			return p.path == c.path || strings.HasPrefix(c.path, p.path+".")
		}) {
			continue
		}
		plan = append(plan, c)
	}
	return plan, nil
}

// Sort is the MongoDB sort document for sort keys (as rql.ParseOptions
// gives them): thingId is appended when missing, keys after it dropped.
// Errors are *protocol.Error thing-search:search.option.invalid.
func Sort(keys []rql.SortKey) (bson.D, error) {
	plan, err := sortPlan(twin.NormalizeSort(keys))
	if err != nil {
		return nil, err
	}
	return sortDocument(plan), nil
}

func sortDocument(plan []sortComponent) bson.D {
	d := make(bson.D, len(plan))
	for i, c := range plan {
		dir := 1
		if c.desc {
			dir = -1
		}
		d[i] = bson.E{Key: c.path, Value: dir}
	}
	return d
}

// projection fetches the record and the sort values (each s path once: a
// path below another projected one is covered by it).
func projection(plan []sortComponent) bson.D {
	p := slices.Clone(recordProjection)
	var paths []string
	for _, c := range plan {
		if !c.column {
			paths = append(paths, c.path)
		}
	}
	slices.Sort(paths)
	var kept []string
	for _, path := range paths {
		if len(kept) > 0 && strings.HasPrefix(path, kept[len(kept)-1]+".") {
			continue
		}
		kept = append(kept, path)
	}
	for _, path := range kept {
		p = append(p, bson.E{Key: path, Value: 1})
	}
	return p
}

// sortValues reads the sort values of one result (null when missing).
func sortValues(doc bson.Raw, plan []sortComponent) []bson.RawValue {
	out := make([]bson.RawValue, len(plan))
	for i, c := range plan {
		v, err := doc.LookupErr(strings.Split(c.path, ".")...)
		if err != nil {
			v = bson.RawValue{Type: bson.TypeNull}
		}
		out[i] = v
	}
	return out
}

// Type ranks of the sort order: BSON's own order of the types a sort value
// can have (arrays are stored as documents in s).
const (
	rankNull = iota
	rankNumber
	rankString
	rankObject
	rankBool
)

func rankOf(v bson.RawValue) (int, bool) {
	switch v.Type {
	case bson.TypeNull, bson.TypeUndefined, 0:
		return rankNull, true
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble, bson.TypeDecimal128:
		return rankNumber, true
	case bson.TypeString:
		return rankString, true
	case bson.TypeEmbeddedDocument:
		return rankObject, true
	case bson.TypeBoolean:
		return rankBool, true
	}
	return 0, false
}

// rankTypes are the $type aliases of the ranks from rankNumber on.
var rankTypes = []string{rankNumber: "number", rankString: "string", rankObject: "object", rankBool: "bool"}

func typesFrom(rank int) bson.A {
	var a bson.A
	for r := max(rank, rankNumber); r <= rankBool; r++ {
		a = append(a, rankTypes[r])
	}
	return a
}

// afterCondition matches the things strictly after the one whose sort
// values are values, in plan's order.
func afterCondition(plan []sortComponent, values []bson.RawValue) (bson.D, error) {
	if len(values) != len(plan) {
		return nil, invalidCursor("The cursor does not fit the sort.")
	}
	var terms []bson.D
	for i, c := range plan {
		a, err := afterValue(c, values[i])
		if err != nil {
			return nil, err
		}
		if a != nil {
			var conj []bson.D
			for j := range i {
				conj = append(conj, equalValue(plan[j], values[j]))
			}
			terms = append(terms, and(append(conj, a)...))
		}
	}
	if len(terms) == 0 {
		return matchNone, nil
	}
	after := or(terms...)
	// A redundant bound on the first key lets an index on it start at the
	// cursor. (Descending, missing values come last: a nullable column has
	// no such bound.)
	if first, v := plan[0], values[0]; first.column && v.Type != bson.TypeNull {
		switch {
		case !first.desc:
			after = and(cond(first.path, "$gte", v), after)
		case !first.nullable:
			after = and(cond(first.path, "$lte", v), after)
		}
	}
	return after, nil
}

// equalValue matches the things whose value of c equals v in the sort
// order (missing equals null; 5 equals 5.0).
func equalValue(c sortComponent, v bson.RawValue) bson.D {
	if v.Type == bson.TypeNull {
		return bson.D{{Key: c.path, Value: nil}}
	}
	return bson.D{{Key: c.path, Value: v}}
}

// afterValue matches the things whose value of c comes strictly after v;
// nil when none can.
func afterValue(c sortComponent, v bson.RawValue) (bson.D, error) {
	rank, ok := rankOf(v)
	if !ok {
		return nil, invalidCursor("The cursor is not one this service issued.")
	}
	null := rank == rankNull
	switch {
	case c.column && !c.desc && null:
		return cond(c.path, "$ne", nil), nil
	case c.column && !c.desc:
		return cond(c.path, "$gt", v), nil
	case c.column && null: // descending: missing values are last
		return nil, nil
	case c.column && c.nullable:
		return or(cond(c.path, "$lt", v), bson.D{{Key: c.path, Value: nil}}), nil
	case c.column:
		return cond(c.path, "$lt", v), nil
	case !c.desc && null:
		return cond(c.path, "$ne", nil), nil
	case !c.desc:
		if later := typesFrom(rank + 1); len(later) > 0 {
			return or(cond(c.path, "$gt", v), cond(c.path, "$type", later)), nil
		}
		return cond(c.path, "$gt", v), nil
	case null:
		return nil, nil
	}
	// Descending: a smaller value of the same type, or an earlier type
	// (missing and null included).
	return or(cond(c.path, "$lt", v), bson.D{{Key: c.path, Value: bson.D{{Key: "$not", Value: bson.D{{Key: "$type", Value: typesFrom(rank)}}}}}}), nil
}

// Cursors: base64url (no padding) of the deflated BSON of cursorData.

type cursorData struct {
	Filter     string          `bson:"f,omitempty"`
	Namespaces []string        `bson:"n,omitempty"`
	Sort       []cursorKey     `bson:"s"`
	Values     []bson.RawValue `bson:"v"`
}

type cursorKey struct {
	Property   string `bson:"p"`
	Descending bool   `bson:"d,omitempty"`
}

func toCursorKeys(keys []rql.SortKey) []cursorKey {
	out := make([]cursorKey, len(keys))
	for i, k := range keys {
		out[i] = cursorKey{Property: k.Property, Descending: k.Descending}
	}
	return out
}

func fromCursorKeys(keys []cursorKey) []rql.SortKey {
	out := make([]rql.SortKey, len(keys))
	for i, k := range keys {
		out[i] = rql.SortKey{Property: k.Property, Descending: k.Descending}
	}
	return out
}

func (c cursorData) encode() (string, error) {
	raw, err := bson.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("mongostore: encode cursor: %w", err)
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = w.Write(raw)
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("mongostore: encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

var errForeignCursor = errors.New("not a cursor of this store")

func decodeCursor(s string) (cursorData, error) {
	var c cursorData
	if len(s) > maxCursorLength {
		return c, invalidCursor("The cursor is too long.")
	}
	compressed, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, invalidCursor("The cursor is not one this service issued.")
	}
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(compressed)), maxCursorBSON+1))
	if err == nil && len(raw) > maxCursorBSON {
		err = errForeignCursor
	}
	if err == nil {
		err = bson.Raw(raw).Validate()
	}
	if err == nil {
		err = bson.Unmarshal(raw, &c)
	}
	if err != nil || len(c.Sort) == 0 {
		return cursorData{}, invalidCursor("The cursor is not one this service issued.")
	}
	return c, nil
}

// reconcile checks a query against the cursor it continues (see
// twin.Continued).
func (c cursorData) reconcile(filter rql.Node, namespaces []string, keys []rql.SortKey) (rql.Node, []string, []rql.SortKey, error) {
	return twin.Continued{Filter: c.Filter, Namespaces: c.Namespaces, Sort: fromCursorKeys(c.Sort)}.Continue(filter, namespaces, keys)
}
