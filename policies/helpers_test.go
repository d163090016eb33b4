package policies_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/policies"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/sqlitestore"
)

// owner is the caller of most commands; Ditto's nginx-authenticated user.
const owner = "nginx:ditto"

var caller = auth.Context{Subjects: []string{owner}}

// t0 is the fixed clock's first instant.
var t0 = time.Date(2024, 5, 2, 10, 11, 12, 345_000_000, time.UTC)

// clock is a handler's clock, moved by the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// openStore opens the embedded store in a temporary directory.
func openStore(t testing.TB) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return st
}

// newHandler is a handler on store (a new embedded store when nil) with
// clock c (a new one at t0 when nil).
func newHandler(t testing.TB, store twin.PolicyStore, c *clock) *policies.Handler {
	t.Helper()
	if store == nil {
		store = openStore(t)
	}
	if c == nil {
		c = &clock{now: t0}
	}
	h, err := policies.New(policies.Config{Store: store, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

const policyID = "org.example:p1"

// ownerPolicy grants the owner everything, as an implicit default policy does.
const ownerPolicy = `{"entries":{"owner":{"subjects":{"nginx:ditto":{"type":"generated"}},"resources":{` +
	`"policy:/":{"grant":["READ","WRITE"],"revoke":[]},"thing:/":{"grant":["READ","WRITE"],"revoke":[]}}}}}`

// send sends one command on policy id and returns the response.
func send(t testing.TB, h *policies.Handler, who auth.Context, id, action, path, value string, headers map[string]string) protocol.Envelope {
	t.Helper()
	ns, name, _ := strings.Cut(id, ":")
	env := protocol.Envelope{
		Topic:   ns + "/" + name + "/policies/commands/" + action,
		Headers: protocol.Headers{protocol.HeaderCorrelationID: "c-1"},
		Path:    path,
	}
	for k, v := range headers {
		env.Headers.Set(k, v)
	}
	if value != "" {
		env.Value = json.RawMessage(value)
	}
	return h.Handle(context.Background(), who, env)
}

// create creates policy id with value, failing the test unless it is 201.
func create(t testing.TB, h *policies.Handler, id, value string) {
	t.Helper()
	resp := send(t, h, caller, id, "create", "/", value, nil)
	if resp.Status != 201 {
		t.Fatalf("create %s: status %d: %s", id, resp.Status, resp.Value)
	}
}

// wantStatus checks a response's status and, for an error, its code.
func wantStatus(t testing.TB, resp protocol.Envelope, status int, code string) {
	t.Helper()
	if resp.Status != status {
		t.Fatalf("status %d, want %d: %s %s", resp.Status, status, resp.Topic, short(resp.Value))
	}
	if code == "" {
		return
	}
	var e protocol.Error
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		t.Fatalf("error value %s: %v", resp.Value, err)
	}
	if e.Code != code || e.Status != status || e.Message == "" || e.Description == "" {
		t.Fatalf("error %+v, want %d %s", e, status, code)
	}
	if !strings.HasSuffix(resp.Topic, "/policies/errors") || resp.Path != "/" {
		t.Fatalf("error envelope topic %q path %q", resp.Topic, resp.Path)
	}
}

// jsonEqual compares JSON texts by value.
func jsonEqual(t testing.TB, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %q", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q", want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("value\n got %s\nwant %s", got, want)
	}
}

// errorOf decodes the Ditto error of an error envelope.
func errorOf(t testing.TB, resp protocol.Envelope) protocol.Error {
	t.Helper()
	var e protocol.Error
	if err := json.Unmarshal(resp.Value, &e); err != nil {
		t.Fatalf("error value %s: %v", resp.Value, err)
	}
	return e
}

// short is b for a failure message, cut to a readable length.
func short(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
