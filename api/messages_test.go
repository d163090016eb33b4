package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/gateway"
	"github.com/twinway/twinway/protocol"
)

// fakeLive records the signals the door sends and answers each with answer
// (by default an echo of the message as a 200 reply).
type fakeLive struct {
	mu     sync.Mutex
	sent   []protocol.Envelope
	answer func(protocol.Envelope) gateway.LiveAnswer
}

func (f *fakeLive) AskLive(_ context.Context, _ auth.Context, cmd protocol.Envelope) gateway.LiveAnswer {
	f.mu.Lock()
	f.sent = append(f.sent, cmd)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(cmd)
	}
	return gateway.LiveAnswer{ResponseRequired: true, Message: true, Response: protocol.Envelope{Topic: cmd.Topic,
		Path: cmd.Path, Status: 200, Value: cmd.Value, Headers: cmd.Headers}}
}

func (f *fakeLive) last(t *testing.T) protocol.Envelope {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sent) == 0 {
		t.Fatal("nothing sent")
	}
	return f.sent[len(f.sent)-1]
}

func (f *fakeLive) answerWith(a func(protocol.Envelope) gateway.LiveAnswer) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

func TestMessageRoutes(t *testing.T) {
	f := &fakeLive{}
	g := startGateway(t, Config{Live: f})
	const thing = "/api/2/things/org.example:lamp"

	// JSON, text and binary payloads become the envelope value by their
	// content type, and come back as bytes of the reply's content type.
	r := g.do(t, http.MethodPost, thing+"/inbox/messages/ask", `{"q":1}`, nil).want(t, 200)
	env := f.last(t)
	if env.Topic != "org.example/lamp/things/live/messages/ask" || env.Path != "/inbox/messages/ask" || string(env.Value) != `{"q":1}` ||
		env.Headers[protocol.HeaderContentType] != "application/json" || env.Headers[protocol.HeaderCorrelationID] == "" {
		t.Fatalf("sent %+v", env)
	}
	r.wantJSON(t, `{"q":1}`)

	r = g.do(t, http.MethodPost, thing+"/features/light/outbox/messages/a/b?timeout=5", "hi there", map[string]string{"Content-Type": "text/plain"}).want(t, 200)
	env = f.last(t)
	if env.Topic != "org.example/lamp/things/live/messages/a/b" || env.Path != "/features/light/outbox/messages/a/b" ||
		string(env.Value) != `"hi there"` || env.Headers[protocol.HeaderTimeout] != "5" {
		t.Fatalf("sent %+v", env)
	}
	if string(r.body) != "hi there" || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("text reply %q %q", r.body, r.header.Get("Content-Type"))
	}

	r = g.do(t, http.MethodPost, thing+"/inbox/messages/raw", "\x00\xff", map[string]string{"Content-Type": "image/png"}).want(t, 200)
	if env = f.last(t); string(env.Value) != `"AP8="` {
		t.Fatalf("binary value %s", env.Value)
	}
	if string(r.body) != "\x00\xff" || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("binary reply %q %q", r.body, r.header.Get("Content-Type"))
	}
	// Without Content-Type the payload is application/octet-stream.
	g.do(t, http.MethodPost, thing+"/inbox/messages/raw", "x", map[string]string{"Content-Type": ""}).want(t, 200)
	if env = f.last(t); env.Headers[protocol.HeaderContentType] != "application/octet-stream" || string(env.Value) != `"eA=="` {
		t.Fatalf("no content type: %+v", env)
	}

	// Claims.
	g.do(t, http.MethodPost, thing+"/inbox/claim", "", nil).want(t, 200)
	if env = f.last(t); env.Topic != "org.example/lamp/things/live/messages/claim" || env.Path != "/inbox/messages/claim" {
		t.Fatalf("claim %+v", env)
	}

	// Refused before sending.
	g.do(t, http.MethodPost, thing+"/inbox/messages/", "x", nil).wantError(t, 400, protocol.CodeMessageSubjectInvalid)
	g.do(t, http.MethodPost, "/api/2/things/bad/inbox/messages/x", "x", nil).wantError(t, 400, protocol.CodeThingIDInvalid)
	g.do(t, http.MethodPost, thing+"/inbox/messages/x", "{", nil).wantError(t, 400, protocol.CodeJSONInvalid)
	g.do(t, http.MethodPost, thing+"/inbox/messages/x", strings.Repeat("x", maxMessageBytes+1), map[string]string{"Content-Type": "text/plain"}).
		wantError(t, 413, protocol.CodeMessageTooLarge)
	g.do(t, http.MethodPost, thing+"/inbox/messages/x?response-required=maybe", "x", nil).wantError(t, 400, protocol.CodeHeaderInvalid)
}

