package live_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
)

// wantError asserts that err is a *protocol.Error with code and status.
func wantError(t *testing.T, err error, code string, status int) *protocol.Error {
	t.Helper()
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *protocol.Error, want %s", err, err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("got %s (%d): %s; want %s (%d)", e.Code, e.Status, e.Message, code, status)
	}
	if e.Message == "" || e.Description == "" {
		t.Errorf("error %s lacks a message or description", e.Code)
	}
	return e
}

func newPending(t *testing.T, cfg live.Config) *live.Pending {
	t.Helper()
	p, err := live.NewPending(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wait returns the request's result, failing if it does not end within a
// generous bound (the test would otherwise hang).
func wait(t *testing.T, r *live.Request) (protocol.Envelope, error) {
	t.Helper()
	select {
	case <-r.Done():
		return r.Result()
	case <-time.After(10 * time.Second):
		t.Fatal("request did not end")
		return protocol.Envelope{}, nil
	}
}

func ended(r *live.Request) bool {
	select {
	case <-r.Done():
		return true
	default:
		return false
	}
}

func reply(cid string, status int) protocol.Envelope {
	return protocol.Envelope{Topic: "org.eclipse.ditto/smartcoffee/things/live/messages/ask",
		Headers: protocol.Headers{"correlation-id": cid, "content-type": "text/plain"},
		Path:    "/outbox/messages/ask", Value: []byte(`"I am a coffee machine"`), Status: status}
}

func TestPendingFirstReplyWins(t *testing.T) {
	p := newPending(t, live.Config{})
	r, err := p.Register("app", "c-1", time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if r.RoutingID() != "c-1" || r.CorrelationID() != "c-1" || r.Owner() != "app" {
		t.Errorf("request %s %s %s", r.RoutingID(), r.CorrelationID(), r.Owner())
	}
	if _, err := r.Result(); err == nil {
		t.Error("Result before the end gave no error")
	}
	if !p.Resolve("c-1", reply("c-1", 418)) {
		t.Fatal("first reply refused")
	}
	if p.Resolve("c-1", reply("c-1", 200)) {
		t.Error("second reply accepted")
	}
	got, err := wait(t, r)
	if err != nil || got.Status != 418 {
		t.Errorf("result %+v, %v", got, err)
	}
	if p.Resolve("unknown", reply("unknown", 200)) {
		t.Error("reply for an unknown id accepted")
	}
	if p.Len() != 0 {
		t.Errorf("%d requests left", p.Len())
	}
}

// TestPendingResolveFromResponders: only an owner the request was delivered
// to may answer it; a reply from anyone else leaves it waiting, and one
// from a responder that left is refused too.
func TestPendingResolveFromResponders(t *testing.T) {
	p := newPending(t, live.Config{})
	r, _ := p.Register("app", "c-1", time.Now().Add(time.Minute))
	other, _ := p.Register("app2", "c-1", time.Now().Add(time.Minute))
	p.AddResponders(r, "device", "gone")
	p.AddResponders(other, "mallory")
	if p.ResolveFrom(r, "mallory", reply("c-1", 200)) || r.HasResponder("mallory") || ended(r) {
		t.Fatal("a reply from a session the request never reached was accepted")
	}
	p.ResponderGone("gone")
	if p.ResolveFrom(r, "gone", reply("c-1", 200)) || ended(r) {
		t.Fatal("a reply from a responder that left was accepted")
	}
	if !r.HasResponder("device") || !p.ResolveFrom(r, "device", reply(r.RoutingID(), 418)) {
		t.Fatal("the responder's reply was refused")
	}
	if p.ResolveFrom(r, "device", reply("c-1", 200)) || r.HasResponder("device") {
		t.Error("a second reply was accepted")
	}
	if got, err := wait(t, r); err != nil || got.Status != 418 || got.Headers["correlation-id"] != "c-1" {
		t.Errorf("result %+v, %v", got, err)
	}
	// The renamed request gets the asker's correlation-id back.
	if other.RoutingID() == "c-1" || !p.ResolveFrom(other, "mallory", reply(other.RoutingID(), 200)) {
		t.Fatalf("renamed request %q not resolved", other.RoutingID())
	}
	if got, _ := wait(t, other); got.Headers["correlation-id"] != "c-1" {
		t.Errorf("renamed request's reply carries %q", got.Headers["correlation-id"])
	}
	if p.Len() != 0 {
		t.Errorf("%d requests left", p.Len())
	}
}

func TestPendingTimeout(t *testing.T) {
	p := newPending(t, live.Config{})
	r, err := p.Register("app", "c-1", time.Now().Add(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, r)
	e := wantError(t, err, protocol.CodeCommandTimeout, 408)
	if e.Message != "The Command reached the specified timeout of 20ms." {
		t.Errorf("message %q", e.Message)
	}
	if p.Resolve("c-1", reply("c-1", 200)) {
		t.Error("a reply after the timeout was accepted")
	}
	if _, err := r.Result(); !errors.As(err, &e) || e.Code != protocol.CodeCommandTimeout {
		t.Error("the late reply changed the result")
	}
	if p.Len() != 0 {
		t.Errorf("%d requests left", p.Len())
	}
}

func TestPendingPastDeadline(t *testing.T) {
	p := newPending(t, live.Config{})
	r, err := p.Register("app", "c-1", time.Now().Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, r); err == nil {
		t.Error("a request past its deadline got no error")
	}
}

func TestPendingDuplicateCorrelationID(t *testing.T) {
	p := newPending(t, live.Config{})
	deadline := time.Now().Add(time.Minute)
	first, err := p.Register("app", "c-1", deadline)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Register("app", "c-1", deadline)
	e := wantError(t, err, protocol.CodeAckDuplicateCorrelationID, 409)
	if e.Message != "Correlation-id <c-1> for acknowledgement request was already used very recently." {
		t.Errorf("message %q", e.Message)
	}
	p.Resolve("c-1", reply("c-1", 200))
	wait(t, first)
	if _, err := p.Register("app", "c-1", deadline); err != nil {
		t.Errorf("id not free after its request ended: %v", err)
	}
	_, err = p.Register("app", "", deadline)
	wantError(t, err, protocol.CodeHeaderInvalid, 400)
}

// Another asker with the same correlation-id gets a routing id of its own,
// as Ditto's ResponseReceiverCache appends "_<uuid>", and its reply comes
// back with its own correlation-id.
func TestPendingSameIDOtherOwner(t *testing.T) {
	p := newPending(t, live.Config{})
	deadline := time.Now().Add(time.Minute)
	a, _ := p.Register("app-a", "c-1", deadline)
	b, err := p.Register("app-b", "c-1", deadline)
	if err != nil {
		t.Fatal(err)
	}
	if a.RoutingID() != "c-1" || !strings.HasPrefix(b.RoutingID(), "c-1_") || len(b.RoutingID()) != len("c-1_")+36 {
		t.Fatalf("routing ids %q and %q", a.RoutingID(), b.RoutingID())
	}
	if !p.Resolve(b.RoutingID(), reply(b.RoutingID(), 200)) {
		t.Fatal("reply to the renamed request refused")
	}
	got, err := wait(t, b)
	if err != nil || got.Headers["correlation-id"] != "c-1" {
		t.Errorf("reply %+v, %v: want the asker's correlation-id back", got.Headers, err)
	}
	if ended(a) {
		t.Error("the other asker's request ended too")
	}
	p.Resolve("c-1", reply("c-1", 204))
	if got, _ := wait(t, a); got.Status != 204 {
		t.Errorf("first asker got %d", got.Status)
	}
}

func TestPendingBounds(t *testing.T) {
	p := newPending(t, live.Config{MaxPerOwner: 2, MaxTotal: 3})
	deadline := time.Now().Add(time.Minute)
	var reqs []*live.Request
	for i, owner := range []live.OwnerID{"a", "a", "b"} {
		r, err := p.Register(owner, fmt.Sprint("c-", i), deadline)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	_, err := p.Register("a", "c-9", deadline)
	e := wantError(t, err, protocol.CodeTooManyRequests, 429)
	if e.Message != "You made too many requests." || !strings.Contains(e.Description, "This session already waits for 2 answers") {
		t.Errorf("per owner: %+v", e)
	}
	_, err = p.Register("c", "c-9", deadline)
	e = wantError(t, err, protocol.CodeTooManyRequests, 429)
	if !strings.Contains(e.Description, "The gateway already waits for 3 answers") {
		t.Errorf("global: %+v", e)
	}
	p.Resolve("c-0", reply("c-0", 200))
	wait(t, reqs[0])
	if _, err := p.Register("a", "c-9", deadline); err != nil {
		t.Errorf("a freed slot was not reusable: %v", err)
	}
	if _, err := live.NewPending(live.Config{MaxTotal: -1}); err == nil {
		t.Error("a negative bound was accepted")
	}
}

func TestPendingCancelOwner(t *testing.T) {
	p := newPending(t, live.Config{})
	deadline := time.Now().Add(time.Minute)
	a1, _ := p.Register("a", "c-1", deadline)
	a2, _ := p.Register("a", "c-2", deadline)
	b1, _ := p.Register("b", "c-3", deadline)
	if n := p.CancelOwner("a"); n != 2 {
		t.Errorf("CancelOwner ended %d requests", n)
	}
	for _, r := range []*live.Request{a1, a2} {
		if _, err := wait(t, r); !errors.Is(err, live.ErrCanceled) {
			t.Errorf("canceled request: %v", err)
		}
	}
	if ended(b1) || p.Len() != 1 {
		t.Errorf("other owner's request touched; %d left", p.Len())
	}
	if p.Resolve("c-1", reply("c-1", 200)) {
		t.Error("reply to a canceled request accepted")
	}
	if p.CancelOwner("a") != 0 {
		t.Error("second CancelOwner ended requests")
	}
	custom := errors.New("answered from the twin")
	if !p.Cancel(b1, custom) || p.Cancel(b1, custom) {
		t.Error("Cancel must end a request exactly once")
	}
	if _, err := wait(t, b1); err != custom {
		t.Errorf("Cancel's error: %v", err)
	}
}

func TestPendingResponderGone(t *testing.T) {
	p := newPending(t, live.Config{})
	deadline := time.Now().Add(time.Minute)

	t.Run("last responder leaves", func(t *testing.T) {
		r, _ := p.Register("app", "c-1", time.Now().Add(30*time.Second))
		p.AddResponders(r, "dev-1", "dev-2")
		if r.Responders() != 2 {
			t.Errorf("%d responders", r.Responders())
		}
		if n := p.ResponderGone("dev-1"); n != 0 || ended(r) {
			t.Fatal("request ended while a responder remains")
		}
		if n := p.ResponderGone("dev-2"); n != 1 {
			t.Errorf("ResponderGone ended %d requests", n)
		}
		_, err := wait(t, r)
		e := wantError(t, err, protocol.CodeCommandTimeout, 408)
		if !strings.Contains(e.Message, "30,000ms") || !strings.Contains(e.Message, "disconnected") {
			t.Errorf("message %q", e.Message)
		}
	})
	t.Run("answered before leaving", func(t *testing.T) {
		r, _ := p.Register("app", "c-2", deadline)
		p.AddResponders(r, "dev-1")
		p.Resolve("c-2", reply("c-2", 200))
		if n := p.ResponderGone("dev-1"); n != 0 {
			t.Errorf("ResponderGone ended %d answered requests", n)
		}
		if got, err := wait(t, r); err != nil || got.Status != 200 {
			t.Errorf("result %+v %v", got, err)
		}
	})
	t.Run("one responder, several requests", func(t *testing.T) {
		r1, _ := p.Register("app", "c-3", deadline)
		r2, _ := p.Register("app2", "c-4", deadline)
		r3, _ := p.Register("app3", "c-5", deadline)
		p.AddResponders(r1, "dev-1")
		p.AddResponders(r2, "dev-1", "dev-2")
		p.AddResponders(r3, "dev-2")
		if n := p.ResponderGone("dev-1"); n != 1 || !ended(r1) || ended(r2) || ended(r3) {
			t.Errorf("ResponderGone(dev-1) ended %d; r1 %v r2 %v r3 %v", n, ended(r1), ended(r2), ended(r3))
		}
		if n := p.ResponderGone("dev-2"); n != 2 {
			t.Errorf("ResponderGone(dev-2) ended %d", n)
		}
	})
	t.Run("no responders: waits for its deadline", func(t *testing.T) {
		r, _ := p.Register("app", "c-6", time.Now().Add(20*time.Millisecond))
		p.ResponderGone("dev-9")
		if ended(r) {
			t.Fatal("a request without responders ended early")
		}
		_, err := wait(t, r)
		wantError(t, err, protocol.CodeCommandTimeout, 408)
	})
	if p.Len() != 0 {
		t.Errorf("%d requests left", p.Len())
	}
}

// Many askers and responders at once: every request ends exactly once,
// nothing is left behind. Run with -race.
func TestPendingConcurrent(t *testing.T) {
	p := newPending(t, live.Config{MaxPerOwner: 1000, MaxTotal: 100000})
	const owners, perOwner = 20, 50
	var wg sync.WaitGroup
	for o := 0; o < owners; o++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := live.OwnerID(fmt.Sprint("s", o))
			var reqs []*live.Request
			for i := 0; i < perOwner; i++ {
				// Every owner uses the same ids, so half of them get renamed.
				r, err := p.Register(owner, fmt.Sprint("c-", i), time.Now().Add(time.Duration(i%5)*time.Millisecond+time.Millisecond))
				if err != nil {
					t.Error(err)
					return
				}
				p.AddResponders(r, live.OwnerID(fmt.Sprint("dev", i%3)))
				reqs = append(reqs, r)
			}
			for i, r := range reqs {
				switch i % 4 {
				case 0:
					p.Resolve(r.RoutingID(), reply(r.RoutingID(), 200))
				case 1:
					p.Cancel(r, live.ErrCanceled)
				case 2:
					p.ResponderGone(live.OwnerID(fmt.Sprint("dev", i%3)))
				}
			}
			if o%2 == 0 {
				p.CancelOwner(owner)
			}
			for _, r := range reqs {
				if _, err := wait(t, r); err == nil && r.CorrelationID() == "" {
					t.Error("empty result")
				}
			}
		}()
	}
	wg.Wait()
	if p.Len() != 0 {
		t.Errorf("%d requests left", p.Len())
	}
}
