package twin

import (
	"time"

	"github.com/twinway/twinway/auth/policy"
	"github.com/twinway/twinway/protocol"
)

// Event is a change to a thing, as the twin handler emits it after the change
// is durable. Envelope is the Ditto event (topic …/things/twin/events/<action>,
// path, value, revision, timestamp).
type Event struct {
	ThingID   string
	Namespace string
	Revision  int64
	Modified  time.Time
	Envelope  protocol.Envelope
	// Thing is the whole thing after the change with its special fields
	// (_namespace, _revision, _created, _modified), nil when the change
	// deleted it: what extra fields are selected from. It is shared by every
	// reader of the event and must not be modified.
	Thing map[string]any
	// Policy is the thing's compiled policy after the change: who may read
	// the event, and what of it. nil when the handler runs without
	// policies, or when the thing's policy does not exist (then nobody may).
	Policy *policy.Enforcer
	// Unenforced is set when the handler runs without policies: every
	// reader may read the whole event.
	Unenforced bool
}

// EventSink receives every event in revision order per thing. Publish is
// called while the thing is locked, so it must not block.
type EventSink interface {
	Publish(Event)
}

// EventSinkFunc adapts a function to EventSink.
type EventSinkFunc func(Event)

// Publish calls f(ev).
func (f EventSinkFunc) Publish(ev Event) { f(ev) }
