package ack_test

import (
	"slices"
	"testing"
	"time"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

// TestExpectDefaults walks Ditto's table of response-required ×
// requested-acks × timeout (basic-acknowledgements "Interaction between
// headers") for every kind on both doors, plus the implicit labels and the
// filtering of the other channel's built-in labels.
func TestExpectDefaults(t *testing.T) {
	const (
		zeroTimeout = "The value of the header 'timeout' must not be zero if response or acknowledgements are requested."
		wsNoResp    = "For WebSocket, it is forbidden to request acknowledgements while 'response-required' is set to false."
	)
	type want struct {
		labels  []string
		rr      bool
		timeout time.Duration
		fnf     bool
		message string // header.invalid with this message
	}
	for _, tc := range []struct {
		name    string
		kind    ack.Kind
		door    ack.Door
		headers protocol.Headers
		want    want
	}{
		// Nothing set: the channel's implicit label, a response, the door's timeout.
		{"twin modify HTTP defaults", ack.TwinModify, ack.HTTP, protocol.Headers{},
			want{labels: []string{"twin-persisted"}, rr: true, timeout: 60 * time.Second}},
		{"twin modify WS defaults", ack.TwinModify, ack.WebSocket, protocol.Headers{},
			want{labels: []string{"twin-persisted"}, rr: true, timeout: 65 * time.Second}},
		{"live command HTTP defaults", ack.LiveCommand, ack.HTTP, protocol.Headers{},
			want{labels: []string{"live-response"}, rr: true, timeout: 60 * time.Second}},
		{"message HTTP defaults", ack.LiveMessage, ack.HTTP, protocol.Headers{},
			want{labels: []string{"live-response"}, rr: true, timeout: 10 * time.Second}},
		{"message WS defaults", ack.LiveMessage, ack.WebSocket, protocol.Headers{},
			want{labels: []string{"live-response"}, rr: true, timeout: 65 * time.Second}},
		{"claim HTTP defaults", ack.ClaimMessage, ack.HTTP, protocol.Headers{},
			want{labels: []string{"live-response"}, rr: true, timeout: 60 * time.Second}},
		{"twin query defaults", ack.TwinQuery, ack.HTTP, protocol.Headers{},
			want{labels: nil, rr: true, timeout: 60 * time.Second}},

		// response-required=false, requested-acks empty: fire and forget on both doors.
		{"rr false, acks default, HTTP", ack.TwinModify, ack.HTTP, protocol.Headers{"response-required": "false"},
			want{rr: false, fnf: true}},
		{"rr false, acks empty, timeout 0, HTTP", ack.TwinModify, ack.HTTP,
			protocol.Headers{"response-required": "false", "requested-acks": "[]", "timeout": "0"}, want{rr: false, fnf: true}},
		{"rr false, acks empty, timeout 5s, WS", ack.LiveMessage, ack.WebSocket,
			protocol.Headers{"response-required": "false", "requested-acks": "[]", "timeout": "5s"}, want{rr: false, fnf: true}},
		{"timeout 0 alone: fire and forget", ack.LiveMessage, ack.HTTP, protocol.Headers{"timeout": "0"},
			want{rr: false, fnf: true}},
		{"timeout 0 alone on twin WS", ack.TwinModify, ack.WebSocket, protocol.Headers{"timeout": "0"},
			want{rr: false, fnf: true}},

		// response-required=false with acknowledgements.
		{"rr false, acks, timeout 0, HTTP: 400", ack.TwinModify, ack.HTTP,
			protocol.Headers{"response-required": "false", "requested-acks": "custom-ack", "timeout": "0"}, want{message: zeroTimeout}},
		{"rr false, acks, timeout 0, WS: error", ack.TwinModify, ack.WebSocket,
			protocol.Headers{"response-required": "false", "requested-acks": `["custom-ack"]`, "timeout": "0"}, want{message: zeroTimeout}},
		{"rr false, acks, timeout, HTTP: 202 after acks", ack.TwinModify, ack.HTTP,
			protocol.Headers{"response-required": "false", "requested-acks": "twin-persisted,custom-ack", "timeout": "42s"},
			want{labels: []string{"twin-persisted", "custom-ack"}, rr: false, timeout: 42 * time.Second}},
		{"rr false, acks, timeout, WS: error", ack.TwinModify, ack.WebSocket,
			protocol.Headers{"response-required": "false", "requested-acks": `["custom-ack"]`, "timeout": "42s"}, want{message: wsNoResp}},

		// response-required=true, requested-acks empty.
		{"rr true, acks empty, timeout 0, HTTP: 400", ack.TwinModify, ack.HTTP,
			protocol.Headers{"response-required": "true", "requested-acks": "[]", "timeout": "0"}, want{message: zeroTimeout}},
		{"rr true, acks empty, timeout 0, WS: error", ack.LiveCommand, ack.WebSocket,
			protocol.Headers{"response-required": "true", "requested-acks": "[]", "timeout": "0"}, want{message: zeroTimeout}},
		{"rr true, acks empty, timeout, HTTP: response", ack.TwinModify, ack.HTTP,
			protocol.Headers{"response-required": "true", "requested-acks": "", "timeout": "30s"}, want{rr: true, timeout: 30 * time.Second}},
		{"rr true, acks empty on a live command: no live-response added", ack.LiveCommand, ack.WebSocket,
			protocol.Headers{"requested-acks": "[]"}, want{rr: true, timeout: 65 * time.Second}},

		// response-required=true with acknowledgements.
		{"rr true, acks, timeout 0: 400", ack.TwinModify, ack.HTTP,
			protocol.Headers{"requested-acks": "custom-ack", "timeout": "0"}, want{message: zeroTimeout}},
		{"rr true, acks, timeout: aggregated", ack.TwinModify, ack.WebSocket,
			protocol.Headers{"requested-acks": `["twin-persisted","custom-ack"]`, "timeout": "42s"},
			want{labels: []string{"twin-persisted", "custom-ack"}, rr: true, timeout: 42 * time.Second}},
		{"twin modify: explicit acks are not completed with twin-persisted", ack.TwinModify, ack.HTTP,
			protocol.Headers{"requested-acks": "custom-ack"}, want{labels: []string{"custom-ack"}, rr: true, timeout: 60 * time.Second}},
		{"live: explicit acks gain live-response", ack.LiveMessage, ack.WebSocket,
			protocol.Headers{"requested-acks": `["custom-ack"]`}, want{labels: []string{"custom-ack", "live-response"}, rr: true, timeout: 65 * time.Second}},
		{"live: live-response not repeated", ack.LiveCommand, ack.HTTP,
			protocol.Headers{"requested-acks": "live-response,custom-ack"}, want{labels: []string{"live-response", "custom-ack"}, rr: true, timeout: 60 * time.Second}},
		{"live HTTP: rr false removes live-response", ack.LiveMessage, ack.HTTP,
			protocol.Headers{"response-required": "false", "requested-acks": "live-response,custom-ack"},
			want{labels: []string{"custom-ack"}, rr: false, timeout: 10 * time.Second}},
		{"live HTTP: rr false with only live-response is fire and forget", ack.LiveMessage, ack.HTTP,
			protocol.Headers{"response-required": "false", "requested-acks": "live-response"}, want{rr: false, fnf: true}},

		// The other channel's built-in labels are dropped.
		{"twin modify drops live-response", ack.TwinModify, ack.HTTP,
			protocol.Headers{"requested-acks": "live-response,twin-persisted"}, want{labels: []string{"twin-persisted"}, rr: true, timeout: 60 * time.Second}},
		{"twin modify keeps search-persisted", ack.TwinModify, ack.HTTP,
			protocol.Headers{"requested-acks": "search-persisted"}, want{labels: []string{"search-persisted"}, rr: true, timeout: 60 * time.Second}},
		{"live drops twin-persisted and search-persisted", ack.LiveCommand, ack.WebSocket,
			protocol.Headers{"requested-acks": `["twin-persisted","search-persisted","custom-ack"]`},
			want{labels: []string{"custom-ack", "live-response"}, rr: true, timeout: 65 * time.Second}},
		{"twin query ignores acks", ack.TwinQuery, ack.WebSocket,
			protocol.Headers{"requested-acks": `["custom-ack"]`, "response-required": "false"}, want{rr: false, fnf: true}},
		{"twin query with timeout 0 and a response: 400", ack.TwinQuery, ack.HTTP,
			protocol.Headers{"timeout": "0"}, want{message: zeroTimeout}},

		// Timeouts by door.
		{"WS timeout above 65s is cut", ack.LiveMessage, ack.WebSocket, protocol.Headers{"timeout": "2m"},
			want{labels: []string{"live-response"}, rr: true, timeout: 65 * time.Second}},
		{"WS timeout in ms", ack.LiveCommand, ack.WebSocket, protocol.Headers{"timeout": "250ms"},
			want{labels: []string{"live-response"}, rr: true, timeout: 250 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ack.Expect(tc.headers, tc.kind, tc.door)
			if tc.want.message != "" {
				e := wantError(t, err, protocol.CodeHeaderInvalid, 400)
				if e.Message != tc.want.message {
					t.Errorf("message %q\nwant    %q", e.Message, tc.want.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Labels, tc.want.labels) || got.ResponseRequired != tc.want.rr || got.Timeout != tc.want.timeout {
				t.Errorf("got labels %q rr %v timeout %v; want %q %v %v",
					got.Labels, got.ResponseRequired, got.Timeout, tc.want.labels, tc.want.rr, tc.want.timeout)
			}
			if got.FireAndForget() != tc.want.fnf {
				t.Errorf("FireAndForget() = %v", got.FireAndForget())
			}
			if got.Aggregate() != (len(tc.want.labels) > 0) {
				t.Errorf("Aggregate() = %v", got.Aggregate())
			}
		})
	}
}

func TestExpectHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    ack.Kind
		door    ack.Door
		headers protocol.Headers
		code    string
		message string
	}{
		{"bad response-required", ack.TwinModify, ack.HTTP, protocol.Headers{"response-required": "yes"}, protocol.CodeHeaderInvalid, ""},
		{"bad requested-acks", ack.TwinModify, ack.HTTP, protocol.Headers{"requested-acks": "no"}, protocol.CodeHeaderInvalid, ""},
		{"bad timeout", ack.TwinModify, ack.WebSocket, protocol.Headers{"timeout": "soon"}, protocol.CodeTimeoutInvalid, ""},
		{"HTTP command timeout above 60s", ack.TwinModify, ack.HTTP, protocol.Headers{"timeout": "61s"}, protocol.CodeGatewayTimeout,
			"The timeout <61,000ms> is not inside its allowed bounds <0ms - 60,000ms>"},
		{"HTTP live command timeout 60001ms", ack.LiveCommand, ack.HTTP, protocol.Headers{"timeout": "60001ms"}, protocol.CodeGatewayTimeout,
			"The timeout <60,001ms> is not inside its allowed bounds <0ms - 60,000ms>"},
		{"HTTP message timeout above 60s", ack.LiveMessage, ack.HTTP, protocol.Headers{"timeout": "70"}, protocol.CodeTimeoutInvalid,
			"The timeout <70,000ms> is not inside its allowed bounds <0ms - 60,000ms>"},
		{"HTTP claim timeout above 600s", ack.ClaimMessage, ack.HTTP, protocol.Headers{"timeout": "11m"}, protocol.CodeTimeoutInvalid,
			"The timeout <660,000ms> is not inside its allowed bounds <0ms - 600,000ms>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ack.Expect(tc.headers, tc.kind, tc.door)
			e := wantError(t, err, tc.code, 400)
			if tc.message != "" && e.Message != tc.message {
				t.Errorf("message %q\nwant    %q", e.Message, tc.message)
			}
		})
	}
}

func TestEffectiveTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    ack.Kind
		door    ack.Door
		timeout string // "" = absent
		want    time.Duration
	}{
		{"HTTP command absent", ack.TwinModify, ack.HTTP, "", 60 * time.Second},
		{"HTTP command at max", ack.LiveCommand, ack.HTTP, "1m", 60 * time.Second},
		{"HTTP message absent", ack.LiveMessage, ack.HTTP, "", 10 * time.Second},
		{"HTTP message in seconds", ack.LiveMessage, ack.HTTP, "42", 42 * time.Second},
		{"HTTP message 60.5s passes (whole seconds)", ack.LiveMessage, ack.HTTP, "60500ms", 60500 * time.Millisecond},
		{"HTTP message zero", ack.LiveMessage, ack.HTTP, "0", 0},
		{"HTTP claim absent", ack.ClaimMessage, ack.HTTP, "", 60 * time.Second},
		{"HTTP claim 10m", ack.ClaimMessage, ack.HTTP, "600", 10 * time.Minute},
		{"WS absent", ack.LiveMessage, ack.WebSocket, "", 65 * time.Second},
		{"WS cut", ack.ClaimMessage, ack.WebSocket, "10m", 65 * time.Second},
		{"WS zero", ack.TwinModify, ack.WebSocket, "0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := protocol.Headers{}
			if tc.timeout != "" {
				h["timeout"] = tc.timeout
			}
			got, err := ack.EffectiveTimeout(h, tc.kind, tc.door)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExpectationApply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		kind    ack.Kind
		headers protocol.Headers
		want    protocol.Headers
	}{
		{"twin defaults", ack.TwinModify, protocol.Headers{"correlation-id": "c"},
			protocol.Headers{"correlation-id": "c", "requested-acks": `["twin-persisted"]`, "response-required": "true"}},
		{"live with custom", ack.LiveMessage, protocol.Headers{"requested-acks": "custom-ack"},
			protocol.Headers{"requested-acks": `["custom-ack","live-response"]`, "response-required": "true"}},
		{"fire and forget", ack.LiveMessage, protocol.Headers{"timeout": "0"},
			protocol.Headers{"timeout": "0", "requested-acks": `[]`, "response-required": "false"}},
		{"query untouched", ack.TwinQuery, protocol.Headers{"requested-acks": "custom-ack"},
			protocol.Headers{"requested-acks": "custom-ack"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ack.Expect(tc.headers, tc.kind, ack.HTTP)
			if err != nil {
				t.Fatal(err)
			}
			h := tc.headers.Clone()
			e.Apply(h)
			if len(h) != len(tc.want) {
				t.Errorf("got %v, want %v", h, tc.want)
			}
			for k, v := range tc.want {
				if h[k] != v {
					t.Errorf("%s = %q, want %q", k, h[k], v)
				}
			}
		})
	}
}

func TestFormatMillis(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "0",
		250 * time.Millisecond:  "250",
		1337 * time.Millisecond: "1,337",
		42 * time.Second:        "42,000",
		65 * time.Second:        "65,000",
		10 * time.Minute:        "600,000",
		1000 * time.Hour:        "3,600,000,000",
		1500 * time.Microsecond: "1",
	} {
		if got := ack.FormatMillis(d); got != want {
			t.Errorf("FormatMillis(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestTimeoutErrors(t *testing.T) {
	e := wantError(t, ack.CommandTimeoutError(10*time.Second), protocol.CodeCommandTimeout, 408)
	if e.Message != "The Command reached the specified timeout of 10,000ms." || e.Description != "Try increasing the command timeout." {
		t.Errorf("command timeout %+v", e)
	}
	e = wantError(t, ack.RequestTimeoutError(42*time.Second), protocol.CodeAckRequestTimeout, 408)
	if e.Message != "The acknowledgement request reached the specified timeout of 42,000ms." ||
		e.Description != "Try increasing the timeout and make sure that the requested acknowledgement is sent back in time." {
		t.Errorf("request timeout %+v", e)
	}
}
