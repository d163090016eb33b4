package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/twinway/twinway/gateway"
	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// startAckGateway is the HTTP door with Config.Commands, on a real gateway
// (no session declares a label, so custom labels time out) and twin handler.
func startAckGateway(t *testing.T) *testGateway {
	t.Helper()
	var gw *gateway.Gateway
	twins, err := twin.New(twin.Config{Store: openStore(t), Events: twin.EventSinkFunc(func(ev twin.Event) { gw.Publish(ev) })})
	if err != nil {
		t.Fatal(err)
	}
	gw, err = gateway.New(gateway.Config{Twins: twins, Auth: testAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	g := serve(t, Config{Twins: twins, Auth: testAuth{}, Commands: gw})
	t.Cleanup(func() { _ = gw.Shutdown(context.Background()) })
	return g
}

// The HTTP shapes of SPEC.md §6 through Config.Commands.
func TestHTTPAcknowledgements(t *testing.T) {
	g := startAckGateway(t)
	const path = "/api/2/things/org.example:acks"
	g.do(t, http.MethodPut, path, `{}`, nil).want(t, http.StatusCreated)
	attr := path + "/attributes/a"

	// Several labels, one missing: 424, every entry with its headers.
	r := g.do(t, http.MethodPut, attr+"?requested-acks=twin-persisted,app:missing&timeout=100ms", `1`,
		map[string]string{"correlation-id": "c-424"}).want(t, http.StatusFailedDependency)
	var entries map[string]struct {
		Status  int             `json:"status"`
		Payload json.RawMessage `json:"payload"`
		Headers map[string]any  `json:"headers"`
	}
	if err := json.Unmarshal(r.body, &entries); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if entries["twin-persisted"].Status != http.StatusCreated || entries["app:missing"].Status != http.StatusRequestTimeout ||
		entries["app:missing"].Headers["correlation-id"] != "c-424" {
		t.Errorf("entries %s", r.body)
	}
	if r.header.Get("Content-Type") != "application/json" || r.header.Get("correlation-id") != "c-424" {
		t.Errorf("headers %v", r.header)
	}
	// One custom label: its status and payload alone.
	r = g.do(t, http.MethodPut, attr, `2`, map[string]string{"requested-acks": `["app:missing"]`, "timeout": "100ms"})
	r.want(t, http.StatusRequestTimeout)
	var e protocol.Error
	if err := json.Unmarshal(r.body, &e); err != nil || e.Code != protocol.CodeAckRequestTimeout {
		t.Errorf("single entry %s", r.body)
	}
	// response-required=false: the failed acknowledgement's status, no body.
	r = g.do(t, http.MethodPut, attr, `3`, map[string]string{"requested-acks": "app:missing", "timeout": "100ms", "response-required": "false"})
	r.want(t, http.StatusRequestTimeout)
	if len(r.body) != 0 {
		t.Errorf("body %s", r.body)
	}
	// twin-persisted alone is the response itself, with its ETag.
	r = g.do(t, http.MethodPut, attr, `4`, map[string]string{"requested-acks": "twin-persisted"}).want(t, http.StatusNoContent)
	if r.header.Get("ETag") == "" {
		t.Errorf("headers %v", r.header)
	}
	// Refused combinations are refused before the write.
	g.do(t, http.MethodPut, attr, `5`, map[string]string{"timeout": "0", "response-required": "true"}).wantError(t, http.StatusBadRequest, protocol.CodeHeaderInvalid)
	g.do(t, http.MethodPut, attr, `5`, map[string]string{"requested-acks": `[1]`}).wantError(t, http.StatusBadRequest, protocol.CodeHeaderInvalid)
	if got := g.do(t, http.MethodGet, attr, "", nil).want(t, http.StatusOK).body; string(got) != `4` {
		t.Errorf("attribute %s", got)
	}
	// timeout=0 alone: 202, the write applied.
	g.do(t, http.MethodPut, attr, `6`, map[string]string{"timeout": "0"}).want(t, http.StatusAccepted)
	if got := g.do(t, http.MethodGet, attr, "", nil).body; string(got) != `6` {
		t.Errorf("attribute %s", got)
	}
}
