package twin_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// memPolicies keeps policies in memory for the handler (twin.Policies).
type memPolicies struct {
	mu sync.Mutex
	m  map[string]*policy.Policy
}

func (p *memPolicies) Enforcer(_ context.Context, id string) (*policy.Enforcer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pol, ok := p.m[id]
	if !ok {
		return nil, twin.ErrNotFound
	}
	return policy.Compile(pol, time.Now()), nil
}

func (p *memPolicies) Policy(_ context.Context, id string) (*policy.Policy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pol, ok := p.m[id]
	if !ok {
		return nil, twin.ErrNotFound
	}
	return pol, nil
}

func (p *memPolicies) Create(_ context.Context, pol *policy.Policy) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m[pol.ID] = pol
	return nil
}

func (p *memPolicies) Delete(_ context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, id)
	return nil
}

// The live thing's policy: the caller owns it; alice reads the thing but
// attributes/secret and no message; bob writes the messages and the
// features' properties and reads nothing else.
const (
	liveID     = "org.example:lamp"
	livePolicy = `{"entries":{
		"owner":{"subjects":{"nginx:ditto":{"type":"t"}},"resources":{"thing:/":{"grant":["READ","WRITE"],"revoke":[]},
			"message:/":{"grant":["READ","WRITE"],"revoke":[]}}},
		"alice":{"subjects":{"nginx:alice":{"type":"t"}},"resources":{"thing:/":{"grant":["READ"],"revoke":[]},
			"thing:/attributes/secret":{"grant":[],"revoke":["READ"]}}},
		"bob":{"subjects":{"nginx:bob":{"type":"t"}},"resources":{"message:/":{"grant":["WRITE"],"revoke":[]},
			"thing:/features/light/properties":{"grant":["WRITE"],"revoke":[]}}}}}`
)

var (
	alice = auth.Context{Subjects: []string{"nginx:alice"}}
	bob   = auth.Context{Subjects: []string{"nginx:bob"}}
	carol = auth.Context{Subjects: []string{"nginx:carol"}}
)

func newLiveFixture(t *testing.T) *fixture {
	t.Helper()
	pols := &memPolicies{m: map[string]*policy.Policy{}}
	p, err := policy.Parse(liveID, []byte(livePolicy))
	if err != nil {
		t.Fatal(err)
	}
	pols.m[liveID] = p
	f := newFixture(t, func(c *twin.Config) { c.Policies = pols })
	f.mustCreate(liveID, `{"policyId":"`+liveID+`","attributes":{"room":"kitchen","secret":1},"features":{"light":{"properties":{"on":false}}}}`)
	return f
}

// wantLiveError checks the error of an authorisation.
func wantLiveError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: error %v, want %d %s", what, err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("%s: %d %s (%s), want %d %s", what, e.Status, e.Code, e.Message, status, code)
	}
}

