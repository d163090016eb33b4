package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"
)

// seedSearchThings creates n things e2e:s-000… with attributes
// {"n": i, "even": i%2==0, "name": "thing i"} and returns their ids.
func seedSearchThings(t *testing.T, g *gatewayUnderTest, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("search:s-%03d", i)
		body := fmt.Sprintf(`{"attributes":{"n":%d,"even":%t,"name":"thing %d"}}`, i, i%2 == 0, i)
		if r := g.do(t, http.MethodPut, thingPath(ids[i], "/"), body, nil); r.status != 201 {
			t.Fatalf("seed %s: %d %s", ids[i], r.status, r.body)
		}
	}
	return ids
}

type searchPage struct {
	Items []struct {
		ThingID    string         `json:"thingId"`
		Attributes map[string]any `json:"attributes"`
	} `json:"items"`
	Cursor string `json:"cursor"`
}

// TestSearchOverHTTP pages through a filtered, sorted search of a few hundred
// things with size and cursor, and counts.
func TestSearchOverHTTP(t *testing.T) {
	g := startGateway(t, "", nil)
	seedSearchThings(t, g, 300)

	filter := url.QueryEscape("and(eq(attributes/even,true),ge(attributes/n,100))")
	var got []int
	cursor := ""
	for pages := 0; ; pages++ {
		option := "sort(-attributes/n),size(7)"
		if cursor != "" {
			option += ",cursor(" + cursor + ")"
		}
		r := g.do(t, http.MethodGet, "/api/2/search/things?filter="+filter+"&fields=thingId,attributes/n&option="+url.QueryEscape(option), "", nil)
		if r.status != 200 {
			t.Fatalf("search: %d %s", r.status, r.body)
		}
		var page searchPage
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 7 {
			t.Fatalf("page of %d items", len(page.Items))
		}
		for _, it := range page.Items {
			if _, ok := it.Attributes["name"]; ok {
				t.Fatalf("fields not applied: %v", it)
			}
			got = append(got, int(it.Attributes["n"].(float64)))
		}
		cursor = page.Cursor
		if cursor == "" {
			break
		}
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	var want []int
	for i := 298; i >= 100; i -= 2 {
		want = append(want, i)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged results\n got %v\nwant %v", got, want)
	}

	r := g.do(t, http.MethodGet, "/api/2/search/things/count?filter="+filter, "", nil)
	if r.status != 200 || string(r.body) != strconv.Itoa(len(want)) {
		t.Fatalf("count: %d %s", r.status, r.body)
	}
	r = g.do(t, http.MethodGet, "/api/2/search/things?filter="+url.QueryEscape("eq(attributes/n"), "", nil)
	if r.status != 400 {
		t.Fatalf("invalid filter: %d", r.status)
	}
	jsonField(t, r.body, "error", "rql.expression.invalid")
	r = g.do(t, http.MethodGet, "/api/2/search/things?option="+url.QueryEscape("size(500)"), "", nil)
	if r.status != 400 {
		t.Fatalf("size 500: %d", r.status)
	}
	jsonField(t, r.body, "error", "thing-search:search.option.invalid")
	// Default page size is 25.
	r = g.do(t, http.MethodGet, "/api/2/search/things?namespaces=search", "", nil)
	var page searchPage
	json.Unmarshal(r.body, &page)
	if r.status != 200 || len(page.Items) != 25 || page.Cursor == "" {
		t.Fatalf("default page: %d, %d items, cursor %q", r.status, len(page.Items), page.Cursor)
	}
}

// TestSearchProtocolOverWebSocket runs subscribe, request and cancel, and
// checks created, next pages and complete, and failed for bad input.
func TestSearchProtocolOverWebSocket(t *testing.T) {
	g := startGateway(t, "", nil)
	seedSearchThings(t, g, 120)
	ws := g.dial(t)

	send := func(action, value string, headers map[string]any) {
		msg := map[string]any{"topic": "_/_/things/twin/search/" + action, "headers": headers, "path": "/", "value": json.RawMessage(value)}
		b, _ := json.Marshal(msg)
		ws.sendText(t, string(b))
	}
	type payload struct {
		SubscriptionID string            `json:"subscriptionId"`
		Items          []json.RawMessage `json:"items"`
		Error          map[string]any    `json:"error"`
	}
	recv := func(wantAction string) payload {
		t.Helper()
		e := decodeEnvelope(t, ws.next(t))
		if e.Topic != "_/_/things/twin/search/"+wantAction {
			t.Fatalf("got %s, want search/%s", e.Raw, wantAction)
		}
		var p payload
		json.Unmarshal(e.Value, &p)
		return p
	}

	send("subscribe", `{"filter":"lt(attributes/n,50)","options":"sort(+attributes/n),size(20)","namespaces":["search"]}`, map[string]any{"correlation-id": "s1"})
	id := recv("created").SubscriptionID
	if id == "" {
		t.Fatal("no subscription id")
	}
	var ns []int
	send("request", fmt.Sprintf(`{"subscriptionId":%q,"demand":2}`, id), nil)
	for i := 0; i < 2; i++ {
		for _, it := range recv("next").Items {
			var thing struct {
				Attributes struct{ N int } `json:"attributes"`
			}
			json.Unmarshal(it, &thing)
			ns = append(ns, thing.Attributes.N)
		}
	}
	send("request", fmt.Sprintf(`{"subscriptionId":%q,"demand":5}`, id), nil)
	for _, it := range recv("next").Items {
		var thing struct {
			Attributes struct{ N int } `json:"attributes"`
		}
		json.Unmarshal(it, &thing)
		ns = append(ns, thing.Attributes.N)
	}
	recv("complete")
	if len(ns) != 50 || !sort.IntsAreSorted(ns) || ns[0] != 0 || ns[49] != 49 {
		t.Fatalf("items %v", ns)
	}

	// An invalid filter fails at the first request; a non-positive demand fails.
	send("subscribe", `{"filter":"lt(attributes/n"}`, nil)
	bad := recv("created").SubscriptionID
	send("request", fmt.Sprintf(`{"subscriptionId":%q,"demand":1}`, bad), nil)
	if f := recv("failed"); f.Error["error"] != "rql.expression.invalid" {
		t.Fatalf("failed: %v", f.Error)
	}
	send("subscribe", `{}`, nil)
	other := recv("created").SubscriptionID
	send("request", fmt.Sprintf(`{"subscriptionId":%q,"demand":0}`, other), nil)
	if f := recv("failed"); f.Error["error"] != "thing-search:subscription.protocol.error" {
		t.Fatalf("failed: %v", f.Error)
	}
	// Cancel ends a subscription without a reply; the session goes on.
	send("subscribe", `{}`, nil)
	third := recv("created").SubscriptionID
	send("cancel", fmt.Sprintf(`{"subscriptionId":%q}`, third), nil)
	if r := ws.command(t, topicOf("search:s-001", "retrieve"), "/attributes/n", "", nil); r.Status != 200 {
		t.Fatalf("after cancel: %s", r.Raw)
	}
}
