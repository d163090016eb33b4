package twin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func etagOf(env protocol.Envelope) string { return env.Headers[protocol.HeaderETag] }

// The thing's tag is "rev:N"; a sub-resource's is "hash:…", equal for equal
// values (whatever the key order or where the value lives) and different for
// different values.
func TestETagValues(t *testing.T) {
	f := newFixture(t)
	f.mustCreate("org.example:e", `{"attributes":{"x":{"a":1,"b":[1,2]},"y":{"b":[1,2],"a":1},"z":{"a":2,"b":[1,2]},"s":"1","n":1}}`)
	f.mustCreate("org.example:e2", `{"attributes":{"x":{"b":[1,2],"a":1}}}`)
	if got := etagOf(f.retrieve("org.example:e", "/", "")); got != `"rev:1"` {
		t.Errorf("thing etag %s", got)
	}
	if got := etagOf(f.retrieve("org.example:e", "/", "thingId")); got != `"rev:1"` {
		t.Errorf("thing etag with fields %s", got)
	}
	x := etagOf(f.retrieve("org.example:e", "/attributes/x", ""))
	if !strings.HasPrefix(x, `"hash:`) || !strings.HasSuffix(x, `"`) || len(x) < len(`"hash:1"`) {
		t.Fatalf("attribute etag %q", x)
	}
	same := map[string]string{
		"x again":              etagOf(f.retrieve("org.example:e", "/attributes/x", "")),
		"y, other key order":   etagOf(f.retrieve("org.example:e", "/attributes/y", "")),
		"x of another thing":   etagOf(f.retrieve("org.example:e2", "/attributes/x", "")),
		"x with fields a,b":    etagOf(f.retrieve("org.example:e", "/attributes/x", "a,b")),
		"x after other change": "",
	}
	wantStatus(t, f.modify("org.example:e", "/attributes/other", `0`), 201)
	same["x after other change"] = etagOf(f.retrieve("org.example:e", "/attributes/x", ""))
	for what, tag := range same {
		if tag != x {
			t.Errorf("%s: etag %s, want %s", what, tag, x)
		}
	}
	differ := map[string]string{
		"z":          etagOf(f.retrieve("org.example:e", "/attributes/z", "")),
		"string 1":   etagOf(f.retrieve("org.example:e", "/attributes/s", "")),
		"number 1":   etagOf(f.retrieve("org.example:e", "/attributes/n", "")),
		"attributes": etagOf(f.retrieve("org.example:e", "/attributes", "")),
	}
	seen := map[string]string{x: "x"}
	for what, tag := range differ {
		if !strings.HasPrefix(tag, `"hash:`) {
			t.Errorf("%s: etag %q", what, tag)
		}
		if other, dup := seen[tag]; dup {
			t.Errorf("%s and %s share etag %s", what, other, tag)
		}
		seen[tag] = what
	}
	// The modify response carries the new value's tag.
	resp := f.modify("org.example:e", "/attributes/z", `{"b":[1,2],"a":1}`)
	wantStatus(t, resp, 204)
	if etagOf(resp) != x {
		t.Errorf("modify etag %s, want %s", etagOf(resp), x)
	}
	if got := etagOf(f.retrieve("org.example:e", "/", "")); got != `"rev:3"` {
		t.Errorf("thing etag %s, want rev:3", got)
	}
}

// Merge answers with the thing's "rev:N" at /, /policyId and /definition, and
// with the merged sub-value's hash elsewhere.
func TestMergeETags(t *testing.T) {
	f := newFixture(t)
	id := "org.example:me"
	f.mustCreate(id, fullThing)
	cases := []struct{ path, patch, want string }{
		{"/policyId", `"org.example:p2"`, `"rev:2"`},
		{"/definition", `"org.example:D:2"`, `"rev:3"`},
		{"/definition", `null`, `"rev:4"`},
		{"/", `{"attributes":{"b":1}}`, `"rev:5"`},
		{"/attributes", `{"c":1}`, "/attributes"},
		{"/features/f/properties", `{"p":null,"q":1}`, "/features/f/properties"},
		{"/features/new", `{"properties":{"a":1}}`, "/features/new"},
	}
	for _, tc := range cases {
		resp := f.merge(id, tc.path, tc.patch)
		wantStatus(t, resp, 204)
		want := tc.want
		if strings.HasPrefix(want, "/") {
			want = etagOf(f.retrieve(id, tc.want, ""))
			if !strings.HasPrefix(want, `"hash:`) {
				t.Fatalf("%s: retrieve etag %q", tc.path, want)
			}
		}
		if etagOf(resp) != want {
			t.Errorf("merge %s: etag %s, want %s", tc.path, etagOf(resp), want)
		}
	}
}