func TestMessageAnswers(t *testing.T) {
	f := &fakeLive{}
	g := startGateway(t, Config{Live: f})
	const path = "/api/2/things/org.example:lamp/inbox/messages/ask"
	reply := func(status int, ct, value string, h ...string) {
		f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
			headers := protocol.Headers{protocol.HeaderContentType: ct, "ditto-message-direction": "FROM", "x-custom": "no"}
			for i := 0; i+1 < len(h); i += 2 {
				headers[h[i]] = h[i+1]
			}
			env := protocol.Envelope{Topic: cmd.Topic, Path: "/outbox/messages/ask", Status: status, Headers: headers}
			if value != "" {
				env.Value = json.RawMessage(value)
			}
			return gateway.LiveAnswer{ResponseRequired: true, Message: true, Response: env}
		})
	}
	reply(418, "text/plain", `"I am a coffee machine"`)
	r := g.do(t, http.MethodPost, path, `"?"`, nil).want(t, 418)
	if string(r.body) != "I am a coffee machine" || r.header.Get("ditto-message-direction") != "FROM" || r.header.Get("x-custom") != "" {
		t.Fatalf("reply %q %v", r.body, r.header)
	}
	reply(204, "text/plain", `"ignored"`)
	g.do(t, http.MethodPost, path, `"?"`, nil).want(t, 204).wantNoBody(t)
	reply(502, "application/json", `{"a":1}`) // Ditto's own status: read as none
	g.do(t, http.MethodPost, path, `"?"`, nil).want(t, 200).wantJSON(t, `{"a":1}`)
	// A status that is no final HTTP status never reaches WriteHeader (which
	// panics beyond 999, and sends an interim response for 1xx).
	for _, status := range []int{1000, 42, 101, -1} {
		reply(status, "text/plain", `"x"`)
		g.do(t, http.MethodPost, path, `"?"`, nil).wantError(t, 422, protocol.CodeIllegalAdaptable)
	}
	f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
		return gateway.LiveAnswer{ResponseRequired: true, Response: protocol.Envelope{Topic: "org.example/lamp/things/live/commands/retrieve",
			Path: "/attributes", Status: 1000, Value: json.RawMessage(`{}`)}}
	})
	g.do(t, http.MethodGet, "/api/2/things/org.example:lamp/attributes?channel=live", "", nil).wantError(t, 422, protocol.CodeIllegalAdaptable)

	// An error of the device or of the gateway is Ditto's error JSON.
	e := protocol.Errorf(protocol.CodeCommandTimeout, "The Command reached the specified timeout of 10,000ms.")
	f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
		topic, _ := protocol.ParseTopic(cmd.Topic)
		return gateway.LiveAnswer{ResponseRequired: true, Message: true, Err: e, Response: protocol.ErrorEnvelope(e, topic, cmd.Headers)}
	})
	g.do(t, http.MethodPost, path, `"?"`, nil).wantError(t, 408, protocol.CodeCommandTimeout)
	f.answerWith(func(protocol.Envelope) gateway.LiveAnswer { return gateway.LiveAnswer{ResponseRequired: true, Err: e} })
	g.do(t, http.MethodPost, path, `"?"`, nil).wantError(t, 408, protocol.CodeCommandTimeout)

	// Nobody waits: 202.
	f.answerWith(func(protocol.Envelope) gateway.LiveAnswer { return gateway.LiveAnswer{Accepted: true} })
	g.do(t, http.MethodPost, path+"?timeout=0", `"?"`, nil).want(t, 202).wantNoBody(t)
	// A success not required: 202.
	reply(200, "application/json", `1`)
	f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
		return gateway.LiveAnswer{Message: true, Response: protocol.Envelope{Topic: cmd.Topic, Status: 200, Value: json.RawMessage(`1`)}}
	})
	g.do(t, http.MethodPost, path, `"?"`, nil).want(t, 202)

	// Aggregated acknowledgements.
	f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
		topic, _ := protocol.ParseTopic(cmd.Topic)
		agg := ack.NewAggregator(topic, cmd.Headers, []string{"live-response", "my-ack"}, 1)
		agg.Add("my-ack", 202, nil, nil)
		agg.Timeout()
		res := agg.Result()
		return gateway.LiveAnswer{ResponseRequired: true, Message: true, Acks: &res}
	})
	r = g.do(t, http.MethodPost, path, `"?"`, nil).want(t, 424)
	var entries map[string]struct {
		Status int `json:"status"`
	}
	if err := json.Unmarshal(r.body, &entries); err != nil || entries["my-ack"].Status != 202 || entries["live-response"].Status != 408 {
		t.Fatalf("acks %s", r.body)
	}
	// A single acknowledgement is the answer with its own status; an
	// interim one cannot be.
	f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
		topic, _ := protocol.ParseTopic(cmd.Topic)
		agg := ack.NewAggregator(topic, cmd.Headers, []string{"my-ack"}, 1)
		agg.Add("my-ack", 102, nil, nil)
		res := agg.Result()
		return gateway.LiveAnswer{ResponseRequired: true, Message: true, Acks: &res}
	})
	g.do(t, http.MethodPost, path, `"?"`, nil).wantError(t, 422, protocol.CodeIllegalAdaptable)
}

