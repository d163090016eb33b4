package twin_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
)

// Every change adds one to the revision; failed commands and retrieves add
// nothing; a deleted thing created again continues the counter (Ditto's
// journal sequence number).
func TestRevisionsCount(t *testing.T) {
	f := newFixture(t)
	id := "org.example:rev"
	steps := []struct {
		name   string
		send   func() protocol.Envelope
		status int
		rev    int64 // the response's entity-revision; 0 none
		event  string
	}{
		{"create", func() protocol.Envelope { return f.modify(id, "/", `{"attributes":{"a":1}}`) }, 201, 1, "created"},
		{"delete", func() protocol.Envelope { return f.delete(id, "/") }, 204, 2, "deleted"},
		{"retrieve deleted", func() protocol.Envelope { return f.retrieve(id, "/", "") }, 404, 0, ""},
		{"write below deleted", func() protocol.Envelope { return f.modify(id, "/attributes/a", `1`) }, 404, 0, ""},
		{"delete deleted", func() protocol.Envelope { return f.delete(id, "/") }, 404, 0, ""},
		{"re-create", func() protocol.Envelope { return f.create(id, `{}`) }, 201, 3, "created"},
		{"create again", func() protocol.Envelope { return f.create(id, `{}`) }, 409, 0, ""},
		{"modify attribute", func() protocol.Envelope { return f.modify(id, "/attributes/a", `2`) }, 201, 4, "created"},
		{"invalid modify", func() protocol.Envelope { return f.modify(id, "/attributes", `{"a/b":1}`) }, 400, 0, ""},
		{"merge", func() protocol.Envelope { return f.merge(id, "/attributes", `{"b":2}`) }, 204, 5, "merged"},
		{"retrieve", func() protocol.Envelope { return f.retrieve(id, "/", "") }, 200, 5, ""},
		{"same value again", func() protocol.Envelope { return f.modify(id, "/attributes/a", `2`) }, 204, 6, "modified"},
		{"delete attribute", func() protocol.Envelope { return f.delete(id, "/attributes/a") }, 204, 7, "deleted"},
		{"merge at root", func() protocol.Envelope { return f.merge(id, "/", `{"definition":"a:b:c"}`) }, 204, 8, "merged"},
		{"modify at root", func() protocol.Envelope { return f.modify(id, "/", `{}`) }, 204, 9, "modified"},
		{"delete", func() protocol.Envelope { return f.delete(id, "/") }, 204, 10, "deleted"},
		{"merge re-creates", func() protocol.Envelope { return f.merge(id, "/", `{"attributes":{"x":null}}`) }, 201, 11, "created"},
	}
	for _, s := range steps {
		resp := s.send()
		if resp.Status != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, resp.Status, s.status, mustJSON(resp))
		}
		gotRev := resp.Headers[protocol.HeaderEntityRevision]
		if want := strconv.FormatInt(s.rev, 10); s.rev != 0 && gotRev != want || s.rev == 0 && gotRev != "" {
			t.Errorf("%s: entity-revision %q, want %d", s.name, gotRev, s.rev)
		}
		if (s.status == 200 || s.status == 201) && resp.Path == "/" && resp.Headers[protocol.HeaderETag] != fmt.Sprintf(`"rev:%d"`, s.rev) {
			t.Errorf("%s: etag %q, want rev:%d", s.name, resp.Headers[protocol.HeaderETag], s.rev)
		}
		evs := f.events.take()
		switch {
		case s.event == "" && len(evs) != 0:
			t.Errorf("%s: unexpected events %s", s.name, mustJSON(evs))
		case s.event != "" && len(evs) != 1:
			t.Errorf("%s: %d events, want 1", s.name, len(evs))
		case s.event != "":
			ev := evs[0]
			if ev.Envelope.Topic != eventTopic(id, s.event) || ev.Revision != s.rev || ev.Envelope.Revision != s.rev ||
				ev.Envelope.Headers[protocol.HeaderEntityRevision] != strconv.FormatInt(s.rev, 10) {
				t.Errorf("%s: event %s (Revision %d)", s.name, mustJSON(ev.Envelope), ev.Revision)
			}
		}
	}
}

