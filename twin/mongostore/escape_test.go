package mongostore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeKey(t *testing.T) {
	tests := []struct{ key, escaped string }{
		{"plain", "plain"},
		{"with space", "with space"},
		{"ü", "ü"},
		{"a.b", "a~2b"},
		{"$x", "~1x"},
		{"x$", "x~1"},
		{"$", "~1"},
		{".", "~2"},
		{"~", "~0"},
		{"~0", "~00"},
		{"~1", "~01"},
		{"a~2b", "a~02b"},
		{"\x00", "~3"},
		{"", "~4"},
		{"0", "~40"},
		{"12", "~412"},
		{"1.5", "~41~25"},
		{"x0", "x0"},
		{"-1", "-1"},
		{"$.~", "~1~2~0"},
		{"y.z", "y~2z"},
		{"$ref", "~1ref"},
	}
	for _, tt := range tests {
		if got := EscapeKey(tt.key); got != tt.escaped {
			t.Errorf("EscapeKey(%q) = %q, want %q", tt.key, got, tt.escaped)
		}
		back, err := UnescapeKey(tt.escaped)
		if err != nil || back != tt.key {
			t.Errorf("UnescapeKey(%q) = %q, %v; want %q", tt.escaped, back, err, tt.key)
		}
	}
	for _, bad := range []string{"", "~", "a~", "~5", "~9x", "a.b", "$x", "0", "1x", "x\x00", "a~4", "~4x", "~4~40", "~41~4"} {
		if got, err := UnescapeKey(bad); err == nil {
			t.Errorf("UnescapeKey(%q) = %q, want an error", bad, got)
		}
	}
}

func TestEscapePath(t *testing.T) {
	got := escapePath("t", []string{"attributes", "a.b", "$x", "0", "~"})
	if want := "t.attributes.a~2b.~1x.~40.~0"; got != want {
		t.Errorf("escapePath = %q, want %q", got, want)
	}
}

// FuzzEscapeKey: the escape is lossless and its result is a safe MongoDB
// field name and path component.
func FuzzEscapeKey(f *testing.F) {
	for _, s := range []string{"", "a.b", "$x", "~", "~0", "0", "9lives", "\x00", "~4", "$.~\x00", "ü.ß"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		e := EscapeKey(k)
		back, err := UnescapeKey(e)
		if err != nil || back != k {
			t.Fatalf("UnescapeKey(EscapeKey(%q) = %q) = %q, %v", k, e, back, err)
		}
		if e == "" || strings.ContainsAny(e, ".$\x00") || (e[0] >= '0' && e[0] <= '9') {
			t.Fatalf("EscapeKey(%q) = %q is not a safe field name", k, e)
		}
		if utf8.ValidString(k) != utf8.ValidString(e) {
			t.Fatalf("EscapeKey(%q) = %q changed UTF-8 validity", k, e)
		}
		// Injective on the other side too: what unescapes escapes back.
		if k2, err := UnescapeKey(k); err == nil && EscapeKey(k2) != k {
			t.Fatalf("EscapeKey(UnescapeKey(%q) = %q) = %q", k, k2, EscapeKey(k2))
		}
	})
}
