package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/twinway/twinway/protocol"
)

func TestChain(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.ES256)
	iss.publish(key)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})
	pre := NewPreAuthenticated([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	basic := NewBasicUsers(map[string]string{"ditto": "ditto"})
	httpChain := NewChain(pre, o, basic)
	ws := NewChain(pre, o.WebSocket(), basic)
	token := sign(t, key, iss.claims("alice"))

	req := func(target string, change func(r *http.Request)) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		r.RemoteAddr = "192.0.2.1:5555"
		if change != nil {
			change(r)
		}
		return r
	}
	withBasic := func(user, password string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(user, password) }
	}

	ok := []struct {
		name  string
		chain *Chain
		r     *http.Request
		want  string
	}{
		{"basic", httpChain, req("/api/2/things", withBasic("ditto", "ditto")), "nginx:ditto"},
		{"bearer", httpChain, req("/api/2/things", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }), "test:alice"},
		{"pre-authenticated", httpChain, req("/api/2/things", func(r *http.Request) {
			r.RemoteAddr = "10.0.0.7:1234"
			r.Header.Set(HeaderPreAuthenticated, "nginx:proxied")
		}), "nginx:proxied"},
		{"websocket query token", ws, req("/ws/2?access_token="+token, nil), "test:alice"},
		// The untrusted header fails, Basic still succeeds with its own subject.
		{"untrusted header and basic", httpChain, req("/api/2/things", func(r *http.Request) {
			r.SetBasicAuth("ditto", "ditto")
			r.Header.Set(HeaderPreAuthenticated, "nginx:admin")
		}), "nginx:ditto"},
		// A failing token does not stop the chain either (Ditto's chain).
		{"basic with a bad query token", ws, req("/ws/2?access_token=garbage", withBasic("ditto", "ditto")), "nginx:ditto"},
	}
	for _, c := range ok {
		t.Run(c.name, func(t *testing.T) {
			who, err := c.chain.Authenticate(c.r)
			if err != nil || who.DefaultSubject() != c.want || len(who.Subjects) != 1 {
				t.Fatalf("= %+v, %v; want %s", who, err, c.want)
			}
		})
	}

	fail := []struct {
		name          string
		chain         *Chain
		r             *http.Request
		status        int
		code, message string
	}{
		{"nothing", httpChain, req("/api/2/things", nil), 401, protocol.CodeAuthenticationFailed, "No applicable authentication provider was found!"},
		{"query token on HTTP", httpChain, req("/api/2/things?access_token="+token, nil), 401, protocol.CodeAuthenticationFailed, "No applicable authentication provider was found!"},
		{"wrong password", httpChain, req("/api/2/things", withBasic("ditto", "nope")), 401, protocol.CodeAuthenticationFailed, "The username or password is wrong."},
		{"bad token", httpChain, req("/api/2/things", func(r *http.Request) { r.Header.Set("Authorization", "Bearer x.y") }),
			400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid."},
		{"untrusted header", httpChain, req("/api/2/things", func(r *http.Request) { r.Header.Set(HeaderPreAuthenticated, "nginx:admin") }),
			401, protocol.CodeAuthenticationFailed, "The header 'x-ditto-pre-authenticated' is only accepted from a trusted proxy."},
		// Two 401s: one aggregated 401.
		{"untrusted header and wrong password", httpChain, req("/api/2/things", func(r *http.Request) {
			r.SetBasicAuth("ditto", "nope")
			r.Header.Set(HeaderPreAuthenticated, "nginx:admin")
		}), 401, protocol.CodeAuthenticationFailed, "Multiple authentication mechanisms were applicable but none succeeded."},
		// A 401 and a 400: the 400.
		{"bad query token and wrong password", ws, req("/ws/2?access_token=garbage", withBasic("ditto", "nope")),
			400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid."},
	}
	for _, c := range fail {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.chain.Authenticate(c.r)
			e := wantError(t, err, c.status, c.code, c.message)
			if strings.HasPrefix(c.message, "Multiple") &&
				e.Description != "For a successful authentication see the following suggestions: { Check if your credentials were correct. }, { Check if your credentials were correct. }." {
				t.Fatalf("description %q", e.Description)
			}
		})
	}
}

type failing struct{ err error }

func (f failing) Authenticate(*http.Request) (Context, error) { return Context{}, f.err }

func TestChainForeignError(t *testing.T) {
	_, err := NewChain(nil, failing{errors.New("boom")}).Authenticate(httptest.NewRequest("GET", "/", nil))
	wantError(t, err, 503, protocol.CodeAuthProviderUnavailable, "The authentication provider is not available.")
}

func TestChainNilAuthenticators(t *testing.T) {
	var pre *PreAuthenticated
	var o *OIDC
	r := httptest.NewRequest("GET", "/", nil)
	r.SetBasicAuth("ditto", "ditto")
	r.Header.Set(HeaderPreAuthenticated, "nginx:admin")
	who, err := NewChain(pre, o, NewBasicUsers(map[string]string{"ditto": "ditto"})).Authenticate(r)
	if err != nil || who.DefaultSubject() != "nginx:ditto" {
		t.Fatalf("= %+v, %v", who, err)
	}
}
