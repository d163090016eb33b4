package mongostore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/twinway/twinway/protocol"
	"github.com/twinway/twinway/twin"
)

// Field names of a stored thing document (see doc.go).
const (
	fieldID           = "_id"
	fieldNamespace    = "namespace"
	fieldPolicyID     = "policyId"
	fieldRevision     = "revision"
	fieldCreated      = "created"
	fieldCreatedText  = "createdIso"
	fieldModified     = "modified"
	fieldModifiedText = "modifiedIso"
	fieldDeleted      = "deleted"
	fieldDoc          = "doc"
	fieldThing        = "t"
	fieldFeatures     = "f"
	fieldSort         = "s"
	// Inside an element of f: the feature's id and its (escaped) value.
	fieldFeatureID    = "id"
	fieldFeatureValue = "v"
	// Reserved keys of the t and s trees. Escaped keys never equal them:
	// a '~' in an escaped key is always followed by 0-4.
	keyText    = "~"  // s: an object's or array's compact JSON text; t: a truncated non-empty object
	keyArray   = "~t" // s: an array's compact JSON text
	markObject = "~"
)

// maxSearchKeys bounds the keys of one property in a filter or a sort,
// counted from the thing's root (so attributes/ and 15 more), as the
// embedded store does. Below that depth the t tree keeps only what a filter
// can still observe, which also keeps documents far from MongoDB's nesting
// limit of 100 levels.
const maxSearchKeys = 16

// Times are stored as int64 unix nanoseconds: exact, and ordered like the
// instants. The zero time is not stored at all.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func checkTime(t time.Time) error {
	if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
		return fmt.Errorf("mongostore: time %s is outside the storable range (%s to %s)", t, minTime.UTC(), maxTime.UTC())
	}
	return nil
}

// checkTimes refuses a record with a time outside the storable range.
func checkTimes(rec twin.Record) error {
	if err := checkTime(rec.Created); err != nil {
		return err
	}
	return checkTime(rec.Modified)
}

// recordDocument is the document stored for rec: the record's fields, the
// exact JSON, and the derived search fields t, f and s (none for a
// tombstone, nor for a document that is not a JSON object).
func recordDocument(rec twin.Record) (bson.D, error) {
	if err := checkTimes(rec); err != nil {
		return nil, err
	}
	d := bson.D{
		{Key: fieldID, Value: rec.ID},
		{Key: fieldNamespace, Value: rec.Namespace},
		{Key: fieldPolicyID, Value: rec.PolicyID},
		{Key: fieldRevision, Value: rec.Revision},
	}
	if !rec.Created.IsZero() {
		d = append(d, bson.E{Key: fieldCreated, Value: rec.Created.UnixNano()},
			bson.E{Key: fieldCreatedText, Value: protocol.FormatInstant(rec.Created)})
	}
	if !rec.Modified.IsZero() {
		d = append(d, bson.E{Key: fieldModified, Value: rec.Modified.UnixNano()},
			bson.E{Key: fieldModifiedText, Value: protocol.FormatInstant(rec.Modified)})
	}
	d = append(d, bson.E{Key: fieldDeleted, Value: rec.Deleted})
	if len(rec.Doc) > 0 {
		d = append(d, bson.E{Key: fieldDoc, Value: bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: rec.Doc}})
	}
	if rec.Deleted || len(rec.Doc) == 0 {
		return d, nil
	}
	sf, ok := searchFields(rec.Doc)
	if ok {
		d = append(d, bson.E{Key: fieldThing, Value: sf.thing})
		if sf.features != nil {
			d = append(d, bson.E{Key: fieldFeatures, Value: sf.features})
		}
		d = append(d, bson.E{Key: fieldSort, Value: sf.sort})
	}
	return d, nil
}

// policyDocument is the document stored for the policy rec: the record's
// fields and the policy's JSON as binary, byte for byte, as doc is for a
// thing. A policy is never searched, so, unlike a thing, it gets no escaped
// BSON tree (t, f, s), and its keys (subject ids, resource paths, full of
// '.' and ':') need no escaping: MongoDB never reads inside the binary.
// Nor does it get the ISO times, which only filters read.
func policyDocument(rec twin.Record) (bson.D, error) {
	if err := checkTimes(rec); err != nil {
		return nil, err
	}
	d := bson.D{
		{Key: fieldID, Value: rec.ID},
		{Key: fieldNamespace, Value: rec.Namespace},
		{Key: fieldRevision, Value: rec.Revision},
	}
	if !rec.Created.IsZero() {
		d = append(d, bson.E{Key: fieldCreated, Value: rec.Created.UnixNano()})
	}
	if !rec.Modified.IsZero() {
		d = append(d, bson.E{Key: fieldModified, Value: rec.Modified.UnixNano()})
	}
	d = append(d, bson.E{Key: fieldDeleted, Value: rec.Deleted})
	if len(rec.Doc) > 0 {
		d = append(d, bson.E{Key: fieldDoc, Value: bson.Binary{Subtype: bson.TypeBinaryGeneric, Data: rec.Doc}})
	}
	return d, nil
}