// _created is set by the (re-)creation and kept by later changes;
// _modified follows every change. Both and the events' timestamps are
// formatted like Java's Instant.toString.
func TestCreatedAndModifiedTimes(t *testing.T) {
	f := newFixture(t)
	id := "org.example:times"
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	steps := []struct {
		now               string
		send              func() protocol.Envelope
		created, modified string
	}{
		{"2024-01-01T00:00:00Z", func() protocol.Envelope { return f.create(id, `{}`) }, "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"},
		{"2024-01-01T00:00:01.5Z", func() protocol.Envelope { return f.modify(id, "/attributes", `{}`) }, "2024-01-01T00:00:00Z", "2024-01-01T00:00:01.500Z"},
		{"2024-01-02T00:00:00.000001Z", func() protocol.Envelope { return f.delete(id, "/") }, "", ""},
		{"2024-01-03T10:00:00.25Z", func() protocol.Envelope { return f.modify(id, "/", `{}`) }, "2024-01-03T10:00:00.250Z", "2024-01-03T10:00:00.250Z"},
	}
	for i, s := range steps {
		f.clock.set(at(s.now))
		s.send()
		evs := f.events.take()
		if len(evs) != 1 {
			t.Fatalf("step %d: %d events", i, len(evs))
		}
		if s.created == "" {
			continue
		}
		if evs[0].Envelope.Timestamp != s.modified {
			t.Errorf("step %d: event timestamp %s, want %s", i, evs[0].Envelope.Timestamp, s.modified)
		}
		got := f.retrieve(id, "/", "_created,_modified")
		jsonEqual(t, fmt.Sprint("step ", i), got.Value, `{"_created":"`+s.created+`","_modified":"`+s.modified+`"}`)
	}
}

// Timestamps are Java's Instant.toString: UTC, "Z", and a fraction of none,
// three or six digits as the precision needs (the clock is read at
// microsecond precision, as Java's).
func TestTimestampFormat(t *testing.T) {
	base := time.Date(2024, 5, 2, 10, 11, 12, 0, time.UTC)
	cases := []struct {
		t    time.Time
		want string
	}{
		{base, "2024-05-02T10:11:12Z"},
		{base.Add(345 * time.Millisecond), "2024-05-02T10:11:12.345Z"},
		{base.Add(100 * time.Millisecond), "2024-05-02T10:11:12.100Z"},
		{base.Add(time.Millisecond), "2024-05-02T10:11:12.001Z"},
		{base.Add(345678 * time.Microsecond), "2024-05-02T10:11:12.345678Z"},
		{base.Add(120 * time.Microsecond), "2024-05-02T10:11:12.000120Z"},
		{base.Add(time.Microsecond), "2024-05-02T10:11:12.000001Z"},
		{base.Add(345678901 * time.Nanosecond), "2024-05-02T10:11:12.345678Z"},
		{base.Add(999 * time.Nanosecond), "2024-05-02T10:11:12Z"},
		{base.Add(5 * time.Millisecond).In(time.FixedZone("CEST", 2*3600)), "2024-05-02T10:11:12.005Z"},
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), "1970-01-01T00:00:00Z"},
		{time.Date(2000, 2, 29, 23, 59, 59, 999_999_000, time.UTC), "2000-02-29T23:59:59.999999Z"},
	}
	f := newFixture(t)
	for i, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			id := fmt.Sprintf("org.example:ts-%d", i)
			f.clock.set(tc.t)
			wantStatus(t, f.create(id, `{}`), 201)
			ev := onlyEvent(t, f)
			if ev.Envelope.Timestamp != tc.want {
				t.Errorf("event timestamp %s, want %s", ev.Envelope.Timestamp, tc.want)
			}
			got := f.retrieve(id, "/", "_modified,_created")
			var v struct{ Modified, Created string }
			if err := json.Unmarshal(got.Value, &struct {
				Modified *string `json:"_modified"`
				Created  *string `json:"_created"`
			}{&v.Modified, &v.Created}); err != nil {
				t.Fatal(err)
			}
			if v.Modified != tc.want || v.Created != tc.want {
				t.Errorf("_modified %s _created %s, want %s", v.Modified, v.Created, tc.want)
			}
		})
	}
}

// The clock is read once per change: the event and the stored thing agree,
// and a stepping clock gives each change its own time.
func TestSteppingClock(t *testing.T) {
	f := newFixture(t)
	f.clock.set(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	f.clock.step = 1500 * time.Microsecond
	id := "org.example:step"
	f.mustCreate(id, `{}`)
	for i := range 3 {
		wantStatus(t, f.modify(id, "/attributes/n", strconv.Itoa(i)), []int{201, 204, 204}[i])
	}
	evs := f.events.take()
	want := []string{"2024-01-01T00:00:00Z", "2024-01-01T00:00:00.001500Z", "2024-01-01T00:00:00.003Z", "2024-01-01T00:00:00.004500Z"}
	if len(evs) != len(want) {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		if ev.Envelope.Timestamp != want[i] {
			t.Errorf("event %d timestamp %s, want %s", i, ev.Envelope.Timestamp, want[i])
		}
	}
	got := f.retrieve(id, "/", "_created,_modified,_revision")
	jsonEqual(t, "times", got.Value, `{"_created":"`+want[0]+`","_modified":"`+want[3]+`","_revision":4}`)
}
