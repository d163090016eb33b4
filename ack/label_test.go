package ack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/twinway/twinway/ack"
	"github.com/twinway/twinway/protocol"
)

func TestValidateLabel(t *testing.T) {
	for _, tc := range []struct {
		label string
		ok    bool
	}{
		{"abc", true},
		{"custom-ack", true},
		{"my_connection:my-ack", true},
		{"A:b-C_9", true},
		{"twin-persisted", true}, // valid; built-in is another check
		{strings.Repeat("a", 165), true},
		{"{{connection:id}}:my-ack", true},
		{"{{ connection:id }}:my-ack", true},
		{"ab", false},
		{"", false},
		{strings.Repeat("a", 166), false},
		{"with space", false},
		{"slash/label", false},
		{"dot.label", false},
		{"ümlaut", false},
		{"{{connection:id}}:", false},
		{"{{Connection:id}}:ack", false},
	} {
		err := ack.ValidateLabel(tc.label)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidateLabel(%q) = %v, want ok", tc.label, err)
			}
			continue
		}
		e := wantError(t, err, protocol.CodeAckLabelInvalid, 400)
		if want := "Acknowledgement label <" + tc.label + "> is invalid."; e.Message != want {
			t.Errorf("message %q, want %q", e.Message, want)
		}
	}
}

func TestIsBuiltIn(t *testing.T) {
	for label, want := range map[string]bool{
		"twin-persisted": true, "live-response": true, "search-persisted": true,
		"twin-persisted2": false, "custom": false, "Twin-Persisted": false,
	} {
		if got := ack.IsBuiltIn(label); got != want {
			t.Errorf("IsBuiltIn(%q) = %v", label, got)
		}
	}
}

func TestParseRequested(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
		code        string
		message     string
	}{
		{name: "JSON array", value: `["twin-persisted","custom-ack"]`, want: []string{"twin-persisted", "custom-ack"}},
		{name: "JSON array with blanks", value: ` [ "aaa" , "bbb" ] `, want: []string{"aaa", "bbb"}},
		{name: "empty array", value: `[]`, want: []string{}},
		{name: "empty value", value: ``, want: []string{}},
		{name: "comma list", value: `twin-persisted,some-connection-id:my-custom-ack`, want: []string{"twin-persisted", "some-connection-id:my-custom-ack"}},
		{name: "comma list trimmed, empty items skipped", value: `aaa, bbb,,ccc`, want: []string{"aaa", "bbb", "ccc"}},
		{name: "single label", value: `live-response`, want: []string{"live-response"}},
		{name: "repeats dropped", value: `aaa,bbb,aaa`, want: []string{"aaa", "bbb"}},
		{name: "broken JSON read as list", value: `[aaa,bbb`, code: protocol.CodeHeaderInvalid,
			message: `The value '["[aaa","bbb"]' of the header 'requested-acks' is not a valid JSON array of acknowledgement labels.`},
		{name: "JSON string read as list", value: `"aaa"`, code: protocol.CodeHeaderInvalid},
		{name: "invalid label", value: `["ok-label","no"]`, code: protocol.CodeHeaderInvalid,
			message: `The value '["ok-label","no"]' of the header 'requested-acks' is not a valid JSON array of acknowledgement labels.`},
		{name: "non-string item", value: `["aaa",42]`, code: protocol.CodeHeaderInvalid,
			message: `JSON array for <requested-acks> contained invalid acknowledgement labels.`},
		{name: "blank item", value: `aaa, ,bbb`, code: protocol.CodeHeaderInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ack.ParseRequested(tc.value)
			if tc.code != "" {
				e := wantError(t, err, tc.code, 400)
				if tc.message != "" && e.Message != tc.message {
					t.Errorf("message %q\nwant    %q", e.Message, tc.message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseDeclared(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
		code        string
	}{
		{name: "comma list", value: "some-connection-id:ack-label-1,my:ack-label-2", want: []string{"some-connection-id:ack-label-1", "my:ack-label-2"}},
		{name: "JSON array", value: `["aaa","bbb"]`, want: []string{"aaa", "bbb"}},
		{name: "non-strings skipped", value: `["aaa",1,null]`, want: []string{"aaa"}},
		{name: "empty", value: "", want: []string{}},
		{name: "invalid label", value: "aaa,b", code: protocol.CodeAckLabelInvalid},
		{name: "built-in", value: "aaa,twin-persisted", code: protocol.CodeAckLabelForbidden},
		{name: "live-response", value: `["live-response"]`, code: protocol.CodeAckLabelForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ack.ParseDeclared(tc.value)
			if tc.code != "" {
				wantError(t, err, tc.code, 400)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNotDeclared(t *testing.T) {
	e := wantError(t, ack.NotDeclared("my-ack"), protocol.CodeAckLabelNotDeclared, 400)
	if want := "Cannot send acknowledgement with label <my-ack>, which is not declared."; e.Message != want {
		t.Errorf("message %q", e.Message)
	}
}

func TestDeclarationsUnique(t *testing.T) {
	d := ack.NewDeclarations()
	if err := d.Declare("s1", []string{"aaa", "bbb"}); err != nil {
		t.Fatal(err)
	}
	if err := d.Declare("s1", []string{"aaa"}); err != nil {
		t.Errorf("re-declaring own label: %v", err)
	}
	e := wantError(t, d.Declare("s2", []string{"ccc", "bbb"}), protocol.CodeAckLabelNotUnique, 409)
	if e.Message != "One or more declared acknowledgement labels are taken by other subscribers." {
		t.Errorf("message %q", e.Message)
	}
	if _, ok := d.Owner("ccc"); ok {
		t.Error("a refused declaration took a label")
	}
	if o, ok := d.Owner("bbb"); !ok || o != "s1" {
		t.Errorf("Owner(bbb) = %q, %v", o, ok)
	}
	d.Release("s2", []string{"aaa", "bbb"}) // not s2's: nothing happens
	if _, ok := d.Owner("aaa"); !ok {
		t.Error("another session released s1's label")
	}
	d.Release("s1", []string{"aaa", "bbb"})
	if err := d.Declare("s2", []string{"ccc", "bbb"}); err != nil {
		t.Errorf("label not free after release: %v", err)
	}
}
