package mongostore

import (
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/twinway/twinway/twin"
)

// The documents Put writes, with their revision conditions: golden, in
// canonical extended JSON (every number's BSON type shows).
func TestPutRequestGolden(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	cases := []struct {
		name string
		rec  twin.Record
		prev int64
	}{
		{"create (insert, revision 0)", twin.Record{ID: "org.a:t1", Namespace: "org.a", PolicyID: "org.a:p", Revision: 1,
			Created: created, Modified: created,
			Doc: []byte(`{"thingId":"org.a:t1","policyId":"org.a:p","definition":"org.a:d:1","attributes":{"n":5,"f":5.0,"big":12345678901234567890,"s":"x","b":true,"z":null,"arr":[1,[2,[3]],{"k":"v"}],"a.b":{"$x":{"~":1}},"0":{}},"features":{"lamp":{"properties":{"on":true,"o":{"p":[1]}}},"nul":null,"e.x":{"desiredProperties":{"d":1},"definition":["a:b:1"]}},"_metadata":{"m":1}}`)},
			0},
		{"modify (replace where revision is 6)", twin.Record{ID: "org.a:t1", Namespace: "org.a", PolicyID: "org.a:p", Revision: 7,
			Created: created, Modified: created.Add(time.Hour), Doc: []byte(` { "attributes" : { "x" : [ ] } } `)}, 6},
		{"delete (tombstone where revision is 7)", twin.Record{ID: "org.a:t1", Namespace: "org.a", PolicyID: "org.a:p", Revision: 8,
			Created: created, Modified: created.Add(2 * time.Hour), Deleted: true}, 7},
		{"zero times, no document", twin.Record{ID: "x:bare", Namespace: "x", PolicyID: "x:p", Revision: 1}, 0},
		{"not JSON: stored, not searchable", twin.Record{ID: "x:junk", Namespace: "x", PolicyID: "x:p", Revision: 1, Doc: []byte(`{junk`)}, 0},
		{"JSON, not an object", twin.Record{ID: "x:arr", Namespace: "x", PolicyID: "x:p", Revision: 1, Doc: []byte(`[1,2]`)}, 0},
	}
	var out strings.Builder
	for _, c := range cases {
		req, err := buildPut(c.rec, c.prev)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out.WriteString("== " + c.name + "\n")
		if req.insert {
			out.WriteString("insertOne\n")
		} else {
			out.WriteString("replaceOne " + extJSON(t, req.filter, true) + "\n")
		}
		out.WriteString(extJSON(t, req.doc, true) + "\n")
	}
	golden(t, "put.golden", out.String())
}

