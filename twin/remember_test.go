package twin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/sqlitestore"
)

// Two handlers on one store stand for two gateway processes sharing it. Each
// writes a thing from the state it stored last (the store reads its own
// writes); the other's writes must still be seen: through the revision
// condition for writes, through a read of the store before any refusal.

type twoProcesses struct {
	t    *testing.T
	a, b *twin.Handler
}

func newTwoProcesses(t *testing.T) *twoProcesses {
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	p := &twoProcesses{t: t}
	for _, h := range []**twin.Handler{&p.a, &p.b} {
		if *h, err = twin.New(twin.Config{Store: store}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (p *twoProcesses) send(h *twin.Handler, action, path, value string, headers ...string) protocol.Envelope {
	p.t.Helper()
	env := protocol.Envelope{Topic: "org.example/shared/things/twin/commands/" + action, Headers: protocol.Headers{}, Path: path}
	if value != "" {
		env.Value = json.RawMessage(value)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		env.Headers[headers[i]] = headers[i+1]
	}
	return h.Handle(context.Background(), auth.Context{Subjects: []string{"nginx:ditto"}}, env)
}

func (p *twoProcesses) want(env protocol.Envelope, status int, revision string) {
	p.t.Helper()
	if env.Status != status || (revision != "" && env.Headers[protocol.HeaderEntityRevision] != revision) {
		b, _ := json.Marshal(env)
		p.t.Fatalf("got %s, want status %d revision %s", b, status, revision)
	}
}

func TestRememberedStateMeetsAnotherWriter(t *testing.T) {
	p := newTwoProcesses(t)
	p.want(p.send(p.a, "create", "/", `{"attributes":{"a":1}}`), 201, "1")
	// b writes behind a's back: a remembers revision 1.
	p.want(p.send(p.b, "modify", "/attributes/a", `2`), 204, "2")
	// a's write on its stale state meets a revision conflict and is redone on
	// the stored state: revision 3, and b's change kept.
	p.want(p.send(p.a, "modify", "/attributes/b", `true`), 201, "3")
	got := p.send(p.a, "retrieve", "/attributes", "")
	p.want(got, 200, "3")
	if string(got.Value) != `{"a":2,"b":true}` {
		t.Fatalf("attributes %s", got.Value)
	}
}

func TestRememberedStateRefusalIsChecked(t *testing.T) {
	p := newTwoProcesses(t)
	p.want(p.send(p.a, "create", "/", `{"attributes":{"a":1}}`), 201, "1")
	// b adds a feature and changes the attribute a's If-Match below names.
	p.want(p.send(p.b, "modify", "/features/f", `{"properties":{"x":1}}`), 201, "2")
	p.want(p.send(p.b, "modify", "/attributes/a", `5`), 204, "3")
	etag := p.send(p.b, "retrieve", "/attributes/a", "").Headers[protocol.HeaderETag]

	// On a's remembered state (revision 1) the feature does not exist and the
	// tag does not match; on the stored state both writes succeed.
	p.want(p.send(p.a, "modify", "/features/f/properties/x", `2`), 204, "4")
	p.want(p.send(p.a, "modify", "/attributes/a", `6`, "if-match", etag), 204, "5")
	// And a refusal that holds on the stored state is still answered.
	resp := p.send(p.a, "modify", "/attributes/a", `7`, "if-match", etag)
	if resp.Status != 412 {
		t.Fatalf("status %d, want 412", resp.Status)
	}
	// b, which remembers revision 3, deletes; a recreates on top of that.
	p.want(p.send(p.b, "delete", "/", ""), 204, "")
	resp = p.send(p.a, "modify", "/features/f/properties/x", `3`)
	if resp.Status != 404 || !strings.Contains(string(resp.Value), "things:thing.notfound") {
		t.Fatalf("modify of a deleted thing: %d %s", resp.Status, resp.Value)
	}
	p.want(p.send(p.a, "create", "/", `{}`), 201, "7")
}

// A write that fails leaves nothing remembered that the store does not hold.
func TestRememberedStateAfterRefusedWrite(t *testing.T) {
	p := newTwoProcesses(t)
	p.want(p.send(p.a, "create", "/", `{"attributes":{"a":1}}`), 201, "1")
	if resp := p.send(p.a, "modify", "/attributes/a", `2`, "if-match", `"rev:9"`); resp.Status != 412 {
		t.Fatalf("status %d, want 412", resp.Status)
	}
	p.want(p.send(p.a, "modify", "/attributes/b", `2`), 201, "2")
	got := p.send(p.a, "retrieve", "/attributes", "")
	if string(got.Value) != `{"a":1,"b":2}` {
		t.Fatalf("attributes %s", got.Value)
	}
}