// If-Match and If-None-Match on writes (Ditto's ConditionalHeadersValidator).
func TestPreconditionsOnWrites(t *testing.T) {
	const id = "org.example:pre"
	type tc struct {
		name          string
		action, path  string
		value         string
		header, tag   string
		exists        bool   // whether the thing exists first (rev 1, attributes {"a":1})
		status        int    // 2xx or 412
		errETag       string // etag header on the 412; "hash" for any hash tag
		actual        string // actual entity-tag of the 412 message; "hash" for any
		wantNoEtagHdr bool
	}
	cases := []tc{
		{name: "if-match rev", action: "modify", path: "/", value: `{}`, header: "if-match", tag: `"rev:1"`, exists: true, status: 204},
		{name: "if-match list", action: "modify", path: "/", value: `{}`, header: "if-match", tag: `"rev:7", "rev:1"`, exists: true, status: 204},
		// Ditto's tags are strong and compared strongly: a weak tag never matches.
		{name: "if-match weak", action: "modify", path: "/", value: `{}`, header: "if-match", tag: `W/"rev:1"`, exists: true, status: 412, errETag: `"rev:1"`, actual: `"rev:1"`},
		{name: "if-match weak and strong", action: "modify", path: "/", value: `{}`, header: "if-match", tag: `W/"rev:1", "rev:1"`, exists: true, status: 204},
		{name: "if-none-match weak", action: "modify", path: "/", value: `{}`, header: "if-none-match", tag: `W/"rev:1"`, exists: true, status: 204},
		{name: "if-match star", action: "merge", path: "/", value: `{"a":1}`, header: "if-match", tag: `*`, exists: true, status: 204},
		{name: "if-match stale", action: "modify", path: "/", value: `{}`, header: "if-match", tag: `"rev:2"`, exists: true, status: 412, errETag: `"rev:1"`, actual: `"rev:1"`},
		{name: "if-match on missing thing", action: "modify", path: "/", value: `{}`, header: "if-match", tag: `*`, status: 412, actual: "null"},
		{name: "if-match on create", action: "create", path: "/", value: `{}`, header: "if-match", tag: `"rev:1"`, status: 412, actual: "null"},
		{name: "if-match merge missing", action: "merge", path: "/", value: `{"a":1}`, header: "if-match", tag: `*`, status: 412, actual: "null"},
		{name: "if-match delete", action: "delete", path: "/", header: "if-match", tag: `"rev:1"`, exists: true, status: 204},
		{name: "if-match delete stale", action: "delete", path: "/", header: "if-match", tag: `"rev:0"`, exists: true, status: 412, errETag: `"rev:1"`, actual: `"rev:1"`},
		{name: "if-match attribute", action: "modify", path: "/attributes/a", value: `2`, header: "if-match", tag: "HASH_A", exists: true, status: 204},
		{name: "if-match attribute stale", action: "modify", path: "/attributes/a", value: `2`, header: "if-match", tag: `"hash:0"`, exists: true, status: 412, errETag: "hash", actual: "hash"},
		{name: "if-match absent attribute", action: "modify", path: "/attributes/b", value: `2`, header: "if-match", tag: `*`, exists: true, status: 412, actual: "null"},
		{name: "if-match thing tag on attribute", action: "merge", path: "/attributes/a", value: `2`, header: "if-match", tag: `"rev:1"`, exists: true, status: 412, errETag: "hash", actual: "hash"},
		{name: "if-none-match star creates", action: "modify", path: "/", value: `{}`, header: "if-none-match", tag: `*`, status: 201},
		{name: "if-none-match star create action", action: "create", path: "/", value: `{}`, header: "if-none-match", tag: `*`, status: 201},
		{name: "if-none-match star merge creates", action: "merge", path: "/", value: `{"a":1}`, header: "if-none-match", tag: `*`, status: 201},
		{name: "if-none-match star on existing", action: "modify", path: "/", value: `{}`, header: "if-none-match", tag: `*`, exists: true, status: 412, errETag: `"rev:1"`, actual: `"rev:1"`},
		{name: "if-none-match star create existing is 412 not 409", action: "create", path: "/", value: `{}`, header: "if-none-match", tag: `*`, exists: true, status: 412, errETag: `"rev:1"`, actual: `"rev:1"`},
		{name: "if-none-match current", action: "merge", path: "/", value: `{"a":1}`, header: "if-none-match", tag: `"rev:1"`, exists: true, status: 412, errETag: `"rev:1"`, actual: `"rev:1"`},
		{name: "if-none-match other", action: "modify", path: "/", value: `{}`, header: "if-none-match", tag: `"rev:9"`, exists: true, status: 204},
		{name: "if-none-match star absent attribute", action: "modify", path: "/attributes/b", value: `2`, header: "if-none-match", tag: `*`, exists: true, status: 201},
		{name: "if-none-match star present attribute", action: "modify", path: "/attributes/a", value: `2`, header: "if-none-match", tag: `*`, exists: true, status: 412, errETag: "hash", actual: "hash"},
		{name: "if-none-match on delete", action: "delete", path: "/attributes/a", header: "if-none-match", tag: "HASH_A", exists: true, status: 412, errETag: "hash", actual: "hash"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			thing := fmt.Sprintf("%s-%d", id, i)
			hashA := ""
			if c.exists {
				f.mustCreate(thing, `{"attributes":{"a":1}}`)
				hashA = etagOf(f.retrieve(thing, "/attributes/a", ""))
				f.events.take()
			}
			tag := strings.ReplaceAll(c.tag, "HASH_A", hashA)
			value := c.value
			if c.action == "merge" && c.path == "/" {
				value = `{"attributes":` + c.value + `}`
			}
			resp := f.send(c.action, thing, c.path, value, c.header, tag, "correlation-id", "p")
			if c.status != 412 {
				wantStatus(t, resp, c.status)
				if _, ok := resp.Headers[c.header]; ok {
					t.Errorf("%s echoed", c.header)
				}
				if len(f.events.take()) != 1 {
					t.Errorf("no event")
				}
				return
			}
			e := wantError(t, resp, 412, "things:precondition.failed")
			errETag := etagOf(resp)
			switch {
			case c.errETag == "hash" && !strings.HasPrefix(errETag, `"hash:`), c.errETag != "hash" && errETag != c.errETag:
				t.Errorf("error etag header %q, want %s", errETag, c.errETag)
			}
			actual := c.actual
			if actual == "hash" {
				actual = errETag
			}
			want := fmt.Sprintf("The comparison of precondition header '%s' for the requested Thing resource evaluated to false. "+
				"Header value: '%s', actual entity-tag: '%s'.", c.header, tag, actual)
			if e.Message != want {
				t.Errorf("message %q\nwant    %q", e.Message, want)
			}
			if e.Description != "The comparison of the provided precondition header with the current ETag value of the requested Thing resource evaluated to false. Check the value of your conditional header value." {
				t.Errorf("description %q", e.Description)
			}
			if _, ok := resp.Headers[c.header]; ok || resp.Headers["correlation-id"] != "p" {
				t.Errorf("error headers %v", resp.Headers)
			}
			noEvent(t, f)
		})
	}
}

