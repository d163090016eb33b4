package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twinway/twinway/protocol"
)

// entryJSON wraps one entry's JSON in a policy.
func entryJSON(label, entry string) string {
	return fmt.Sprintf(`{"policyId":"ns:p","entries":{%s:%s}}`, jsonString(label), entry)
}

const okResources = `"resources":{"policy:/":{"grant":["READ","WRITE"],"revoke":[]}}`

func subjectEntry(id, subject string) string {
	return fmt.Sprintf(`{"subjects":{%s:%s},%s}`, jsonString(id), subject, okResources)
}

func resourceEntry(key, perms string) string {
	return fmt.Sprintf(`{"subjects":{"nginx:ditto":{"type":"t"}},"resources":{%s:%s}}`, jsonString(key), perms)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func errorCode(t *testing.T, err error) (string, int) {
	t.Helper()
	if err == nil {
		return "", 0
	}
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("not a Ditto error: %v", err)
	}
	return e.Code, e.Status
}

func TestParseValidation(t *testing.T) {
	imports := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`"ns:imp%d":{}`, i))
		}
		return `{"policyId":"ns:p","imports":{` + strings.Join(parts, ",") + `},"entries":{}}`
	}
	literalDocExample, err := os.ReadFile("testdata/basic-policy-example.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		id     string
		body   string
		code   string // "" = valid
		status int
	}{
		{"minimal", "ns:p", `{}`, "", 0},
		{"no json", "ns:p", `{"entries":`, protocol.CodeJSONInvalid, 400},
		{"array", "ns:p", `[]`, protocol.CodeJSONInvalid, 400},
		{"trailing data", "ns:p", `{} {}`, protocol.CodeJSONInvalid, 400},
		{"invalid URL id", "no-namespace", `{}`, protocol.CodePolicyIDInvalid, 400},
		{"other policyId", "ns:p", `{"policyId":"ns:other"}`, protocol.CodePolicyIDNotSettable, 400},
		{"policyId not a string", "ns:p", `{"policyId":5}`, protocol.CodePolicyIDNotSettable, 400},
		{"invalid body id", "", `{"policyId":"bad id/x"}`, protocol.CodePolicyIDInvalid, 400},
		{"entries not an object", "ns:p", `{"entries":[]}`, protocol.CodeJSONInvalid, 400},
		{"entry not an object", "ns:p", `{"entries":{"a":5}}`, protocol.CodeJSONInvalid, 400},

		{"label imported-", "", entryJSON("imported-x", `{}`), protocol.CodePolicyLabelInvalid, 400},
		{"label importedX", "", entryJSON("importedX", `{}`), protocol.CodePolicyLabelInvalid, 400},
		{"label nsimported", "", entryJSON("nsimported-root-a", `{}`), protocol.CodePolicyLabelInvalid, 400},
		{"label with slash", "", entryJSON("a/b", `{}`), protocol.CodePolicyEntryInvalid, 400},
		{"label with control char", "", entryJSON("a\u0001", `{}`), protocol.CodePolicyEntryInvalid, 400},
		{"label too long", "", entryJSON(strings.Repeat("l", 257), `{}`), protocol.CodePolicyEntryInvalid, 400},
		{"label empty", "", entryJSON("", `{}`), protocol.CodePolicyEntryInvalid, 400},
		{"label ok", "", entryJSON("my-import", `{}`), "", 0},

		{"subject without issuer", "", entryJSON("a", subjectEntry("ditto", `{"type":"t"}`)), protocol.CodePolicySubjectIDInvalid, 400},
		{"subject without subject", "", entryJSON("a", subjectEntry("nginx:", `{"type":"t"}`)), protocol.CodePolicySubjectIDInvalid, 400},
		{"subject with control char", "", entryJSON("a", subjectEntry("nginx:a\u0002", `{"type":"t"}`)), protocol.CodePolicySubjectIDInvalid, 400},
		{"subject too long", "", entryJSON("a", subjectEntry("nginx:"+strings.Repeat("s", 251), `{"type":"t"}`)), protocol.CodePolicySubjectIDInvalid, 400},
		{"subject URL issuer", "", entryJSON("a", subjectEntry("https://issuer.example:sub", `{"type":"t"}`)), "", 0},
		{"subject URL issuer only", "", entryJSON("a", subjectEntry("https://issuer.example", `{"type":"t"}`)), protocol.CodePolicySubjectIDInvalid, 400},
		{"subject placeholder", "", entryJSON("a", subjectEntry("{{ jwt:sub }}", `{"type":"t"}`)), "", 0},
		{"subject colon in subject", "", entryJSON("a", subjectEntry("integration:label:aud", `{"type":"t"}`)), "", 0},
		{"subject without type", "", entryJSON("a", subjectEntry("nginx:a", `{}`)), protocol.CodeJSONFieldMissing, 400},
		{"subject type not a string", "", entryJSON("a", subjectEntry("nginx:a", `{"type":5}`)), protocol.CodeJSONInvalid, 400},
		{"subject not an object", "", entryJSON("a", subjectEntry("nginx:a", `"user"`)), protocol.CodeJSONInvalid, 400},
		{"subject expiry invalid", "", entryJSON("a", subjectEntry("nginx:a", `{"type":"t","expiry":"tomorrow"}`)), protocol.CodePolicySubjectExpiryInvalid, 400},
		{"subject expiry ok", "", entryJSON("a", subjectEntry("nginx:a", `{"type":"t","expiry":"2099-12-31T23:59:59Z"}`)), "", 0},
		{"subject announcement", "", entryJSON("a", subjectEntry("nginx:a", `{"type":"t","announcement":{"whenDeleted":true}}`)), "", 0},
		{"subjects not an object", "", entryJSON("a", `{"subjects":[]}`), protocol.CodeJSONInvalid, 400},

		{"resource without type", "", entryJSON("a", resourceEntry("/attributes", `{"grant":[],"revoke":[]}`)), protocol.CodeJSONInvalid, 400},
		{"resource empty type", "", entryJSON("a", resourceEntry(":/attributes", `{"grant":[],"revoke":[]}`)), protocol.CodeJSONInvalid, 400},
		{"resource double slash", "", entryJSON("a", resourceEntry("thing:/a//b", `{"grant":[],"revoke":[]}`)), protocol.CodeJSONPointerInvalid, 400},
		{"resource control char", "", entryJSON("a", resourceEntry("thing:/a\u0003", `{"grant":[],"revoke":[]}`)), protocol.CodePolicyEntryInvalid, 400},
		{"resource latin-1 char", "", entryJSON("a", resourceEntry("thing:/grüße", `{"grant":[],"revoke":[]}`)), protocol.CodePolicyEntryInvalid, 400},
		{"resource too long", "", entryJSON("a", resourceEntry("thing:/"+strings.Repeat("x", 250), `{"grant":[],"revoke":[]}`)), protocol.CodePolicyEntryInvalid, 400},
		{"resource not an object", "", entryJSON("a", resourceEntry("thing:/", `["READ"]`)), protocol.CodeJSONInvalid, 400},
		{"resource without revoke", "", entryJSON("a", resourceEntry("thing:/", `{"grant":["READ"]}`)), protocol.CodeJSONFieldMissing, 400},
		{"resource without grant", "", entryJSON("a", resourceEntry("thing:/", `{"revoke":[]}`)), protocol.CodeJSONFieldMissing, 400},
		{"grant not an array", "", entryJSON("a", resourceEntry("thing:/", `{"grant":"READ","revoke":[]}`)), protocol.CodeJSONInvalid, 400},
		{"unknown permission kept", "", entryJSON("a", resourceEntry("thing:/", `{"grant":["READ","ADMINISTRATE"],"revoke":[]}`)), "", 0},
		{"other resource type kept", "", entryJSON("a", resourceEntry("connection:/", `{"grant":["READ"],"revoke":[]}`)), "", 0},
		{"duplicate resource", "", entryJSON("a", `{"subjects":{},"resources":{"thing:/a":{"grant":[],"revoke":[]},"thing:a":{"grant":[],"revoke":[]}}}`), protocol.CodePolicyEntryInvalid, 400},

		{"namespaces ok", "", entryJSON("a", `{"namespaces":["com.acme","com.acme.*"]}`), "", 0},
		{"namespaces not an array", "", entryJSON("a", `{"namespaces":"com.acme"}`), protocol.CodeJSONInvalid, 400},
		{"namespaces not strings", "", entryJSON("a", `{"namespaces":[5]}`), protocol.CodePolicyEntryInvalid, 400},
		{"namespace pattern *", "", entryJSON("a", `{"namespaces":["*"]}`), protocol.CodePolicyEntryInvalid, 400},
		{"namespace pattern empty", "", entryJSON("a", `{"namespaces":[""]}`), protocol.CodePolicyEntryInvalid, 400},
		{"namespace pattern inner *", "", entryJSON("a", `{"namespaces":["com.*.x"]}`), protocol.CodePolicyEntryInvalid, 400},
		{"importable never", "", entryJSON("a", `{"importable":"never"}`), "", 0},
		{"importable invalid", "", entryJSON("a", `{"importable":"sometimes"}`), protocol.CodePolicyEntryInvalid, 400},
		{"allowedAdditions ok", "", entryJSON("a", `{"allowedAdditions":["subjects","resources"]}`), "", 0},
		{"allowedAdditions invalid", "", entryJSON("a", `{"allowedAdditions":["things"]}`), protocol.CodePolicyEntryInvalid, 400},
		{"references ok", "", entryJSON("a", `{"references":[{"import":"ns:other","entry":"driver"},{"entry":"local"}]}`), "", 0},
		{"references not objects", "", entryJSON("a", `{"references":["driver"]}`), protocol.CodePolicyEntryInvalid, 400},
		{"references without entry", "", entryJSON("a", `{"references":[{"import":"ns:other"}]}`), protocol.CodeJSONFieldMissing, 400},
		{"references empty import", "", entryJSON("a", `{"references":[{"import":"","entry":"x"}]}`), protocol.CodeJSONInvalid, 400},

		{"imports ok", "", `{"policyId":"ns:p","imports":{"ns:imported":{"entries":["EXPLICIT"]},"ns:another":{}}}`, "", 0},
		{"imports self", "", `{"policyId":"ns:p","imports":{"ns:p":{}}}`, protocol.CodePolicyImportInvalid, 400},
		{"imports transitive self", "", `{"policyId":"ns:p","imports":{"ns:a":{"transitiveImports":["ns:p"]}}}`, protocol.CodePolicyImportInvalid, 400},
		{"imports transitive not strings", "", `{"policyId":"ns:p","imports":{"ns:a":{"transitiveImports":[1]}}}`, protocol.CodePolicyImportInvalid, 400},
		{"imports invalid id", "", `{"policyId":"ns:p","imports":{"nocolon":{}}}`, protocol.CodePolicyIDInvalid, 400},
		{"imports not an object", "", `{"policyId":"ns:p","imports":{"ns:a":[]}}`, protocol.CodeJSONInvalid, 400},
		{"imports 10", "", imports(10), "", 0},
		{"imports 11", "", imports(11), protocol.CodePolicyImportsTooLarge, 400},
		{"imports label imported", "", `{"policyId":"ns:p","imports":{"ns:a":{"entries":["imported-x"]}}}`, protocol.CodePolicyLabelInvalid, 400},

		{"too large", "ns:p", bigPolicy(MaxPolicySize + 1), protocol.CodePolicyTooLarge, 413},
		{"largest", "ns:p", bigPolicy(MaxPolicySize), "", 0},

		// basic-policy.md's example as printed nests "resources" in "subjects"
		// of the entry "private": a subject without "type".
		{"basic-policy.md example as printed", "my.namespace:policy-a", string(literalDocExample), protocol.CodeJSONFieldMissing, 400},
		{"basic-policy.md example corrected", "my.namespace:policy-a", docPolicyJSON, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.id, []byte(tt.body))
			code, status := errorCode(t, err)
			if code != tt.code || status != tt.status {
				t.Fatalf("got %s %d (%v), want %s %d", code, status, err, tt.code, tt.status)
			}
		})
	}
}