func TestLiveChannelOnThingRoutes(t *testing.T) {
	f := &fakeLive{}
	g := startGateway(t, Config{Live: f})
	const thing = "/api/2/things/org.example:lamp"
	f.answerWith(func(cmd protocol.Envelope) gateway.LiveAnswer {
		return gateway.LiveAnswer{ResponseRequired: true, Response: protocol.Envelope{Topic: cmd.Topic, Path: cmd.Path, Status: 200,
			Value: json.RawMessage(`{"room":"hall"}`), Headers: protocol.Headers{"channel": "live"}}}
	})
	g.do(t, http.MethodGet, thing+"/attributes?channel=live", "", nil).want(t, 200).wantJSON(t, `{"room":"hall"}`)
	if env := f.last(t); env.Topic != "org.example/lamp/things/live/commands/retrieve" || env.Path != "/attributes" {
		t.Fatalf("sent %+v", env)
	}
	g.do(t, http.MethodPut, thing+"/attributes/room", `"hall"`, map[string]string{"channel": "live"}).want(t, 200)
	if env := f.last(t); env.Topic != "org.example/lamp/things/live/commands/modify" || string(env.Value) != `"hall"` {
		t.Fatalf("sent %+v", env)
	}
	// A retrieve with a live-channel-condition keeps the twin topic: the
	// gateway asks the twin first.
	g.do(t, http.MethodGet, thing+"/attributes?live-channel-condition=exists(attributes/room)", "", nil).want(t, 200)
	if env := f.last(t); env.Topic != "org.example/lamp/things/twin/commands/retrieve" || env.Headers["live-channel-condition"] != "exists(attributes/room)" {
		t.Fatalf("sent %+v", env)
	}
	g.do(t, http.MethodPost, "/api/2/things?channel=live", `{}`, nil).wantError(t, 405, protocol.CodeThingNotCreatable)
	g.do(t, http.MethodGet, "/api/2/things?ids=org.example:lamp&channel=live", "", nil).wantError(t, 400, protocol.CodeHeaderUnsupported)
	g.do(t, http.MethodGet, thing+"?channel=sometimes", "", nil).wantError(t, 400, protocol.CodeHeaderInvalid)
}
