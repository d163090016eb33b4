package sqlitestore

// Search pushdown: a search is one SQL query over the things table. The RQL
// tree becomes a WHERE clause over the JSON document (SQLite's json_extract,
// json_type and json_each) with every value bound as a parameter; the
// namespaces, the sort and the page size become SQL too, so nothing is
// filtered, sorted or counted in Go. The SQL answers exactly what
// rql.Compile's predicate answers for the same thing (the cross-check test
// holds them to it); see package rql for the semantics.
//
// Sort order. Each sort key orders by type first, then by value within the
// type: missing and null (first when ascending, last when descending, as in
// Ditto), numbers (numerically), strings (by their UTF-8 bytes), objects,
// arrays (both by their compact JSON text), booleans (false before true).
// A key's value is the one at its path through objects only. thingId
// breaks ties (ascending) unless the sort names it; keys after thingId are
// dropped, as Ditto does. _created and _modified sort chronologically.
//
// Paging. The cursor is the last row's sort values (keyset paging, no
// OFFSET): the next page continues strictly after that row in the sort
// order, so paging stays exact while things are created and deleted. A
// cursor also carries the filter, namespaces and sort it was made for; a
// query with a cursor may omit them (Ditto's cursors work that way), but a
// query that gives different ones is refused.
//
// Storage and indexes. Filters read search_doc, the document as JSONB,
// which SQLite derives from doc (migration 1→2): no text is parsed during
// a search. Arbitrary JSON paths cannot be indexed ahead of time, so
// filters on attributes and features scan the live things, in one pass with
// no Go involved, stopping early when the sort follows an index (thingId,
// the default, or _modified) and enough rows matched. Migration 1→2 indexes
// (namespace, id) and (modified, id); id and policy_id were indexed already.

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

var _ twin.Searcher = (*Store)(nil)

const (
	// docExpr is a live thing's document as JSONB (see migration 1→2).
	docExpr = "things.search_doc"
	// maxSearchKeys bounds the keys of one property in a search (from the
	// thing's root, so attributes/ and 15 more): each key below the thing
	// model's objects nests a subquery, and SQLite limits the depth of an
	// expression (1000) -- with MaxDepth levels of and/or/not around the
	// deepest property, 16 keys stay well inside the limit.
	maxSearchKeys = 16
	// maxCursorLength bounds a cursor's text and maxCursorJSON its
	// decompressed form.
	maxCursorLength = 64 << 10
	maxCursorJSON   = 1 << 20
)

// columnFields are the properties a things column answers.
var columnFields = map[string]struct {
	column string
	text   bool // TEXT, else INTEGER
}{
	"thingId":    {"id", true},
	"_namespace": {"namespace", true},
	"policyId":   {"policy_id", true},
	"_revision":  {"revision", false},
	"_created":   {"created", false},
	"_modified":  {"modified", false},
}

