package rql_test

import (
	"testing"

	"github.com/twinway/twinway/rql"
)

// A realistic thing (about 500 bytes of JSON) and a typical three-clause
// filter on it.
const benchThingJSON = `{"thingId":"org.example:device-000042","policyId":"org.example:policy",
"_namespace":"org.example","_revision":17,"_modified":"2025-01-01T00:00:42Z",
"definition":"org.example:Sensor:1.0.0",
"attributes":{"manufacturer":"ACME-42","serial":"SN-0000042","model":"T0","location":{"building":"B2","floor":2}},
"features":{"temperature":{"properties":{"value":21.5,"unit":"°C"}},"humidity":{"properties":{"value":72,"unit":"%"}},
"battery":{"properties":{"level":42,"charging":true},"desiredProperties":{"charging":true}}}}`

const benchFilter = `and(eq(attributes/manufacturer,"ACME-42"),gt(features/temperature/properties/value,20),like(attributes/location/building,"B*"))`

func BenchmarkMatch(b *testing.B) {
	thing := decodeThing(b, benchThingJSON)
	for _, bm := range []struct{ name, filter string }{
		{"3-clauses", benchFilter},
		{"wildcard-feature", `gt(features/*/properties/level,40)`},
		{"miss-first", `and(eq(attributes/manufacturer,"ACME-1"),gt(features/temperature/properties/value,20))`},
		{"time-placeholder", `gt(_modified,time:now-1000d)`},
	} {
		b.Run(bm.name, func(b *testing.B) {
			n, err := rql.ParseFilter(bm.filter)
			if err != nil {
				b.Fatal(err)
			}
			p, err := rql.Compile(n)
			if err != nil {
				b.Fatal(err)
			}
			in := rql.Input{Thing: thing}
			want := p.Match(in)
			b.ReportAllocs()
			for b.Loop() {
				if p.Match(in) != want {
					b.Fatal("unstable")
				}
			}
		})
	}
}

func BenchmarkParseFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rql.ParseFilter(benchFilter); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	n, _ := rql.ParseFilter(benchFilter)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rql.Compile(n); err != nil {
			b.Fatal(err)
		}
	}
}