// bigPolicy is a policy whose JSON is exactly size characters long.
func bigPolicy(size int) string {
	p := DefaultPolicy("ns:p", "nginx:ditto")
	base := len(p.JSON())
	var e Entry
	e.SetSubject("nginx:x", Subject{Type: ""})
	p.SetEntry("pad", e)
	pad := size - len(p.JSON())
	if pad < 0 {
		panic(base)
	}
	e.SetSubject("nginx:x", Subject{Type: strings.Repeat("t", pad)})
	p.SetEntry("pad", e)
	if len(p.JSON()) != size {
		panic(len(p.JSON()))
	}
	return string(p.JSON())
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		body, message, description string
	}{
		{entryJSON("imported-x", `{}`), "Label 'imported-x' is not valid!",
			"It must not start with the blocklisted 'imported' or 'nsimported' prefix."},
		{entryJSON("a", subjectEntry("ditto", `{"type":"t"}`)), "Subject ID 'ditto' is not valid!",
			"It must contain an issuer as prefix separated by a colon ':' from the actual subject"},
		{entryJSON("a", resourceEntry("thing:/", `{"grant":[]}`)), "JSON did not include required </revoke> field!",
			"Check if all required JSON fields were set."},
		{entryJSON("a", subjectEntry("nginx:a", `{}`)), "The 'type' for the 'subject' is missing.",
			"Check if all required JSON fields were set."},
		{entryJSON("a", `{"importable":"x"}`), "The Policy Entry is invalid.",
			"The value 'x' of field '/importable' is not valid. Valid values are: [implicit, explicit, never]"},
		{`{"policyId":"ns:p","imports":{"ns:p":{}}}`, "The Policy Import is invalid.",
			"The Policy Import references the policy where it is defined."},
		{bigPolicy(MaxPolicySize + 1), "The size of '100.001' kB exceeds the maximal allowed Policy size of '100' kB.",
			"Reduce the Policy size in the bounds of the specified limit"},
		{entryJSON("a", subjectEntry("nginx:a", `{"type":"t","expiry":"soon"}`)), "Subject expiry timestamp 'soon' is not valid.",
			"It must be provided as ISO-8601 formatted char sequence."},
	}
	for _, tt := range tests {
		_, err := Parse("", []byte(tt.body))
		var e *protocol.Error
		if !errors.As(err, &e) || e.Message != tt.message || e.Description != tt.description {
			t.Errorf("%.60s: got %+v", tt.body, err)
		}
	}
}

