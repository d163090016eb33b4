// Package policies is the policy handler: it applies the commands of Ditto's
// policies group (<ns>/<name>/policies/commands/<action>) at every path level
// of a policy, enforces them with the policy itself, stores policies in a
// twin.PolicyStore and serves their compiled form (policy.Enforcer) to the
// twin handler and the doors, compiled once per revision and cached.
//
// Policy changes emit no events: Ditto streams none to its clients.
//
// Files: handler.go (wiring, dispatch, responses), resource.go (path levels
// and their errors), parse.go (command values), values.go (the JSON of each
// level, entity tags), apply.go (writes of each level), validate.go (Ditto's
// policy checks on a write), retrieve.go, write.go (the one-writer-per-policy
// path to the store), cache.go (compiled policies), errors.go.
package policies

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// DefaultCacheTTL is how long a cached policy is used before it is checked
// against the store again (other gateway processes may write the store).
const DefaultCacheTTL = 5 * time.Second

// Header names of the policies group.
const (
	headerAllowPolicyLockout = "allow-policy-lockout"
	headerPolicyView         = "policy-view"
)

// Config wires a Handler. Zero values are documented defaults.
type Config struct {
	Store  twin.PolicyStore // required
	Logger *slog.Logger     // nil discards
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheTTL bounds how long a policy written by another process may stay
	// unseen; 0 means DefaultCacheTTL.
	CacheTTL time.Duration
}

// Handler applies policy commands and serves compiled policies. It is safe
// for concurrent use; the writes of one policy are applied one at a time.
type Handler struct {
	store twin.PolicyStore
	log   *slog.Logger
	now   func() time.Time
	ttl   time.Duration
	locks idLocks
	cache cache
}

// New validates cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("policies: Config.Store is required")
	}
	if cfg.CacheTTL < 0 {
		return nil, errors.New("policies: Config.CacheTTL must not be negative")
	}
	h := &Handler{store: cfg.Store, log: cfg.Logger, now: cfg.Now, ttl: cfg.CacheTTL}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ttl == 0 {
		h.ttl = DefaultCacheTTL
	}
	h.locks.m = map[string]*idLock{}
	h.cache.entries = map[string]*snapshot{}
	h.cache.loads = map[string]*pendingLoad{}
	return h, nil
}