// stored is a stored thing document as Get reads it (the search fields are
// not fetched), or a stored policy document (which has no policyId).
type stored struct {
	ID        string `bson:"_id"`
	Namespace string `bson:"namespace"`
	PolicyID  string `bson:"policyId"`
	Revision  int64  `bson:"revision"`
	Created   *int64 `bson:"created"`
	Modified  *int64 `bson:"modified"`
	Deleted   bool   `bson:"deleted"`
	Doc       []byte `bson:"doc"`
}

// recordProjection fetches the fields of stored only.
var recordProjection = bson.D{
	{Key: fieldID, Value: 1}, {Key: fieldNamespace, Value: 1}, {Key: fieldPolicyID, Value: 1},
	{Key: fieldRevision, Value: 1}, {Key: fieldCreated, Value: 1}, {Key: fieldModified, Value: 1},
	{Key: fieldDeleted, Value: 1}, {Key: fieldDoc, Value: 1},
}

func (s stored) record() twin.Record {
	rec := twin.Record{ID: s.ID, Namespace: s.Namespace, PolicyID: s.PolicyID, Revision: s.Revision, Deleted: s.Deleted}
	if s.Created != nil {
		rec.Created = time.Unix(0, *s.Created).UTC()
	}
	if s.Modified != nil {
		rec.Modified = time.Unix(0, *s.Modified).UTC()
	}
	if len(s.Doc) > 0 {
		rec.Doc = s.Doc
	}
	return rec
}

// The search fields.

type searchDoc struct {
	thing    bson.D
	features bson.A // nil when the thing has no features object
	sort     bson.D
}

// searchFields derives t, f and s from a thing's JSON; ok is false when doc
// is not a JSON object.
func searchFields(doc []byte) (searchDoc, bool) {
	root, err := parseJSON(doc)
	if err != nil || root.kind != jObject {
		return searchDoc{}, false
	}
	sd := searchDoc{thing: thingTree(root, 0).(bson.D), sort: bson.D{}}
	for _, m := range root.members {
		switch m.key {
		case "attributes", "definition", "_metadata":
			sd.sort = append(sd.sort, bson.E{Key: EscapeKey(m.key), Value: sortTree(m.value, 1, true)})
		case "features":
			if m.value.kind != jObject {
				continue
			}
			sd.features = bson.A{}
			var sortFeatures bson.D
			for _, f := range m.value.members {
				sd.features = append(sd.features, bson.D{
					{Key: fieldFeatureID, Value: f.key},
					{Key: fieldFeatureValue, Value: thingTree(f.value, 2)},
				})
				if sf := featureSortTree(f.value); sf != nil {
					sortFeatures = append(sortFeatures, bson.E{Key: EscapeKey(f.key), Value: sf})
				}
			}
			if sortFeatures != nil {
				sd.sort = append(sd.sort, bson.E{Key: "features", Value: sortFeatures})
			}
		}
	}
	return sd, true
}

// thingTree is v for the t tree at key depth k (the number of object keys
// from the thing's root): the JSON with every key escaped, numbers as int64
// when they are integers that fit, else double (as package rql reads them).
// Filters never look further than maxSearchKeys keys, nor into an array
// inside an array, so an object at depth maxSearchKeys or more is stored as
// {} or {"~": true} (empty or not), and an array inside an array as [].
func thingTree(v *jsonValue, k int) any {
	switch v.kind {
	case jObject:
		if k >= maxSearchKeys {
			if len(v.members) == 0 {
				return bson.D{}
			}
			return bson.D{{Key: markObject, Value: true}}
		}
		d := make(bson.D, 0, len(v.members))
		for _, m := range v.members {
			d = append(d, bson.E{Key: EscapeKey(m.key), Value: thingTree(m.value, k+1)})
		}
		return d
	case jArray:
		a := make(bson.A, 0, len(v.elems))
		for _, e := range v.elems {
			if e.kind == jArray {
				a = append(a, bson.A{})
				continue
			}
			a = append(a, thingTree(e, k))
		}
		return a
	}
	return v.scalar
}

// sortTree is v for the s tree at key depth k: objects are entered by key
// (escaped) and carry their compact JSON text as their first field "~", so
// that MongoDB, which compares documents field by field, orders them by
// that text; arrays become {"~": true, "~t": text}, which orders after
// every object (true is above any string in BSON's order) and by text, and
// which a path cannot enter. No arrays remain, so a sort on a path of s is
// "through objects only" and compares plain BSON values: missing and null,
// numbers, strings, objects, arrays, booleans -- the documented order.
// withText is false for the thing model's objects that cannot be sort
// values (features, a feature, its properties).
func sortTree(v *jsonValue, k int, withText bool) any {
	switch v.kind {
	case jObject:
		d := bson.D{}
		if withText {
			d = append(d, bson.E{Key: keyText, Value: v.compact()})
		}
		if k < maxSearchKeys {
			for _, m := range v.members {
				d = append(d, bson.E{Key: EscapeKey(m.key), Value: sortTree(m.value, k+1, true)})
			}
		}
		return d
	case jArray:
		return bson.D{{Key: keyText, Value: true}, {Key: keyArray, Value: v.compact()}}
	}
	return v.scalar
}