func TestParseNormalizesAndKeeps(t *testing.T) {
	body := `{"policyId":"ns:p","entries":{
		"b":{"subjects":{"nginx:z":{"type":"t","expiry":"2099-12-31T23:59:59+01:00"},"nginx:a":{"type":"t"}},
		     "resources":{"thing:features/":{"grant":["READ","READ",5,"FOO"],"revoke":[]},"thing:":{"grant":[],"revoke":["WRITE"]}},
		     "namespaces":["com.acme","com.acme"]},
		"a":{"subjects":{},"resources":{}}}}`
	p, err := Parse("ns:p", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"policyId":"ns:p","imports":{},"entries":{"b":{"subjects":{"nginx:z":{"type":"t","expiry":"2099-12-31T22:59:59Z"},"nginx:a":{"type":"t"}},` +
		`"resources":{"thing:/features":{"grant":["READ","FOO"],"revoke":[]},"thing:/":{"grant":[],"revoke":["WRITE"]}},` +
		`"namespaces":["com.acme"],"importable":"implicit"},"a":{"subjects":{},"resources":{},"importable":"implicit"}}}`
	if got := string(p.JSON()); got != want {
		t.Fatalf("JSON\n got %s\nwant %s", got, want)
	}
	if got := p.Labels(); strings.Join(got, ",") != "b,a" {
		t.Fatalf("labels %v", got)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, body := range []string{
		docPolicyJSON,
		`{"policyId":"ns:p","imports":{"ns:imported":{"entries":["EXPLICIT"],"transitiveImports":["ns:t"]},"ns:another":{}},` +
			`"entries":{"x":{"subjects":{"nginx:a":{"type":"t","expiry":"2099-12-31T23:59:59.123Z","announcement":{"beforeExpiry":"1h","whenDeleted":true}}},` +
			`"resources":{"message:/inbox":{"grant":["WRITE"],"revoke":["READ"]}},"namespaces":["com.acme.*"],"importable":"explicit",` +
			`"allowedAdditions":["subjects"],"references":[{"import":"ns:imported","entry":"EXPLICIT"}]}}}`,
		string(DefaultPolicy("ns:thing", "nginx:ditto").JSON()),
	} {
		p, err := Parse("", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		first := p.JSON()
		q, err := Parse(p.ID, first)
		if err != nil {
			t.Fatal(err)
		}
		if second := q.JSON(); string(first) != string(second) {
			t.Fatalf("round trip\n%s\n%s", first, second)
		}
	}
}

func TestStoredJSON(t *testing.T) {
	p := DefaultPolicy("ns:thing", "nginx:ditto")
	p.Revision = 7
	p.Created = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	p.Modified = p.Created.Add(time.Millisecond)
	q, err := Parse("", p.StoredJSON())
	if err != nil {
		t.Fatal(err)
	}
	if q.Revision != 7 || !q.Created.Equal(p.Created) || !q.Modified.Equal(p.Modified) || string(q.JSON()) != string(p.JSON()) {
		t.Fatalf("%s", q.StoredJSON())
	}
}

func TestDefaultPolicyJSON(t *testing.T) {
	got := string(DefaultPolicy("org.eclipse.ditto:fancy-thing", "nginx:ditto").JSON())
	want := `{"policyId":"org.eclipse.ditto:fancy-thing","imports":{},"entries":{"DEFAULT":{"subjects":{"nginx:ditto":{"type":"generated"}},` +
		`"resources":{"thing:/":{"grant":["READ","WRITE"],"revoke":[]},"policy:/":{"grant":["READ","WRITE"],"revoke":[]},` +
		`"message:/":{"grant":["READ","WRITE"],"revoke":[]}},"importable":"implicit"}}}`
	if got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	parse := func(body string) *Policy {
		p, err := Parse("", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	writer := `"resources":{"policy:/":{"grant":["WRITE"],"revoke":[]}}`
	tests := []struct {
		name string
		body string
		code string
	}{
		{"default policy", string(DefaultPolicy("ns:p", "nginx:a").JSON()), ""},
		{"no entries", `{"policyId":"ns:p"}`, protocol.CodePolicyModificationInvalid},
		{"only READ", entryJSON("a", `{"subjects":{"nginx:a":{"type":"t"}},"resources":{"policy:/":{"grant":["READ"],"revoke":[]}}}`), protocol.CodePolicyModificationInvalid},
		{"WRITE below policy:/ only", entryJSON("a", `{"subjects":{"nginx:a":{"type":"t"}},"resources":{"policy:/entries":{"grant":["WRITE"],"revoke":[]}}}`), protocol.CodePolicyModificationInvalid},
		{"writer expires", entryJSON("a", `{"subjects":{"nginx:a":{"type":"t","expiry":"2031-01-01T00:00:00Z"}},`+writer+`}`), protocol.CodePolicyModificationInvalid},
		{"writer expired", entryJSON("a", `{"subjects":{"nginx:a":{"type":"t","expiry":"2029-01-01T00:00:00Z"}},`+writer+`}`), protocol.CodePolicySubjectExpiryInvalid},
		{"writer revoked elsewhere", `{"policyId":"ns:p","entries":{"a":{"subjects":{"nginx:a":{"type":"t"}},` + writer + `},` +
			`"b":{"subjects":{"nginx:a":{"type":"t"}},"resources":{"policy:/":{"grant":[],"revoke":["WRITE"]}}}}}`, protocol.CodePolicyModificationInvalid},
		{"one of two writers revoked", `{"policyId":"ns:p","entries":{"a":{"subjects":{"nginx:a":{"type":"t"},"nginx:b":{"type":"t"}},` + writer + `},` +
			`"b":{"subjects":{"nginx:a":{"type":"t"}},"resources":{"policy:/":{"grant":[],"revoke":["WRITE"]}}}}}`, ""},
		{"with imports", `{"policyId":"ns:p","imports":{"ns:root":{}}}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _ := errorCode(t, Validate(parse(tt.body), now))
			if code != tt.code {
				t.Fatalf("got %q, want %q", code, tt.code)
			}
		})
	}
}