// Preconditions on retrieves: a matching If-None-Match is 304
// things:precondition.notmodified with the current etag; If-Match on an
// absent resource is not evaluated and the retrieve or delete goes on to 404.
func TestPreconditionsOnRetrieveAndAbsent(t *testing.T) {
	f := newFixture(t)
	id := "org.example:get"
	f.mustCreate(id, `{"attributes":{"a":1}}`)
	hashA := etagOf(f.retrieve(id, "/attributes/a", ""))

	for _, c := range []struct {
		path, tag, etag string
	}{
		{"/", `"rev:1"`, `"rev:1"`},
		{"/", `*`, `"rev:1"`},
		{"/", `"rev:5", "rev:1"`, `"rev:1"`},
		{"/attributes/a", hashA, hashA},
		{"/attributes/a", `*`, hashA},
	} {
		resp := f.retrieve(id, c.path, "", "if-none-match", c.tag, "correlation-id", "g")
		e := wantError(t, resp, 304, "things:precondition.notmodified")
		if etagOf(resp) != c.etag || resp.Headers["correlation-id"] != "g" {
			t.Errorf("%s %s: 304 headers %v", c.path, c.tag, resp.Headers)
		}
		want := "The comparison of precondition header 'if-none-match' for the requested Thing resource evaluated to false. Expected: '" +
			c.tag + "' not to match actual: '" + c.etag + "'."
		if e.Message != want {
			t.Errorf("message %q\nwant    %q", e.Message, want)
		}
	}
	for _, c := range []struct {
		header, tag, path string
		status            int
	}{
		{"if-none-match", `"rev:2"`, "/", 200},
		{"if-none-match", `W/"rev:1"`, "/", 200},
		{"if-match", `W/"rev:1"`, "/", 412},
		{"if-none-match", `"hash:0"`, "/attributes/a", 200},
		{"if-match", `"rev:1"`, "/", 200},
		{"if-match", `*`, "/attributes/a", 200},
		{"if-match", hashA, "/attributes/a", 200},
		{"if-match", `"rev:2"`, "/", 412},
		{"if-match", `"rev:1"`, "/attributes/a", 412},
	} {
		resp := f.retrieve(id, c.path, "", c.header, c.tag)
		if c.status == 412 {
			wantError(t, resp, 412, "things:precondition.failed")
			continue
		}
		wantStatus(t, resp, c.status)
	}

	// Absent resources: no comparison, the 404 of the resource.
	for _, c := range []struct {
		action, thing, path, header, code string
	}{
		{"retrieve", "org.example:absent", "/", "if-match", "things:thing.notfound"},
		{"retrieve", "org.example:absent", "/", "if-none-match", "things:thing.notfound"},
		{"retrieve", id, "/attributes/b", "if-match", "things:attribute.notfound"},
		{"delete", "org.example:absent", "/", "if-match", "things:thing.notfound"},
		{"delete", id, "/attributes/b", "if-match", "things:attribute.notfound"},
		{"delete", id, "/features", "if-match", "things:features.notfound"},
		{"modify", "org.example:absent", "/attributes/a", "if-match", "things:thing.notfound"},
	} {
		value := ""
		if c.action == "modify" {
			value = "1"
		}
		wantError(t, f.send(c.action, c.thing, c.path, value, c.header, `"rev:1"`), 404, c.code)
	}
	if evs := f.events.take(); len(evs) != 1 {
		t.Errorf("%d events, want only the create", len(evs))
	}
}

