package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/twinway/twinway/protocol"
)

// wantError checks that err is the Ditto error with status, code and message.
func wantError(t *testing.T, err error, status int, code, message string) *protocol.Error {
	t.Helper()
	var e *protocol.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *protocol.Error %s", err, code)
	}
	if e.Status != status || e.Code != code || (message != "" && e.Message != message) {
		t.Fatalf("error = %d %s %q (%s), want %d %s %q", e.Status, e.Code, e.Message, e.Description, status, code, message)
	}
	return e
}

func newOIDC(t *testing.T, opts OIDCOptions, issuers ...IssuerConfig) *OIDC {
	t.Helper()
	o, err := NewOIDC(t.Context(), issuers, opts)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/2/things", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// testClock is a clock that tests move forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func TestOIDCValidToken(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256} {
		t.Run(string(alg), func(t *testing.T) {
			iss := newTestIssuer(t)
			key := newKey(t, "k1", alg)
			iss.publish(key)
			o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test", Audience: "twinway"})

			claims := iss.claims("alice")
			exp := time.Now().Add(42 * time.Minute).Truncate(time.Second)
			claims["exp"] = exp.Unix()
			r := bearer(sign(t, key, claims))
			if !o.Applicable(r) {
				t.Fatal("not applicable to a Bearer request")
			}
			who, err := o.Authenticate(r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(who.Subjects, []string{"test:alice"}) || !who.Expiry.Equal(exp) {
				t.Fatalf("context = %+v, want test:alice until %v", who, exp)
			}
		})
	}
}

