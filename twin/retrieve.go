package twin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// retrieve answers a retrieve at any level. It takes no lock: the store only
// ever holds committed, durable states.
func (h *Handler) retrieve(ctx context.Context, cmd command) (protocol.Envelope, error) {
	fields, err := parseFields(cmd)
	if err != nil {
		return protocol.Envelope{}, err
	}
	if cmd.res.level == levelThing && fields == nil && cmd.condition == nil {
		if resp, ok, err := h.retrieveStored(ctx, cmd); ok || err != nil {
			return resp, err
		}
	}
	st, err := h.load(ctx, cmd.thingID)
	if err != nil {
		return protocol.Envelope{}, err
	}
	if !st.exists {
		return protocol.Envelope{}, thingNotFound(cmd.thingID)
	}
	enf, err := h.enforcer(ctx, cmd.thingID, st.rec.PolicyID, false)
	if err != nil {
		return protocol.Envelope{}, err
	}
	view := viewOf(enf, cmd.who, st.rec.Namespace)
	if !canRead(view, cmd.res.ptr) {
		// Unreadable is indistinguishable from absent.
		return protocol.Envelope{}, cmd.res.notFound(cmd.thingID)
	}
	if err := checkConditionReadable(cmd, view); err != nil {
		return protocol.Envelope{}, err
	}
	if err := checkPreconditions(cmd, st); err != nil {
		return protocol.Envelope{}, err
	}
	if err := checkCondition(cmd, st); err != nil {
		return protocol.Envelope{}, err
	}
	var value any
	var etag string
	if cmd.res.level == levelThing {
		value, etag = thingView(st, fields), revisionETag(st.rec.Revision)
	} else {
		v, ok := getAt(st.doc, cmd.res.ptr)
		if !ok {
			return protocol.Envelope{}, cmd.res.missing(cmd.thingID, st.doc, true)
		}
		value, etag = v, hashETag(v)
		if fields != nil {
			value = fields.Select(v)
		}
	}
	value = pruneAt(view, cmd.res.ptr, value)
	return response(cmd, protocol.ActionRetrieve, http.StatusOK, protocol.EncodeValue(value), etag, st.rec.Revision), nil
}

// retrieveStored answers the retrieve of a whole thing without fields or
// condition with the stored JSON as it is: the store holds the document as
// protocol.EncodeValue wrote it, which is what decoding and encoding it again
// would give. ok is false when the stored document is not a JSON object;
// the caller then takes the general way, which reports it.
func (h *Handler) retrieveStored(ctx context.Context, cmd command) (resp protocol.Envelope, ok bool, err error) {
	rec, err := h.store.Get(ctx, cmd.thingID)
	switch {
	case errors.Is(err, ErrNotFound):
		return protocol.Envelope{}, false, thingNotFound(cmd.thingID)
	case err != nil:
		h.log.Warn("store read failed", "thing", cmd.thingID, "err", err)
		return protocol.Envelope{}, false, unavailable(cmd.thingID)
	case rec.Deleted:
		return protocol.Envelope{}, false, thingNotFound(cmd.thingID)
	case !isJSONObject(rec.Doc):
		return protocol.Envelope{}, false, nil
	}
	enf, err := h.enforcer(ctx, cmd.thingID, rec.PolicyID, false)
	if err != nil {
		return protocol.Envelope{}, false, err
	}
	if !readsAll(viewOf(enf, cmd.who, rec.Namespace)) {
		// The general way prunes (or refuses) it.
		return protocol.Envelope{}, false, nil
	}
	// A precondition on the whole thing compares revisions only.
	if err := checkPreconditions(cmd, state{exists: true, rec: rec}); err != nil {
		return protocol.Envelope{}, false, err
	}
	return response(cmd, protocol.ActionRetrieve, http.StatusOK, rec.Doc, revisionETag(rec.Revision), rec.Revision), true, nil
}

// isJSONObject reports whether doc is one valid JSON object.
func isJSONObject(doc []byte) bool {
	return len(doc) > 0 && doc[0] == '{' && json.Valid(doc)
}

// parseFields parses the command's field selector. As in Ditto, fields a
// thing does not have are silently left out of a retrieve, not rejected.
func parseFields(cmd command) (protocol.FieldSelector, error) {
	if cmd.env.Fields == "" {
		return nil, nil
	}
	return protocol.ParseFieldSelector(cmd.env.Fields)
}

