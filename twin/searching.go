package twin

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/twinway/twinway/auth"
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

// Search answers one page of a search. The store filters, sorts and pages
// (pushdown); the handler only narrows each thing to the selected fields.
func (h *Handler) Search(ctx context.Context, who auth.Context, req SearchRequest) (SearchResult, error) {
	s, err := h.searcher()
	if err != nil {
		return SearchResult{}, err
	}
	p, err := parseSearch(req)
	if err != nil {
		return SearchResult{}, err
	}
	page, err := s.Search(ctx, p.query)
	if err != nil {
		return SearchResult{}, h.searchFailed(err)
	}
	out := SearchResult{Items: make([]json.RawMessage, 0, len(page.Records)), Cursor: page.NextCursor}
	for _, rec := range page.Records {
		v, err := protocol.DecodeValue(rec.Doc)
		doc, ok := v.(map[string]any)
		if err != nil || !ok {
			continue
		}
		out.Items = append(out.Items, protocol.EncodeValue(thingView(state{exists: true, rec: rec, doc: doc}, p.fields)))
	}
	return out, nil
}

// Count counts the things a search's filter and namespaces match.
func (h *Handler) Count(ctx context.Context, who auth.Context, req SearchRequest) (int64, error) {
	s, err := h.searcher()
	if err != nil {
		return 0, err
	}
	p, err := parseSearch(SearchRequest{Filter: req.Filter, Namespaces: req.Namespaces})
	if err != nil {
		return 0, err
	}
	n, err := s.Count(ctx, p.query)
	if err != nil {
		return 0, h.searchFailed(err)
	}
	return n, nil
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
