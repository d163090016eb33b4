package twin

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// state is a thing as a command sees it: exists is false for a thing never
// created or deleted (rec then holds the tombstone's revision, if any).
type state struct {
	exists bool
	rec    Record
	doc    map[string]any
}

// change is what applying a write decided: the new document (nil deletes the
// thing), the response and the event.
type change struct {
	doc         map[string]any
	action      string // response topic action when not the command's (a modify that created the thing)
	status      int
	respValue   any  // value of a 201 response
	hasResp     bool // respValue is set (it may be JSON null)
	eventAction string
	eventValue  any // value of a created/modified event; the patch of a merged one
	hasEvent    bool
}

// applyFunc applies one kind of write to the current state. value is the
// command's decoded value (nil for delete).
type applyFunc func(cmd command, st state, value any) (change, error)

// maxWriteAttempts bounds retries after a revision conflict, which only
// happens when another process writes the same store.
const maxWriteAttempts = 3

// write runs one write command under the thing's lock: load, check
// preconditions, apply, validate, persist durably, publish the event, answer.
//
// With a store that reads its own writes (readsOwnWrites), the state a write
// starts from is usually the record this process stored last for the thing,
// remembered by its lock entry, not a read of the store:
// under the lock nobody else in this process writes the thing. Another
// process sharing the store may, so the remembered state is trusted only as
// far as the store's revision condition confirms it: a write on a stale
// state fails with a revision conflict and is retried on the stored state,
// and a command refused on a remembered state is decided again on the
// stored state before the refusal is answered.
func (h *Handler) write(ctx context.Context, cmd command, apply applyFunc) (protocol.Envelope, error) {
	var value any
	if cmd.topic.Action != protocol.ActionDelete {
		if cmd.env.Value == nil {
			return protocol.Envelope{}, protocol.Errorf(protocol.CodeJSONFieldMissing, "JSON did not include required </value> field!")
		}
		v, err := decodeValue(cmd.env.Value)
		if err != nil {
			return protocol.Envelope{}, protocol.Errorf(protocol.CodeJSONInvalid, "The value is not valid JSON: %v", err)
		}
		value = v
	}
	directives, err := parsePolicyDirectives(cmd, value)
	if err != nil {
		return protocol.Envelope{}, err
	}
	tl := h.locks.lock(cmd.thingID)
	defer h.locks.unlock(cmd.thingID, tl)
	for attempt := 1; ; {
		// Start from the state this process last stored, when the lock
		// entry remembers it; else (and after a conflict) read the store.
		remembered := h.remember && tl.hasLast
		var st state
		var err error
		if remembered {
			st, err = h.stateOf(tl.last)
		} else {
			st, err = h.load(ctx, cmd.thingID)
		}
		if err != nil {
			tl.forget()
			return protocol.Envelope{}, err
		}
		enf, err := h.authorizeWrite(ctx, cmd, st, value)
		var rec Record
		var ch change
		if err == nil {
			rec, ch, err = h.decide(cmd, st, apply, value)
		}
		if err != nil {
			if remembered {
				// Another process may have written the thing since: an
				// answer that depends on the state is only given on the
				// stored state.
				tl.forget()
				continue
			}
			return protocol.Envelope{}, err
		}
		// The write must not be abandoned half-way when the caller goes
		// away (a closed session, a dropped HTTP request): once it may be
		// committed, its event has to be published too.
		ctx := context.WithoutCancel(ctx)
		// A change of the thing's policy id is told to the readers of the
		// policy that allowed it, as Ditto does; later events follow the
		// new policy. A new thing's policy is settled here.
		var createdPolicy string
		if !st.exists && !rec.Deleted {
			enf, createdPolicy, err = h.policyForNewThing(ctx, cmd, rec.PolicyID, directives)
			if err != nil {
				h.rollbackPolicy(ctx, createdPolicy)
				return protocol.Envelope{}, err
			}
		}
		err = h.store.Put(ctx, rec, st.rec.Revision)
		if errors.Is(err, ErrRevisionConflict) {
			// The thing was certainly not stored: its new policy goes. After
			// another failure the write may have landed, and a thing whose
			// policy is gone is lost to everybody; a policy left behind only
			// makes a later implicit creation fail, as it does in Ditto.
			h.rollbackPolicy(ctx, createdPolicy)
		}
		if err != nil {
			// A conflict means another process wrote the thing; any other
			// failure leaves the stored state unknown.
			tl.forget()
		}
		if errors.Is(err, ErrRevisionConflict) && attempt < maxWriteAttempts {
			attempt++
			continue
		}
		if err != nil {
			h.log.Warn("store write failed", "thing", cmd.thingID, "err", err)
			return protocol.Envelope{}, unavailable(cmd.thingID)
		}
		if h.remember {
			tl.remember(rec)
		}
		h.publish(cmd, rec, ch, enf)
		return h.writeResponse(cmd, rec, ch), nil
	}
}

