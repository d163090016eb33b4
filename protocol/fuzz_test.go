package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/twinway/twinway/protocol"
)

var envelopeSeeds = []string{
	``, ` `, `null`, `[]`, `"topic"`, `{`, `{}`, `{"topic":5}`, `{"topic":null}`,
	`{"topic":"t","headers":"x"}`, `{"topic":"t","status":"200"}`, `{"topic":"t","status":1e400}`,
	"\f{\"topic\":\"t\"}",
	`{"topic":"ns/n/things/twin/commands/retrieve","headers":{}}`,
	`{"topic":"t","headers":null,"path":null}`,
	`{"topic":"t","headers":{},"path":"/attributes/a","value":null}`,
	`{"topic":"t","headers":{},"path":"/","value":{ "b" : [1, 2.50, "x"] , "a":{} }}`,
	`{"topic":"t","headers":{"Correlation-ID":"c1","response-required":false,"requested-acks":["twin-persisted"],"X-Count":42,"X-Obj":{"a":1},"x-null":null}}`,
	`{"topic":"t","headers":{"version":"+2","dry-run":"true","declared-acks":"[1] "}}`,
	`{"topic":"t","headers":{"A":"1","a":"2"}}`,
	"{\"topic\":\"t\",\"headers\":{\"x\":{\"a\":\"\xff\"},\"requested-acks\":[\"\xff\"]}}",
	"{\"topic\":\"q\\\"\\\\\\u0000\xff\",\"path\":\"/\u6e29\"}",
	`{"topic":"ns/n/things/twin/events/modified","headers":{"correlation-id":"c"},"path":"/features/f","value":{"properties":{}},"fields":"thingId","extra":{"attributes":{"a":1}},"status":204,"revision":42,"timestamp":"2024-01-02T03:04:05.678Z"}`,
	`{"topic":"t","fields":"","status":0,"revision":0,"timestamp":"","extra":null}`,
	`{"TOPIC":"a","Topic":"b","topic":"c"}`,
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, s := range envelopeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := protocol.DecodeEnvelope(data)
		if err != nil {
			var e *protocol.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *protocol.Error", err)
			}
			switch e.Code {
			case protocol.CodeJSONInvalid, protocol.CodeJSONFieldMissing, protocol.CodeJSONFormatInvalid:
			default:
				t.Fatalf("unexpected code %s", e.Code)
			}
			return
		}
		if env.Headers == nil {
			t.Fatal("decoded envelope has nil headers")
		}
		out := env.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("AppendJSON output is not valid JSON: %q", out)
		}
		again, err := protocol.DecodeEnvelope(out)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", out, err)
		}
		if !reflect.DeepEqual(again, env) {
			t.Fatalf("round trip differs\n first  %#v\n second %#v\n wire   %q", env, again, out)
		}
		// encoding/json can read what we write.
		var generic map[string]any
		if err := json.Unmarshal(out, &generic); err != nil {
			t.Fatalf("encoding/json cannot read %q: %v", out, err)
		}
	})
}

