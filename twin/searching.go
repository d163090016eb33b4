package twin

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// SearchRequest is a search as both doors receive it (HTTP query parameters,
// the WebSocket search protocol's subscribe payload): RQL texts, not parsed.
type SearchRequest struct {
	Filter     string
	Namespaces []string
	Options    string
	Fields     string
}

// SearchResult is one page: the things as JSON (narrowed by the request's
// fields) and the cursor of the next page ("" after the last).
type SearchResult struct {
	Items  []json.RawMessage
	Cursor string
}

// parsedSearch is a validated search.
type parsedSearch struct {
	query  SearchQuery
	fields protocol.FieldSelector
	// predicate is the filter compiled for checking it again on the part of
	// a thing a caller may read (nil: no filter).
	predicate *rql.Predicate
}

func (h *Handler) searcher() (Searcher, error) {
	s, ok := h.store.(Searcher)
	if !ok {
		return nil, errors.New("twin: the store cannot search")
	}
	return s, nil
}

// parseSearch validates a search request: the filter
// (rql.expression.invalid), the options and the namespaces
// (thing-search:search.option.invalid / search.namespaces.invalid).
func parseSearch(req SearchRequest) (parsedSearch, error) {
	var p parsedSearch
	if req.Filter != "" {
		filter, err := rql.ParseFilter(req.Filter)
		if err != nil {
			return p, err
		}
		p.query.Filter = filter
		if p.predicate, err = rql.Compile(filter); err != nil {
			return p, err
		}
	}
	for _, ns := range req.Namespaces {
		if !protocol.ValidNamespace(ns) {
			return p, protocol.Errorf(protocol.CodeSearchNamespacesInvalid, "The namespace <%s> is not valid.", ns)
		}
	}
	p.query.Namespaces = req.Namespaces
	if req.Options != "" {
		opts, err := rql.ParseOptions(req.Options)
		if err != nil {
			return p, err
		}
		if opts.Limit != nil {
			// Ditto deprecated limit(offset,count) for size and cursor;
			// offsets do not stay correct while things change, so this
			// gateway offers only the cursor.
			return p, protocol.Errorf(protocol.CodeSearchOptionInvalid, "The option 'limit' is not supported: use size(n) and cursor(c).")
		}
		p.query.Sort, p.query.Size, p.query.Cursor = opts.Sort, opts.Size, opts.Cursor
	}
	if p.query.Size == 0 {
		p.query.Size = rql.DefaultSize
	}
	if req.Fields != "" {
		fs, err := protocol.ParseFieldSelector(req.Fields)
		if err != nil {
			return p, err
		}
		p.fields = fs
	}
	return p, nil
}

// maxSearchRounds bounds the store queries one page of a search may take
// when the caller's policies hide some of the matches: the page may then come
// back short, with a cursor to go on.
const maxSearchRounds = 16

// Search answers one page of a search. The store filters, sorts and pages
// (pushdown); the handler drops the things the caller may not read, prunes
// the others to what it may read and narrows them to the selected fields.
// With partial read access the filter is evaluated again on what the caller
// may read, so that a search cannot reveal a hidden value.
//
// Nor may the cursor reveal anything: it is sealed (see cursorSealer), and a
// full page carries one only when a further match the caller may read
// exists, looked ahead for within the same bounded number of store queries.
// Only when that bound is reached (many matches the caller may not read in a
// row) does a page carry a cursor without knowing.
func (h *Handler) Search(ctx context.Context, who auth.Context, req SearchRequest) (SearchResult, error) {
	s, err := h.searcher()
	if err != nil {
		return SearchResult{}, err
	}
	p, err := parseSearch(req)
	if err != nil {
		return SearchResult{}, err
	}
	if p.query.Cursor != "" {
		if p.query.Cursor, err = h.cursors.open(p.query.Cursor); err != nil {
			return SearchResult{}, err
		}
	}
	out := SearchResult{Items: make([]json.RawMessage, 0, p.query.Size)}
	q := p.query
	round := 0
	for ; round < maxSearchRounds; round++ {
		// Never more than the page still needs: when the page fills, the
		// store's cursor is right after its last item.
		q.Size = p.query.Size - len(out.Items)
		page, err := s.Search(ctx, q)
		if err != nil {
			return SearchResult{}, h.searchFailed(err)
		}
		for _, rec := range page.Records {
			if item, ok := h.searchItem(ctx, who, p, rec); ok {
				out.Items = append(out.Items, item)
			}
		}
		out.Cursor = page.NextCursor
		if page.NextCursor == "" || len(out.Items) >= p.query.Size {
			break
		}
		q.Cursor = page.NextCursor
	}
	if out.Cursor != "" && len(out.Items) >= p.query.Size {
		more, err := h.moreReadable(ctx, s, who, p, out.Cursor, maxSearchRounds-round-1)
		if err != nil {
			return SearchResult{}, err
		}
		if !more {
			out.Cursor = ""
		}
	}
	out.Cursor = h.cursors.seal(out.Cursor)
	return out, nil
}