// featureSortTree is a feature's s tree: only properties and
// desiredProperties can be sorted by (features/<id>/properties/<p>).
func featureSortTree(f *jsonValue) bson.D {
	if f.kind != jObject {
		return nil
	}
	var d bson.D
	for _, m := range f.members {
		if (m.key == "properties" || m.key == "desiredProperties") && m.value.kind == jObject {
			d = append(d, bson.E{Key: m.key, Value: sortTree(m.value, 3, false)})
		}
	}
	return d
}

// A small JSON tree that keeps key order and each value's source text.

type jsonKind uint8

const (
	jScalar jsonKind = iota
	jObject
	jArray
)

type jsonValue struct {
	kind    jsonKind
	scalar  any // nil, bool, string, int64 or float64
	members []jsonMember
	elems   []*jsonValue
	raw     []byte // the value's source text
}

type jsonMember struct {
	key   string
	value *jsonValue
}

// compact is the value's text without insignificant whitespace: numbers
// and string escapes exactly as written.
func (v *jsonValue) compact() string {
	var b bytes.Buffer
	if err := json.Compact(&b, v.raw); err != nil {
		return string(v.raw)
	}
	return b.String()
}

var errNotJSON = errors.New("mongostore: document is not JSON")

func parseJSON(doc []byte) (*jsonValue, error) {
	if !json.Valid(doc) {
		return nil, errNotJSON
	}
	p := &jsonParser{s: doc}
	v := p.value()
	if p.err != nil {
		return nil, p.err
	}
	return v, nil
}

// jsonParser reads valid JSON (json.Valid checked it) into a jsonValue tree.
type jsonParser struct {
	s   []byte
	pos int
	err error
}

func (p *jsonParser) ws() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value() *jsonValue {
	p.ws()
	if p.err != nil || p.pos >= len(p.s) {
		p.fail()
		return &jsonValue{}
	}
	start := p.pos
	v := &jsonValue{}
	switch c := p.s[p.pos]; {
	case c == '{':
		v.kind = jObject
		p.pos++
		p.ws()
		index := map[string]int{}
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			break
		}
		for p.err == nil {
			p.ws()
			key := p.str()
			p.ws()
			p.expect(':')
			child := p.value()
			// A repeated key keeps its last value, as encoding/json does.
			if i, dup := index[key]; dup {
				v.members[i].value = child
			} else {
				index[key] = len(v.members)
				v.members = append(v.members, jsonMember{key: key, value: child})
			}
			p.ws()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			p.expect('}')
			break
		}
	case c == '[':
		v.kind = jArray
		p.pos++
		p.ws()
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			break
		}
		for p.err == nil {
			v.elems = append(v.elems, p.value())
			p.ws()
			if p.pos < len(p.s) && p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			p.expect(']')
			break
		}
	case c == '"':
		v.scalar = p.str()
	case c == 't':
		v.scalar = true
		p.pos += 4
	case c == 'f':
		v.scalar = false
		p.pos += 5
	case c == 'n':
		p.pos += 4
	default:
		end := p.pos
		for end < len(p.s) && bytes.IndexByte([]byte("+-0123456789.eE"), p.s[end]) >= 0 {
			end++
		}
		v.scalar = number(string(p.s[p.pos:end]))
		p.pos = end
	}
	if p.pos > len(p.s) {
		p.fail()
	}
	if p.err == nil {
		v.raw = p.s[start:p.pos]
	}
	return v
}

func (p *jsonParser) fail() {
	if p.err == nil {
		p.err = errNotJSON
	}
}

func (p *jsonParser) expect(c byte) {
	if p.pos >= len(p.s) || p.s[p.pos] != c {
		p.fail()
		return
	}
	p.pos++
}

// str reads a JSON string; encoding/json decodes it (escapes, invalid
// UTF-8 as U+FFFD), as the predicate's view of the thing does.
func (p *jsonParser) str() string {
	if p.pos >= len(p.s) || p.s[p.pos] != '"' {
		p.fail()
		return ""
	}
	end := p.pos + 1
	for end < len(p.s) && p.s[end] != '"' {
		if p.s[end] == '\\' {
			end++
		}
		end++
	}
	if end >= len(p.s) {
		p.fail()
		return ""
	}
	raw := p.s[p.pos : end+1]
	p.pos = end + 1
	var s string
	if bytes.IndexByte(raw, '\\') < 0 && isPlainASCII(raw) {
		return string(raw[1 : len(raw)-1])
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		p.fail()
	}
	return s
}

func isPlainASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// number reads JSON number text as package rql does: an int64 when it is
// an integer that fits, else a float64 (±Inf beyond float64's range).
func number(text string) any {
	if isIntegerText(text) {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return i
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return nil
		}
	}
	return f
}

func isIntegerText(text string) bool {
	if len(text) > 0 && text[0] == '-' {
		text = text[1:]
	}
	if text == "" {
		return false
	}
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return false
		}
	}
	return true
}
