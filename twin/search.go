package twin

import (
	"context"

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
