package protocol

import (
	"reflect"
	"strings"
	"testing"
)

// fastInputs are envelopes of every shape: decodeEnvelopeFast must either
// give them up or decode them exactly as encoding/json does.
var fastInputs = []string{
	``, ` `, `null`, `[]`, `"topic"`, `{`, `{}`, `{"topic":5}`, `{"topic":null}`,
	`{"topic":"t","headers":"x"}`, `{"topic":"t","status":"200"}`, `{"topic":"t","status":1e400}`,
	"\f{\"topic\":\"t\"}", " \r\n\t{\"topic\":\"t\"}\n\t ", `{"topic":"t"} x`, `{"topic":"t"}}`,
	`{"topic":"ns/n/things/twin/commands/retrieve","headers":{}}`,
	`{"topic":"t","headers":null,"path":null}`,
	`{"topic":"t","headers":{},"path":"/attributes/a","value":null}`,
	`{"topic":"t","headers":{},"path":"/","value":{ "b" : [1, 2.50, "x"] , "a":{} }}`,
	`{"topic":"t","headers":{"Correlation-ID":"c1","response-required":false,"requested-acks":["twin-persisted"],"X-Count":42,"X-Obj":{"a":1},"x-null":null}}`,
	`{"topic":"t","headers":{"version":"+2","dry-run":"true","declared-acks":"[1] "}}`,
	`{"topic":"t","headers":{"A":"1","a":"2"}}`, `{"topic":"t","headers":{"a":"1","a":"2"}}`,
	`{"topic":"t","headers":{"x":"a\"b\\c\u00e4\n"}}`, `{"topic":"t","headers":{"\u0041":"1"}}`,
	"{\"topic\":\"t\",\"headers\":{\"x\":{\"a\":\"\xff\"},\"requested-acks\":[\"\xff\"]}}",
	"{\"topic\":\"q\\\"\\\\\\u0000\xff\",\"path\":\"/\u6e29\"}", "{\"topic\":\"\xff\"}", "{\"topic\":\"a\tb\"}",
	`{"topic":"ns/n/things/twin/events/modified","headers":{"correlation-id":"c"},"path":"/features/f","value":{"properties":{}},"fields":"thingId","extra":{"attributes":{"a":1}},"status":204,"revision":42,"timestamp":"2024-01-02T03:04:05.678Z"}`,
	`{"topic":"t","fields":"","status":0,"revision":0,"timestamp":"","extra":null}`,
	`{"topic":"t","fields":null,"status":null,"revision":null,"timestamp":null}`,
	`{"TOPIC":"a","Topic":"b","topic":"c"}`, `{"topic":"a","topic":"b"}`, `{"topic":"a","topic":null}`,
	`{"topic":"t","foo":[1,{"x":2}],"path":"/a"}`, `{"topic":""}`, `{"topic":"t",}`, `{,"topic":"t"}`,
	`{"topic":"t","status":-0}`, `{"topic":"t","status":01}`, `{"topic":"t","status":2.5}`, `{"topic":"t","status":-}`,
	`{"topic":"t","status":9223372036854775807}`, `{"topic":"t","revision":-9223372036854775808}`,
	`{"topic":"t","revision":99999999999999999999}`, `{"topic":"t","status":204x}`, `{"topic":"t","status":true}`,
	`{"topic":"t","value":tru}`, `{"topic":"t","value":[1,]}`, `{"topic":"t","value":{"a" 1}}`, `{"topic":"t","value":"\q"}`,
	`{"topic":"t","value":"abc}`, `{"topic":"t","value":nullx}`, `{"topic":"t","value":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	`{"topic":"t","headers":{"a":1,}}`, `{"topic":"t","headers":{"a":"1" "b":"2"}}`, `{"topic":"t","headers":[]}`,
	`{"topic" : "t" , "path" : "/x" , "value" : 1 }`, `{"topic":"t","value":-1.5e3}`, `{"topic":"t","path":5}`,
	`{"topic":"org.example/sensor-42/things/twin/commands/modify","headers":{"correlation-id":"7-12345","content-type":"application/json"},"path":"/features/environment/properties/temperature","value":21.5}`,
}

func checkFastMatchesJSON(t *testing.T, in []byte) {
	t.Helper()
	fast, ok := decodeEnvelopeFast(in)
	if !ok {
		return
	}
	slow, err := decodeEnvelopeJSON(in)
	if err != nil {
		t.Fatalf("%q: the fast path decoded what encoding/json refuses (%v): %#v", in, err, fast)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\n fast %#v\n json %#v", in, fast, slow)
	}
}

func TestDecodeEnvelopeFastMatchesJSON(t *testing.T) {
	for _, in := range fastInputs {
		checkFastMatchesJSON(t, []byte(in))
	}
}

// The fast path must not give up on the shapes clients send all the time.
func TestDecodeEnvelopeFastCoversCommonShapes(t *testing.T) {
	for _, in := range []string{
		`{"topic":"org.example/sensor-42/things/twin/commands/modify","headers":{"correlation-id":"7-12345","content-type":"application/json"},"path":"/features/environment/properties/temperature","value":21.5}`,
		`{"topic":"ns/n/things/twin/commands/create","headers":{"correlation-id":"c","requested-acks":["twin-persisted"],"response-required":true},"path":"/","value":{"attributes":{"a":"\u00e4"}}}`,
		`{"topic":"ns/n/things/twin/commands/retrieve","headers":{"Correlation-Id":"c"},"path":"/","fields":"thingId,attributes"}`,
		"{\"topic\": \"ns/n/things/twin/commands/delete\",\n \"path\": \"/attributes/a\"}",
	} {
		if _, ok := decodeEnvelopeFast([]byte(in)); !ok {
			t.Errorf("the fast path gave up on %s", in)
		}
		checkFastMatchesJSON(t, []byte(in))
	}
}

func FuzzDecodeEnvelopeFast(f *testing.F) {
	for _, in := range fastInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkFastMatchesJSON(t, in)
	})
}
