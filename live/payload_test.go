package live_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/twinway/twinway/live"
	"github.com/twinway/twinway/protocol"
)

func TestKindOf(t *testing.T) {
	for ct, want := range map[string]live.PayloadKind{
		"application/json":                   live.PayloadJSON,
		"application/json; charset=utf-8":    live.PayloadJSON,
		"Application/JSON":                   live.PayloadJSON,
		"application/vnd.eclipse.ditto+json": live.PayloadJSON,
		"application/td+json":                live.PayloadJSON,
		"text/plain":                         live.PayloadText,
		"text/plain; charset=UTF-8":          live.PayloadText,
		"text/html":                          live.PayloadText,
		"text/":                              live.PayloadText,
		"application/javascript":             live.PayloadText,
		"application/ecmascript":             live.PayloadText,
		"application/vnd.foo+javascript":     live.PayloadText,
		"application/octet-stream":           live.PayloadBinary,
		"image/png":                          live.PayloadBinary,
		"application/xml":                    live.PayloadBinary,
		"application/jsonx":                  live.PayloadBinary,
		"application/merge-patch+json":       live.PayloadBinary,
		"":                                   live.PayloadBinary,
		"text":                               live.PayloadBinary,
	} {
		if got := live.KindOf(ct); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestValueFromBody(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body, want string
		code                          string
	}{
		{name: "JSON object", contentType: "application/json", body: `{ "a" : [1, 2.50] }`, want: `{"a":[1,2.50]}`},
		{name: "JSON string under application/json stays a string", contentType: "application/json", body: `"hi"`, want: `"hi"`},
		{name: "JSON string under +json keeps its quotes", contentType: "application/vnd.x+json", body: `"hi"`, want: `"\"hi\""`},
		{name: "JSON number under +json", contentType: "application/vnd.x+json", body: ` 42 `, want: `42`},
		{name: "invalid JSON", contentType: "application/json", body: `{"a":`, code: protocol.CodeJSONInvalid},
		{name: "text", contentType: "text/plain", body: "Hey?\n<ok> & \"q\"", want: `"Hey?\n<ok> & \"q\""`},
		{name: "JSON text as text stays a string", contentType: "text/plain", body: `{"a":1}`, want: `"{\"a\":1}"`},
		{name: "invalid UTF-8 text", contentType: "text/plain", body: "a\xffb", want: "\"a\ufffdb\""},
		{name: "javascript", contentType: "application/javascript", body: "f()", want: `"f()"`},
		{name: "binary", contentType: "application/octet-stream", body: "\x00\x01\xfe\xff", want: `"AAH+/w=="`},
		{name: "no content type", contentType: "", body: "hello", want: `"aGVsbG8="`},
		{name: "merge patch is binary", contentType: "application/merge-patch+json", body: `{}`, want: `"e30="`},
		{name: "empty body", contentType: "application/json", body: "", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := live.ValueFromBody(tc.contentType, []byte(tc.body))
			if tc.code != "" {
				wantError(t, err, tc.code, 400)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBodyFromValue(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, value, want string
		absent                         bool
	}{
		{name: "JSON", contentType: "application/json", value: `{ "a": 1 }`, want: `{"a":1}`},
		{name: "JSON string", contentType: "application/json", value: `"hi"`, want: `"hi"`},
		{name: "text string", contentType: "text/plain", value: `"I am a coffee machine"`, want: "I am a coffee machine"},
		{name: "text with escapes", contentType: "text/plain", value: `"a\nb\u00e4"`, want: "a\nbä"},
		{name: "text, not a string", contentType: "text/plain", value: `{"a": 1}`, want: `{"a":1}`},
		{name: "binary base64", contentType: "application/octet-stream", value: `"AAH+/w=="`, want: "\x00\x01\xfe\xff"},
		{name: "binary base64 unpadded", contentType: "image/png", value: `"aGVsbG8"`, want: "hello"},
		{name: "binary not base64", contentType: "application/octet-stream", value: `"hello!"`, want: "hello!"},
		{name: "binary with line break is not base64", contentType: "application/octet-stream", value: `"aGVs\nbG8="`, want: "aGVs\nbG8="},
		{name: "no content type, JSON object", contentType: "", value: `{"a":1}`, want: `{"a":1}`},
		{name: "absent", contentType: "text/plain", absent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var value json.RawMessage
			if !tc.absent {
				value = json.RawMessage(tc.value)
			}
			got := live.BodyFromValue(tc.contentType, value)
			if tc.absent {
				if got != nil {
					t.Errorf("got %q for no value", got)
				}
				return
			}
			if !bytes.Equal(got, []byte(tc.want)) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A body that goes into an envelope and back out is the same bytes, for
// every kind.
func TestBodyRoundTrip(t *testing.T) {
	for _, tc := range []struct{ contentType, body string }{
		{"application/json", `{"a":[1,2]}`},
		{"application/json", `"str"`},
		{"text/plain", "line 1\nline 2 ä"},
		{"application/octet-stream", "\x00\x01\x02 binary \xff"},
		{"image/png", "\x89PNG\r\n"},
	} {
		value, err := live.ValueFromBody(tc.contentType, []byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := live.BodyFromValue(tc.contentType, value); string(got) != tc.body {
			t.Errorf("%s: %q → %s → %q", tc.contentType, tc.body, value, got)
		}
	}
}

func TestNormalizeValue(t *testing.T) {
	for _, tc := range []struct{ contentType, value, want string }{
		{"application/json", `{ "a" : 1 }`, `{"a":1}`},
		{"application/json", `"s"`, `"s"`},
		{"text/plain", `"Hey?"`, `"Hey?"`},
		{"text/plain", `42`, `"42"`},
		{"application/octet-stream", `"AAH+/w=="`, `"AAH+/w=="`},
		{"application/octet-stream", `"aGVsbG8"`, `"aGVsbG8="`},
		{"application/octet-stream", `"hello!"`, `"aGVsbG8h"`},
		{"", `{"a":1}`, `"eyJhIjoxfQ=="`},
	} {
		if got := live.NormalizeValue(tc.contentType, json.RawMessage(tc.value)); string(got) != tc.want {
			t.Errorf("NormalizeValue(%q, %s) = %s, want %s", tc.contentType, tc.value, got, tc.want)
		}
	}
	if live.NormalizeValue("text/plain", nil) != nil {
		t.Error("no value must stay no value")
	}
}

func TestHTTPReply(t *testing.T) {
	for _, tc := range []struct {
		name        string
		reply       protocol.Envelope
		status      int
		contentType string
		body        string
	}{
		{name: "Ditto's coffee example", reply: protocol.Envelope{Status: 418, Headers: protocol.Headers{"content-type": "text/plain"},
			Value: json.RawMessage(`"I am a coffee machine"`)}, status: 418, contentType: "text/plain", body: "I am a coffee machine"},
		{name: "JSON", reply: protocol.Envelope{Status: 200, Headers: protocol.Headers{"content-type": "application/json"},
			Value: json.RawMessage(`{"brewed": 3}`)}, status: 200, contentType: "application/json", body: `{"brewed":3}`},
		{name: "binary", reply: protocol.Envelope{Status: 200, Headers: protocol.Headers{"content-type": "image/png"},
			Value: json.RawMessage(`"iVBORw=="`)}, status: 200, contentType: "image/png", body: "\x89PNG"},
		{name: "204 never has a body", reply: protocol.Envelope{Status: 204, Headers: protocol.Headers{"content-type": "text/plain"},
			Value: json.RawMessage(`"ignored"`)}, status: 204},
		{name: "no value", reply: protocol.Envelope{Status: 202}, status: 202},
		{name: "no content type", reply: protocol.Envelope{Status: 200, Value: json.RawMessage(`{"a":1}`)}, status: 200, body: `{"a":1}`},
		{name: "unparsable content type", reply: protocol.Envelope{Status: 200, Headers: protocol.Headers{"content-type": "not a type"},
			Value: json.RawMessage(`"aGk="`)}, status: 200, body: "hi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ct, body := live.HTTPReply(tc.reply)
			if status != tc.status || ct != tc.contentType || string(body) != tc.body {
				t.Errorf("got %d %q %q; want %d %q %q", status, ct, body, tc.status, tc.contentType, tc.body)
			}
		})
	}
}
