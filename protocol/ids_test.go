package protocol_test

import (
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func TestSplitEntityIDValid(t *testing.T) {
	tests := []struct{ id, ns, name string }{
		{"org.eclipse.ditto:fancy-thing_53", "org.eclipse.ditto", "fancy-thing_53"},
		{":no-namespace", "", "no-namespace"},
		{"a-b.c:x", "a-b.c", "x"},
		{"a_1.B2-c3:x", "a_1.B2-c3", "x"},
		{"ns:温度", "ns", "温度"},
		{"ns:\u0100\u2028😀", "ns", "\u0100\u2028😀"},
		{"ns:a:b:c", "ns", "a:b:c"},
		{"ns:with space", "ns", "with space"},
		{"ns:_", "ns", "_"},
		{"ns:" + strings.Repeat("a", 253), "ns", strings.Repeat("a", 253)},
		{"ns:" + strings.Repeat("温", 253), "ns", strings.Repeat("温", 253)},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			ns, name, ok := protocol.SplitEntityID(tc.id)
			if !ok || ns != tc.ns || name != tc.name {
				t.Fatalf("SplitEntityID(%q) = %q, %q, %v; want %q, %q, true", tc.id, ns, name, ok, tc.ns, tc.name)
			}
			if e := protocol.ValidateThingID(tc.id); e != nil {
				t.Fatalf("ValidateThingID(%q) = %v", tc.id, e)
			}
			if e := protocol.ValidatePolicyID(tc.id); e != nil {
				t.Fatalf("ValidatePolicyID(%q) = %v", tc.id, e)
			}
		})
	}
}

func TestSplitEntityIDInvalid(t *testing.T) {
	tests := []struct{ name, id string }{
		{"empty", ""},
		{"no colon", "no-colon"},
		{"only colon", ":"},
		{"namespace starts with digit", "1ns:x"},
		{"namespace ends with dot", "ns.:x"},
		{"namespace starts with dot", ".ns:x"},
		{"namespace double dot", "a..b:x"},
		{"namespace segment starts with digit", "a.1b:x"},
		{"namespace starts with underscore", "_ns:x"},
		{"namespace with space", "n s:x"},
		{"namespace non-ASCII", "温:x"},
		{"empty name", "ns:"},
		{"slash in name", "ns:a/b"},
		{"slash in namespace", "a/b:x"},
		{"name with U+00E4", "ns:ä"},
		{"name with U+007F", "ns:a\x7f"},
		{"name with control char", "ns:a\x00"},
		{"name with tab", "ns:a\tb"},
		{"257 chars", "ns:" + strings.Repeat("a", 254)},
		{"257 runes", "ns:" + strings.Repeat("温", 254)},
		{"invalid UTF-8", "ns:a\xff"},
		{"truncated UTF-8", "ns:\xe6\xb8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, ok := protocol.SplitEntityID(tc.id); ok {
				t.Fatalf("SplitEntityID(%q) ok", tc.id)
			}
			e := protocol.ValidateThingID(tc.id)
			if e == nil {
				t.Fatalf("ValidateThingID(%q) = nil", tc.id)
			}
			wantError(t, e, protocol.CodeThingIDInvalid, 400)
			p := protocol.ValidatePolicyID(tc.id)
			if p == nil {
				t.Fatalf("ValidatePolicyID(%q) = nil", tc.id)
			}
			wantError(t, p, protocol.CodePolicyIDInvalid, 400)
		})
	}
}

func TestValidNamespace(t *testing.T) {
	for _, ns := range []string{"", "a", "org.eclipse.ditto", "a-b.c_d", "A1.b2"} {
		if !protocol.ValidNamespace(ns) {
			t.Errorf("ValidNamespace(%q) = false", ns)
		}
	}
	for _, ns := range []string{"1", ".", "a.", "a-", "a.-b", "_", "a b", "ä", "a\n"} {
		if protocol.ValidNamespace(ns) {
			t.Errorf("ValidNamespace(%q) = true", ns)
		}
	}
}
