package twin

import (
	"context"
	"slices"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// SearchQuery asks a store for things: those matching Filter (nil: all) in
// one of Namespaces (empty: any), ordered by Sort (the thing id always breaks
// ties), at most Size of them, after Cursor.
type SearchQuery struct {
	Filter     rql.Node
	Namespaces []string
	Sort       []rql.SortKey
	Size       int
	// Cursor is a store's opaque NextCursor from an earlier page of the same
	// filter and sort; empty starts at the beginning.
	Cursor string
}

// SearchPage is one page of results. NextCursor is empty on the last page.
type SearchPage struct {
	Records    []Record
	NextCursor string
}

// Searcher is a store that answers searches itself (pushdown): it never
// loads every thing into the gateway to filter it.
type Searcher interface {
	Search(ctx context.Context, q SearchQuery) (SearchPage, error)
	// Count counts the things matching q's Filter and Namespaces; the other
	// fields are ignored.
	Count(ctx context.Context, q SearchQuery) (int64, error)
}

// NormalizeSort is the sort a store applies for keys: up to the first
// thingId key, with thingId appended when keys lack it, so that the order is
// total and a cursor names one position.
func NormalizeSort(keys []rql.SortKey) []rql.SortKey {
	for i, k := range keys {
		if k.Property == "thingId" {
			return slices.Clone(keys[:i+1])
		}
	}
	return append(slices.Clone(keys), rql.SortKey{Property: "thingId"})
}

// InvalidCursor is the error of a cursor that cannot continue a search.
func InvalidCursor(description string) *protocol.Error {
	return protocol.Errorf(protocol.CodeSearchOptionInvalid, "The option 'cursor' is not valid for the search request.").
		WithDescription(description)
}

// Continued is the query of a cursor, as the store recorded it in the
// cursor: the filter's text, the namespaces and the normalized sort.
type Continued struct {
	Filter     string
	Namespaces []string
	Sort       []rql.SortKey
}

// Continue checks a query's filter, namespaces and sort against the query a
// cursor continues: a part the query leaves out comes from the cursor; one
// it gives must be the cursor's (as Ditto requires).
func (c Continued) Continue(filter rql.Node, namespaces []string, keys []rql.SortKey) (rql.Node, []string, []rql.SortKey, error) {
	switch {
	case filter == nil && c.Filter != "":
		f, err := rql.ParseFilter(c.Filter)
		if err != nil {
			return nil, nil, nil, InvalidCursor("The cursor is not one this service issued.")
		}
		filter = f
	case rql.Format(filter) != c.Filter:
		return nil, nil, nil, InvalidCursor("The parameter 'filter' must not differ from the original query of the cursor.")
	}
	switch {
	case len(namespaces) == 0:
		namespaces = c.Namespaces
	case !slices.Equal(namespaces, c.Namespaces):
		return nil, nil, nil, InvalidCursor("The parameter 'namespaces' must not differ from the original query of the cursor.")
	}
	switch {
	case len(keys) == 0:
		keys = c.Sort
	case !slices.Equal(NormalizeSort(keys), c.Sort):
		return nil, nil, nil, InvalidCursor("The option 'sort' must not differ from the original query of the cursor.")
	}
	return filter, namespaces, keys, nil
}
