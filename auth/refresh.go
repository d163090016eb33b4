package auth

import (
	"slices"
	"time"
)

// MaxSessionLifetime is Ditto's bound on a WebSocket session's expiry timer
// (StreamingSessionActor.MAX_SESSION_TIMEOUT): a session whose token expires
// further ahead than this is kept open indefinitely.
const MaxSessionLifetime = 100 * 24 * time.Hour

// SameSubjects reports whether c and o have the same subjects in the same
// order. It is the test of a WebSocket session's JWT-TOKEN refresh: Ditto
// compares the authorization contexts (ordered subject lists) and closes the
// session with gateway:websocket.session.closed when they differ.
func (c Context) SameSubjects(o Context) bool {
	return slices.Equal(c.Subjects, o.Subjects)
}
