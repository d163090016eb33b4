package gateway

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// recordingConn is a net.Conn that records each write call.
type recordingConn struct {
	net.Conn // nil: only the methods below are used
	writes   [][]byte
	err      error
	deadline time.Time
	setCount int
}

func (c *recordingConn) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *recordingConn) SetWriteDeadline(t time.Time) error {
	c.deadline = t
	c.setCount++
	return nil
}

func TestBatchConnPassesThroughOutsideABatch(t *testing.T) {
	rc := &recordingConn{}
	c := &batchConn{Conn: rc}
	for _, s := range []string{"a", "bb"} {
		if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if len(rc.writes) != 2 {
		t.Fatalf("%d writes, want 2", len(rc.writes))
	}
}

func TestBatchConnGathersABatch(t *testing.T) {
	rc := &recordingConn{}
	c := &batchConn{Conn: rc}
	c.beginBatch()
	for _, s := range []string{"one", "two", "three"} {
		if n, err := c.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if len(rc.writes) != 0 {
		t.Fatalf("%d writes before the batch ended", len(rc.writes))
	}
	if err := c.endBatch(); err != nil {
		t.Fatal(err)
	}
	if len(rc.writes) != 1 || string(rc.writes[0]) != "onetwothree" {
		t.Fatalf("writes %q, want one with everything in order", rc.writes)
	}
	// After the batch, writes pass through again; an empty batch writes nothing.
	c.beginBatch()
	if err := c.endBatch(); err != nil || len(rc.writes) != 1 {
		t.Fatalf("empty batch: %v, %d writes", err, len(rc.writes))
	}
	c.Write([]byte("x"))
	if len(rc.writes) != 2 {
		t.Fatalf("%d writes, want 2", len(rc.writes))
	}
}

func TestBatchConnBoundsABatch(t *testing.T) {
	rc := &recordingConn{}
	c := &batchConn{Conn: rc}
	c.beginBatch()
	small := strings.Repeat("s", batchBytes/2+1)
	big := strings.Repeat("b", batchBytes)
	for _, s := range []string{small, small, big, "tail"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.endBatch(); err != nil {
		t.Fatal(err)
	}
	// small; small (the first would overflow with it); big on its own; tail.
	want := []string{small, small, big, "tail"}
	if len(rc.writes) != len(want) {
		t.Fatalf("%d writes, want %d", len(rc.writes), len(want))
	}
	var all []byte
	for i, w := range rc.writes {
		if len(w) > batchBytes {
			t.Errorf("write %d has %d bytes, more than a batch", i, len(w))
		}
		all = append(all, w...)
	}
	if string(all) != strings.Join(want, "") {
		t.Error("the bytes are not written in order")
	}
}

func TestBatchConnWriteErrorsStick(t *testing.T) {
	boom := errors.New("boom")
	rc := &recordingConn{err: boom}
	c := &batchConn{Conn: rc}
	c.beginBatch()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatalf("a gathered write failed: %v", err)
	}
	if err := c.endBatch(); !errors.Is(err, boom) {
		t.Fatalf("endBatch: %v, want boom", err)
	}
	rc.err = nil
	if _, err := c.Write([]byte("y")); !errors.Is(err, boom) {
		t.Fatalf("write after a failure: %v, want boom", err)
	}
	if len(rc.writes) != 0 {
		t.Fatalf("%d writes after a failure", len(rc.writes))
	}
}

func TestBatchConnSetsAChangedDeadlineOnly(t *testing.T) {
	rc := &recordingConn{}
	c := &batchConn{Conn: rc}
	d := time.Now().Add(time.Minute)
	for range 3 {
		c.SetWriteDeadline(d)
	}
	c.SetWriteDeadline(d.Add(time.Second))
	if rc.setCount != 2 || !rc.deadline.Equal(d.Add(time.Second)) {
		t.Fatalf("%d deadlines set, last %v", rc.setCount, rc.deadline)
	}
}

// Events queued faster than the write loop drains them leave in batches; the
// client still gets every one, in order, as its own frame.
func TestBurstOfEventsArrivesInOrder(t *testing.T) {
	tg := newTestGateway(t, nil)
	c := tg.dial()
	sendText(t, c, "START-SEND-EVENTS")
	expectText(t, c, "START-SEND-EVENTS:ACK")
	const n = 500
	value := `"` + strings.Repeat("v", 300) + `"`
	for rev := int64(1); rev <= n; rev++ {
		tg.g.Publish(event("org.example", "burst", rev, value))
	}
	for rev := int64(1); rev <= n; rev++ {
		expectEvent(t, c, "org.example", rev)
	}
	roundTrip(t, c, "after")
}
