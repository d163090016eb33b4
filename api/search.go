package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// Searcher answers searches: implemented by *twin.Handler.
type Searcher interface {
	Search(ctx context.Context, who auth.Context, req twin.SearchRequest) (twin.SearchResult, error)
	Count(ctx context.Context, who auth.Context, req twin.SearchRequest) (int64, error)
}

// searchRequest reads the search parameters of GET (query) or POST (form
// body, application/x-www-form-urlencoded) /api/2/search/things[/count].
func searchRequest(c *call) (twin.SearchRequest, *protocol.Error) {
	if c.r.Method == http.MethodPost {
		if err := c.r.ParseForm(); err != nil {
			return twin.SearchRequest{}, protocol.Errorf(protocol.CodeJSONInvalid, "The search form could not be read: %v", err)
		}
	}
	get := func(name string) string {
		if c.r.Method == http.MethodPost {
			return c.r.Form.Get(name)
		}
		return c.r.URL.Query().Get(name)
	}
	req := twin.SearchRequest{Filter: get("filter"), Options: get("option"), Fields: get("fields")}
	for _, ns := range strings.Split(get("namespaces"), ",") {
		if ns = strings.TrimSpace(ns); ns != "" {
			req.Namespaces = append(req.Namespaces, ns)
		}
	}
	return req, nil
}

// searchThings serves /api/2/search/things: {"items":[…],"cursor":"…"}, the
// cursor only when another page follows.
func (a *API) searchThings(c *call) {
	req, perr := searchRequest(c)
	if perr != nil {
		a.rejectSearch(c, perr)
		return
	}
	res, err := a.search.Search(c.r.Context(), c.who, req)
	if err != nil {
		a.rejectSearch(c, protocol.AsError(err))
		return
	}
	body, _ := json.Marshal(struct {
		Items  []json.RawMessage `json:"items"`
		Cursor string            `json:"cursor,omitempty"`
	}{res.Items, res.Cursor})
	a.metrics.CountCommand(door, "search", http.StatusOK)
	writeJSON(c.w, http.StatusOK, body)
}

// countThings serves /api/2/search/things/count: a bare integer.
func (a *API) countThings(c *call) {
	req, perr := searchRequest(c)
	if perr != nil {
		a.rejectSearch(c, perr)
		return
	}
	n, err := a.search.Count(c.r.Context(), c.who, req)
	if err != nil {
		a.rejectSearch(c, protocol.AsError(err))
		return
	}
	a.metrics.CountCommand(door, "count", http.StatusOK)
	writeJSON(c.w, http.StatusOK, []byte(strconv.FormatInt(n, 10)))
}

func (a *API) rejectSearch(c *call, err *protocol.Error) {
	a.metrics.CountCommand(door, "search", err.Status)
	writeError(c, err)
}