func TestOIDCRejects(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.RS256)
	other := newKey(t, "k1", jose.RS256) // same kid, different key
	unknown := newKey(t, "k-unknown", jose.ES256)
	iss.publish(key)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test", Audience: "twinway", ClockSkew: 10 * time.Second})

	with := func(change func(map[string]any)) map[string]any {
		c := iss.claims("alice")
		change(c)
		return c
	}
	now := time.Now()
	valid := sign(t, key, iss.claims("alice"))
	parts := strings.Split(valid, ".")
	tampered := sign(t, key, with(func(c map[string]any) { c["sub"] = "mallory" }))
	tampered = strings.Join([]string{parts[0], strings.Split(tampered, ".")[1], parts[2]}, ".")

	hmac, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hjws, err := hmac.Sign([]byte(`{"iss":"` + iss.url() + `","sub":"alice","aud":"twinway","exp":` +
		strconv.FormatInt(now.Add(time.Hour).Unix(), 10) + `}`))
	if err != nil {
		t.Fatal(err)
	}
	hs256, _ := hjws.CompactSerialize()

	cases := []struct {
		name          string
		token         string
		status        int
		code, message string
		description   string // a part of it
	}{
		{"expired", sign(t, key, with(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "expired"},
		{"expired beyond the skew", sign(t, key, with(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "expired"},
		{"no exp", sign(t, key, with(func(c map[string]any) { delete(c, "exp") })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "no expiry"},
		{"nbf in an hour", sign(t, key, with(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "not valid yet"},
		{"nbf in a minute", sign(t, key, with(func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "not valid before"},
		{"iat in a minute", sign(t, key, with(func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "issued in the future"},
		{"unknown issuer", sign(t, key, with(func(c map[string]any) { c["iss"] = "https://idp.example.com" })),
			401, protocol.CodeJWTIssuerNotSupported, "The JWT issuer 'https://idp.example.com' is not supported.", ""},
		{"no issuer", sign(t, key, with(func(c map[string]any) { delete(c, "iss") })),
			400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid.", "iss"},
		{"wrong audience", sign(t, key, with(func(c map[string]any) { c["aud"] = []string{"someone-else"} })),
			401, protocol.CodeJWTConditionFailed, "The JWT did not meet a configured prerequisite condition.", "twinway"},
		{"no audience", sign(t, key, with(func(c map[string]any) { delete(c, "aud") })),
			401, protocol.CodeJWTConditionFailed, "The JWT did not meet a configured prerequisite condition.", ""},
		{"tampered payload", tampered,
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "signature"},
		{"signed by another key with the published kid", sign(t, other, iss.claims("alice")),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "signature"},
		{"unknown kid", sign(t, unknown, iss.claims("alice")),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "signature"},
		{"alg none", unsigned(t, iss.claims("alice")),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "none"},
		{"HS256", hs256,
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "HS256"},
		{"no subject claim", sign(t, key, with(func(c map[string]any) { delete(c, "sub") })),
			401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.", "sub"},
		{"two parts", parts[0] + "." + parts[1],
			400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid.", "three parts"},
		{"not base64", "a$b." + parts[1] + "." + parts[2],
			400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid.", "Base64"},
		{"payload not an object", parts[0] + ".WzFd." + parts[2],
			400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid.", "Base64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := o.Authenticate(bearer(c.token))
			e := wantError(t, err, c.status, c.code, c.message)
			if !strings.Contains(e.Description, c.description) {
				t.Fatalf("description %q does not mention %q", e.Description, c.description)
			}
		})
	}

	t.Run("expired within the skew", func(t *testing.T) {
		who, err := o.Authenticate(bearer(sign(t, key, with(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Second).Unix() }))))
		if err != nil || who.DefaultSubject() != "test:alice" {
			t.Fatalf("= %+v, %v", who, err)
		}
	})
	t.Run("nbf within the skew", func(t *testing.T) {
		who, err := o.Authenticate(bearer(sign(t, key, with(func(c map[string]any) { c["nbf"] = now.Add(2 * time.Second).Unix() }))))
		if err != nil || who.DefaultSubject() != "test:alice" {
			t.Fatalf("= %+v, %v", who, err)
		}
	})
}

func TestOIDCNoAudienceConfigured(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.ES256)
	iss.publish(key)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})
	c := iss.claims("alice")
	c["aud"] = "anyone"
	if _, err := o.Authenticate(bearer(sign(t, key, c))); err != nil {
		t.Fatal(err)
	}
	delete(c, "aud")
	if _, err := o.Authenticate(bearer(sign(t, key, c))); err != nil {
		t.Fatal(err)
	}
}

// eventually retries f until it returns nil. go-oidc fetches a key set in a
// goroutine and stores it in its cache just after handing it to the waiting
// verifications; a verification in that instant still sees the previous
// keys. Production clients retry; the tests wait it out the same way.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The issuer replaces its key: a token of the new key verifies once the key
// set has been fetched again; a token of the removed key no longer does.
func TestOIDCKeyRotation(t *testing.T) {
	iss := newTestIssuer(t)
	oldKey := newKey(t, "2024", jose.RS256)
	newK := newKey(t, "2025", jose.ES256)
	iss.publish(oldKey)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})

	oldToken := sign(t, oldKey, iss.claims("alice"))
	for range 20 {
		if _, err := o.Authenticate(bearer(oldToken)); err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.jwksFetches.Load(); n > 2 {
		t.Fatalf("%d JWKS fetches for 20 tokens of one key: the key set is not cached", n)
	}

	iss.publish(newK)
	newToken := sign(t, newK, iss.claims("alice"))
	eventually(t, func() error {
		who, err := o.Authenticate(bearer(newToken))
		if err == nil && who.DefaultSubject() != "test:alice" {
			t.Fatalf("new key: %+v", who)
		}
		return err
	})
	eventually(t, func() error {
		_, err := o.Authenticate(bearer(oldToken))
		if err == nil {
			return errors.New("a token of the removed key still verifies")
		}
		wantError(t, err, 401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.")
		return nil
	})
	if _, err := o.Authenticate(bearer(newToken)); err != nil {
		t.Fatal(err)
	}
}

func TestOIDCSubjectClaims(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.ES256)
	iss.publish(key)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "kc",
		SubjectClaims: []string{"sub", "groups", "realm_access/roles", "tenant", "missing", "flag"}})
	c := iss.claims("alice")
	c["groups"] = []any{"admins", "ops", "admins", 7, true, map[string]any{"x": 1}}
	c["realm_access"] = map[string]any{"roles": []string{"reader"}}
	c["tenant"] = 42
	c["flag"] = true
	who, err := o.Authenticate(bearer(sign(t, key, c)))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kc:alice", "kc:admins", "kc:ops", "kc:7", "kc:reader", "kc:42"}
	if !slices.Equal(who.Subjects, want) {
		t.Fatalf("subjects = %q, want %q", who.Subjects, want)
	}
}

func TestOIDCTwoIssuers(t *testing.T) {
	a, b := newTestIssuer(t), newTestIssuer(t)
	ka, kb := newKey(t, "a", jose.RS256), newKey(t, "b", jose.ES256)
	a.publish(ka)
	b.publish(kb)
	o := newOIDC(t, OIDCOptions{},
		IssuerConfig{Issuer: a.url(), SubjectPrefix: "alpha"},
		IssuerConfig{Issuer: b.url(), SubjectPrefix: "beta", SubjectClaims: []string{"email"}})

	who, err := o.Authenticate(bearer(sign(t, ka, a.claims("alice"))))
	if err != nil || !slices.Equal(who.Subjects, []string{"alpha:alice"}) {
		t.Fatalf("issuer a: %+v, %v", who, err)
	}
	cb := b.claims("bob")
	cb["email"] = "bob@example.com"
	who, err = o.Authenticate(bearer(sign(t, kb, cb)))
	if err != nil || !slices.Equal(who.Subjects, []string{"beta:bob@example.com"}) {
		t.Fatalf("issuer b: %+v, %v", who, err)
	}
	// A token claiming issuer b but signed with a's key fails: b's key set
	// does not have it.
	_, err = o.Authenticate(bearer(sign(t, ka, cb)))
	wantError(t, err, 401, protocol.CodeAuthenticationFailed, "The JWT could not be verified.")
}

func TestOIDCTokenSources(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.ES256)
	iss.publish(key)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})
	ws := o.WebSocket()
	token := sign(t, key, iss.claims("alice"))

	upgrade := func(query string, header string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/ws/2?"+query, nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		return r
	}

	t.Run("query parameter on the WebSocket", func(t *testing.T) {
		r := upgrade("access_token="+url.QueryEscape(token), "")
		if !ws.Applicable(r) || o.Applicable(r) {
			t.Fatal("the access_token parameter is for the WebSocket door only")
		}
		who, err := ws.Authenticate(r)
		if err != nil || who.DefaultSubject() != "test:alice" {
			t.Fatalf("= %+v, %v", who, err)
		}
	})
	t.Run("header on the WebSocket", func(t *testing.T) {
		who, err := ws.Authenticate(upgrade("", "Bearer "+token))
		if err != nil || who.DefaultSubject() != "test:alice" {
			t.Fatalf("= %+v, %v", who, err)
		}
	})
	t.Run("both", func(t *testing.T) {
		_, err := ws.Authenticate(upgrade("access_token="+url.QueryEscape(token), "Bearer "+token))
		e := wantError(t, err, 401, protocol.CodeAuthenticationFailed, "Multiple JWTs provided.")
		if !strings.Contains(e.Description, "Only a single JWT is expected.") {
			t.Fatalf("description %q", e.Description)
		}
	})
	t.Run("two query parameters", func(t *testing.T) {
		_, err := ws.Authenticate(upgrade("access_token="+token+"&access_token="+token, ""))
		wantError(t, err, 401, protocol.CodeAuthenticationFailed, "Multiple JWTs provided.")
	})
	t.Run("HTTP ignores the query parameter", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/2/things?access_token="+token, nil)
		r.Header.Set("Authorization", "Bearer "+token)
		if _, err := o.Authenticate(r); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bearer without token", func(t *testing.T) {
		_, err := o.Authenticate(upgrade("", "Bearer"))
		wantError(t, err, 400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid.")
		_, err = o.Authenticate(upgrade("", "Bearer a b"))
		wantError(t, err, 400, protocol.CodeJWTInvalid, "The JSON Web Token is not valid.")
	})
	t.Run("empty query parameter", func(t *testing.T) {
		_, err := ws.Authenticate(upgrade("access_token=", ""))
		wantError(t, err, 401, protocol.CodeAuthenticationFailed, "The JWT was missing.")
	})
	t.Run("lower-case scheme", func(t *testing.T) {
		if _, err := o.Authenticate(upgrade("", "bearer "+token)); err != nil {
			t.Fatal(err)
		}
	})
}

// The JWT-TOKEN refresh of a WebSocket session: Verify on the raw token, and
// the same subjects keep the session.
func TestOIDCVerifyRefresh(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.RS256)
	iss.publish(key)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})
	ctx := context.Background()

	first, err := o.Verify(ctx, sign(t, key, iss.claims("alice")))
	if err != nil {
		t.Fatal(err)
	}
	c := iss.claims("alice")
	c["exp"] = time.Now().Add(2 * time.Hour).Unix()
	same, err := o.Verify(ctx, sign(t, key, c))
	if err != nil {
		t.Fatal(err)
	}
	if !first.SameSubjects(same) || !same.Expiry.After(first.Expiry) {
		t.Fatalf("refresh %+v after %+v", same, first)
	}
	other, err := o.Verify(ctx, sign(t, key, iss.claims("bob")))
	if err != nil {
		t.Fatal(err)
	}
	if first.SameSubjects(other) {
		t.Fatal("alice and bob have the same subjects")
	}
	_, err = o.Verify(ctx, "")
	wantError(t, err, 401, protocol.CodeAuthenticationFailed, "The JWT was missing.")
}

