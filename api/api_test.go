package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/metrics"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/sqlitestore"
)

// testAuth accepts the one Basic user ditto/ditto.
type testAuth struct{}

func (testAuth) Authenticate(r *http.Request) (auth.Context, error) {
	user, password, ok := r.BasicAuth()
	if !ok || user != "ditto" || password != "ditto" {
		return auth.Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "The username or password is wrong.")
	}
	return auth.Context{Subjects: []string{"nginx:ditto"}}, nil
}

// testGateway is the HTTP door on the real twin handler and SQLite store.
type testGateway struct {
	srv     *httptest.Server
	metrics *metrics.Metrics
}

func startGateway(t *testing.T, cfg Config) *testGateway {
	t.Helper()
	twins, err := twin.New(twin.Config{Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Twins == nil {
		cfg.Twins = twins
	}
	cfg.Auth = testAuth{}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	return serve(t, cfg)
}

// openStore is a new SQLite store in the test's own directory, closed when
// the test ends.
func openStore(t *testing.T) *sqlitestore.Store {
	t.Helper()
	store, err := sqlitestore.Open(context.Background(), sqlitestore.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return store
}

// serve starts the HTTP door of cfg, stopped when the test ends.
func serve(t *testing.T, cfg Config) *testGateway {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &testGateway{srv: srv, metrics: cfg.Metrics}
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as ditto/ditto unless headers set "Authorization" ("" = none).
func (g *testGateway) do(t *testing.T, method, path, body string, headers map[string]string) result {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("ditto", "ditto")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func (r result) want(t *testing.T, status int) result {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// wantError checks a Ditto error response: status, code, JSON content type.
func (r result) wantError(t *testing.T, status int, code string) {
	t.Helper()
	r.want(t, status)
	var e protocol.Error
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	if e.Status != status || e.Code != code || e.Message == "" {
		t.Fatalf("error %+v, want %d %s", e, status, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
}

func (r result) wantJSON(t *testing.T, want string) {
	t.Helper()
	jsonEqual(t, r.body, want)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("not JSON: %q", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation %q", want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body\n got %s\nwant %s", got, want)
	}
}

func (r result) wantNoBody(t *testing.T) {
	t.Helper()
	if len(r.body) != 0 {
		t.Fatalf("unexpected body %q", r.body)
	}
}

const lamp = `{"policyId":"org.example:lamp-1","attributes":{"room":"kitchen"},"features":{"lamp":{"properties":{"on":false}}}}`

func TestThingLifecycle(t *testing.T) {
	g := startGateway(t, Config{})
	const path = "/api/2/things/org.example:lamp-1"

	r := g.do(t, http.MethodPut, path, lamp, nil).want(t, http.StatusCreated)
	r.wantJSON(t, `{"thingId":"org.example:lamp-1","policyId":"org.example:lamp-1","attributes":{"room":"kitchen"},"features":{"lamp":{"properties":{"on":false}}}}`)
	if etag := r.header.Get("ETag"); etag != `"rev:1"` {
		t.Errorf("ETag %q", etag)
	}
	if loc := r.header.Get("Location"); loc != g.srv.URL+path {
		t.Errorf("Location %q, want %q", loc, g.srv.URL+path)
	}
	if r.header.Get("Correlation-Id") == "" {
		t.Error("no correlation-id in the response")
	}

	r = g.do(t, http.MethodPut, path, lamp, nil).want(t, http.StatusNoContent)
	r.wantNoBody(t)
	if etag := r.header.Get("ETag"); etag != `"rev:2"` {
		t.Errorf("ETag after modify %q", etag)
	}

	r = g.do(t, http.MethodGet, path, "", nil).want(t, http.StatusOK)
	r.wantJSON(t, `{"thingId":"org.example:lamp-1","policyId":"org.example:lamp-1","attributes":{"room":"kitchen"},"features":{"lamp":{"properties":{"on":false}}}}`)
	etag := r.header.Get("ETag")
	if etag != `"rev:2"` {
		t.Fatalf("ETag %q", etag)
	}

	g.do(t, http.MethodGet, path, "", map[string]string{"If-None-Match": etag}).want(t, http.StatusNotModified).wantNoBody(t)
	g.do(t, http.MethodPut, path, lamp, map[string]string{"If-Match": `"rev:99"`}).
		wantError(t, http.StatusPreconditionFailed, protocol.CodePreconditionFailed)

	merge := map[string]string{"Content-Type": protocol.ContentTypeMergePatch}
	g.do(t, http.MethodPatch, path, `{"attributes":{"room":null,"floor":2}}`, merge).want(t, http.StatusNoContent).wantNoBody(t)
	g.do(t, http.MethodGet, path+"/attributes", "", nil).want(t, http.StatusOK).wantJSON(t, `{"floor":2}`)
	g.do(t, http.MethodPatch, path, `{"attributes":{"x":1}}`, map[string]string{"Content-Type": "application/json"}).
		wantError(t, http.StatusUnsupportedMediaType, protocol.CodeMediaType)
	g.do(t, http.MethodPatch, path, `{"attributes":{"x":1}}`, map[string]string{"Content-Type": ""}).
		wantError(t, http.StatusUnsupportedMediaType, protocol.CodeMediaType)
	g.do(t, http.MethodPut, path, lamp, map[string]string{"Content-Type": "text/plain"}).
		wantError(t, http.StatusUnsupportedMediaType, protocol.CodeMediaType)

	g.do(t, http.MethodGet, path, "", map[string]string{"If-None-Match": `"rev:1"`}).want(t, http.StatusOK)
	g.do(t, http.MethodGet, path+"?fields=thingId,_revision", "", nil).want(t, http.StatusOK).
		wantJSON(t, `{"thingId":"org.example:lamp-1","_revision":3}`)

	g.do(t, http.MethodDelete, path, "", nil).want(t, http.StatusNoContent).wantNoBody(t)
	g.do(t, http.MethodGet, path, "", nil).wantError(t, http.StatusNotFound, protocol.CodeThingNotFound)
}

func TestAttributes(t *testing.T) {
	g := startGateway(t, Config{})
	const thing = "/api/2/things/org.example:a%3Ab" // an encoded ':' in the name
	g.do(t, http.MethodPut, thing, `{}`, nil).want(t, http.StatusCreated)

	r := g.do(t, http.MethodPut, thing+"/attributes/location/latitude", `44.67`, nil).want(t, http.StatusCreated)
	r.wantJSON(t, `44.67`)
	if loc := r.header.Get("Location"); loc != g.srv.URL+thing+"/attributes/location/latitude" {
		t.Errorf("Location %q", loc)
	}
	if r.header.Get("ETag") == "" {
		t.Error("no ETag")
	}
	g.do(t, http.MethodPut, thing+"/attributes/location/latitude", `45`, nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodGet, thing+"/attributes/location", "", nil).want(t, http.StatusOK).wantJSON(t, `{"latitude":45}`)
	g.do(t, http.MethodGet, thing+"/attributes/location/longitude", "", nil).
		wantError(t, http.StatusNotFound, protocol.CodeAttributeNotFound)

	// A key with characters that must be URL-encoded: a space, a '%' and a '?'.
	key := "my key%?"
	keyPath := thing + "/attributes/" + url.PathEscape(key)
	g.do(t, http.MethodPut, keyPath, `"v"`, nil).want(t, http.StatusCreated)
	g.do(t, http.MethodGet, keyPath, "", nil).want(t, http.StatusOK).wantJSON(t, `"v"`)
	r = g.do(t, http.MethodGet, thing+"/attributes", "", nil).want(t, http.StatusOK)
	r.wantJSON(t, `{"location":{"latitude":45},"my key%?":"v"}`)
	g.do(t, http.MethodGet, thing, "", nil).want(t, http.StatusOK).
		wantJSON(t, `{"thingId":"org.example:a:b","policyId":"org.example:a:b","attributes":{"location":{"latitude":45},"my key%?":"v"}}`)

	g.do(t, http.MethodDelete, keyPath, "", nil).want(t, http.StatusNoContent)
	g.do(t, http.MethodGet, keyPath, "", nil).wantError(t, http.StatusNotFound, protocol.CodeAttributeNotFound)

	// Sub-resources of a missing thing.
	g.do(t, http.MethodGet, "/api/2/things/org.example:missing/attributes/x", "", nil).
		wantError(t, http.StatusNotFound, protocol.CodeThingNotFound)
}

func TestInvalidRequests(t *testing.T) {
	g := startGateway(t, Config{MaxBodyBytes: 1024})
	g.do(t, http.MethodPut, "/api/2/things/org.example:x", lamp, nil).want(t, http.StatusCreated)
	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		code                     string
	}{
		{"id without colon", http.MethodGet, "/api/2/things/no-colon", "", nil, 400, protocol.CodeThingIDInvalid},
		{"invalid namespace", http.MethodPut, "/api/2/things/1ns:x", `{}`, nil, 400, protocol.CodeThingIDInvalid},
		{"id with a control char", http.MethodGet, "/api/2/things/ns:a%01b", "", nil, 400, protocol.CodeThingIDInvalid},
		{"id with an encoded slash", http.MethodGet, "/api/2/things/ns:a%2Fb", "", nil, 400, protocol.CodeThingIDInvalid},
		{"invalid JSON", http.MethodPut, "/api/2/things/org.example:x", `{"attributes":`, nil, 400, protocol.CodeJSONInvalid},
		{"empty PUT body", http.MethodPut, "/api/2/things/org.example:x/attributes/a", "", nil, 400, protocol.CodeJSONInvalid},
		{"body too large", http.MethodPut, "/api/2/things/org.example:x/attributes/a", `"` + strings.Repeat("x", 2000) + `"`, nil, 413, protocol.CodeThingTooLarge},
		{"timeout too long", http.MethodGet, "/api/2/things/org.example:x?timeout=61s", "", nil, 400, protocol.CodeGatewayTimeout},
		{"timeout header too long", http.MethodGet, "/api/2/things/org.example:x", "", map[string]string{"Timeout": "2m"}, 400, protocol.CodeGatewayTimeout},
		{"timeout invalid", http.MethodGet, "/api/2/things/org.example:x?timeout=soon", "", nil, 400, protocol.CodeTimeoutInvalid},
		{"response-required invalid", http.MethodGet, "/api/2/things/org.example:x?response-required=maybe", "", nil, 400, protocol.CodeHeaderInvalid},
		{"live channel", http.MethodGet, "/api/2/things/org.example:x?channel=live", "", nil, 400, protocol.CodeHeaderUnsupported},
		{"requested-acks not an array", http.MethodGet, "/api/2/things/org.example:x", "", map[string]string{"Requested-Acks": `[1`}, 400, protocol.CodeHeaderInvalid},
		{"unknown path", http.MethodGet, "/api/2/things/org.example:x/nothing", "", nil, 400, protocol.CodeUnknownPath},
		{"thingId differs", http.MethodPut, "/api/2/things/org.example:x", `{"thingId":"org.example:y"}`, nil, 400, protocol.CodeThingIDNotSettable},
		{"bad field selector", http.MethodGet, "/api/2/things/org.example:x?fields=a(b", "", nil, 400, protocol.CodeFieldSelectorInv},
		{"unknown route", http.MethodGet, "/api/2/nothing", "", nil, 404, protocol.CodeNotFound},
		{"unknown root route", http.MethodGet, "/nothing", "", nil, 404, protocol.CodeNotFound},
		{"POST on a thing", http.MethodPost, "/api/2/things/org.example:x", `{}`, nil, 405, protocol.CodeMethodNotAllowed},
		{"DELETE on the policy id", http.MethodDelete, "/api/2/things/org.example:x/policyId", "", nil, 405, protocol.CodeMethodNotAllowed},
		{"DELETE on things", http.MethodDelete, "/api/2/things", "", nil, 405, protocol.CodeMethodNotAllowed},
		{"POST with thingId", http.MethodPost, "/api/2/things", `{"thingId":"org.example:z"}`, nil, 400, protocol.CodeThingIDNotSettable},
		{"POST invalid namespace", http.MethodPost, "/api/2/things?namespace=-x", `{}`, nil, 400, protocol.CodeThingIDInvalid},
		{"POST text/plain", http.MethodPost, "/api/2/things", `{}`, map[string]string{"Content-Type": "text/plain"}, 415, protocol.CodeMediaType},
		{"retrieve without ids", http.MethodGet, "/api/2/things", "", nil, 400, protocol.CodeThingsIDsMissing},
		{"retrieve with empty ids", http.MethodGet, "/api/2/things?ids=", "", nil, 400, protocol.CodeThingsIDsMissing},
		{"retrieve with an invalid id", http.MethodGet, "/api/2/things?ids=org.example:x,nope", "", nil, 400, protocol.CodeThingIDInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := g.do(t, tc.method, tc.path, tc.body, tc.headers)
			r.wantError(t, tc.status, tc.code)
			if tc.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestPostCreatesThingWithGeneratedID(t *testing.T) {
	g := startGateway(t, Config{})
	r := g.do(t, http.MethodPost, "/api/2/things?namespace=org.example", `{"attributes":{"a":1}}`, nil).want(t, http.StatusCreated)
	var thing struct {
		ThingID    string         `json:"thingId"`
		PolicyID   string         `json:"policyId"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(r.body, &thing); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(thing.ThingID, "org.example:") || len(thing.ThingID) != len("org.example:")+36 {
		t.Fatalf("generated id %q", thing.ThingID)
	}
	if loc := r.header.Get("Location"); loc != g.srv.URL+"/api/2/things/"+thing.ThingID {
		t.Errorf("Location %q", loc)
	}
	g.do(t, http.MethodGet, "/api/2/things/"+thing.ThingID+"/attributes/a", "", nil).want(t, http.StatusOK).wantJSON(t, `1`)

	// Without a namespace (Ditto's default then) and without a body.
	r = g.do(t, http.MethodPost, "/api/2/things", "", nil).want(t, http.StatusCreated)
	if err := json.Unmarshal(r.body, &thing); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(thing.ThingID, DefaultNamespace+":") {
		t.Fatalf("generated id %q", thing.ThingID)
	}
}

func TestRetrieveMany(t *testing.T) {
	g := startGateway(t, Config{})
	for _, id := range []string{"org.example:one", "org.example:two"} {
		g.do(t, http.MethodPut, "/api/2/things/"+id, `{"attributes":{"n":"`+id+`"}}`, nil).want(t, http.StatusCreated)
	}
	r := g.do(t, http.MethodGet, "/api/2/things?ids=org.example:two,org.example:missing,org.example:one&fields=thingId", "", nil)
	r.want(t, http.StatusOK).wantJSON(t, `[{"thingId":"org.example:two"},{"thingId":"org.example:one"}]`)
	g.do(t, http.MethodGet, "/api/2/things/?ids=org.example:one&fields=attributes", "", nil).want(t, http.StatusOK).
		wantJSON(t, `[{"attributes":{"n":"org.example:one"}}]`)
}

func TestResponseNotRequired(t *testing.T) {
	g := startGateway(t, Config{})
	const path = "/api/2/things/org.example:quiet"
	g.do(t, http.MethodPut, path+"?response-required=false", lamp, nil).want(t, http.StatusAccepted).wantNoBody(t)
	g.do(t, http.MethodGet, path+"/attributes/room", "", nil).want(t, http.StatusOK).wantJSON(t, `"kitchen"`)
	g.do(t, http.MethodPut, path+"/attributes/room", `"hall"`, map[string]string{"Timeout": "0"}).want(t, http.StatusAccepted).wantNoBody(t)
	g.do(t, http.MethodGet, path+"/attributes/room", "", nil).want(t, http.StatusOK).wantJSON(t, `"hall"`)
}

func TestAuthentication(t *testing.T) {
	g := startGateway(t, Config{})
	for _, path := range []string{"/api/2/things/org.example:x", "/api/2/things", "/api/2/nothing"} {
		r := g.do(t, http.MethodGet, path, "", map[string]string{"Authorization": ""})
		r.wantError(t, http.StatusUnauthorized, protocol.CodeAuthenticationFailed)
		if r.header.Get("WWW-Authenticate") != `Basic realm="twinway"` {
			t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
		}
	}
	req, _ := http.NewRequest(http.MethodGet, g.srv.URL+"/api/2/things/org.example:x", nil)
	req.SetBasicAuth("ditto", "wrong")
	resp, err := g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
}

func TestCorrelationID(t *testing.T) {
	g := startGateway(t, Config{})
	r := g.do(t, http.MethodPut, "/api/2/things/org.example:c", `{}`, map[string]string{"X-Correlation-Id": "my-cid"}).want(t, http.StatusCreated)
	if cid := r.header.Get("Correlation-Id"); cid != "my-cid" {
		t.Errorf("correlation-id %q", cid)
	}
	r = g.do(t, http.MethodGet, "/api/2/things/org.example:c?correlation-id=q-cid", "", map[string]string{"Correlation-Id": "h-cid"}).want(t, http.StatusOK)
	if cid := r.header.Get("Correlation-Id"); cid != "q-cid" {
		t.Errorf("correlation-id %q", cid)
	}
	r = g.do(t, http.MethodGet, "/api/2/things/org.example:none", "", nil).want(t, http.StatusNotFound)
	if cid := r.header.Get("Correlation-Id"); len(cid) != 36 {
		t.Errorf("generated correlation-id %q", cid)
	}
}

// recorder is a Twins that records the commands it gets and answers resp.
type recorder struct {
	got  chan protocol.Envelope
	resp protocol.Envelope
}

// Handle reads resp before it reports cmd, so that a test may change resp
// once it has received cmd.
func (r *recorder) Handle(_ context.Context, _ auth.Context, cmd protocol.Envelope) protocol.Envelope {
	resp := r.resp
	r.got <- cmd
	return resp
}

func TestCommandEnvelope(t *testing.T) {
	rec := &recorder{got: make(chan protocol.Envelope, 1), resp: protocol.Envelope{Status: http.StatusNoContent, Headers: protocol.Headers{}}}
	g := startGateway(t, Config{Twins: rec})
	g.do(t, http.MethodPatch, "/api/2/things/:x/features/f%20g/properties/a/b?requested-acks=twin-persisted,custom&fields=ignored",
		`{"c":1}`, map[string]string{
			"Content-Type":   protocol.ContentTypeMergePatch + "; charset=utf-8",
			"If-Match":       `"rev:1"`,
			"Correlation-Id": "cid-1",
			"Cookie":         "secret=1",
			"X-Custom":       "no",
		}).want(t, http.StatusNoContent)
	cmd := <-rec.got
	want := protocol.Envelope{
		Topic: "/x/things/twin/commands/merge",
		Headers: protocol.Headers{"correlation-id": "cid-1", "if-match": `"rev:1"`, "requested-acks": `["twin-persisted","custom"]`,
			"content-type": protocol.ContentTypeMergePatch + "; charset=utf-8"},
		Path:  "/features/f g/properties/a/b",
		Value: json.RawMessage(`{"c":1}`),
	}
	if !reflect.DeepEqual(cmd, want) {
		t.Fatalf("command\n got %+v\nwant %+v", cmd, want)
	}
}

func TestStrangeResponsesDoNotPanic(t *testing.T) {
	for _, resp := range []protocol.Envelope{
		{},
		{Status: 99},
		{Status: 200},
		{Status: 500, Value: json.RawMessage(`"not an object"`)},
		{Status: 201, Value: json.RawMessage(`{}`)},
	} {
		rec := &recorder{got: make(chan protocol.Envelope, 1), resp: resp}
		g := startGateway(t, Config{Twins: rec})
		r := g.do(t, http.MethodGet, "/api/2/things/ns:x", "", nil)
		<-rec.got
		if r.status >= 500 {
			r.wantError(t, 500, protocol.CodeInternal)
		}
	}
}

func TestHealthAndMetrics(t *testing.T) {
	var down atomic.Bool
	g := startGateway(t, Config{Ready: func(context.Context) error {
		if down.Load() {
			return errors.New("store closed")
		}
		return nil
	}})
	r := g.do(t, http.MethodGet, "/health", "", map[string]string{"Authorization": ""}).want(t, http.StatusOK)
	r.wantJSON(t, `{"status":"UP"}`)
	down.Store(true)
	g.do(t, http.MethodGet, "/health", "", map[string]string{"Authorization": ""}).want(t, http.StatusServiceUnavailable).
		wantJSON(t, `{"status":"DOWN"}`)

	g.do(t, http.MethodPut, "/api/2/things/org.example:m", `{}`, nil).want(t, http.StatusCreated)
	r = g.do(t, http.MethodGet, "/metrics", "", map[string]string{"Authorization": ""}).want(t, http.StatusOK)
	if !strings.Contains(string(r.body), `twinway_commands_total{action="modify",door="http",status="201"} 1`) {
		t.Fatalf("metrics without the command:\n%s", r.body)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{Auth: testAuth{}}); err == nil {
		t.Error("no error without Twins")
	}
	if _, err := New(Config{Twins: &recorder{}}); err == nil {
		t.Error("no error without Auth")
	}
	if _, err := New(Config{Twins: &recorder{}, Auth: testAuth{}, MaxBodyBytes: -1}); err == nil {
		t.Error("no error with a negative MaxBodyBytes")
	}
}

func TestResponseHeaders(t *testing.T) {
	notModified := protocol.ErrorEnvelope(protocol.Errorf(protocol.CodePreconditionNotModified, "not modified"), protocol.Topic{}, protocol.Headers{})
	notModified.Headers[protocol.HeaderETag] = `"rev:2"`
	rec := &recorder{got: make(chan protocol.Envelope, 1), resp: notModified}
	g := startGateway(t, Config{Twins: rec})
	r := g.do(t, http.MethodGet, "/api/2/things/ns:x", "", nil).want(t, http.StatusNotModified)
	<-rec.got
	r.wantNoBody(t)
	if r.header.Get("ETag") != `"rev:2"` {
		t.Errorf("304 ETag %q", r.header.Get("ETag"))
	}

	rec.resp = protocol.Envelope{Status: http.StatusOK, Value: json.RawMessage(`{"a":1}`), Headers: protocol.Headers{
		protocol.HeaderETag: `"rev:3"`, protocol.HeaderEntityRevision: "3", protocol.HeaderOriginator: "nginx:ditto",
		"x-custom": "not echoed", protocol.HeaderContentType: "text/plain"}}
	r = g.do(t, http.MethodGet, "/api/2/things/ns:x", "", nil).want(t, http.StatusOK)
	<-rec.got
	r.wantJSON(t, `{"a":1}`)
	for name, want := range map[string]string{"ETag": `"rev:3"`, "Entity-Revision": "3", "Ditto-Originator": "nginx:ditto", "X-Custom": ""} {
		if got := r.header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
}

// FuzzRequest sends arbitrary methods, paths, headers and bodies through the
// door: nothing may panic (a recovered panic would be a 500).
func FuzzRequest(f *testing.F) {
	f.Add("GET", "/api/2/things/ns:x/attributes/a%20b", "", "", "")
	f.Add("PUT", "/api/2/things/ns:x", "application/json", "1m", `{"a":1}`)
	f.Add("PATCH", "/api/2/things/ns:x/features/f/properties/p", "application/merge-patch+json; x", "0", `null`)
	f.Add("POST", "/api/2/things?namespace=a.b&ids=,,", "application/x+json", "", `{"thingId":1}`)
	f.Add("DELETE", "/api/2/things/%3A/%zz", "", "-1s", "")
	f.Add("OPTIONS", "/api/2/things/ns:x/policyId/", "text/plain", "1y", "[")
	f.Add("GET", "/api/2/things?ids=a:b,c:d&fields=a(b&response-required=0&requested-acks=[", "", "99999999999999999999s", "")
	rec := &recorder{got: make(chan protocol.Envelope, 1), resp: protocol.Envelope{Status: http.StatusOK, Value: json.RawMessage(`[]`)}}
	a, err := New(Config{Twins: rec, Auth: testAuth{}, MaxBodyBytes: 64})
	if err != nil {
		f.Fatal(err)
	}
	h := a.Handler()
	f.Fuzz(func(t *testing.T, method, target, contentType, timeout, body string) {
		req, err := http.NewRequest(method, "http://gateway.test"+target, strings.NewReader(body))
		if err != nil || req.URL.Host != "gateway.test" {
			return
		}
		req.SetBasicAuth("ditto", "ditto")
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Timeout", timeout)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		select {
		case <-rec.got:
		default:
		}
		if w.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body)
		}
	})
}
