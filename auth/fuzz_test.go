package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/twinway/twinway/protocol"
)

// FuzzUnverifiedIssuer: any token text gives an issuer or a 400 jwt:invalid,
// never a panic.
func FuzzUnverifiedIssuer(f *testing.F) {
	for _, s := range []string{
		"", ".", "..", "a.b.c",
		"eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.",
		"eyJhbGciOiJub25lIn0.eyJpc3MiOjF9.",
		"eyJhbGciOiJub25lIn0=.bnVsbA==.x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		iss, err := unverifiedIssuer(raw)
		if err != nil {
			if err.Code != protocol.CodeJWTInvalid || err.Status != 400 {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if iss == "" {
			t.Fatalf("%q: empty issuer accepted", raw)
		}
	})
}

// FuzzExtractToken: any Authorization header and query give a token or a
// Ditto error, never a panic.
func FuzzExtractToken(f *testing.F) {
	f.Add("Bearer a.b.c", "access_token=x")
	f.Add("Bearer", "")
	f.Add("bearer  a", "access_token=&access_token=")
	f.Add("Basic Zm9vOmJhcg==", "access_token=a.b.c")
	f.Fuzz(func(t *testing.T, header, query string) {
		r := httptest.NewRequest(http.MethodGet, "/ws/2", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", header)
		for _, q := range []bool{false, true} {
			tok, err := extractToken(r, q)
			if err == nil && tok == "" {
				t.Fatalf("%q %q: empty token accepted", header, query)
			}
		}
	})
}
