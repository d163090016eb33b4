package protocol_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
)

func TestParseTimeout(t *testing.T) {
	const day = 24 * time.Hour
	valid := []struct {
		in   string
		want time.Duration
	}{
		{"42s", 42 * time.Second},
		{"250ms", 250 * time.Millisecond},
		{"1m", time.Minute},
		{"60", 60 * time.Second},
		{"0", 0},
		{"0s", 0},
		{"0ms", 0},
		{"1h", time.Hour},
		{"2d", 2 * day},
		{"1w", 7 * day},
		{"1mo", 30 * day},
		{"12mo", 360 * day},
		{"1y", 365 * day},
		{"365d", 365 * day},
		{"8760h", 365 * day},
		{"31536000", 365 * day},
		{"31536000000ms", 365 * day},
	}
	for _, tc := range valid {
		got, err := protocol.ParseTimeout(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	invalid := []string{
		"", "-1", "-1s", "abc", "1x", "s", "ms", "1.5s", " 1s", "1s ", "1 s", "1S", "1sec", "1min", "0x10",
		"9223372036854775807", "9223372036854775808", "99999999999999999999s",
		"366d", "8761h", "13mo", "2y", "31536001", "31536000001ms", "53w",
	}
	for _, in := range invalid {
		got, err := protocol.ParseTimeout(in)
		if got != 0 {
			t.Errorf("ParseTimeout(%q) = %v with an error", in, got)
		}
		wantError(t, err, protocol.CodeTimeoutInvalid, 400)
	}
}

func TestHeadersTimeout(t *testing.T) {
	d, ok, err := protocol.Headers{}.Timeout()
	if d != 0 || ok || err != nil {
		t.Fatalf("absent: %v %v %v", d, ok, err)
	}
	d, ok, err = protocol.Headers{"timeout": "250ms"}.Timeout()
	if d != 250*time.Millisecond || !ok || err != nil {
		t.Fatalf("250ms: %v %v %v", d, ok, err)
	}
	d, ok, err = protocol.Headers{"timeout": "0"}.Timeout()
	if d != 0 || !ok || err != nil {
		t.Fatalf("0: %v %v %v", d, ok, err)
	}
	_, ok, err = protocol.Headers{"timeout": "soon"}.Timeout()
	if !ok {
		t.Fatal("invalid timeout reported as absent")
	}
	wantError(t, err, protocol.CodeTimeoutInvalid, 400)
}

func TestHeadersResponseRequired(t *testing.T) {
	tests := []struct {
		h    protocol.Headers
		want bool
		code string
	}{
		{protocol.Headers{}, true, ""},
		{nil, true, ""},
		{protocol.Headers{"response-required": "true"}, true, ""},
		{protocol.Headers{"response-required": "false"}, false, ""},
		{protocol.Headers{"response-required": "maybe"}, true, protocol.CodeHeaderInvalid},
		{protocol.Headers{"response-required": ""}, true, protocol.CodeHeaderInvalid},
		{protocol.Headers{"response-required": `"false"`}, true, protocol.CodeHeaderInvalid},
	}
	for _, tc := range tests {
		got, err := tc.h.ResponseRequired()
		if got != tc.want {
			t.Errorf("%v: ResponseRequired() = %v, want %v", tc.h, got, tc.want)
		}
		if tc.code == "" {
			if err != nil {
				t.Errorf("%v: %v", tc.h, err)
			}
			continue
		}
		wantError(t, err, tc.code, 400)
	}
	// From the wire: a JSON boolean and a string both work.
	for _, in := range []string{`{"topic":"t","headers":{"response-required":false}}`, `{"topic":"t","headers":{"Response-Required":"false"}}`} {
		env, err := protocol.DecodeEnvelope([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		if rr, err := env.Headers.ResponseRequired(); rr || err != nil {
			t.Errorf("%s: ResponseRequired() = %v, %v", in, rr, err)
		}
	}
}

func TestParseETagList(t *testing.T) {
	tests := []struct {
		in   string
		any  bool
		tags []string
	}{
		{"", false, nil},
		{"*", true, nil},
		{` * `, true, nil},
		{`"rev:1"`, false, []string{`"rev:1"`}},
		{`"rev:1", "rev:2"`, false, []string{`"rev:1"`, `"rev:2"`}},
		{`W/"rev:3"`, false, []string{`"rev:3"`}},
		{`"hash:abc",W/"rev:4", *`, true, []string{`"hash:abc"`, `"rev:4"`}},
		{` , ,"rev:5",`, false, []string{`"rev:5"`}},
	}
	for _, tc := range tests {
		a, tags, err := protocol.ParseETagList("if-match", tc.in)
		if err != nil || a != tc.any || !reflect.DeepEqual(tags, tc.tags) {
			t.Errorf("ParseETagList(%q) = %v, %q, %v; want %v, %q", tc.in, a, tags, err, tc.any, tc.tags)
		}
	}
	for _, bad := range []string{`rev:1`, `"rev:1`, `W/rev:1`, `"a"b"`, `"rev:1", rev:2`} {
		_, _, err := protocol.ParseETagList("if-none-match", bad)
		wantError(t, err, "header.invalid", 400)
	}
}

func TestHeadersGetSetClone(t *testing.T) {
	h := protocol.Headers{}
	h.Set("Correlation-ID", "c1")
	if v, ok := h.Get("CORRELATION-id"); !ok || v != "c1" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	if _, ok := h["correlation-id"]; !ok {
		t.Fatalf("Set did not lower-case: %v", h)
	}
	if _, ok := h.Get("missing"); ok {
		t.Fatal("Get(missing) ok")
	}
	c := h.Clone()
	c.Set("x", "y")
	if _, ok := h["x"]; ok {
		t.Fatal("Clone shares its map")
	}
	if !reflect.DeepEqual(protocol.Headers(nil).Clone(), protocol.Headers{}) {
		t.Fatal("Clone of nil")
	}
}

func TestHeadersJSON(t *testing.T) {
	var h protocol.Headers
	if err := json.Unmarshal([]byte(`{"B":"2","a":1,"requested-acks":[ "x" ]}`), &h); err != nil {
		t.Fatal(err)
	}
	want := protocol.Headers{"b": "2", "a": "1", "requested-acks": `[ "x" ]`}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("Unmarshal = %#v", h)
	}
	out, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"a":"1","b":"2","requested-acks":["x"]}` {
		t.Fatalf("Marshal = %s", out)
	}
	err = json.Unmarshal([]byte(`["a"]`), &h)
	wantError(t, err, protocol.CodeJSONFormatInvalid, 400)
}
