package protocol_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func TestDecodeEnvelopeValid(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name string
		in   string
		want protocol.Envelope
	}{
		{
			name: "minimal, path defaults to /",
			in:   `{"topic":"ns/n/things/twin/commands/retrieve","headers":{}}`,
			want: protocol.Envelope{Topic: "ns/n/things/twin/commands/retrieve", Headers: protocol.Headers{}, Path: "/"},
		},
		{
			name: "no headers at all",
			in:   `{"topic":"ns/n/things/twin/commands/retrieve"}`,
			want: protocol.Envelope{Topic: "ns/n/things/twin/commands/retrieve", Headers: protocol.Headers{}, Path: "/"},
		},
		{
			name: "null headers and null path",
			in:   `{"topic":"t","headers":null,"path":null}`,
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{}, Path: "/"},
		},
		{
			name: "value absent",
			in:   `{"topic":"t","headers":{"correlation-id":"c1"},"path":"/attributes/a"}`,
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{"correlation-id": "c1"}, Path: "/attributes/a"},
		},
		{
			name: "value explicit null",
			in:   `{"topic":"t","headers":{},"path":"/attributes/a","value":null}`,
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{}, Path: "/attributes/a", Value: raw(`null`)},
		},
		{
			name: "value kept verbatim",
			in:   `{"topic":"t","headers":{},"path":"/","value":{ "b" : [1, 2.50, "x"] , "a":{} }}`,
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{}, Path: "/", Value: raw(`{ "b" : [1, 2.50, "x"] , "a":{} }`)},
		},
		{
			name: "scalar values",
			in:   `{"topic":"t","path":"/x","value":false}`,
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{}, Path: "/x", Value: raw(`false`)},
		},
		{
			name: "typed headers kept as JSON text, names lower-cased",
			in: `{"topic":"t","headers":{"Correlation-ID":"c1","response-required":false,` +
				`"requested-acks":["twin-persisted"],"X-Count":42,"X-Obj":{"a":1},"x-null":null,"Content-Type":"application/json"}}`,
			want: protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{
				"correlation-id":    "c1",
				"response-required": "false",
				"requested-acks":    `["twin-persisted"]`,
				"x-count":           "42",
				"x-obj":             `{"a":1}`,
				"x-null":            "null",
				"content-type":      "application/json",
			}},
		},
		{
			name: "string header with escapes",
			in:   `{"topic":"t","headers":{"x":"a\"b\\c\u00e4\n"}}`,
			want: protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{"x": "a\"b\\cä\n"}},
		},
		{
			name: "all fields",
			in: `{"topic":"ns/n/things/twin/events/modified","headers":{"correlation-id":"c"},"path":"/features/f",` +
				`"value":{"properties":{}},"fields":"thingId","extra":{"attributes":{"a":1}},"status":204,` +
				`"revision":42,"timestamp":"2024-01-02T03:04:05.678Z"}`,
			want: protocol.Envelope{Topic: "ns/n/things/twin/events/modified", Headers: protocol.Headers{"correlation-id": "c"},
				Path: "/features/f", Value: raw(`{"properties":{}}`), Fields: "thingId", Extra: raw(`{"attributes":{"a":1}}`),
				Status: 204, Revision: 42, Timestamp: "2024-01-02T03:04:05.678Z"},
		},
		{
			name: "surrounding JSON whitespace",
			in:   " \r\n\t{\"topic\":\"t\"}\n\t ",
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{}, Path: "/"},
		},
		{
			name: "unknown fields ignored",
			in:   `{"topic":"t","foo":[1,{"x":2}],"path":"/a"}`,
			want: protocol.Envelope{Topic: "t", Headers: protocol.Headers{}, Path: "/a"},
		},
		{
			name: "empty topic is still a topic",
			in:   `{"topic":""}`,
			want: protocol.Envelope{Topic: "", Headers: protocol.Headers{}, Path: "/"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.DecodeEnvelope([]byte(tc.in))
			if err != nil {
				t.Fatalf("DecodeEnvelope: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DecodeEnvelope(%s)\n got  %#v\n want %#v", tc.in, got, tc.want)
			}
			// Round trip through AppendJSON.
			again, err := protocol.DecodeEnvelope(got.AppendJSON(nil))
			if err != nil {
				t.Fatalf("re-decode of %s: %v", got.AppendJSON(nil), err)
			}
			if !envelopesEqual(again, got) {
				t.Fatalf("round trip\n got  %#v\n want %#v", again, got)
			}
		})
	}
}

