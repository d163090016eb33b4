package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
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
	key *ecdsa.PrivateKey
}

func newOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &oidcIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss.srv.URL, "jwks_uri": iss.srv.URL + "/jwks",
			"id_token_signing_alg_values_supported": []string{"ES256"}})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	})
	iss.srv = httptest.NewServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// token signs a token for sub that expires after ttl.
func (i *oidcIssuer) token(t *testing.T, sub string, ttl time.Duration) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: i.key, KeyID: "k1"}},
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
	conn, _, err := websocket.DefaultDialer.Dial(g.wsURL+"?access_token="+iss.token(t, "carol", 2*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "expired") {
		t.Fatalf("session ended with %v, want a close for the expired JWT", err)
	}
}
