package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// docPolicyJSON is the example at the end of Ditto's basic-policy.md
// (documentation/src/main/resources/pages/ditto/basic-policy.md, "Example"):
// an owner, an observer entry for featureX and featureY, and a "private"
// entry hiding a city from the group of users. As printed, the page nests the
// private entry's "resources" inside its "subjects" (see
// testdata/basic-policy-example.json, which Parse rejects); here it is where
// the prose says it belongs.
const docPolicyJSON = `{
  "policyId": "my.namespace:policy-a",
  "entries": {
    "owner": {
      "subjects": { "nginx:ditto": { "type": "nginx basic auth user" } },
      "resources": {
        "thing:/": { "grant": ["READ", "WRITE"], "revoke": [] },
        "policy:/": { "grant": ["READ", "WRITE"], "revoke": [] },
        "message:/": { "grant": ["READ", "WRITE"], "revoke": [] }
      }
    },
    "observer": {
      "subjects": {
        "nginx:observer-client": { "type": "technical client" },
        "nginx:some-users": { "type": "a group of users" }
      },
      "resources": {
        "thing:/features/featureX": { "grant": ["READ"], "revoke": [] },
        "thing:/features/featureY": { "grant": ["READ"], "revoke": [] }
      }
    },
    "private": {
      "subjects": { "nginx:some-users": { "type": "a group of users" } },
      "resources": {
        "thing:/features/featureX/properties/location/city": { "grant": [], "revoke": ["READ"] }
      }
    }
  }
}`

var testNow = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

