package ack_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// wantError asserts that err is a *protocol.Error with code and status, and
// returns it.
func wantError(t *testing.T, err error, code string, status int) *protocol.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%d)", code, status)
	}
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *protocol.Error", err, err)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("got %s (%d): %s; want %s (%d)", e.Code, e.Status, e.Message, code, status)
	}
	if e.Message == "" || e.Description == "" {
		t.Errorf("error %s lacks a message or description: %+v", e.Code, e)
	}
	return e
}

// sameJSON asserts that got and want are the same JSON value, with object
// keys in the same order (Ditto's aggregated acknowledgements keep request
// order, so order matters here).
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w bytes.Buffer
	if err := json.Compact(&g, got); err != nil {
		t.Fatalf("got invalid JSON %q: %v", got, err)
	}
	if err := json.Compact(&w, []byte(want)); err != nil {
		t.Fatalf("want invalid JSON %q: %v", want, err)
	}
	if g.String() != w.String() {
		t.Errorf("JSON differs\n got: %s\nwant: %s", g.String(), w.String())
	}
}

// envelopeJSON is env as it goes on the wire.
func envelopeJSON(t *testing.T, env protocol.Envelope) []byte {
	t.Helper()
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