// A malformed entity tag is header.invalid, before anything else: also where
// the precondition would not be evaluated.
func TestMalformedETag(t *testing.T) {
	f := newFixture(t)
	id := "org.example:bad-tag"
	f.mustCreate(id, `{"attributes":{"a":1}}`)
	for _, c := range []struct {
		action, thing, path, value, header, tag string
	}{
		{"retrieve", id, "/", "", "if-match", `rev:1`},
		{"retrieve", id, "/", "", "if-none-match", `rev:1`},
		{"retrieve", id, "/attributes/a", "", "if-none-match", `"rev:1", rev:2`},
		{"modify", id, "/", `{}`, "if-match", `rev:1`},
		{"merge", id, "/attributes", `{"b":1}`, "if-none-match", `"rev:1`},
		{"delete", id, "/", "", "if-match", `'rev:1'`},
		{"retrieve", "org.example:absent", "/", "", "if-match", `rev:1`},
		{"delete", "org.example:absent", "/", "", "if-match", `rev:1`},
		{"modify", "org.example:absent", "/attributes/a", `1`, "if-none-match", `rev:1`},
		{"modify", "org.example:absent", "/", `{}`, "if-none-match", `rev:1`},
	} {
		resp := f.send(c.action, c.thing, c.path, c.value, c.header, c.tag)
		e := wantError(t, resp, 400, "header.invalid")
		if want := fmt.Sprintf("The value '%s' of the header '%s' is not a valid entity-tag.", c.tag, c.header); e.Message != want {
			t.Errorf("message %q, want %q", e.Message, want)
		}
	}
	if evs := f.events.take(); len(evs) != 1 {
		t.Errorf("%d events, want only the create", len(evs))
	}
	if got := f.retrieve(id, "/", "_revision"); string(got.Value) != `{"_revision":1}` {
		t.Errorf("revision after refused writes: %s", got.Value)
	}
}
