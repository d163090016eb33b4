package mongostore

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/twinway/twinway/rql"
	"github.com/twinway/twinway/twin"
)

// FuzzFilter: every filter the parser accepts translates without panic
// into a query the driver can encode (no NUL in a field name or a regular
// expression, no unencodable value).
func FuzzFilter(f *testing.F) {
	for _, s := range filterCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		n, err := rql.ParseFilter(text)
		if err != nil {
			return
		}
		d, err := Filter(n, goldenNow)
		if err != nil {
			return
		}
		if _, err := bson.Marshal(d); err != nil {
			t.Fatalf("Filter(%s) = %v does not encode: %v", text, d, err)
		}
	})
}

// FuzzRecordDocument: any document is stored (search fields or not) and
// reads back byte for byte.
func FuzzRecordDocument(f *testing.F) {
	for _, s := range []string{`{}`, `{"a.b":{"$x":[1,[2],{"0":null}]}}`, `{"attributes":{"\u0000":1,"":2}}`, `[1]`, `{junk`,
		`{"features":{"f":{"properties":{"p":[{"~":1.5e400}]}},"g":null}}`, "{\"a\":\"\xff\"}", `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := recordDocument(twin.Record{ID: "x:y", Namespace: "x", PolicyID: "x:p", Revision: 1, Doc: doc})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatalf("document for %q does not encode: %v", doc, err)
		}
		var st stored
		if err := bson.Unmarshal(raw, &st); err != nil {
			t.Fatal(err)
		}
		if rec := st.record(); string(rec.Doc) != string(doc) {
			t.Fatalf("doc %q read back as %q", doc, rec.Doc)
		}
		if depth := bsonDepth(d); depth > 60 {
			t.Fatalf("document for %q nests %d levels", doc, depth)
		}
	})
}
