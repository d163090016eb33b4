package twin

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// treeInputs are JSON texts of every shape: decodeValue must decode each as
// protocol.DecodeValue does, whether its own decoder reads it or not.
var treeInputs = []string{
	``, ` `, `"`, `""`, `"a"`, `"ä温"`, `"a\"b"`, `"a\\b"`, `"\u00e4"`, "\"a\tb\"", "\"\xff\"", `"a"b"`, `"a" `, ` "a"`,
	`0`, `-0`, `1`, `-1`, `21.5`, `1e3`, `1E+3`, `1e-3`, `-1.25e-10`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`, `1-2`,
	`1x`, `12345678901234567890123456789`, `0.0000`, `1 `, `true`, `false`, `null`, `tru`, `nul`, `truex`, `[truex]`,
	`{}`, `[]`, `{"a":1}`, `[1,2]`, `NaN`, `Infinity`, ` {"a" : [ 1 , {"b":null} ] } `, `{"a":1,"a":2}`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{a:1}`, `{"a":1}}`, `{"a":1}]`, `{"a":1} {"b":2}`, `[[[]]]`, `{"":""}`,
	`{"thingId":"org.example:t","policyId":"org.example:t","features":{"sensor":{"properties":{"value":21.5,"on":true,"tags":["a","b"]}}}}`,
	strings.Repeat("[", 150) + strings.Repeat("]", 150), "{\"k\xff\":1}", `{"k":"\u2028"}`, "{\"k\":\"\u2028\"}",
}

func checkTree(t *testing.T, raw []byte) {
	t.Helper()
	got, gotErr := decodeValue(raw)
	want, wantErr := protocol.DecodeValue(raw)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q: decodeValue error %v, DecodeValue error %v", raw, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n decodeValue %#v\n DecodeValue %#v", raw, got, want)
	}
}

func TestDecodeValueMatchesProtocol(t *testing.T) {
	for _, in := range treeInputs {
		checkTree(t, []byte(in))
	}
}

// The documents and values writes carry are read without encoding/json.
func TestTreeDecoderReadsPlainJSON(t *testing.T) {
	for _, in := range []string{`"a"`, `21.5`, `-1`, `true`, `null`, `1e3`, `{}`, `[]`,
		`{"thingId":"org.example:t","policyId":"org.example:t","features":{"sensor":{"properties":{"value":21.5,"tags":["a",{"b":null}]}}}}`} {
		d := treeDecoder{data: []byte(in)}
		if _, ok := d.value(0); !ok || d.pos != len(in) {
			t.Errorf("treeDecoder gave up on %s", in)
		}
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, in := range treeInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { checkTree(t, raw) })
}

func TestUTF16Length(t *testing.T) {
	reference := func(b []byte) int {
		n := 0
		for _, r := range string(b) {
			n++
			if r > 0xFFFF {
				n++
			}
		}
		return n
	}
	for _, s := range []string{"", "abc", "äöü", "温度", "😀x😀", "\xff", "a\xffb", "\xf0\x9f\x98", "\xed\xa0\x80", strings.Repeat("é😀", 100)} {
		if got, want := utf16Length([]byte(s)), reference([]byte(s)); got != want {
			t.Errorf("utf16Length(%q) = %d, want %d", s, got, want)
		}
	}
}
