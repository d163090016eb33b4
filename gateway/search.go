package gateway

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// Searcher answers searches: implemented by *twin.Handler.
type Searcher interface {
	Search(ctx context.Context, who auth.Context, req twin.SearchRequest) (twin.SearchResult, error)
}

// maxSearchesPerSession bounds a session's open search subscriptions.
const maxSearchesPerSession = 64

// searchSubscription is one search of the search protocol (SPEC.md §12):
// subscribe → created; each request of demand n → up to n next pages; after
// the last page complete; an error → failed. An invalid filter or option is
// reported by failed at the first request, as in Ditto.
type searchSubscription struct {
	req    twin.SearchRequest
	cursor string // of the next page; "" before the first
}

// searchPayload is the value of subscribe, request and cancel.
type searchPayload struct {
	SubscriptionID string   `json:"subscriptionId"`
	Filter         string   `json:"filter"`
	Options        string   `json:"options"`
	Namespaces     []string `json:"namespaces"`
	Demand         *int64   `json:"demand"`
}

// handleSearch runs one message of the search protocol.
func (s *session) handleSearch(env protocol.Envelope, topic protocol.Topic) {
	var p searchPayload
	if env.Value != nil && json.Unmarshal(env.Value, &p) != nil {
		s.searchReply(env, topic, protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeJSONFormatInvalid,
			"The value of a search message must be a JSON object."), topic, env.Headers))
		return
	}
	if s.g.cfg.Search == nil {
		s.searchReply(env, topic, protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeSignalUnsupported,
			"Search is not available on this gateway."), topic, env.Headers))
		return
	}
	switch topic.Action {
	case "subscribe":
		if len(s.searches) >= maxSearchesPerSession {
			s.searchReply(env, topic, protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeTooManyRequests,
				"A session may have at most %d open searches; cancel one first.", maxSearchesPerSession), topic, env.Headers))
			return
		}
		if s.searches == nil {
			s.searches = map[string]*searchSubscription{}
		}
		s.searchSeq++
		id := "search-" + strconv.Itoa(s.searchSeq) // unique within the session, as ids need to be
		s.searches[id] = &searchSubscription{req: twin.SearchRequest{Filter: p.Filter, Options: p.Options,
			Namespaces: p.Namespaces, Fields: env.Fields}}
		s.searchEvent(env, "created", id, nil)
	case "request":
		sub, ok := s.searches[p.SubscriptionID]
		if !ok {
			s.searchReply(env, topic, protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeSubscriptionNotFound,
				"The subscription '%s' was not found.", p.SubscriptionID), topic, env.Headers))
			return
		}
		if p.Demand == nil || *p.Demand <= 0 {
			s.searchFailed(env, p.SubscriptionID, protocol.Errorf(protocol.CodeSubscriptionProtocol,
				"The demand of a request must be positive."))
			return
		}
		s.deliverPages(env, p.SubscriptionID, sub, *p.Demand)
	case "cancel":
		delete(s.searches, p.SubscriptionID)
	default:
		s.searchReply(env, topic, protocol.ErrorEnvelope(protocol.Errorf(protocol.CodeUnknownCommand,
			"The search command '%s' is not supported; send subscribe, request or cancel.", topic.Action), topic, env.Headers))
	}
}

// deliverPages sends up to demand pages, then complete after the last one.
func (s *session) deliverPages(env protocol.Envelope, id string, sub *searchSubscription, demand int64) {
	for ; demand > 0; demand-- {
		req := sub.req
		if sub.cursor != "" {
			req.Options = withCursor(req.Options, sub.cursor)
		}
		res, err := s.g.cfg.Search.Search(s.ctx, s.who, req)
		if err != nil {
			s.searchFailed(env, id, protocol.AsError(err))
			return
		}
		if len(res.Items) > 0 {
			s.searchEvent(env, "next", id, map[string]any{"items": res.Items})
		}
		if res.Cursor == "" {
			delete(s.searches, id)
			s.searchEvent(env, "complete", id, nil)
			return
		}
		sub.cursor = res.Cursor
	}
}

// withCursor adds cursor(c) to search options, replacing none: a
// subscription's options never carry their own cursor past the first page.
func withCursor(options, cursor string) string {
	if options == "" {
		return "cursor(" + cursor + ")"
	}
	return options + ",cursor(" + cursor + ")"
}

// searchFailed ends a subscription with failed {subscriptionId, error}.
func (s *session) searchFailed(env protocol.Envelope, id string, e *protocol.Error) {
	delete(s.searches, id)
	s.searchEvent(env, "failed", id, map[string]any{"error": e})
}

// searchEvent sends _/_/things/twin/search/<action> with the subscription
// id and the other fields in its value.
func (s *session) searchEvent(cmd protocol.Envelope, action, id string, fields map[string]any) {
	value := map[string]any{"subscriptionId": id}
	for k, v := range fields {
		value[k] = v
	}
	b, _ := json.Marshal(value)
	topic := protocol.Topic{Namespace: protocol.Placeholder, Name: protocol.Placeholder, Group: protocol.GroupThings,
		Channel: protocol.ChannelTwin, Criterion: protocol.CriterionSearch, Action: action}
	headers := protocol.ExternalHeaders(cmd.Headers)
	headers[protocol.HeaderContentType] = "application/json"
	s.g.metrics.CountCommand("ws", "search", 200)
	s.reply(protocol.Envelope{Topic: topic.String(), Headers: headers, Path: "/", Value: b})
}

// searchReply sends an error answer to a search message.
func (s *session) searchReply(_ protocol.Envelope, topic protocol.Topic, resp protocol.Envelope) {
	s.countCommand(topic, resp.Status)
	s.reply(resp)
}
