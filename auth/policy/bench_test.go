package policy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// benchPolicy: an owner, a device writing properties, observers of three
// features, users who read everything but two properties, a tenant entry
// restricted to a namespace.
func benchPolicy(b *testing.B) *Policy {
	return policyOf(b,
		"owner: ditto | thing:/ +READ+WRITE ; policy:/ +READ+WRITE ; message:/ +READ+WRITE",
		"device: device | thing:/features +WRITE ; thing:/attributes +READ ; message:/outbox +WRITE",
		"observer: observer | thing:/features/f1 +READ ; thing:/features/f2 +READ ; thing:/features/f3 +READ",
		"users: users | thing:/ +READ ; thing:/features/f1/properties/p1 -READ ; thing:/attributes/a9 -READ",
		"tenant: tenant | thing:/ +READ | ns=com.acme,com.acme.*",
	)
}

// benchThing: 10 attributes, 10 features with 10 properties each (~4 kB).
func benchThing(b *testing.B) any {
	var sb strings.Builder
	sb.WriteString(`{"thingId":"ns:thing","policyId":"ns:p","attributes":{`)
	for i := range 10 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"a%d":{"v":%d,"s":"text"}`, i, i)
	}
	sb.WriteString(`},"features":{`)
	for f := range 10 {
		if f > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `"f%d":{"definition":["ns:def:1.0"],"properties":{`, f)
		for p := range 10 {
			if p > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"p%d":%d.5`, p, p)
		}
		sb.WriteString(`}}`)
	}
	sb.WriteString(`}}`)
	return value(b, sb.String())
}

func BenchmarkCompile(b *testing.B) {
	p := benchPolicy(b)
	b.ReportAllocs()
	for b.Loop() {
		Compile(p, testNow)
	}
}

// Has: a write check (unrestricted WRITE) on a property.
func BenchmarkHas(b *testing.B) {
	e := Compile(benchPolicy(b), testNow)
	subjects := []string{"nginx:device", "nginx:other"}
	b.ReportAllocs()
	for b.Loop() {
		if !e.Has(subjects, "thing:/features/f3/properties/p2", "ns", Write) {
			b.Fatal("denied")
		}
	}
}

// HasPartial: a read check on the whole thing.
func BenchmarkHasPartial(b *testing.B) {
	e := Compile(benchPolicy(b), testNow)
	subjects := []string{"nginx:observer"}
	b.ReportAllocs()
	for b.Loop() {
		if !e.HasPartial(subjects, "thing:/", "ns", Read) {
			b.Fatal("denied")
		}
	}
}

func BenchmarkViewCacheHit(b *testing.B) {
	e := Compile(benchPolicy(b), testNow)
	for _, subjects := range [][]string{{"nginx:users"}, {"nginx:users", "nginx:observer", "google:1234567890"}} {
		b.Run(fmt.Sprint(len(subjects)), func(b *testing.B) {
			e.View(subjects, "ns")
			b.ReportAllocs()
			for b.Loop() {
				e.View(subjects, "ns")
			}
		})
	}
}

func BenchmarkViewBuild(b *testing.B) {
	e := Compile(benchPolicy(b), testNow)
	t := e.trieFor("ns")
	var ibuf [8]int
	idx := t.indices([]string{"nginx:users"}, ibuf[:0])
	b.ReportAllocs()
	for b.Loop() {
		newView(t, idx)
	}
}

// Prune of a whole thing (a retrieve) and of one feature's properties (an
// event) for a reader with two revoked fields, an observer of three features
// and the owner (nothing to prune: the thing is returned as it is).
func BenchmarkPrune(b *testing.B) {
	e := Compile(benchPolicy(b), testNow)
	thing := benchThing(b)
	props := thing.(map[string]any)["features"].(map[string]any)["f1"].(map[string]any)["properties"]
	for _, c := range []struct {
		name    string
		subject string
		root    string
		value   any
	}{
		{"thing/users", "nginx:users", "/", thing},
		{"thing/observer", "nginx:observer", "/", thing},
		{"thing/owner", "nginx:ditto", "/", thing},
		{"event/users", "nginx:users", "/features/f1/properties", props},
		{"event/owner", "nginx:ditto", "/features/f1/properties", props},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := e.View([]string{c.subject}, "ns")
			root, _ := protocol.ParsePointer(c.root)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := v.Prune(TypeThing, root, c.value); !ok {
					b.Fatal("nothing readable")
				}
			}
		})
	}
}