// Enforcer returns the compiled current revision of policy id. A missing or
// deleted policy is an error wrapping twin.ErrNotFound, a store failure one
// wrapping twin.ErrUnavailable.
func (h *Handler) Enforcer(ctx context.Context, id string) (*policy.Enforcer, error) {
	s, err := h.current(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.policy == nil {
		return nil, storeError(id, twin.ErrNotFound)
	}
	return s.enforcer, nil
}

// Policy returns the current policy id, a copy the caller may change; errors
// as Enforcer's.
func (h *Handler) Policy(ctx context.Context, id string) (*policy.Policy, error) {
	s, err := h.current(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.policy == nil {
		return nil, storeError(id, twin.ErrNotFound)
	}
	return s.policy.Clone(), nil
}

// Create stores p as a new policy without a permission check: the policy a
// thing's creation makes (its implicit default policy, an inline _policy, a
// _copyPolicyFrom). It makes Ditto's checks on p (policy.Validate, entry
// references, the size limit); a live policy with p's id is
// policies:policy.conflict (409). Errors are *protocol.Error.
func (h *Handler) Create(ctx context.Context, p *policy.Policy) error {
	if p == nil {
		return errors.New("policies: Create of a nil policy")
	}
	if err := protocol.ValidatePolicyID(p.ID); err != nil {
		return err
	}
	next := p.Clone()
	_, err := h.write(ctx, p.ID, func(cur *snapshot) (*policy.Policy, bool, error) {
		if cur.policy != nil {
			return nil, false, policyConflict(p.ID)
		}
		if err := checkNewPolicy(next, h.now()); err != nil {
			return nil, false, err
		}
		return next, true, nil
	})
	return err
}

// Delete deletes policy id without a permission check (the rollback of a
// failed thing creation). A missing policy is an error wrapping
// twin.ErrNotFound, a store failure policies:policy.unavailable.
func (h *Handler) Delete(ctx context.Context, id string) error {
	_, err := h.write(ctx, id, func(cur *snapshot) (*policy.Policy, bool, error) {
		if cur.policy == nil {
			return nil, false, storeError(id, twin.ErrNotFound)
		}
		return nil, true, nil
	})
	return err
}

// command is a parsed policy command.
type command struct {
	env   protocol.Envelope
	topic protocol.Topic
	who   auth.Context
	res   resource
	// allowLockout is the allow-policy-lockout header.
	allowLockout bool
	// resolved is policy-view=resolved.
	resolved bool
}

// Handle applies one command envelope of the policies group and returns its
// response envelope, an error envelope when it fails. The response echoes
// the correlation-id.
func (h *Handler) Handle(ctx context.Context, who auth.Context, env protocol.Envelope) protocol.Envelope {
	topic, err := protocol.ParseTopic(env.Topic)
	if err != nil {
		return protocol.ErrorEnvelope(protocol.AsError(err), protocol.Topic{}, env.Headers)
	}
	resp, err := h.handle(ctx, who, env, topic)
	if err != nil {
		var perr *protocol.Error
		if !errors.As(err, &perr) {
			h.log.Error("policy command failed", "topic", env.Topic, "path", env.Path, "err", err)
		}
		return protocol.ErrorEnvelope(protocol.AsError(err), topic, env.Headers)
	}
	return resp
}

func (h *Handler) handle(ctx context.Context, who auth.Context, env protocol.Envelope, topic protocol.Topic) (protocol.Envelope, error) {
	switch {
	case topic.Group != protocol.GroupPolicies:
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeSignalUnsupported, "The group '%s' is not handled by the policies handler.", topic.Group)
	case topic.Criterion != protocol.CriterionCommands:
		return protocol.Envelope{}, protocol.Errorf(protocol.CodeSignalUnsupported, "The criterion '%s' is not supported for policies by this gateway yet.", topic.Criterion)
	}
	id := topic.EntityID()
	if err := protocol.ValidatePolicyID(id); err != nil {
		return protocol.Envelope{}, err
	}
	cmd := command{env: env, topic: topic, who: who}
	var err error
	if cmd.allowLockout, cmd.resolved, err = checkHeaders(env.Headers); err != nil {
		return protocol.Envelope{}, err
	}
	if cmd.res, err = parseResource(id, env.Path); err != nil {
		return protocol.Envelope{}, err
	}
	if !cmd.res.allows(topic.Action) {
		return protocol.Envelope{}, unknownTopicPath(env.Topic, env.Path)
	}
	switch topic.Action {
	case protocol.ActionRetrieve:
		return h.retrieve(ctx, cmd)
	case protocol.ActionDelete:
		return h.modify(ctx, cmd, value{})
	}
	v, err := parseValue(cmd.res, env.Value)
	if err != nil {
		return protocol.Envelope{}, err
	}
	return h.modify(ctx, cmd, v)
}

// checkHeaders checks the headers the handler acts on, and rejects those
// whose feature it does not have rather than ignoring them.
func checkHeaders(h protocol.Headers) (allowLockout, resolved bool, err error) {
	for _, name := range []string{"at-historical-revision", "at-historical-timestamp"} {
		if _, ok := h[name]; ok {
			return false, false, protocol.Errorf(protocol.CodeHeaderUnsupported, "The header '%s' is not supported by this gateway yet.", name)
		}
	}
	if v, ok := h["if-equal"]; ok && v != "update" {
		return false, false, protocol.Errorf(protocol.CodeHeaderUnsupported, "The header 'if-equal' with value '%s' is not supported by this gateway yet.", v)
	}
	for _, name := range []string{protocol.HeaderIfMatch, protocol.HeaderIfNoneMatch} {
		if v, ok := h[name]; ok {
			if _, _, err := protocol.ParseETagList(name, v); err != nil {
				return false, false, err
			}
		}
	}
	if v, ok := h[headerAllowPolicyLockout]; ok {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return false, false, protocol.Errorf(protocol.CodeHeaderInvalid, "The value '%s' of the header '%s' is not a valid boolean.", v, headerAllowPolicyLockout)
		}
		allowLockout = b
	}
	if v, ok := h[headerPolicyView]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "original":
		case "resolved":
			resolved = true
		default:
			return false, false, viewInvalid(v)
		}
	}
	return allowLockout, resolved, nil
}

// response builds a success response to cmd; action overrides the topic's
// action when a modify created the policy.
func (cmd command) response(action string, status int, value []byte, etag string, revision int64) protocol.Envelope {
	headers := protocol.ExternalHeaders(cmd.env.Headers)
	headers[protocol.HeaderContentType] = "application/json"
	if originator := cmd.who.DefaultSubject(); originator != "" {
		headers[protocol.HeaderOriginator] = originator
	}
	if revision > 0 {
		headers[protocol.HeaderEntityRevision] = strconv.FormatInt(revision, 10)
	}
	if etag != "" {
		headers[protocol.HeaderETag] = etag
	}
	topic := cmd.topic
	topic.Action = action
	return protocol.Envelope{Topic: topic.String(), Headers: headers, Path: cmd.res.path(), Value: value, Status: status}
}

// view is the caller's view of the policy in s.
func (cmd command) view(s *snapshot) *policy.View {
	return s.enforcer.View(cmd.who.Subjects, s.policy.Namespace())
}

// unavailable logs a store failure and answers policies:policy.unavailable.
func (h *Handler) unavailable(id string, err error) *protocol.Error {
	h.log.Warn("policy store failed", "policy", id, "err", err)
	return policyUnavailable(id)
}