// decide checks the command's preconditions and condition on st, applies it
// and returns the record to store and the change. apply may change st.doc in
// place.
func (h *Handler) decide(cmd command, st state, apply applyFunc, value any) (Record, change, error) {
	if !cmd.res.ptr.IsRoot() && !st.exists {
		return Record{}, change{}, thingNotFound(cmd.thingID)
	}
	if err := checkPreconditions(cmd, st); err != nil {
		return Record{}, change{}, err
	}
	if err := checkCondition(cmd, st); err != nil {
		return Record{}, change{}, err
	}
	ch, err := apply(cmd, st, value)
	if err != nil {
		return Record{}, change{}, err
	}
	rec, err := h.nextRecord(cmd, st, ch)
	if err != nil {
		return Record{}, change{}, err
	}
	return rec, ch, nil
}

// nextRecord validates the new document and builds the record to store.
func (h *Handler) nextRecord(cmd command, st state, ch change) (Record, error) {
	now := h.now().UTC()
	rec := Record{ID: cmd.thingID, Namespace: cmd.topic.Namespace, Revision: st.rec.Revision + 1, Modified: now, Created: now}
	if st.exists {
		rec.Created = st.rec.Created
	}
	if ch.doc == nil {
		rec.Deleted = true
		rec.PolicyID = st.rec.PolicyID
		return rec, nil
	}
	doc, err := normalizeThing(ch.doc)
	if err != nil {
		return Record{}, err
	}
	if err := checkThingID(cmd.thingID, doc); err != nil {
		return Record{}, err
	}
	doc["thingId"] = cmd.thingID
	policyID, ok := doc["policyId"].(string)
	if !ok {
		return Record{}, policyIDNotDeletable()
	}
	rec.PolicyID = policyID
	rec.Doc = protocol.EncodeValue(doc)
	if size := utf16Length(rec.Doc); size > h.maxBytes {
		return Record{}, protocol.Errorf(protocol.CodeThingTooLarge, "The size of '%s' kB exceeds the maximal allowed Thing size of '%s' kB.",
			formatKB(size), formatKB(h.maxBytes))
	}
	return rec, nil
}

// checkThingID rejects a document whose thingId differs from the command's.
func checkThingID(thingID string, doc map[string]any) error {
	id, ok := doc["thingId"]
	if !ok {
		return nil
	}
	if s, isString := id.(string); !isString || s != thingID {
		return protocol.Errorf(protocol.CodeThingIDNotSettable, "The Thing ID in the request body is not equal to the Thing ID in the request URL or topic.")
	}
	return nil
}

func (h *Handler) publish(cmd command, rec Record, ch change, enf *policy.Enforcer) {
	if !ch.hasEvent {
		return
	}
	headers := responseHeaders(cmd, rec.Revision)
	customAcks(headers, cmd)
	topic := protocol.Topic{Namespace: cmd.topic.Namespace, Name: cmd.topic.Name, Group: protocol.GroupThings,
		Channel: protocol.ChannelTwin, Criterion: protocol.CriterionEvents, Action: ch.eventAction}
	env := protocol.Envelope{Topic: topic.String(), Headers: headers, Path: cmd.res.ptr.String(),
		Revision: rec.Revision, Timestamp: protocol.FormatInstant(rec.Modified)}
	switch ch.eventAction {
	case protocol.ActionMerged:
		headers[protocol.HeaderContentType] = protocol.ContentTypeMergePatch
		env.Value = protocol.EncodeValue(ch.eventValue)
	case protocol.ActionCreated, protocol.ActionModified:
		headers[protocol.HeaderContentType] = "application/json"
		env.Value = protocol.EncodeValue(ch.eventValue)
	default:
		delete(headers, protocol.HeaderContentType)
	}
	var thing map[string]any
	if ch.doc != nil {
		thing = withSpecialFields(state{exists: true, rec: rec, doc: ch.doc})
	}
	h.events.Publish(Event{ThingID: cmd.thingID, Namespace: cmd.topic.Namespace, Revision: rec.Revision, Envelope: env,
		Thing: thing, Modified: rec.Modified, Policy: enf, Unenforced: h.policies == nil})
}

func (h *Handler) writeResponse(cmd command, rec Record, ch change) protocol.Envelope {
	var etag string
	switch {
	case rec.Deleted || cmd.topic.Action == protocol.ActionDelete:
	case cmd.res.ptr.IsRoot(),
		// A merge of the policy id or definition answers with the thing's tag, as in Ditto.
		cmd.topic.Action == protocol.ActionMerge && (cmd.res.level == levelPolicyID || cmd.res.level == levelDefinition):
		etag = revisionETag(rec.Revision)
	default:
		if v, ok := getAt(ch.doc, cmd.res.ptr); ok {
			etag = hashETag(v)
		}
	}
	var value []byte
	switch {
	case ch.hasResp:
		value = protocol.EncodeValue(ch.respValue)
	case cmd.topic.Action == protocol.ActionModify && ch.status == http.StatusNoContent &&
		(cmd.res.level == levelAttributes || cmd.res.level == levelFeatures || cmd.res.level == levelFeature):
		// Ditto's responses to these replacements carry an explicit null.
		value = json.RawMessage("null")
	}
	action := cmd.topic.Action
	if ch.action != "" {
		action = ch.action
	}
	return response(cmd, action, ch.status, value, etag, rec.Revision)
}

