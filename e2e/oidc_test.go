package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/websocket"

	"github.com/twinway/twinway/server"
)

// oidcIssuer is an in-process OpenID Connect issuer: discovery document and
// JWKS over httptest, real ES256 tokens signed with go-jose.
type oidcIssuer struct {
	srv *httptest.Server
	mu  sync.Mutex
	key *ecdsa.PrivateKey // the current signing key, served in the JWKS as kid
	kid string
}

// signingKey returns the current key and its id.
func (i *oidcIssuer) signingKey() (*ecdsa.PrivateKey, string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.key, i.kid
}

// rotate replaces the signing key: the JWKS then serves only the new one.
func (i *oidcIssuer) rotate(t *testing.T) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.key, i.kid = key, i.kid+"'"
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{key: key, kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		key, kid := iss.signingKey()
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// token signs a token for sub that expires after ttl.
func (i *oidcIssuer) token(t *testing.T, sub string, ttl time.Duration) string {
	t.Helper()
	key, kid := i.signingKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{"iss": i.srv.URL, "sub": sub, "aud": "twinway",
		"iat": now.Unix(), "exp": now.Add(ttl).Unix()})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOIDCAuthenticatesBothDoors: a gateway trusting an issuer accepts its
// bearer tokens on HTTP and WebSocket with subjects <prefix>:<sub>, refuses
// expired ones, and keeps its Basic users.
func TestOIDCAuthenticatesBothDoors(t *testing.T) {
	iss := newOIDCIssuer(t)
	g := startGateway(t, "", func(c *server.Config) {
		c.Users = []server.User{{Name: testUser, Password: testPassword}}
		c.OIDC.Issuers = []server.IssuerConfig{{Issuer: iss.srv.URL, SubjectPrefix: "test", Audience: "twinway"}}
	})
	whoami := func(header string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, g.baseURL+"/api/2/whoami", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b json.RawMessage
		json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}
	status, body := whoami("Bearer " + iss.token(t, "alice", time.Hour))
	if status != 200 {
		t.Fatalf("whoami with a token: %d %s", status, body)
	}
	jsonEqual(t, "whoami", body, `{"defaultSubject":"test:alice","subjects":["test:alice"]}`)

	status, body = whoami("Bearer " + iss.token(t, "alice", -time.Minute))
	if status != 401 {
		t.Fatalf("expired token: %d %s", status, body)
	}
	jsonField(t, body, "error", "gateway:authentication.failed")

	if r := g.do(t, http.MethodGet, "/api/2/whoami", "", nil); r.status != 200 {
		t.Fatalf("Basic next to OIDC: %d %s", r.status, r.body)
	}

	// The WebSocket door takes the token as access_token parameter too.
	conn, resp, err := websocket.DefaultDialer.Dial(g.wsURL+"?access_token="+iss.token(t, "bob", time.Hour), nil)
	if err != nil {
		t.Fatalf("WebSocket with access_token: %v (%v)", err, resp)
	}
	conn.Close()
	h := http.Header{"Authorization": {"Bearer " + iss.token(t, "bob", time.Hour)}}
	_, resp, err = websocket.DefaultDialer.Dial(g.wsURL+"?access_token="+iss.token(t, "bob", time.Hour), h)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("two JWTs at once: %v %v", err, resp)
	}
}

// TestWebSocketSessionEndsAtTokenExpiry: a session opened with a JWT is
// closed when the token expires, without any message from the client.
func TestWebSocketSessionEndsAtTokenExpiry(t *testing.T) {
	iss := newOIDCIssuer(t)
	g := startGateway(t, "", func(c *server.Config) {
		c.OIDC.Issuers = []server.IssuerConfig{{Issuer: iss.srv.URL, SubjectPrefix: "test", Audience: "twinway"}}
	})
	// exp has a resolution of one second: the token expires within 1–2 s.
	token := iss.token(t, "carol", 2*time.Second)
	conn, _, err := websocket.DefaultDialer.Dial(g.wsURL+"?access_token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err = conn.ReadMessage()
	closed := time.Now()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "expired") {
		t.Fatalf("session ended with %v, want a close for the expired JWT", err)
	}
	// On time: within a second of exp, not at the next message.
	exp := time.Unix(expOf(t, token), 0)
	if late := closed.Sub(exp); late < 0 || late > time.Second {
		t.Fatalf("closed %v after exp, want within a second", late)
	}
}

// expOf reads the exp claim of a JWT (already verified by the gateway).
func expOf(t *testing.T, token string) int64 {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Exp
}

// TestJWTTokenRefresh: JWT-TOKEN with a token of the same subject keeps the
// session past the first token's expiry, also when the issuer rotated its
// key meanwhile; a token of another subject, or an invalid one, ends it.
func TestJWTTokenRefresh(t *testing.T) {
	iss := newOIDCIssuer(t)
	g := startGateway(t, "", func(c *server.Config) {
		c.OIDC.Issuers = []server.IssuerConfig{{Issuer: iss.srv.URL, SubjectPrefix: "test", Audience: "twinway"}}
	})
	dial := func(ttl time.Duration) *websocket.Conn {
		conn, _, err := websocket.DefaultDialer.Dial(g.wsURL+"?access_token="+iss.token(t, "dave", ttl), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	send := func(conn *websocket.Conn, text string) {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
			t.Fatal(err)
		}
	}
	closedWith := func(conn *websocket.Conn, want string) {
		t.Helper()
		conn.SetReadDeadline(time.Now().Add(waitTimeout))
		for {
			_, _, err := conn.ReadMessage()
			if err == nil {
				continue
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, want) {
				t.Fatalf("session ended with %v, want a close mentioning %q", err, want)
			}
			return
		}
	}

	// Same subject, new key: the session outlives its first token.
	// (4 s leaves room for the key set fetch of a slow, loaded machine.)
	conn := dial(4 * time.Second)
	iss.rotate(t)
	send(conn, "JWT-TOKEN?jwtToken="+iss.token(t, "dave", time.Hour))
	send(conn, "START-SEND-EVENTS")
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "START-SEND-EVENTS:ACK" {
		t.Fatalf("after refresh: %q %v", msg, err)
	}
	conn.SetReadDeadline(time.Now().Add(5500 * time.Millisecond))
	if _, msg, err := conn.ReadMessage(); !isTimeout(err) {
		t.Fatalf("the refreshed session ended or got %q: %v", msg, err)
	}

	// A shorter refreshed token ends the session at its own expiry.
	conn = dial(time.Hour)
	send(conn, "JWT-TOKEN?jwtToken="+iss.token(t, "dave", 2*time.Second))
	closedWith(conn, "expired")

	// Another subject ends the session.
	conn = dial(time.Hour)
	send(conn, "JWT-TOKEN?jwtToken="+iss.token(t, "eve", time.Hour))
	closedWith(conn, "authorization context changed")

	// So does a token that does not verify.
	conn = dial(time.Hour)
	send(conn, "JWT-TOKEN?jwtToken="+iss.token(t, "dave", -time.Minute))
	closedWith(conn, "not valid")
}

// isTimeout tells whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
