package policy

import (
	"testing"
	"time"
)

// TestGranted: Granted answers at the resource itself, unlike Has (which a
// revoke below denies) and HasPartial (which a grant below allows).
func TestGranted(t *testing.T) {
	p, err := Parse("ns:p", []byte(`{"entries":{
		"a":{"subjects":{"s:reader":{"type":"t"}},"resources":{"message:/":{"grant":["READ"],"revoke":[]},
			"message:/inbox/messages/secret":{"grant":[],"revoke":["READ"]}}},
		"b":{"subjects":{"s:deep":{"type":"t"}},"resources":{"message:/inbox/messages/ask":{"grant":["READ"],"revoke":[]}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	e := Compile(p, time.Now())
	reader, deep := e.View([]string{"s:reader"}, "ns"), e.View([]string{"s:deep"}, "ns")
	for _, tc := range []struct {
		view                     *View
		path                     string
		granted, has, hasPartial bool
	}{
		{reader, "/", true, false, true},
		{reader, "/inbox", true, false, true},
		{reader, "/inbox/messages/ask", true, true, true},
		{reader, "/inbox/messages/secret", false, false, false},
		{reader, "/inbox/messages/secret/more", false, false, false},
		{deep, "/", false, false, true},
		{deep, "/inbox/messages/ask", true, true, true},
		{deep, "/inbox/messages/ask/sub", true, true, true},
		{deep, "/outbox", false, false, false},
	} {
		pt := ptr(t, tc.path)
		if got := tc.view.Granted(Read, "message", pt); got != tc.granted {
			t.Errorf("Granted %s: %v", tc.path, got)
		}
		if got := tc.view.Has(Read, "message", pt); got != tc.has {
			t.Errorf("Has %s: %v", tc.path, got)
		}
		if got := tc.view.HasPartial(Read, "message", pt); got != tc.hasPartial {
			t.Errorf("HasPartial %s: %v", tc.path, got)
		}
	}
}