// moreReadable tells whether a match who may read follows the store cursor
// after, looking at most rounds store pages ahead; when it cannot tell
// within them it answers true, so that paging goes on.
func (h *Handler) moreReadable(ctx context.Context, s Searcher, who auth.Context, p parsedSearch, after string, rounds int) (bool, error) {
	if h.policies == nil {
		return true, nil
	}
	q := p.query
	q.Cursor = after
	for range rounds {
		page, err := s.Search(ctx, q)
		if err != nil {
			return false, h.searchFailed(err)
		}
		for _, rec := range page.Records {
			if _, _, ok := h.searchMatch(ctx, who, p.predicate, rec); ok {
				return true, nil
			}
		}
		if page.NextCursor == "" {
			return false, nil
		}
		q.Cursor = page.NextCursor
	}
	return true, nil
}

// searchItem is one search result as who may see it; ok is false when who
// may not read it or the filter does not match what who may read.
func (h *Handler) searchItem(ctx context.Context, who auth.Context, p parsedSearch, rec Record) (json.RawMessage, bool) {
	view, st, ok := h.searchMatch(ctx, who, p.predicate, rec)
	if !ok {
		return nil, false
	}
	return protocol.EncodeValue(pruneAt(view, nil, thingView(st, p.fields))), true
}

// searchMatch tells whether a thing the store matched is a match for who:
// who may read it, and, when who may read only part of it, predicate (the
// search's filter, nil for none) matches that part.
func (h *Handler) searchMatch(ctx context.Context, who auth.Context, predicate *rql.Predicate, rec Record) (*policy.View, state, bool) {
	view, ok := h.readerView(ctx, who, rec)
	if !ok {
		return nil, state{}, false
	}
	v, err := protocol.DecodeValue(rec.Doc)
	doc, isObject := v.(map[string]any)
	if err != nil || !isObject {
		return nil, state{}, false
	}
	st := state{exists: true, rec: rec, doc: doc}
	if !readsAll(view) && predicate != nil && !predicate.Match(rql.Input{Thing: pruneThing(view, withSpecialFields(st))}) {
		return nil, state{}, false
	}
	return view, st, true
}

// countPageSize is the page size of the walk that counts matches a caller
// may read.
const countPageSize = 200

// Count counts the things a search's filter and namespaces match and the
// caller may read. Without policies the store counts; with them the matches
// are walked page by page, as each thing has its own policy.
func (h *Handler) Count(ctx context.Context, who auth.Context, req SearchRequest) (int64, error) {
	s, err := h.searcher()
	if err != nil {
		return 0, err
	}
	p, err := parseSearch(SearchRequest{Filter: req.Filter, Namespaces: req.Namespaces})
	if err != nil {
		return 0, err
	}
	if h.policies == nil {
		n, err := s.Count(ctx, p.query)
		if err != nil {
			return 0, h.searchFailed(err)
		}
		return n, nil
	}
	var n int64
	q := p.query
	q.Size = countPageSize
	for {
		page, err := s.Search(ctx, q)
		if err != nil {
			return 0, h.searchFailed(err)
		}
		for _, rec := range page.Records {
			if _, _, ok := h.searchMatch(ctx, who, p.predicate, rec); ok {
				n++
			}
		}
		if page.NextCursor == "" {
			return n, nil
		}
		q.Cursor = page.NextCursor
	}
}

// searchFailed maps a store error: Ditto errors (a bad cursor) pass, the
// rest is an unavailable store.
func (h *Handler) searchFailed(err error) error {
	var e *protocol.Error
	if errors.As(err, &e) {
		return e
	}
	h.log.Warn("search failed", "err", err)
	return protocol.Errorf(protocol.CodeThingUnavailable, "The search is not available, please try again later.")
}