func TestLocksOut(t *testing.T) {
	p := DefaultPolicy("ns:thing", "nginx:ditto")
	if LocksOut(p, []string{"nginx:ditto"}) {
		t.Fatal("owner locked out of the default policy")
	}
	if !LocksOut(p, []string{"nginx:other"}) {
		t.Fatal("stranger not locked out")
	}
	e := p.Entries[DefaultLabel].Clone()
	e.SetResource("policy:/entries", Permissions{Grant: []string{}, Revoke: []string{"WRITE"}})
	p.SetEntry(DefaultLabel, e)
	if !LocksOut(p, []string{"nginx:ditto"}) {
		t.Fatal("a revoke below policy:/ leaves no unrestricted WRITE")
	}
}

func TestResourceKey(t *testing.T) {
	k, err := ParseResourceKey("thing:features/lamp/")
	if err != nil || k != "thing:/features/lamp" || k.Type() != "thing" || k.Path().String() != "/features/lamp" {
		t.Fatalf("%q %v", k, err)
	}
	if k, _ := ParseResourceKey("policy:"); k != "policy:/" {
		t.Fatalf("%q", k)
	}
}

// FuzzParse: Parse never panics, and what it accepts writes JSON that parses
// to the same JSON.
func FuzzParse(f *testing.F) {
	f.Add(docPolicyJSON)
	f.Add(string(DefaultPolicy("ns:t", "nginx:a").JSON()))
	f.Add(entryJSON("a", `{"subjects":{"https://x:y":{"type":"t","expiry":"2099-01-01T00:00:00Z"}},"resources":{"thing:a//":{"grant":[],"revoke":[]}},"namespaces":["a.*"]}`))
	f.Add(`{"policyId":"ns:p","imports":{"ns:a":{"entries":["x"],"transitiveImports":["ns:b"]}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		p, err := Parse("", []byte(body))
		if err != nil {
			return
		}
		first := p.JSON()
		q, err := Parse("", first)
		if err != nil {
			t.Fatalf("own JSON rejected: %v\n%s", err, first)
		}
		if second := q.JSON(); string(second) != string(first) {
			t.Fatalf("unstable\n%s\n%s", first, second)
		}
		Compile(p, testNow).View([]string{"nginx:a"}, p.Namespace())
	})
}