// Search returns one page of the live things matching q (see twin.Searcher
// and the notes at the top of this file).
func (s *Store) Search(ctx context.Context, q twin.SearchQuery) (twin.SearchPage, error) {
	if s.closed() {
		return twin.SearchPage{}, closedErr("search")
	}
	size := q.Size
	switch {
	case size == 0:
		size = rql.DefaultSize
	case size < 0 || size > rql.MaxSize:
		return twin.SearchPage{}, optionError("size(n) -- n must be between 1 and %d", rql.MaxSize)
	}
	filter, namespaces, keys := q.Filter, normalizeNamespaces(q.Namespaces), q.Sort
	var after *cursorData
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return twin.SearchPage{}, err
		}
		if filter, namespaces, keys, err = c.reconcile(filter, namespaces, keys); err != nil {
			return twin.SearchPage{}, err
		}
		after = &c
	}
	keys = twin.NormalizeSort(keys)

	b := newSQLBuilder()
	plan, err := b.sortPlan(keys)
	if err != nil {
		return twin.SearchPage{}, err
	}
	where, cond, err := b.clauses(filter, namespaces)
	if err != nil {
		return twin.SearchPage{}, err
	}
	if after != nil {
		bound, afterCond, err := b.after(plan, after.Values)
		if err != nil {
			return twin.SearchPage{}, err
		}
		if bound != "" {
			where += " AND " + bound
		}
		// The CASE makes SQLite test the filter first: as separate terms
		// it may evaluate the cursor's condition for every row.
		if cond == "" {
			cond = afterCond
		} else {
			cond = "CASE WHEN " + cond + " THEN " + afterCond + " ELSE 0 END"
		}
	}
	if cond != "" {
		where += " AND " + cond
	}
	var sqlText strings.Builder
	sqlText.WriteString("SELECT " + recordCols)
	for _, c := range plan {
		sqlText.WriteString(", " + c.expr)
	}
	sqlText.WriteString(" FROM things")
	if plan[0].expr == "modified" {
		// Without statistics SQLite prefers sorting a full scan; the index
		// returns the first page without looking at the rest.
		sqlText.WriteString(" INDEXED BY things_modified")
	}
	sqlText.WriteString(" WHERE " + where + " ORDER BY ")
	for i, c := range plan {
		if i > 0 {
			sqlText.WriteString(", ")
		}
		sqlText.WriteString(strconv.Itoa(9 + i)) // the result column
		if c.desc {
			sqlText.WriteString(" DESC")
		}
	}
	sqlText.WriteString(" LIMIT " + b.param(int64(size+1)))

	rows, err := s.readDB.QueryContext(ctx, sqlText.String(), b.args...)
	if err != nil {
		return twin.SearchPage{}, s.readErr("search", err)
	}
	defer rows.Close()
	var (
		page twin.SearchPage
		last []any
	)
	for rows.Next() {
		rec, values, err := scanSearchRow(rows, len(plan))
		if err != nil {
			return twin.SearchPage{}, s.readErr("search", err)
		}
		if len(page.Records) == size {
			// A row beyond the page: there is a next page, after the last
			// row of this one.
			c := cursorData{Filter: rql.Format(filter), Namespaces: namespaces, Sort: keys, Values: encodeValues(last)}
			if page.NextCursor, err = c.encode(); err != nil {
				return twin.SearchPage{}, err
			}
			break
		}
		page.Records = append(page.Records, rec)
		last = values
	}
	if err := rows.Err(); err != nil {
		return twin.SearchPage{}, s.readErr("search", err)
	}
	return page, nil
}

// Count counts the live things matching q's Filter and Namespaces.
func (s *Store) Count(ctx context.Context, q twin.SearchQuery) (int64, error) {
	if s.closed() {
		return 0, closedErr("count")
	}
	b := newSQLBuilder()
	where, err := b.where(q.Filter, normalizeNamespaces(q.Namespaces))
	if err != nil {
		return 0, err
	}
	var n int64
	if err := s.readDB.QueryRowContext(ctx, "SELECT count(*) FROM things WHERE "+where, b.args...).Scan(&n); err != nil {
		return 0, s.readErr("count", err)
	}
	return n, nil
}

func scanSearchRow(rows *sql.Rows, extra int) (twin.Record, []any, error) {
	var (
		rec               twin.Record
		created, modified sql.NullInt64
	)
	values := make([]any, extra)
	dest := []any{&rec.ID, &rec.Namespace, &rec.PolicyID, &rec.Revision, &created, &modified, &rec.Deleted, &rec.Doc}
	for i := range values {
		dest = append(dest, &values[i])
	}
	if err := rows.Scan(dest...); err != nil {
		return twin.Record{}, nil, err
	}
	rec.Created = decodeTime(created)
	rec.Modified = decodeTime(modified)
	if len(rec.Doc) == 0 {
		rec.Doc = nil
	}
	return rec, values, nil
}

func normalizeNamespaces(ns []string) []string {
	if len(ns) == 0 {
		return nil
	}
	out := slices.Clone(ns)
	slices.Sort(out)
	return slices.Compact(out)
}

func rqlError(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeRQLInvalid, "Invalid RQL expression: %s.", fmt.Sprintf(format, args...))
}

func optionError(format string, args ...any) *protocol.Error {
	return protocol.Errorf(protocol.CodeSearchOptionInvalid, format, args...)
}
