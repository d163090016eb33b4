package protocol_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func TestParsePointer(t *testing.T) {
	key256 := strings.Repeat("k", 256)
	uni256 := strings.Repeat("温", 256)
	tests := []struct {
		in     string
		want   protocol.Pointer
		string string
	}{
		{"", protocol.Pointer{}, "/"},
		{"/", protocol.Pointer{}, "/"},
		{"/a", protocol.Pointer{"a"}, "/a"},
		{"a", protocol.Pointer{"a"}, "/a"},
		{"a/b", protocol.Pointer{"a", "b"}, "/a/b"},
		{"/a/b/", protocol.Pointer{"a", "b"}, "/a/b"},
		{"/attributes/location/latitude", protocol.Pointer{"attributes", "location", "latitude"}, "/attributes/location/latitude"},
		{"/温度", protocol.Pointer{"温度"}, "/温度"},
		{"/features/*/properties", protocol.Pointer{"features", "*", "properties"}, "/features/*/properties"},
		{"/a b/~0~1/ /%2F", protocol.Pointer{"a b", "~0~1", " ", "%2F"}, "/a b/~0~1/ /%2F"},
		{"/\u0100/\u2028/😀", protocol.Pointer{"\u0100", "\u2028", "😀"}, "/\u0100/\u2028/😀"},
		{"/" + key256, protocol.Pointer{key256}, "/" + key256},
		{"/" + uni256, protocol.Pointer{uni256}, "/" + uni256},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := protocol.ParsePointer(tc.in)
			if err != nil {
				t.Fatalf("ParsePointer(%q): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParsePointer(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
			if s := got.String(); s != tc.string {
				t.Fatalf("String() = %q, want %q", s, tc.string)
			}
			if got.IsRoot() != (len(tc.want) == 0) {
				t.Fatalf("IsRoot() = %v", got.IsRoot())
			}
			again, err := protocol.ParsePointer(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("re-parse of %q = %#v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParsePointerInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"double slash", "//"},
		{"triple slash", "///"},
		{"empty key inside", "/a//b"},
		{"double leading slash", "//a"},
		{"double trailing slash", "/a//"},
		{"no leading slash, double trailing", "a//"},
		{"NUL", "/a\x00"},
		{"control char", "/a\x1fb"},
		{"newline", "/a\nb"},
		{"DEL", "/\x7f"},
		{"a umlaut U+00E4", "/ä"},
		{"U+00A0", "/a\u00a0b"},
		{"U+00FF", "/\u00ff"},
		{"U+0080", "/\u0080"},
		{"second key invalid", "/ok/ü"},
		{"257 chars", "/" + strings.Repeat("k", 257)},
		{"257 runes", "/a/" + strings.Repeat("温", 257)},
		{"invalid UTF-8", "/a\xff"},
		{"truncated UTF-8", "/\xe6\xb8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.ParsePointer(tc.in)
			code := protocol.CodeJSONKeyInvalid // Ditto reports the bad key itself
			if strings.Contains(tc.in, "//") {
				code = protocol.CodeJSONPointerInvalid
			}
			wantError(t, err, code, 400)
			if got != nil {
				t.Errorf("ParsePointer(%q) = %#v with the error", tc.in, got)
			}
		})
	}
}

func TestValidateKey(t *testing.T) {
	valid := []string{"a", "温度", "*", "a b", "~", strings.Repeat("x", 256), "\u0100", "\ufffd"}
	for _, k := range valid {
		if err := protocol.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	invalid := []string{"", "a/b", "/", "\x00", "\t", "\x7f", "ä", "\u00ff", strings.Repeat("x", 257), "\xff", "a\xc3"}
	for _, k := range invalid {
		e := protocol.ValidateKey(k)
		if e == nil {
			t.Errorf("ValidateKey(%q) = nil, want json.key.invalid", k)
			continue
		}
		wantError(t, e, protocol.CodeJSONKeyInvalid, 400)
	}
}

func TestPointerAppend(t *testing.T) {
	base := make(protocol.Pointer, 1, 10)
	base[0] = "features"
	a := base.Append("f1")
	b := base.Append("f2", "properties")
	if a.String() != "/features/f1" || b.String() != "/features/f2/properties" || base.String() != "/features" {
		t.Fatalf("Append shares its array: %v %v %v", a, b, base)
	}
	if got := (protocol.Pointer{}).Append(); got == nil || len(got) != 0 {
		t.Fatalf("root Append() = %#v", got)
	}
}
