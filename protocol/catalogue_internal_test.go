package protocol

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// Every catalogued code has a real HTTP error status and a description.
func TestCatalogueComplete(t *testing.T) {
	for code, kind := range catalogue {
		if kind.status < 300 || kind.status > 599 || kind.description == "" {
			t.Errorf("%s: %+v", code, kind)
		}
		if e := Errorf(code, "x"); e.Code != code || e.Status != kind.status {
			t.Errorf("Errorf(%s) = %+v", code, e)
		}
	}
}

// Every Code… constant in codes.go has a catalogue entry, so that none of
// them turns into a 500 at run time.
func TestEveryCodeConstantCatalogued(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		vs, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
				continue
			}
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			code, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if _, ok := catalogue[code]; !ok {
				t.Errorf("%s = %q has no catalogue entry", name.Name, code)
			}
		}
		return true
	})
	if n < 40 {
		t.Fatalf("found only %d code constants", n)
	}
}