func TestAuthorizeMessage(t *testing.T) {
	f := newLiveFixture(t)
	ctx := context.Background()
	const inbox = "message:/inbox/messages/ask"

	target, err := f.h.AuthorizeMessage(ctx, caller, liveID, inbox, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if target.ThingID != liveID || target.Namespace != "org.example" || target.Policy == nil {
		t.Fatalf("target %+v", target)
	}
	thing := target.Thing()
	if thing["_revision"] == nil || thing["_namespace"] != "org.example" || thing["attributes"] == nil {
		t.Fatalf("thing %v", thing)
	}
	if _, err := f.h.AuthorizeMessage(ctx, bob, liveID, inbox, false, nil); err != nil {
		t.Fatalf("bob may send: %v", err)
	}
	_, err = f.h.AuthorizeMessage(ctx, alice, liveID, inbox, false, nil)
	wantLiveError(t, "alice reads the thing, may not send", err, http.StatusForbidden, protocol.CodeMessageSendNotAllowed)
	_, err = f.h.AuthorizeMessage(ctx, carol, liveID, inbox, false, nil)
	wantLiveError(t, "carol may do nothing", err, http.StatusNotFound, protocol.CodeThingNotFound)
	if _, err := f.h.AuthorizeMessage(ctx, carol, liveID, "message:/inbox/messages/claim", true, nil); err != nil {
		t.Fatalf("a claim needs no permission: %v", err)
	}
	_, err = f.h.AuthorizeMessage(ctx, caller, "org.example:none", inbox, false, nil)
	wantLiveError(t, "no thing", err, http.StatusNotFound, protocol.CodeThingNotFound)
	_, err = f.h.AuthorizeMessage(ctx, caller, "not-an-id", inbox, false, nil)
	wantLiveError(t, "bad id", err, http.StatusBadRequest, protocol.CodeThingIDInvalid)

	// The condition header is evaluated on the twin.
	if _, err := f.h.AuthorizeMessage(ctx, caller, liveID, inbox, false, hdrs("condition", `eq(attributes/room,"kitchen")`)); err != nil {
		t.Fatalf("condition holds: %v", err)
	}
	_, err = f.h.AuthorizeMessage(ctx, caller, liveID, inbox, false, hdrs("condition", `eq(attributes/room,"hall")`))
	wantLiveError(t, "condition fails", err, http.StatusPreconditionFailed, protocol.CodeConditionFailed)
	_, err = f.h.AuthorizeMessage(ctx, caller, liveID, inbox, false, hdrs("condition", `eq(attributes/room`))
	wantLiveError(t, "condition invalid", err, http.StatusBadRequest, protocol.CodeConditionInvalid)
	_, err = f.h.AuthorizeMessage(ctx, bob, liveID, inbox, false, hdrs("condition", `eq(attributes/room,"kitchen")`))
	wantLiveError(t, "condition on what bob may not read", err, http.StatusPreconditionFailed, protocol.CodeConditionFailed)
}

func TestAuthorizeLiveCommand(t *testing.T) {
	f := newLiveFixture(t)
	ctx := context.Background()
	cmd := func(action, path, value string, h ...string) protocol.Envelope {
		env := protocol.Envelope{Topic: "org.example/lamp/things/live/commands/" + action, Path: path, Headers: hdrs(h...)}
		if value != "" {
			env.Value = raw(value)
		}
		return env
	}
	for _, ok := range []struct {
		who auth.Context
		env protocol.Envelope
	}{
		{caller, cmd("retrieve", "/", "")},
		{alice, cmd("retrieve", "/attributes", "")},
		{caller, cmd("modify", "/attributes/room", `"hall"`)},
		{bob, cmd("modify", "/features/light/properties/on", `true`)},
		{caller, cmd("delete", "/features/light", "")},
		// The device decides whether the part exists.
		{caller, cmd("retrieve", "/features/none", "")},
	} {
		if _, err := f.h.AuthorizeLiveCommand(ctx, ok.who, ok.env); err != nil {
			t.Errorf("%v %s %s: %v", ok.who.Subjects, ok.env.Topic, ok.env.Path, err)
		}
	}
	_, err := f.h.AuthorizeLiveCommand(ctx, alice, cmd("retrieve", "/attributes/secret", ""))
	wantLiveError(t, "alice's secret", err, http.StatusNotFound, protocol.CodeAttributeNotFound)
	_, err = f.h.AuthorizeLiveCommand(ctx, alice, cmd("modify", "/attributes/room", `1`))
	wantLiveError(t, "alice modifies", err, http.StatusForbidden, protocol.CodeAttributeNotModifiable)
	_, err = f.h.AuthorizeLiveCommand(ctx, bob, cmd("retrieve", "/features", ""))
	wantLiveError(t, "bob reads", err, http.StatusNotFound, protocol.CodeFeaturesNotFound)
	_, err = f.h.AuthorizeLiveCommand(ctx, caller, cmd("create", "/", `{}`))
	wantLiveError(t, "create", err, http.StatusMethodNotAllowed, protocol.CodeThingNotCreatable)
	_, err = f.h.AuthorizeLiveCommand(ctx, caller, protocol.Envelope{Topic: "org.example/none/things/live/commands/retrieve", Path: "/", Headers: hdrs()})
	wantLiveError(t, "no thing", err, http.StatusNotFound, protocol.CodeThingNotFound)
	_, err = f.h.AuthorizeLiveCommand(ctx, caller, cmd("modify", "/attributes/room", ""))
	wantLiveError(t, "no value", err, http.StatusBadRequest, protocol.CodeJSONFieldMissing)
	_, err = f.h.AuthorizeLiveCommand(ctx, caller, cmd("merge", "/attributes", `{}`))
	wantLiveError(t, "merge without its media type", err, http.StatusUnsupportedMediaType, protocol.CodeMediaType)
	_, err = f.h.AuthorizeLiveCommand(ctx, caller, cmd("modify", "/attributes/room", `1`, "condition", `eq(attributes/room,"hall")`))
	wantLiveError(t, "condition of a change", err, http.StatusPreconditionFailed, protocol.CodeConditionFailed)
	_, err = f.h.AuthorizeLiveCommand(ctx, alice, cmd("retrieve", "/attributes", "", "live-channel-condition", `eq(attributes/secret,1)`))
	wantLiveError(t, "live condition on alice's secret", err, http.StatusPreconditionFailed, protocol.CodeConditionFailed)
}

func TestAuthorizeLiveEvent(t *testing.T) {
	f := newLiveFixture(t)
	ctx := context.Background()
	ev := func(path string) protocol.Envelope {
		return protocol.Envelope{Topic: "org.example/lamp/things/live/events/modified", Path: path, Value: raw(`1`), Headers: hdrs()}
	}
	if _, err := f.h.AuthorizeLiveEvent(ctx, bob, ev("/features/light/properties/on")); err != nil {
		t.Fatalf("bob's event: %v", err)
	}
	_, err := f.h.AuthorizeLiveEvent(ctx, bob, ev("/attributes/room"))
	wantLiveError(t, "bob writes no attribute", err, http.StatusForbidden, protocol.CodeEventSendNotAllowed)
	_, err = f.h.AuthorizeLiveEvent(ctx, alice, ev("/"))
	wantLiveError(t, "alice writes nothing", err, http.StatusForbidden, protocol.CodeEventSendNotAllowed)
	_, err = f.h.AuthorizeLiveEvent(ctx, caller, protocol.Envelope{Topic: "org.example/none/things/live/events/modified", Path: "/", Headers: hdrs()})
	wantLiveError(t, "no thing", err, http.StatusNotFound, protocol.CodeThingNotFound)
}

func TestMatchLiveCondition(t *testing.T) {
	f := newLiveFixture(t)
	ctx := context.Background()
	for cond, want := range map[string]bool{`eq(attributes/room,"kitchen")`: true, `gt(_revision,5)`: false, `exists(features/light)`: true} {
		got, err := f.h.MatchLiveCondition(ctx, caller, liveID, cond)
		if err != nil || got != want {
			t.Errorf("%s: %v %v, want %v", cond, got, err, want)
		}
	}
	_, err := f.h.MatchLiveCondition(ctx, alice, liveID, `eq(attributes/secret,1)`)
	wantLiveError(t, "alice's secret", err, http.StatusPreconditionFailed, protocol.CodeConditionFailed)
	_, err = f.h.MatchLiveCondition(ctx, caller, liveID, `eq(`)
	wantLiveError(t, "invalid", err, http.StatusBadRequest, protocol.CodeConditionInvalid)
	_, err = f.h.MatchLiveCondition(ctx, carol, liveID, `exists(attributes/room)`)
	wantLiveError(t, "carol", err, http.StatusNotFound, protocol.CodeThingNotFound)
}

func TestLiveResourcePointer(t *testing.T) {
	typ, path := twin.LiveResourcePointer("message:/features/f/inbox/messages/a/b")
	if typ != "message" || path.String() != "/features/f/inbox/messages/a/b" {
		t.Fatalf("%s %v", typ, path)
	}
	if typ, path := twin.LiveResourcePointer("message:/"); typ != "message" || len(path) != 0 {
		t.Fatalf("%s %v", typ, path)
	}
}
