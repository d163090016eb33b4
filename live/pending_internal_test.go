package live

import (
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Every way a request ends leaves no trace in any index.
func TestPendingLeavesNothing(t *testing.T) {
	p, err := NewPending(Config{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	answered, _ := p.Register("a", "c-1", deadline)
	p.AddResponders(answered, "d1", "d2")
	canceled, _ := p.Register("a", "c-2", deadline)
	p.AddResponders(canceled, "d1")
	gone, _ := p.Register("b", "c-1", deadline) // renamed
	p.AddResponders(gone, "d3")
	expired, _ := p.Register("c", "c-3", time.Now().Add(time.Millisecond))
	p.AddResponders(expired, "d1")

	p.Resolve("c-1", protocol.Envelope{Status: 200})
	p.CancelOwner("a")
	p.ResponderGone("d3")
	<-expired.Done()
	for _, r := range []*Request{answered, canceled, gone, expired} {
		<-r.Done()
		if r.responders != nil {
			t.Errorf("request %s keeps its responders", r.routingID)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.byRoute) != 0 || len(p.byOwner) != 0 || len(p.byResponder) != 0 {
		t.Errorf("indexes not empty: %d routes, %d owners, %d responders", len(p.byRoute), len(p.byOwner), len(p.byResponder))
	}
}
