package twin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/sqlitestore"
)

// subject is the caller of every command; Ditto's nginx-authenticated user.
const subject = "nginx:ditto"

var caller = auth.Context{Subjects: []string{subject}}

// t0 is the fixed clock's first instant.
var t0 = time.Date(2024, 5, 2, 10, 11, 12, 345_000_000, time.UTC)

// recorder is the handler's event sink: every published event, in order.
type recorder struct {
	mu     sync.Mutex
	events []twin.Event
}

func (r *recorder) Publish(ev twin.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// all returns the events published so far.
func (r *recorder) all() []twin.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]twin.Event(nil), r.events...)
}

// of returns the events of one thing, in publish order.
func (r *recorder) of(thingID string) []twin.Event {
	var out []twin.Event
	for _, ev := range r.all() {
		if ev.ThingID == thingID {
			out = append(out, ev)
		}
	}
	return out
}

// take returns the events published so far and forgets them.
func (r *recorder) take() []twin.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// clock is the handler's clock: it returns now, then advances it by step.
type clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// fixture is a handler on a real embedded store, with a recording sink and a
// controlled clock.
type fixture struct {
	t      testing.TB
	h      *twin.Handler
	store  *sqlitestore.Store
	events *recorder
	clock  *clock
}

type option func(*twin.Config)

func withMaxThingBytes(n int) option { return func(c *twin.Config) { c.MaxThingBytes = n } }

// withStore wraps the real store.
func withStore(wrap func(twin.Store) twin.Store) option {
	return func(c *twin.Config) { c.Store = wrap(c.Store) }
}

func openStore(t testing.TB) *sqlitestore.Store {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return store
}

func newFixture(t testing.TB, opts ...option) *fixture {
	t.Helper()
	f := &fixture{t: t, store: openStore(t), events: &recorder{}, clock: &clock{now: t0}}
	cfg := twin.Config{Store: f.store, Events: f.events, Now: f.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := twin.New(cfg)
	if err != nil {
		t.Fatalf("twin.New: %v", err)
	}
	f.h = h
	return f
}

// topicOf is the twin command topic of action on thingID.
func topicOf(thingID, action string) string {
	ns, name, _ := strings.Cut(thingID, ":")
	return ns + "/" + name + "/things/twin/commands/" + action
}

// eventTopic is the twin event topic of action on thingID.
func eventTopic(thingID, action string) string {
	ns, name, _ := strings.Cut(thingID, ":")
	return ns + "/" + name + "/things/twin/events/" + action
}

// errorTopic is the twin error topic of thingID.
func errorTopic(thingID string) string {
	ns, name, _ := strings.Cut(thingID, ":")
	return ns + "/" + name + "/things/twin/errors"
}

// hdrs builds headers from name/value pairs.
func hdrs(kv ...string) protocol.Headers {
	h := protocol.Headers{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

// raw is value as an envelope value: "" is no value.
func raw(value string) json.RawMessage {
	if value == "" {
		return nil
	}
	return json.RawMessage(value)
}

// handle sends env as the test caller.
func (f *fixture) handle(env protocol.Envelope) protocol.Envelope {
	f.t.Helper()
	if env.Headers == nil {
		env.Headers = protocol.Headers{}
	}
	return f.h.Handle(context.Background(), caller, env)
}

// send sends a twin command on thingID. A merge gets the merge-patch content
// type unless headers name one.
func (f *fixture) send(action, thingID, path, value string, headers ...string) protocol.Envelope {
	f.t.Helper()
	h := hdrs(headers...)
	if _, ok := h[protocol.HeaderContentType]; !ok && action == protocol.ActionMerge {
		h[protocol.HeaderContentType] = protocol.ContentTypeMergePatch
	}
	return f.handle(protocol.Envelope{Topic: topicOf(thingID, action), Headers: h, Path: path, Value: raw(value)})
}

func (f *fixture) create(id, value string, h ...string) protocol.Envelope {
	f.t.Helper()
	return f.send(protocol.ActionCreate, id, "/", value, h...)
}

func (f *fixture) modify(id, path, value string, h ...string) protocol.Envelope {
	f.t.Helper()
	return f.send(protocol.ActionModify, id, path, value, h...)
}

func (f *fixture) merge(id, path, value string, h ...string) protocol.Envelope {
	f.t.Helper()
	return f.send(protocol.ActionMerge, id, path, value, h...)
}

func (f *fixture) delete(id, path string, h ...string) protocol.Envelope {
	f.t.Helper()
	return f.send(protocol.ActionDelete, id, path, "", h...)
}

func (f *fixture) retrieve(id, path, fields string, h ...string) protocol.Envelope {
	f.t.Helper()
	return f.handle(protocol.Envelope{Topic: topicOf(id, protocol.ActionRetrieve), Headers: hdrs(h...), Path: path, Fields: fields})
}

// mustCreate creates thingID from value and checks it worked.
func (f *fixture) mustCreate(thingID, value string) {
	f.t.Helper()
	wantStatus(f.t, f.create(thingID, value), 201)
}

// wantStatus fails unless env is a success with status.
func wantStatus(t testing.TB, env protocol.Envelope, status int) {
	t.Helper()
	if env.Status != status {
		t.Fatalf("status %d, want %d: %s", env.Status, status, mustJSON(env))
	}
}

// errorValue is Ditto's error object.
type errorValue struct {
	Status      int    `json:"status"`
	Error       string `json:"error"`
	Message     string `json:"message"`
	Description string `json:"description"`
}

// wantError fails unless env is an error envelope with status and code, in
// Ditto's shape, and returns its error object.
func wantError(t testing.TB, env protocol.Envelope, status int, code string) errorValue {
	t.Helper()
	var e errorValue
	if err := json.Unmarshal(env.Value, &e); err != nil {
		t.Fatalf("error value %s: %v", env.Value, err)
	}
	if env.Status != status || e.Status != status || e.Error != code {
		t.Fatalf("got %d %s (value status %d), want %d %s: %s", env.Status, e.Error, e.Status, status, code, mustJSON(env))
	}
	if !strings.HasSuffix(env.Topic, "/errors") {
		t.Errorf("error topic %q", env.Topic)
	}
	if env.Path != "/" {
		t.Errorf("error path %q, want /", env.Path)
	}
	if ct := env.Headers[protocol.HeaderContentType]; ct != "application/json" {
		t.Errorf("error content-type %q, want application/json", ct)
	}
	if e.Message == "" {
		t.Errorf("error without message: %s", env.Value)
	}
	return e
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// decode parses JSON with exact numbers.
func decode(t testing.TB, what string, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: invalid JSON %q: %v", what, b, err)
	}
	return v
}

// jsonEqual compares JSON structurally.
func jsonEqual(t testing.TB, what string, got []byte, want string) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: absent, want %s", what, want)
		return
	}
	if g, w := decode(t, what, got), decode(t, what+" (want)", []byte(want)); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// envelopeEqual compares the whole envelope as it goes on the wire, headers
// typed as Ditto writes them.
func envelopeEqual(t testing.TB, what string, env protocol.Envelope, want string) {
	t.Helper()
	jsonEqual(t, what, []byte(mustJSON(env)), want)
}