// thingView is the thing as a retrieve shows it: its document, with the
// special fields (_revision, _created, …) added when the selector names them.
func thingView(st state, fields protocol.FieldSelector) any {
	if fields == nil {
		return st.doc
	}
	return fields.Select(withSpecialFields(st))
}

// withSpecialFields is the thing's document with _namespace, _revision,
// _created and _modified added, as field selectors and RQL see it.
func withSpecialFields(st state) map[string]any {
	view := make(map[string]any, len(st.doc)+4)
	for k, v := range st.doc {
		view[k] = v
	}
	view["_namespace"] = st.rec.Namespace
	view["_revision"] = json.Number(itoa(st.rec.Revision))
	view["_created"] = protocol.FormatInstant(st.rec.Created)
	view["_modified"] = protocol.FormatInstant(st.rec.Modified)
	return view
}

// retrieveMany answers <ns|_>/_/things/twin/commands/retrieve with
// {"thingIds":[…]}: the things in the requested order, missing ones left out.
func (h *Handler) retrieveMany(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic) (protocol.Envelope, error) {
	cmd := command{env: env, topic: topic, who: who}
	if p, err := protocol.ParsePointer(env.Path); err != nil || !p.IsRoot() {
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeUnknownPath, "The path '%s' is not supported for retrieving several things; use '/'.", env.Path)
	}
	var body struct {
		ThingIDs []string `json:"thingIds"`
	}
	if env.Value != nil && json.Unmarshal(env.Value, &body) != nil {
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeJSONFormatInvalid, "The value must be an object with the array 'thingIds'.")
	}
	if len(body.ThingIDs) == 0 {
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeThingsIDsMissing, "The command to retrieve several Things did not contain any Thing IDs.")
	}
	for _, id := range body.ThingIDs {
		if err := protocol.ValidateThingID(id); err != nil {
			return protocol.Envelope{}, err
		}
	}
	fields, err := parseFields(cmd)
	if err != nil {
		return protocol.Envelope{}, err
	}
	views, err := h.Things(ctx, who, body.ThingIDs, fields)
	if err != nil {
		return protocol.Envelope{}, err
	}
	return protocol.Envelope{Topic: env.Topic, Headers: responseHeaders(cmd, 0), Path: "/", Value: views, Status: http.StatusOK}, nil
}

// Things returns the JSON array of the things with the given ids that exist
// and who may read, in the order of ids, each narrowed by fields when it is
// not nil and pruned to what who may read. Things that are read whole and
// without fields are joined as they are stored (see retrieveStored).
func (h *Handler) Things(ctx context.Context, who auth.Context, ids []string, fields protocol.FieldSelector) (json.RawMessage, error) {
	recs, err := h.store.GetMany(ctx, ids)
	if err != nil {
		h.log.Warn("store read failed", "err", err)
		return nil, protocol.Errorf(protocol.CodeThingUnavailable, "The Things are not available, please try again later.")
	}
	size := 2
	for _, rec := range recs {
		size += len(rec.Doc) + 1
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for _, rec := range recs {
		view, ok := h.readerView(ctx, who, rec)
		if !ok || !isJSONObject(rec.Doc) {
			continue
		}
		item := rec.Doc
		if fields != nil || !readsAll(view) {
			v, err := protocol.DecodeValue(rec.Doc)
			doc, _ := v.(map[string]any)
			if err != nil || doc == nil {
				continue
			}
			item = protocol.EncodeValue(pruneAt(view, nil, thingView(state{exists: true, rec: rec, doc: doc}, fields)))
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, item...)
	}
	return append(out, ']'), nil
}

// readerView is who's view of a stored thing; ok is false when who may read
// nothing of it (or its policy is gone).
func (h *Handler) readerView(ctx context.Context, who auth.Context, rec Record) (*policy.View, bool) {
	if h.policies == nil {
		return nil, true
	}
	enf, err := h.policies.Enforcer(ctx, rec.PolicyID)
	if err != nil {
		return nil, false
	}
	view := enf.View(who.Subjects, rec.Namespace)
	return view, view.CanRead(thingType, nil)
}