// An issuer that is down when the gateway starts is discovered later; until
// then its tokens get 503, and discovery is not retried on every request.
func TestOIDCLazyDiscovery(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.RS256)
	iss.publish(key)
	iss.down.Store(true)
	clock := &testClock{}
	o := newOIDC(t, OIDCOptions{Now: clock.now, RetryInterval: time.Minute},
		IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})
	token := sign(t, key, iss.claims("alice"))

	_, err := o.Authenticate(bearer(token))
	wantError(t, err, 503, protocol.CodeAuthProviderUnavailable, "The authentication provider is not available.")
	iss.down.Store(false)
	_, err = o.Authenticate(bearer(token))
	wantError(t, err, 503, protocol.CodeAuthProviderUnavailable, "")
	if n := iss.discoveryFetches.Load(); n != 1 {
		t.Fatalf("%d discovery fetches within the retry interval, want 1", n)
	}

	clock.advance(2 * time.Minute)
	// Many requests at once: one discovery, every request verified.
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { _, errs[i] = o.Authenticate(bearer(token)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := iss.discoveryFetches.Load(); n != 2 {
		t.Fatalf("%d discovery fetches, want 2", n)
	}
}

func TestOIDCKeySetUnavailable(t *testing.T) {
	iss := newTestIssuer(t)
	key := newKey(t, "k1", jose.RS256)
	iss.publish(key)
	iss.jwksDown.Store(true)
	o := newOIDC(t, OIDCOptions{}, IssuerConfig{Issuer: iss.url(), SubjectPrefix: "test"})
	_, err := o.Authenticate(bearer(sign(t, key, iss.claims("alice"))))
	wantError(t, err, 503, protocol.CodeAuthProviderUnavailable, "The authentication provider is not available.")
	iss.jwksDown.Store(false)
	token := sign(t, key, iss.claims("alice"))
	eventually(t, func() error {
		_, err := o.Authenticate(bearer(token))
		return err
	})
}

func TestNewOIDCConfig(t *testing.T) {
	iss := newTestIssuer(t)
	iss.publish(newKey(t, "k1", jose.ES256))
	bad := []struct {
		name    string
		issuers []IssuerConfig
	}{
		{"none", nil},
		{"not a URL", []IssuerConfig{{Issuer: "accounts.google.com", SubjectPrefix: "google"}}},
		{"no prefix", []IssuerConfig{{Issuer: iss.url()}}},
		{"prefix with a colon", []IssuerConfig{{Issuer: iss.url(), SubjectPrefix: "a:b"}}},
		{"alg none", []IssuerConfig{{Issuer: iss.url(), SubjectPrefix: "t", Algorithms: []string{"none"}}}},
		{"HS256", []IssuerConfig{{Issuer: iss.url(), SubjectPrefix: "t", Algorithms: []string{"HS256"}}}},
		{"empty claim", []IssuerConfig{{Issuer: iss.url(), SubjectPrefix: "t", SubjectClaims: []string{"a//b"}}}},
		{"negative skew", []IssuerConfig{{Issuer: iss.url(), SubjectPrefix: "t", ClockSkew: -time.Second}}},
		{"twice", []IssuerConfig{{Issuer: iss.url(), SubjectPrefix: "t"}, {Issuer: iss.url(), SubjectPrefix: "u"}}},
		// The discovery document names the issuer without the slash.
		{"issuer mismatch", []IssuerConfig{{Issuer: iss.url() + "/", SubjectPrefix: "t"}}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := NewOIDC(t.Context(), c.issuers, OIDCOptions{}); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