// envelopesEqual compares envelopes, Value and Extra by their JSON meaning.
func envelopesEqual(a, b protocol.Envelope) bool {
	if (a.Value == nil) != (b.Value == nil) || (a.Extra == nil) != (b.Extra == nil) {
		return false
	}
	if !jsonEqual(a.Value, b.Value) || !jsonEqual(a.Extra, b.Extra) {
		return false
	}
	a.Value, b.Value, a.Extra, b.Extra = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

func jsonEqual(a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

func TestDecodeEnvelopeValueNullVersusAbsent(t *testing.T) {
	absent, err := protocol.DecodeEnvelope([]byte(`{"topic":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	if absent.Value != nil {
		t.Fatalf("absent value = %q, want nil", absent.Value)
	}
	null, err := protocol.DecodeEnvelope([]byte(`{"topic":"t","value":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(null.Value) != "null" {
		t.Fatalf("null value = %q, want null", null.Value)
	}
	if got := string(absent.AppendJSON(nil)); strings.Contains(got, "value") {
		t.Fatalf("absent value written: %s", got)
	}
	if got := string(null.AppendJSON(nil)); got != `{"topic":"t","headers":{},"path":"/","value":null}` {
		t.Fatalf("null value written as %s", got)
	}
}

func TestDecodeEnvelopeInvalid(t *testing.T) {
	tests := []struct {
		name, in string
		code     string
	}{
		{"empty", "", protocol.CodeJSONInvalid},
		{"whitespace", " \t\r\n ", protocol.CodeJSONInvalid},
		{"not JSON", "hello", protocol.CodeJSONInvalid},
		{"JSON array", `[{"topic":"t"}]`, protocol.CodeJSONInvalid},
		{"JSON string", `"topic"`, protocol.CodeJSONInvalid},
		{"JSON number", `42`, protocol.CodeJSONInvalid},
		{"JSON null", `null`, protocol.CodeJSONInvalid},
		{"truncated", `{"topic":"t","headers":{`, protocol.CodeJSONInvalid},
		{"truncated string", `{"topic":"t`, protocol.CodeJSONInvalid},
		{"trailing garbage", `{"topic":"t"} x`, protocol.CodeJSONInvalid},
		{"two objects", `{"topic":"t"}{"topic":"u"}`, protocol.CodeJSONInvalid},
		{"trailing comma", `{"topic":"t",}`, protocol.CodeJSONInvalid},
		{"single quotes", `{'topic':'t'}`, protocol.CodeJSONInvalid},
		{"form feed is not JSON whitespace", "\f{\"topic\":\"t\"}", protocol.CodeJSONInvalid},
		{"vertical tab is not JSON whitespace", "{\"topic\":\"t\"}\v", protocol.CodeJSONInvalid},
		{"NBSP is not JSON whitespace", "\u00a0{\"topic\":\"t\"}", protocol.CodeJSONInvalid},
		{"missing topic", `{}`, protocol.CodeJSONFieldMissing},
		{"missing topic with other fields", `{"headers":{},"path":"/","value":1}`, protocol.CodeJSONFieldMissing},
		{"null topic", `{"topic":null}`, protocol.CodeJSONFieldMissing},
		{"topic number", `{"topic":5}`, protocol.CodeJSONFormatInvalid},
		{"topic object", `{"topic":{"a":1}}`, protocol.CodeJSONFormatInvalid},
		{"topic array", `{"topic":["a"]}`, protocol.CodeJSONFormatInvalid},
		{"status string", `{"topic":"t","status":"200"}`, protocol.CodeJSONFormatInvalid},
		{"status fraction", `{"topic":"t","status":200.5}`, protocol.CodeJSONFormatInvalid},
		{"status overflow", `{"topic":"t","status":1e400}`, protocol.CodeJSONFormatInvalid},
		{"revision string", `{"topic":"t","revision":"1"}`, protocol.CodeJSONFormatInvalid},
		{"path number", `{"topic":"t","path":1}`, protocol.CodeJSONFormatInvalid},
		{"fields bool", `{"topic":"t","fields":true}`, protocol.CodeJSONFormatInvalid},
		{"timestamp number", `{"topic":"t","timestamp":1}`, protocol.CodeJSONFormatInvalid},
		{"headers string", `{"topic":"t","headers":"x"}`, protocol.CodeJSONFormatInvalid},
		{"headers array", `{"topic":"t","headers":["x"]}`, protocol.CodeJSONFormatInvalid},
		{"headers number", `{"topic":"t","headers":1}`, protocol.CodeJSONFormatInvalid},
		{"wrong type and no topic", `{"status":"x"}`, protocol.CodeJSONFormatInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.DecodeEnvelope([]byte(tc.in))
			wantError(t, err, tc.code, 400)
			if !reflect.DeepEqual(got, protocol.Envelope{}) {
				t.Errorf("DecodeEnvelope returned %#v with the error", got)
			}
		})
	}
}

func TestDecodeEnvelopeErrorMessages(t *testing.T) {
	_, err := protocol.DecodeEnvelope([]byte(`{"topic":"t","status":"x"}`))
	e := wantError(t, err, protocol.CodeJSONFormatInvalid, 400)
	if !strings.Contains(e.Message, "</status>") {
		t.Errorf("message %q does not name the field", e.Message)
	}
	long := `{"topic":"` + strings.Repeat("温", 100)
	_, err = protocol.DecodeEnvelope([]byte(long))
	e = wantError(t, err, protocol.CodeJSONInvalid, 400)
	if !strings.HasSuffix(e.Message, "…'!") || len(e.Message) > 200 {
		t.Errorf("long input not shortened: %q", e.Message)
	}
	if !strings.Contains(e.Message, `{"topic":"温`) {
		t.Errorf("preview missing: %q", e.Message)
	}
	if strings.ContainsRune(e.Message, '\uFFFD') {
		t.Errorf("preview cut inside a character: %q", e.Message)
	}
}

func TestEnvelopeMarshalJSON(t *testing.T) {
	tests := []struct {
		name string
		env  protocol.Envelope
		want string
	}{
		{
			name: "minimal",
			env:  protocol.Envelope{Topic: "ns/n/things/twin/commands/retrieve", Path: "/"},
			want: `{"topic":"ns/n/things/twin/commands/retrieve","headers":{},"path":"/"}`,
		},
		{
			name: "field order and omitted zero fields",
			env: protocol.Envelope{Timestamp: "ts", Revision: 7, Status: 200, Extra: json.RawMessage(`{"e":1}`),
				Fields: "thingId", Value: json.RawMessage(`{"v":true}`), Path: "/p", Headers: protocol.Headers{"b": "2", "a": "1"}, Topic: "t"},
			want: `{"topic":"t","headers":{"a":"1","b":"2"},"path":"/p","value":{"v":true},"fields":"thingId",` +
				`"extra":{"e":1},"status":200,"revision":7,"timestamp":"ts"}`,
		},
		{
			name: "typed headers",
			env: protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{
				"response-required": "false", "requested-acks": `["twin-persisted","live-response"]`,
				"declared-acks": "[]", "version": "2", "allow-policy-lockout": "true", "dry-run": "false",
				"ditto-weak-ack": "true", "live-channel-condition-matched": "false",
			}},
			want: `{"topic":"t","headers":{"allow-policy-lockout":true,"declared-acks":[],"ditto-weak-ack":true,` +
				`"dry-run":false,"live-channel-condition-matched":false,"requested-acks":["twin-persisted","live-response"],` +
				`"response-required":false,"version":2},"path":"/"}`,
		},
		{
			name: "typed headers with values of another type stay strings",
			env: protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{
				"response-required": "yes", "requested-acks": "twin-persisted,live-response",
				"declared-acks": "[not json", "version": "two", "x-flag": "true",
			}},
			want: `{"topic":"t","headers":{"declared-acks":"[not json","requested-acks":"twin-persisted,live-response",` +
				`"response-required":"yes","version":"two","x-flag":"true"},"path":"/"}`,
		},
		{
			name: "version that is not a JSON number stays a string",
			env:  protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{"version": "+2"}},
			want: `{"topic":"t","headers":{"version":"+2"},"path":"/"}`,
		},
		{
			name: "version with leading zero stays a string",
			env:  protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{"version": "02"}},
			want: `{"topic":"t","headers":{"version":"02"},"path":"/"}`,
		},
		{
			name: "negative version is a number",
			env:  protocol.Envelope{Topic: "t", Path: "/", Headers: protocol.Headers{"version": "-1"}},
			want: `{"topic":"t","headers":{"version":-1},"path":"/"}`,
		},
		{
			name: "value null",
			env:  protocol.Envelope{Topic: "t", Path: "/", Value: json.RawMessage("null")},
			want: `{"topic":"t","headers":{},"path":"/","value":null}`,
		},
		{
			name: "escaping",
			env:  protocol.Envelope{Topic: "q\"b\\s/\n\r\t\x00\x1f\x7f", Path: "/温度/ä", Headers: protocol.Headers{"k\"": "\x01\xff<&>\u2028"}},
			want: `{"topic":"q\"b\\s/\n\r\t\u0000\u001f` + "\x7f" + `","headers":{"k\"":"\u0001\ufffd<&>` + "\u2028" + `"},"path":"/温度/ä"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.env.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("MarshalJSON\n got  %s\n want %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Fatalf("output is not valid JSON: %s", got)
			}
			// json.Marshal goes through MarshalJSON too (and compacts).
			viaStd, err := json.Marshal(tc.env)
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
			var a, b any
			if err := json.Unmarshal(viaStd, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("json.Marshal differs: %s", viaStd)
			}
			if got := tc.env.AppendJSON([]byte("prefix:")); string(got) != "prefix:"+tc.want {
				t.Fatalf("AppendJSON did not append: %s", got)
			}
		})
	}
}

// TestWriteJSONStringMatchesEncodingJSON checks string escaping against
// encoding/json: decoding our output gives what decoding json.Marshal's output gives.
func TestWriteJSONStringMatchesEncodingJSON(t *testing.T) {
	inputs := []string{
		"", "plain", `quote"`, `back\slash`, "nl\n cr\r tab\t", "\x00\x01\x08\x0b\x0c\x1e\x1f", "\x7f",
		"\xff", "a\xffb", "\xe6\xb8", "\xe6\xb8\xa9\xe5", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"ä ü ß", "温度", "😀", "\u2028\u2029", "<script>&", "\ufffd", "\uFEFF",
	}
	for _, s := range inputs {
		env := protocol.Envelope{Topic: s, Path: s, Timestamp: s, Fields: s, Headers: protocol.Headers{s: s, "x": s}}
		out := env.AppendJSON(nil)
		if !json.Valid(out) {
			t.Errorf("%q: output is not valid JSON: %q", s, out)
			continue
		}
		var want string
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Topic, Path, Timestamp, Fields string
			Headers                        map[string]string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got.Topic != want || got.Path != want || got.Timestamp != want || got.Headers["x"] != want {
			t.Errorf("%q: decoded %q, want %q (output %q)", s, got.Topic, want, out)
		}
		if s != "" && got.Fields != want {
			t.Errorf("%q: fields decoded %q, want %q", s, got.Fields, want)
		}
		if _, ok := got.Headers[want]; !ok {
			t.Errorf("%q: header name not found as %q in %q", s, want, out)
		}
		// Non-ASCII valid UTF-8 is written as it is, not \u-escaped.
		if s == "温度" && !bytes.Contains(out, []byte("温度")) {
			t.Errorf("non-ASCII escaped: %s", out)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	env := protocol.Envelope{
		Topic:     "org.eclipse.ditto/fancy-thing/things/twin/commands/modify",
		Headers:   protocol.Headers{"correlation-id": "c-1", "response-required": "false", "requested-acks": `["twin-persisted"]`, "x-custom": "a \"b\""},
		Path:      "/features/温度/properties/value",
		Value:     json.RawMessage(`{"x":[1,2,{"y":null}]}`),
		Fields:    "thingId,attributes(a,b)",
		Extra:     json.RawMessage(`{"attributes":{"location":"kitchen"}}`),
		Status:    201,
		Revision:  1 << 40,
		Timestamp: "2024-01-02T03:04:05Z",
	}
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocol.DecodeEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, env) {
		t.Fatalf("round trip\n got  %#v\n want %#v", got, env)
	}
	// The typed headers are JSON values on the wire.
	var wire struct {
		Headers map[string]any `json:"headers"`
	}
	if err := json.Unmarshal(data, &wire); err != nil {
		t.Fatal(err)
	}
	if wire.Headers["response-required"] != false {
		t.Errorf("response-required on the wire: %#v", wire.Headers["response-required"])
	}
	if acks, ok := wire.Headers["requested-acks"].([]any); !ok || len(acks) != 1 || acks[0] != "twin-persisted" {
		t.Errorf("requested-acks on the wire: %#v", wire.Headers["requested-acks"])
	}
	if !bytes.Contains(data, []byte(`"response-required":false`)) {
		t.Errorf("output %s", data)
	}
}

func TestDecodeEnvelopeHeaderNonStringWithInvalidUTF8(t *testing.T) {
	// A non-string header keeps its JSON text; invalid UTF-8 inside it is
	// replaced as it is in strings, so that the header survives a round trip.
	env, err := protocol.DecodeEnvelope([]byte("{\"topic\":\"t\",\"headers\":{\"x\":{\"a\":\"\xff\"},\"requested-acks\":[\"\xff\"]}}"))
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Headers["x"]; got != "{\"a\":\"\uFFFD\"}" {
		t.Fatalf("x = %q", got)
	}
	if got := env.Headers["requested-acks"]; got != "[\"\uFFFD\"]" {
		t.Fatalf("requested-acks = %q", got)
	}
	again, err := protocol.DecodeEnvelope(env.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, env) {
		t.Fatalf("round trip\n got  %#v\n want %#v", again, env)
	}
}