// Deep documents stay far below MongoDB's nesting limit: the t tree stops
// at maxSearchKeys keys, an array in an array is [], s keeps texts.
func TestDeepDocument(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"attributes":{"a":`)
	for range 150 {
		b.WriteString(`{"d":`)
	}
	b.WriteString(`[[[[[[1]]]]]]`)
	for range 150 {
		b.WriteString(`}`)
	}
	b.WriteString(`}}`)
	doc, err := recordDocument(twin.Record{ID: "x:deep", Doc: []byte(b.String()), Revision: 1})
	if err != nil {
		t.Fatal(err)
	}
	if depth := bsonDepth(doc); depth > 40 {
		t.Errorf("stored document nests %d levels", depth)
	}
	if _, err := bson.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	// Round trip of the search document through BSON.
	raw, _ := bson.Marshal(doc)
	var st stored
	if err := bson.Unmarshal(raw, &st); err != nil || string(st.Doc) != b.String() {
		t.Errorf("doc read back as %q, %v", st.Doc, err)
	}
}

func bsonDepth(v any) int {
	switch x := v.(type) {
	case bson.D:
		d := 0
		for _, e := range x {
			d = max(d, bsonDepth(e.Value))
		}
		return d + 1
	case bson.A:
		d := 0
		for _, e := range x {
			d = max(d, bsonDepth(e))
		}
		return d + 1
	}
	return 0
}

func TestPutInvalid(t *testing.T) {
	for name, c := range map[string]struct {
		rec  twin.Record
		prev int64
	}{
		"empty id":       {twin.Record{Revision: 1}, 0},
		"negative prev":  {twin.Record{ID: "x:y", Revision: 1}, -1},
		"time too late":  {twin.Record{ID: "x:y", Revision: 1, Created: time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		"time too early": {twin.Record{ID: "x:y", Revision: 1, Modified: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
	} {
		if _, err := buildPut(c.rec, c.prev); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The stored document reads back as the record.
func TestStoredRecord(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	want := twin.Record{ID: "org.a:t1", Namespace: "org.a", PolicyID: "org.a:p", Revision: 3,
		Created: time.Date(1678, 1, 1, 0, 0, 0, 1, time.UTC), Modified: time.Date(2262, 4, 11, 23, 47, 16, 854775807, berlin),
		Doc: []byte(`{"a" : 1}`)}
	for _, rec := range []twin.Record{want, {ID: "x", Namespace: "x", PolicyID: "p", Revision: 1}, {ID: "x", Revision: 2, Deleted: true}} {
		doc, err := recordDocument(rec)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var st stored
		if err := bson.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		got := st.record()
		if got.ID != rec.ID || got.Namespace != rec.Namespace || got.PolicyID != rec.PolicyID || got.Revision != rec.Revision ||
			got.Deleted != rec.Deleted || string(got.Doc) != string(rec.Doc) || (got.Doc == nil) != (rec.Doc == nil) ||
			!got.Created.Equal(rec.Created) || !got.Modified.Equal(rec.Modified) ||
			(!got.Created.IsZero() && got.Created.Location() != time.UTC) {
			t.Errorf("read back %+v, want %+v", got, rec)
		}
	}
}

// The documents PutPolicy writes, with their revision conditions: golden,
// as for things. The policy's JSON is binary, keys and all: no escaping,
// no search fields.
func TestPutPolicyRequestGolden(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	policy := []byte(`{"policyId":"org.a:t1","entries":{"DEFAULT":{"subjects":{"nginx:ditto.admin":{"type":"t"},"$x":{}},"resources":{"thing:/attributes/a.b":{"grant":["READ"],"revoke":[]}}}}}`)
	cases := []struct {
		name string
		rec  twin.Record
		prev int64
	}{
		{"create (insert, revision 0)", twin.Record{ID: "org.a:t1", Namespace: "org.a", Revision: 1,
			Created: created, Modified: created, Doc: policy}, 0},
		{"modify (replace where revision is 1)", twin.Record{ID: "org.a:t1", Namespace: "org.a", Revision: 2,
			Created: created, Modified: created.Add(time.Hour), Doc: []byte(` { "entries" : { } } `)}, 1},
		{"delete (tombstone where revision is 2)", twin.Record{ID: "org.a:t1", Namespace: "org.a", Revision: 3,
			Created: created, Modified: created.Add(2 * time.Hour), Deleted: true}, 2},
		{"zero times, no document", twin.Record{ID: "x:bare", Namespace: "x", Revision: 1}, 0},
	}
	var out strings.Builder
	for _, c := range cases {
		req, err := buildPolicyPut(c.rec, c.prev)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		out.WriteString("== " + c.name + "\n")
		if req.insert {
			out.WriteString("insertOne\n")
		} else {
			out.WriteString("replaceOne " + extJSON(t, req.filter, true) + "\n")
		}
		out.WriteString(extJSON(t, req.doc, true) + "\n")
	}
	golden(t, "putpolicy.golden", out.String())
}

func TestPutPolicyInvalid(t *testing.T) {
	for name, c := range map[string]struct {
		rec  twin.Record
		prev int64
	}{
		"empty id":       {twin.Record{Revision: 1}, 0},
		"negative prev":  {twin.Record{ID: "x:y", Revision: 1}, -1},
		"policy id set":  {twin.Record{ID: "x:y", PolicyID: "x:p", Revision: 1}, 0},
		"time too late":  {twin.Record{ID: "x:y", Revision: 1, Created: time.Date(2263, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
		"time too early": {twin.Record{ID: "x:y", Revision: 1, Modified: time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC)}, 0},
	} {
		if _, err := buildPolicyPut(c.rec, c.prev); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The stored policy document reads back as the record.
func TestStoredPolicyRecord(t *testing.T) {
	berlin := time.FixedZone("CEST", 2*3600)
	full := twin.Record{ID: "org.a:p1", Namespace: "org.a", Revision: 3,
		Created: time.Date(1678, 1, 1, 0, 0, 0, 1, time.UTC), Modified: time.Date(2262, 4, 11, 23, 47, 16, 854775807, berlin),
		Doc: []byte(`{"entries" : {"a.b":{"$c":1}}}`)}
	for _, rec := range []twin.Record{full, {ID: "x", Namespace: "x", Revision: 1}, {ID: "x", Revision: 2, Deleted: true}} {
		doc, err := policyDocument(rec)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var st stored
		if err := bson.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		got := st.record()
		if got.ID != rec.ID || got.Namespace != rec.Namespace || got.PolicyID != "" || got.Revision != rec.Revision ||
			got.Deleted != rec.Deleted || string(got.Doc) != string(rec.Doc) || (got.Doc == nil) != (rec.Doc == nil) ||
			!got.Created.Equal(rec.Created) || !got.Modified.Equal(rec.Modified) ||
			(!got.Created.IsZero() && got.Created.Location() != time.UTC) {
			t.Errorf("read back %+v, want %+v", got, rec)
		}
	}
}