var topicSeeds = []string{
	"", "ns", "ns/n/things", "ns/n/things/twin",
	"org.eclipse.ditto/fancy-thing/things/twin/commands/modify",
	"org.eclipse.ditto/fancy-thing/things/live/events/created",
	"_/_/things/twin/search/subscribe", "ns/n/things/twin/streaming/subscribeForPersistedEvents",
	"ns/p/policies/streaming/next", "ns/n/things/twin/errors", "ns/p/policies/errors",
	"ns/n/things/live/messages/ask/question", "ns/n/things/live/messages", "ns/n/things/live/messages/",
	"ns/n/things/live/messages/a//b", "ns/n/things/twin/acks", "ns/n/things/twin/acks/twin-persisted",
	"_/conn-1/connections/announcements/opened", "ns/_/things/twin/commands/retrieve",
	"/no-namespace/things/twin/commands/create", "ns/n/policies/twin/commands/modify",
	"ns/n/things/twin/errors/modify", "ns/n/things/twin/messages/ask", "_/_/things/live/search/subscribe",
	"ns/n/things/twin/commands/modify/extra", "//////", "a/b/things/live/acks//",
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range topicSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := protocol.ParseTopic(s)
		if err != nil {
			var e *protocol.Error
			if !errors.As(err, &e) || e.Code != protocol.CodeUnknownTopicPath || e.Status != 400 {
				t.Fatalf("ParseTopic(%q): unexpected error %v", s, err)
			}
			return
		}
		if tp.Action != "" && tp.Subject != "" {
			t.Fatalf("ParseTopic(%q) = %+v has both action and subject", s, tp)
		}
		again, err := protocol.ParseTopic(tp.String())
		if err != nil {
			t.Fatalf("ParseTopic(%q) = %+v, String() %q does not parse: %v", s, tp, tp.String(), err)
		}
		if again != tp {
			t.Fatalf("ParseTopic(%q) = %+v, re-parse of %q = %+v", s, tp, tp.String(), again)
		}
		if again.String() != tp.String() {
			t.Fatalf("String() not stable: %q vs %q", again.String(), tp.String())
		}
	})
}

var pointerSeeds = []string{
	"", "/", "/a", "a/b", "/a/", "//", "/a//b", "a//", "/a\x00", "/ä", "/温度", "/\xff",
	"/features/*/properties", "/" + strings.Repeat("k", 257),
}

func FuzzParsePointer(f *testing.F) {
	for _, s := range pointerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := protocol.ParsePointer(s)
		if err != nil {
			var e *protocol.Error
			if !errors.As(err, &e) || (e.Code != protocol.CodeJSONPointerInvalid && e.Code != protocol.CodeJSONKeyInvalid) || e.Status != 400 {
				t.Fatalf("ParsePointer(%q): unexpected error %v", s, err)
			}
			return
		}
		for _, k := range p {
			if e := protocol.ValidateKey(k); e != nil {
				t.Fatalf("ParsePointer(%q) has invalid key %q: %v", s, k, e)
			}
		}
		again, err := protocol.ParsePointer(p.String())
		if err != nil {
			t.Fatalf("ParsePointer(%q) = %q, String() %q does not parse: %v", s, p, p.String(), err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("ParsePointer(%q) = %#v, re-parse of %q = %#v", s, p, p.String(), again)
		}
	})
}

var fieldSelectorSeeds = []string{
	"thingId", "thingId,attributes(location,serial)", "features(f1(properties(a)),f2)",
	"features/*/properties/on", "thingId,", "a(b", "a)", "(a)", "a//b", "a(b)(c)", "a()", ",,", "/",
	"features,features/*/properties/on", "attributes/location/latitude,attributes",
	strings.Repeat("a(", 40) + strings.Repeat(")", 40),
}

func FuzzParseFieldSelector(f *testing.F) {
	for _, s := range fieldSelectorSeeds {
		f.Add(s)
	}
	var thing any
	if err := json.Unmarshal([]byte(sampleThing), &thing); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fs, err := protocol.ParseFieldSelector(s)
		if err != nil {
			var e *protocol.Error
			if !errors.As(err, &e) || e.Code != protocol.CodeFieldSelectorInv || e.Status != 400 {
				t.Fatalf("ParseFieldSelector(%q): unexpected error %v", s, err)
			}
			return
		}
		if len(fs) == 0 {
			t.Fatalf("ParseFieldSelector(%q) selects nothing without an error", s)
		}
		for _, p := range fs {
			if len(p) == 0 {
				t.Fatalf("ParseFieldSelector(%q) has an empty pointer", s)
			}
			for _, k := range p {
				if k == "" {
					t.Fatalf("ParseFieldSelector(%q) = %q has an empty key", s, fs)
				}
			}
		}
		_ = fs.Roots()
		if _, err := json.Marshal(fs.Select(thing)); err != nil {
			t.Fatal(err)
		}
	})
}
