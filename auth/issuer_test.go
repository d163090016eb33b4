package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testIssuer is an in-process OpenID Connect issuer: it serves a discovery
// document and a JWKS over httptest, and signs real tokens with go-jose.
type testIssuer struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	published []testKey // the keys its JWKS lists

	jwksFetches      atomic.Int32
	discoveryFetches atomic.Int32
	down             atomic.Bool // discovery and JWKS answer 503
	jwksDown         atomic.Bool // only the JWKS answers 500
}

type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	ti := &testIssuer{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		ti.discoveryFetches.Add(1)
		if ti.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 ti.srv.URL,
			"jwks_uri":               ti.srv.URL + "/keys",
			"authorization_endpoint": ti.srv.URL + "/auth",
			"token_endpoint":         ti.srv.URL + "/token",
			// Only RS256 is announced for ID tokens; the authenticator
			// accepts every asymmetric algorithm anyway (access tokens).
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		ti.jwksFetches.Add(1)
		if ti.down.Load() || ti.jwksDown.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		ti.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range ti.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		ti.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	return ti
}

func (ti *testIssuer) url() string { return ti.srv.URL }

// newKey generates a key for alg (RS256 or ES256).
func newKey(t *testing.T, kid string, alg jose.SignatureAlgorithm) testKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("no key type for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: kid, alg: alg, priv: priv}
}

// publish replaces the keys the JWKS lists.
func (ti *testIssuer) publish(keys ...testKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.published = keys
}

// claims are valid claims of this issuer for subject sub, valid for an hour.
func (ti *testIssuer) claims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": ti.url(),
		"sub": sub,
		"aud": "twinway",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// sign signs claims with k (its kid in the header) using go-jose.
func sign(t *testing.T, k testKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
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

// unsigned builds an "alg: none" token: what an attacker sends, not
// something to sign.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}
