package protocol_test

import (
	"errors"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// wantError asserts that err is a *protocol.Error with the given code and
// status, and returns it.
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
	if e.Message == "" {
		t.Errorf("error %s has no message", e.Code)
	}
	return e
}