func mustParse(t testing.TB, body string) *Policy {
	t.Helper()
	p, err := Parse("", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// policyOf builds a policy from compact entry specs:
// "label: subj1,subj2 | thing:/a +READ+WRITE -READ ; thing:/b +READ | ns=com.acme,com.acme.*"
func policyOf(t testing.TB, specs ...string) *Policy {
	t.Helper()
	p := &Policy{ID: "ns:p", Entries: map[string]Entry{}}
	for _, spec := range specs {
		label, rest, _ := strings.Cut(spec, ":")
		parts := strings.Split(rest, "|")
		var e Entry
		for _, s := range strings.Split(parts[0], ",") {
			if s = strings.TrimSpace(s); s != "" {
				e.SetSubject("nginx:"+s, Subject{Type: "t"})
			}
		}
		for _, r := range strings.Split(parts[1], ";") {
			words := strings.Fields(r)
			k, err := ParseResourceKey(words[0])
			if err != nil {
				t.Fatal(err)
			}
			perms := Permissions{Grant: []string{}, Revoke: []string{}}
			for _, w := range words[1:] {
				for _, g := range strings.Split(w[1:], "+") {
					if w[0] == '+' {
						perms.Grant = append(perms.Grant, g)
					} else {
						perms.Revoke = append(perms.Revoke, strings.TrimPrefix(g, "-"))
					}
				}
			}
			e.SetResource(k, perms)
		}
		if len(parts) > 2 {
			e.Namespaces = strings.Split(strings.TrimPrefix(strings.TrimSpace(parts[2]), "ns="), ",")
		}
		p.SetEntry(strings.TrimSpace(label), e)
	}
	return p
}

type check struct {
	subjects string // comma-separated, without "nginx:"
	resource string
	perm     Permission
	has      bool // unrestricted
	partial  bool
}

func subjectsOf(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x != "" {
			out = append(out, "nginx:"+x)
		}
	}
	return out
}

func runChecks(t *testing.T, p *Policy, namespace string, checks []check) {
	t.Helper()
	e := Compile(p, testNow)
	for _, c := range checks {
		subjects := subjectsOf(c.subjects)
		has := e.Has(subjects, c.resource, namespace, c.perm)
		partial := e.HasPartial(subjects, c.resource, namespace, c.perm)
		if has != c.has || partial != c.partial {
			t.Errorf("%s %s %s: Has=%v HasPartial=%v, want %v %v", c.subjects, c.resource, c.perm, has, partial, c.has, c.partial)
		}
		// the View answers alike
		typ, path, _ := strings.Cut(c.resource, ":")
		k, _ := ParseResourceKey(c.resource)
		v := e.View(subjects, namespace)
		if v.Has(c.perm, typ, k.Path()) != c.has || v.HasPartial(c.perm, typ, k.Path()) != c.partial {
			t.Errorf("view %s %s %s (%s) differs", c.subjects, c.resource, c.perm, path)
		}
	}
}

// The example of basic-policy.md: the owner may do everything; observer and
// users read featureX and featureY; the users do not see the city.
func TestDocExample(t *testing.T) {
	p := mustParse(t, docPolicyJSON)
	runChecks(t, p, "my.namespace", []check{
		{"ditto", "thing:/", Read, true, true},
		{"ditto", "thing:/", Write, true, true},
		{"ditto", "thing:/features/featureX/properties/location/city", Read, true, true},
		{"ditto", "policy:/", Write, true, true},
		{"ditto", "policy:/entries/owner/subjects", Read, true, true},
		{"ditto", "message:/inbox/messages/hello", Write, true, true},

		{"observer-client", "thing:/", Read, false, true}, // partial: featureX and featureY
		{"observer-client", "thing:/attributes", Read, false, false},
		{"observer-client", "thing:/features", Read, false, true},
		{"observer-client", "thing:/features/featureX", Read, true, true},
		{"observer-client", "thing:/features/featureX/properties/location/city", Read, true, true},
		{"observer-client", "thing:/features/featureY/properties/x", Read, true, true},
		{"observer-client", "thing:/features/featureZ", Read, false, false},
		{"observer-client", "thing:/features/featureX", Write, false, false}, // READ does not imply WRITE
		{"observer-client", "policy:/", Read, false, false},
		{"observer-client", "message:/", Read, false, false},

		{"some-users", "thing:/", Read, false, true},
		{"some-users", "thing:/features/featureX", Read, false, true}, // the city below is revoked
		{"some-users", "thing:/features/featureX/properties", Read, false, true},
		{"some-users", "thing:/features/featureX/properties/location", Read, false, true},
		{"some-users", "thing:/features/featureX/properties/location/city", Read, false, false},
		{"some-users", "thing:/features/featureX/properties/location/city/zip", Read, false, false},
		{"some-users", "thing:/features/featureX/properties/location/street", Read, true, true},
		{"some-users", "thing:/features/featureY", Read, true, true},

		// Several subjects: the revoke for the users (deeper) beats the
		// observer's grant (shallower) for the pair.
		{"observer-client,some-users", "thing:/features/featureX/properties/location/city", Read, false, false},
		{"observer-client,some-users", "thing:/features/featureY", Read, true, true},
		{"ditto,some-users", "thing:/features/featureX/properties/location/city", Read, false, false},
		{"ditto,some-users", "thing:/attributes", Read, true, true},
		{"ditto,some-users", "thing:/", Read, false, true},

		{"stranger", "thing:/", Read, false, false},
		{"", "thing:/", Read, false, false},
	})
}

// The rules of §11.3 and basic-policy.md's "Grant and Revoke" table.
func TestEvaluationRules(t *testing.T) {
	tests := []struct {
		name    string
		entries []string
		checks  []check
	}{
		{"grant inherited downwards", []string{"a: u | thing:/ +READ"}, []check{
			{"u", "thing:/", Read, true, true},
			{"u", "thing:/attributes/x/y", Read, true, true},
			{"u", "thing:/", Write, false, false},
			{"u", "policy:/", Read, false, false},
		}},
		{"revoke at a deeper level", []string{"a: u | thing:/ +READ+WRITE ; thing:/attributes/secret -READ"}, []check{
			{"u", "thing:/", Read, false, true},
			{"u", "thing:/", Write, true, true},
			{"u", "thing:/attributes", Read, false, true},
			{"u", "thing:/attributes/secret", Read, false, false},
			{"u", "thing:/attributes/secret/x", Read, false, false},
			{"u", "thing:/attributes/public", Read, true, true},
			{"u", "thing:/features", Read, true, true},
		}},
		{"re-grant below a revoke", []string{"a: u | thing:/ +READ ; thing:/features -READ ; thing:/features/public +READ"}, []check{
			{"u", "thing:/", Read, false, true},
			{"u", "thing:/features", Read, false, true},
			{"u", "thing:/features/public", Read, true, true},
			{"u", "thing:/features/public/properties/x", Read, true, true},
			{"u", "thing:/features/secret", Read, false, false},
			{"u", "thing:/attributes", Read, true, true},
		}},
		{"revoke beats grant at the same node across entries", []string{
			"a: u | thing:/attributes +READ",
			"b: u | thing:/attributes -READ",
		}, []check{
			{"u", "thing:/attributes", Read, false, false},
			{"u", "thing:/attributes/x", Read, false, false},
			{"u", "thing:/", Read, false, false},
		}},
		{"revoke of another subject at the same node", []string{
			"a: u1 | thing:/ +READ",
			"b: u2 | thing:/ -READ",
		}, []check{
			{"u1", "thing:/", Read, true, true},
			{"u2", "thing:/", Read, false, false},
			{"u1,u2", "thing:/", Read, false, false},
			{"u1,u2", "thing:/attributes", Read, false, false},
		}},
		{"deeper grant of one subject beats shallower revoke of another", []string{
			"a: u1 | thing:/attributes +READ",
			"b: u2 | thing:/ -READ",
		}, []check{
			{"u1,u2", "thing:/attributes", Read, true, true},
			{"u1,u2", "thing:/", Read, false, true},
			{"u1,u2", "thing:/features", Read, false, false},
		}},
		{"deeper revoke of one subject beats shallower grant of another", []string{
			"a: u1 | thing:/ +READ",
			"b: u2 | thing:/attributes -READ",
		}, []check{
			{"u1", "thing:/attributes", Read, true, true},
			{"u1,u2", "thing:/attributes", Read, false, false},
			{"u1,u2", "thing:/features", Read, true, true},
			{"u1,u2", "thing:/", Read, false, true},
		}},
		{"grant in one entry, revoke deeper in another", []string{
			"a: u | thing:/ +READ+WRITE",
			"b: u | thing:/features/lamp -WRITE",
		}, []check{
			{"u", "thing:/", Write, false, true},
			{"u", "thing:/features", Write, false, true},
			{"u", "thing:/features/lamp", Write, false, false},
			{"u", "thing:/features/other", Write, true, true},
			{"u", "thing:/features/lamp", Read, true, true},
		}},
		{"WRITE without READ", []string{"a: u | thing:/ +WRITE"}, []check{
			{"u", "thing:/", Write, true, true},
			{"u", "thing:/", Read, false, false},
			{"u", "thing:/attributes/x", Read, false, false},
		}},
		{"READ below only", []string{"a: u | thing:/features/lamp/properties/on +READ"}, []check{
			{"u", "thing:/", Read, false, true},
			{"u", "thing:/features/lamp", Read, false, true},
			{"u", "thing:/features/lamp/properties/on", Read, true, true},
			{"u", "thing:/features/lamp/properties/level", Read, false, false},
			{"u", "thing:/attributes", Read, false, false},
		}},
		{"EXECUTE on a policy action", []string{"a: u | policy:/entries/owner/actions/activateTokenIntegration +EXECUTE"}, []check{
			{"u", "policy:/entries/owner/actions/activateTokenIntegration", Execute, true, true},
			{"u", "policy:/entries/owner/actions/deactivateTokenIntegration", Execute, false, false},
			{"u", "policy:/", Execute, false, true},
			{"u", "policy:/", Write, false, false},
		}},
		{"message:/inbox does not cover feature messages", []string{"a: u | message:/inbox +WRITE ; message:/features/lamp/outbox +READ"}, []check{
			{"u", "message:/inbox/messages/turnOn", Write, true, true},
			{"u", "message:/outbox/messages/turnOn", Write, false, false},
			{"u", "message:/features/lamp/inbox/messages/turnOn", Write, false, false},
			{"u", "message:/features/lamp/outbox/messages/state", Read, true, true},
		}},
		{"unknown permissions and types mean nothing", []string{"a: u | thing:/ +ADMIN ; connection:/ +READ"}, []check{
			{"u", "thing:/", Read, false, false},
			{"u", "thing:/", Write, false, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runChecks(t, policyOf(t, tt.entries...), "ns", tt.checks)
		})
	}
}

func TestSubjectExpiry(t *testing.T) {
	p := policyOf(t, "a: u, v | thing:/ +READ", "b: w | thing:/attributes -READ")
	past, future := testNow.Add(-time.Second), testNow.Add(time.Hour)
	e := p.Entries["a"]
	e.SetSubject("nginx:u", Subject{Type: "t", Expiry: &past})
	e.SetSubject("nginx:v", Subject{Type: "t", Expiry: &future})
	p.SetEntry("a", e)
	e = p.Entries["b"]
	e.SetSubject("nginx:w", Subject{Type: "t", Expiry: &past})
	p.SetEntry("b", e)
	p.SetEntry("c", policyOf(t, "c: w | thing:/ +READ").Entries["c"])

	runChecks(t, p, "ns", []check{
		{"u", "thing:/", Read, false, false}, // expired: grants nothing
		{"v", "thing:/", Read, true, true},
		{"w", "thing:/attributes", Read, true, true}, // its expired revoke is gone too
	})
	enf := Compile(p, testNow)
	if !enf.Expires().Equal(future) || enf.Stale(future) || !enf.Stale(future.Add(time.Nanosecond)) {
		t.Fatalf("Expires %v", enf.Expires())
	}
	// compiled later, v is expired as well
	if Compile(p, future.Add(time.Second)).Has([]string{"nginx:v"}, "thing:/", "ns", Read) {
		t.Fatal("v still granted after its expiry")
	}
}

func TestNamespaces(t *testing.T) {
	p := policyOf(t,
		"owner: admin | thing:/ +READ+WRITE",
		"tenant: bob | thing:/ +READ | ns=com.acme,com.acme.*",
		"subtree: carol | thing:/ +READ | ns=com.acme.*",
		"hide: bob | thing:/attributes -READ | ns=com.acme.secret",
	)
	tests := []struct {
		ns                  string
		bob, carol, bobAttr bool
	}{
		{"com.acme", true, false, true},
		{"com.acme.vehicles", true, true, true},
		{"com.acme.secret", true, true, false},
		{"com.acmex", false, false, false},
		{"org.other", false, false, false},
		{"", false, false, false},
	}
	for _, tt := range tests {
		runChecks(t, p, tt.ns, []check{
			{"admin", "thing:/", Read, true, true},
			{"bob", "thing:/features", Read, tt.bob, tt.bob},
			{"carol", "thing:/", Read, tt.carol, tt.carol},
			{"bob", "thing:/attributes", Read, tt.bobAttr, tt.bobAttr},
		})
	}
	// many namespaces: the bounded cache is emptied and refilled
	e := Compile(p, testNow)
	for i := range maxNamespaces * 2 {
		ns := fmt.Sprintf("com.acme.n%d", i)
		if !e.Has([]string{"nginx:carol"}, "thing:/", ns, Read) {
			t.Fatal(ns)
		}
	}
}

func TestSubjectsWithPartial(t *testing.T) {
	e := Compile(mustParse(t, docPolicyJSON), testNow)
	tests := []struct {
		resource string
		want     string
	}{
		{"thing:/", "nginx:ditto,nginx:observer-client,nginx:some-users"},
		{"thing:/attributes/location", "nginx:ditto"},
		{"thing:/features/featureX/properties/location/city", "nginx:ditto,nginx:observer-client"},
		{"thing:/features/featureY/properties/city", "nginx:ditto,nginx:observer-client,nginx:some-users"},
		{"policy:/entries", "nginx:ditto"},
	}
	for _, tt := range tests {
		if got := strings.Join(e.SubjectsWithPartial(tt.resource, "my.namespace", Read), ","); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.resource, got, tt.want)
		}
	}
}
