// Package twin is the twin handler: it applies every twin command on things
// at every path level to the stored state, answers with Ditto's statuses and
// emits the change events. Both doors (WebSocket and HTTP) call the same
// Handler, so every rule is written once.
package twin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/rql"
)

// DefaultMaxThingBytes is Ditto's thing size limit (100 kB).
const DefaultMaxThingBytes = 100 * 1024

// Config wires a Handler. Zero values are documented defaults.
type Config struct {
	Store  Store     // required
	Events EventSink // nil: events are dropped
	// Policies decides what each caller may read and write (SPEC.md §11)
	// and creates the policies of new things. nil runs without policies:
	// every caller may do everything; only tests and embedders that do
	// their own authorization use that.
	Policies Policies
	Logger   *slog.Logger
	// MaxThingBytes bounds a thing's JSON; 0 means DefaultMaxThingBytes.
	MaxThingBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Handler applies twin commands. It is safe for concurrent use; commands for
// one thing are applied one at a time, in the order they take its lock.
type Handler struct {
	store    Store
	events   EventSink
	policies Policies
	log      *slog.Logger
	maxBytes int
	now      func() time.Time
	locks    thingLocks
	cursors  *cursorSealer
	// remember: writes start from the state this process stored last
	// (see write), because the store reads its own writes.
	remember bool
}

// readsOwnWrites is implemented by stores that promise: once Put(rec)
// returned nil, Get returns rec until another Put of the thing succeeds, in
// this process or in another one sharing the store (whose write the next Put
// of this process then meets as a revision conflict). With such a store the
// handler writes a thing from the record it stored last instead of reading it
// back first (see write). A store wrapper that changes what Get returns must
// not pass the promise on.
type readsOwnWrites interface {
	ReadsOwnWrites() bool
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("twin: Config.Store is required")
	}
	h := &Handler{store: cfg.Store, events: cfg.Events, policies: cfg.Policies, log: cfg.Logger, maxBytes: cfg.MaxThingBytes, now: cfg.Now}
	if h.events == nil {
		h.events = discardEvents{}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBytes <= 0 {
		h.maxBytes = DefaultMaxThingBytes
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.locks.m = map[string]*thingLock{}
	cursors, err := newCursorSealer()
	if err != nil {
		return nil, err
	}
	h.cursors = cursors
	if s, ok := cfg.Store.(readsOwnWrites); ok {
		h.remember = s.ReadsOwnWrites()
	}
	return h, nil
}

type discardEvents struct{}

func (discardEvents) Publish(Event) {}

// command is a parsed twin command.
type command struct {
	env     protocol.Envelope
	topic   protocol.Topic
	thingID string
	res     resource
	who     auth.Context
	// condition is the compiled condition header (nil: none).
	condition *rql.Predicate
}

// Handle applies one command envelope and returns its response envelope, an
// error envelope when it fails. The response echoes the correlation-id.
func (h *Handler) Handle(ctx context.Context, who auth.Context, env protocol.Envelope) protocol.Envelope {
	topic, err := protocol.ParseTopic(env.Topic)
	if err != nil {
		return protocol.ErrorEnvelope(protocol.AsError(err), protocol.Topic{}, env.Headers)
	}
	resp, err := h.handle(ctx, who, env, topic)
	if err != nil {
		return protocol.ErrorEnvelope(protocol.AsError(err), topic, env.Headers)
	}
	return resp
}

func (h *Handler) handle(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic) (protocol.Envelope, error) {
	if err := checkSupported(topic); err != nil {
		return protocol.Envelope{}, err
	}
	if err := checkHeadersSupported(env.Headers); err != nil {
		return protocol.Envelope{}, err
	}
	if err := checkETagHeaders(env.Headers); err != nil {
		return protocol.Envelope{}, err
	}
	if topic.Action == protocol.ActionRetrieve && topic.Name == protocol.Placeholder {
		return h.retrieveMany(ctx, who, env, topic)
	}
	cmd := command{env: env, topic: topic, thingID: topic.EntityID(), who: who}
	if err := protocol.ValidateThingID(cmd.thingID); err != nil {
		return protocol.Envelope{}, err
	}
	var err error
	if cmd.res, err = parseResource(env.Path); err != nil {
		return protocol.Envelope{}, err
	}
	if cmd.condition, err = compileCondition(env.Headers); err != nil {
		return protocol.Envelope{}, err
	}
	switch topic.Action {
	case protocol.ActionRetrieve:
		return h.retrieve(ctx, cmd)
	case protocol.ActionCreate:
		if !cmd.res.ptr.IsRoot() {
			return protocol.Envelope{}, protocol.Errorf(protocol.CodeUnknownPath, "The path '%s' is not supported for create; use '/'.", env.Path)
		}
		return h.write(ctx, cmd, applyCreate)
	case protocol.ActionModify:
		return h.write(ctx, cmd, applyModify)
	case protocol.ActionMerge:
		if err := checkMergeContentType(env.Headers); err != nil {
			return protocol.Envelope{}, err
		}
		return h.write(ctx, cmd, applyMerge)
	case protocol.ActionDelete:
		if cmd.res.level == levelPolicyID {
			// Ditto has no command to delete the policy id: the topic and
			// the path do not combine.
			return protocol.Envelope{}, protocol.Errorf(protocol.CodeUnknownTopicPath,
				"The topic '%s' is not supported in combination with the path '%s'", env.Topic, env.Path)
		}
		return h.write(ctx, cmd, applyDelete)
	}
	return protocol.Envelope{}, protocol.Errorf(protocol.CodeUnknownCommand, "The command '%s' is not supported.", topic.Action)
}

// checkSupported rejects the signals that are not twin commands on things.
func checkSupported(t protocol.Topic) error {
	switch {
	case t.Group != protocol.GroupThings:
		return protocol.Errorf(protocol.CodeSignalUnsupported, "The group '%s' is not supported by this gateway yet.", t.Group)
	case t.Channel != protocol.ChannelTwin:
		return protocol.Errorf(protocol.CodeSignalUnsupported, "The channel '%s' is not supported by this gateway yet.", t.Channel)
	case t.Criterion != protocol.CriterionCommands:
		return protocol.Errorf(protocol.CodeSignalUnsupported, "The criterion '%s' cannot be sent to the twin.", t.Criterion)
	}
	return nil
}

// responseHeaders are the headers of a response to cmd or of its event: the
// command's external headers, the originator, the content type and the
// entity revision, as Ditto sets them.
func responseHeaders(cmd command, revision int64) protocol.Headers {
	headers := protocol.ExternalHeaders(cmd.env.Headers)
	headers[protocol.HeaderContentType] = "application/json"
	if cmd.topic.Action == protocol.ActionMerge {
		headers[protocol.HeaderContentType] = protocol.ContentTypeMergePatch
	}
	if originator := cmd.who.DefaultSubject(); originator != "" {
		headers[protocol.HeaderOriginator] = originator
	}
	if revision > 0 {
		headers[protocol.HeaderEntityRevision] = itoa(revision)
	}
	// A response requests nothing: its requested-acks is the event's
	// business (see customAcks).
	delete(headers, protocol.HeaderRequestedAcks)
	return headers
}

// checkHeadersSupported rejects headers whose feature this gateway does not
// have yet, rather than ignoring them: a client that sends a condition must
// not have its write applied unconditionally.
func checkHeadersSupported(h protocol.Headers) error {
	for _, name := range []string{"live-channel-condition", "put-metadata", "get-metadata",
		"delete-metadata", "at-historical-revision", "at-historical-timestamp", "merge-thing-patch-conditions"} {
		if _, ok := h[name]; ok {
			return protocol.Errorf(protocol.CodeHeaderUnsupported, "The header '%s' is not supported by this gateway yet.", name)
		}
	}
	if v, ok := h["if-equal"]; ok && v != "update" {
		return protocol.Errorf(protocol.CodeHeaderUnsupported, "The header 'if-equal' with value '%s' is not supported by this gateway yet.", v)
	}
	if v, ok := h[protocol.HeaderRequestedAcks]; ok {
		// Any valid labels: the door waits for them (gateway), the event
		// names the custom ones (see customAcks), and the response itself
		// is twin-persisted, since the write is durable before it.
		if _, err := ack.ParseRequested(v); err != nil {
			return err
		}
	}
	return nil
}

// checkETagHeaders rejects a malformed If-Match or If-None-Match before the
// command runs, as Ditto validates header values when it reads them: an
// unquoted tag is header.invalid even where the precondition is never
// evaluated (a retrieve or delete of an absent thing, a write below one).
func checkETagHeaders(h protocol.Headers) error {
	for _, name := range []string{protocol.HeaderIfMatch, protocol.HeaderIfNoneMatch} {
		if v, ok := h[name]; ok {
			if _, _, err := protocol.ParseETagList(name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// customAcks sets the requested-acks header of the event of cmd to the
// custom labels the command requests, as Ditto copies them into the event:
// the sessions that declared them owe an acknowledgement for it. Built-in
// labels are the gateway's own business and are dropped, and with them a
// header that names no custom label. The command's header was validated by
// checkHeadersSupported.
func customAcks(h protocol.Headers, cmd command) {
	v, ok := cmd.env.Headers[protocol.HeaderRequestedAcks]
	if !ok {
		return
	}
	labels, _ := ack.ParseRequested(v)
	custom := labels[:0]
	for _, l := range labels {
		if !ack.IsBuiltIn(l) {
			custom = append(custom, l)
		}
	}
	if len(custom) == 0 {
		return // responseHeaders dropped the command's header
	}
	b, _ := json.Marshal(custom) // strings always marshal
	h[protocol.HeaderRequestedAcks] = string(b)
}

// checkMergeContentType requires the merge patch media type on merge
// commands, on both doors, as Ditto does.
func checkMergeContentType(h protocol.Headers) error {
	ct := h[protocol.HeaderContentType]
	mediaType, _, _ := strings.Cut(ct, ";")
	mediaType = strings.TrimSpace(mediaType)
	switch {
	case mediaType == "":
		return protocol.Errorf(protocol.CodeMediaType, "The Content-Type header was empty or not present. Please set Content-Type header to \"%s\" for this resource", protocol.ContentTypeMergePatch)
	case !strings.EqualFold(mediaType, protocol.ContentTypeMergePatch):
		return protocol.Errorf(protocol.CodeMediaType, "The Media-Type <%s> is not supported for this resource.", mediaType).
			WithDescription("Allowed Media-Type is: <" + protocol.ContentTypeMergePatch + ">.")
	}
	return nil
}

// response builds a success response to cmd; action overrides the topic's
// action when a modify or merge became a create.
func response(cmd command, action string, status int, value []byte, etag string, revision int64) protocol.Envelope {
	headers := responseHeaders(cmd, revision)
	if action != cmd.topic.Action {
		// A merge that created the thing is answered by Ditto's
		// CreateThingResponse, whose content type is JSON, not merge-patch.
		headers[protocol.HeaderContentType] = "application/json"
	}
	if etag != "" {
		headers[protocol.HeaderETag] = etag
	}
	topic := cmd.topic
	topic.Action = action
	return protocol.Envelope{Topic: topic.String(), Headers: headers, Path: cmd.res.ptr.String(), Value: value, Status: status}
}

// compileCondition compiles the condition header, once per command
// (SPEC.md §13.3); an invalid one is things:condition.invalid.
func compileCondition(h protocol.Headers) (*rql.Predicate, error) {
	text, ok := h[protocol.HeaderCondition]
	if !ok {
		return nil, nil
	}
	filter, err := rql.ParseFilter(text)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeConditionInvalid, "The specified condition '%s' is invalid: %s", text, protocol.AsError(err).Message)
	}
	// Ditto evaluates conditions in memory, where ne also matches a missing
	// field (unlike search).
	p, err := rql.Compile(filter, rql.NeMatchesMissing())
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeConditionInvalid, "The specified condition '%s' is invalid: %s", text, protocol.AsError(err).Message)
	}
	return p, nil
}

// checkCondition evaluates the command's condition on the thing's current
// state, special fields included; ETag preconditions are checked before it.
func checkCondition(cmd command, st state) error {
	if cmd.condition == nil || !st.exists {
		return nil
	}
	if !cmd.condition.Match(rql.Input{Thing: withSpecialFields(st)}) {
		return protocol.Errorf(protocol.CodeConditionFailed,
			"The specified condition '%s' does not match the state of the requested Thing.", cmd.env.Headers[protocol.HeaderCondition])
	}
	return nil
}