// utf16Length is the length of JSON text in UTF-16 code units, which is what
// Ditto's size limit counts (Java string length).
func utf16Length(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		// An invalid byte decodes as U+FFFD of width 1, as ranging over the
		// string would.
		r, size := utf8.DecodeRune(b[i:])
		n++
		if r > 0xFFFF {
			n++
		}
		i += size
	}
	return n
}

// formatKB formats n/1024 with at most three decimals, as Ditto's message does.
func formatKB(n int) string {
	return strconv.FormatFloat(math.Round(float64(n)/1024*1000)/1000, 'f', -1, 64)
}

func unavailable(thingID string) *protocol.Error {
	return protocol.Errorf(protocol.CodeThingUnavailable, "The Thing with ID '%s' is not available, please try again later.", thingID)
}

// load reads the thing's current state from the store.
func (h *Handler) load(ctx context.Context, id string) (state, error) {
	rec, err := h.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return state{rec: Record{ID: id}}, nil
	}
	if err != nil {
		h.log.Warn("store read failed", "thing", id, "err", err)
		return state{}, unavailable(id)
	}
	return h.stateOf(rec)
}

// stateOf decodes a stored record (a never-stored thing has revision 0).
func (h *Handler) stateOf(rec Record) (state, error) {
	if rec.Deleted {
		return state{rec: rec}, nil
	}
	v, err := decodeValue(rec.Doc)
	doc, ok := v.(map[string]any)
	if err != nil || !ok {
		h.log.Error("stored thing is not a JSON object", "thing", rec.ID, "err", err)
		return state{}, protocol.Errorf(protocol.CodeInternal, "The stored Thing with ID '%s' could not be read.", rec.ID)
	}
	return state{exists: true, rec: rec, doc: doc}, nil
}

// checkPreconditions evaluates If-Match and If-None-Match against the
// addressed resource (SPEC.md §13.3). On a retrieve a matching If-None-Match
// is 304, on a write 412.
func checkPreconditions(cmd command, st state) error {
	retrieve := cmd.topic.Action == protocol.ActionRetrieve
	ifMatch, hasIfMatch := cmd.env.Headers[protocol.HeaderIfMatch]
	ifNoneMatch, hasIfNoneMatch := cmd.env.Headers[protocol.HeaderIfNoneMatch]
	if !hasIfMatch && !hasIfNoneMatch {
		return nil
	}
	exists, etag := st.exists, ""
	if exists {
		if cmd.res.ptr.IsRoot() {
			etag = revisionETag(st.rec.Revision)
		} else if v, ok := getAt(st.doc, cmd.res.ptr); ok {
			etag = hashETag(v)
		} else {
			exists = false
		}
	}
	if !exists && (retrieve || cmd.topic.Action == protocol.ActionDelete) {
		// As in Ditto: nothing to compare with, so the command goes on to
		// its 404.
		return nil
	}
	if hasIfMatch {
		any, _, err := protocol.ParseETagList(protocol.HeaderIfMatch, ifMatch)
		if err != nil {
			return err
		}
		if !exists || !(any || containsTag(ifMatch, etag)) {
			return withETag(preconditionFailed(protocol.HeaderIfMatch, ifMatch, etag), etag)
		}
	}
	if hasIfNoneMatch {
		any, _, err := protocol.ParseETagList(protocol.HeaderIfNoneMatch, ifNoneMatch)
		if err != nil {
			return err
		}
		if exists && (any || containsTag(ifNoneMatch, etag)) {
			if retrieve {
				return withETag(protocol.Errorf(protocol.CodePreconditionNotModified,
					"The comparison of precondition header 'if-none-match' for the requested Thing resource evaluated to false. Expected: '%s' not to match actual: '%s'.", ifNoneMatch, etag), etag)
			}
			return withETag(preconditionFailed(protocol.HeaderIfNoneMatch, ifNoneMatch, etag), etag)
		}
	}
	return nil
}

// withETag makes a precondition error carry the resource's current etag, as
// Ditto's do, so that a client can retry with it.
func withETag(e *protocol.Error, etag string) *protocol.Error {
	if etag != "" {
		e.Headers = protocol.Headers{protocol.HeaderETag: etag}
	}
	return e
}

// containsTag tells whether the If-Match or If-None-Match value raw, already
// checked by ParseETagList, lists etag. Ditto's tags are strong and compared
// strongly in both headers (EntityTag#strongCompareTo), so a weak W/"…" tag
// never matches.
func containsTag(raw, etag string) bool {
	for _, part := range strings.Split(raw, ",") {
		if strings.TrimSpace(part) == etag {
			return true
		}
	}
	return false
}

func preconditionFailed(header, value, actual string) *protocol.Error {
	if actual == "" {
		actual = "null"
	}
	return protocol.Errorf(protocol.CodePreconditionFailed,
		"The comparison of precondition header '%s' for the requested Thing resource evaluated to false. Header value: '%s', actual entity-tag: '%s'.", header, value, actual)
}
