package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/twinway/twinway/protocol"
)

// This file holds what the OIDC authenticator does around go-oidc's
// verification: finding the token in a request, reading the issuer of a token
// not yet verified (only to choose the verifier), and turning verified claims
// into subjects. The messages are Ditto's (gateway/service/…/security/
// authentication/jwt and jwt/model), so Ditto's clients see the same errors.

// accessTokenParam is the WebSocket upgrade's query parameter for the JWT
// (Ditto's WebSocketJwtExtractor).
const accessTokenParam = "access_token"

// bearerApplicable reports whether r has an Authorization header with the
// Bearer scheme.
func bearerApplicable(r *http.Request) bool {
	return len(bearerHeaders(r)) > 0
}

// bearerHeaders are r's Authorization header lines with the Bearer scheme.
func bearerHeaders(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("Authorization") {
		if scheme, _, _ := strings.Cut(v, " "); strings.EqualFold(scheme, "Bearer") {
			out = append(out, v)
		}
	}
	return out
}

// extractToken finds the JWT of r: the Authorization header and, when
// queryParam is set (the WebSocket door), the access_token query parameter.
func extractToken(r *http.Request, queryParam bool) (string, *protocol.Error) {
	fromHeader := bearerHeaders(r)
	var fromQuery []string
	if queryParam {
		fromQuery = r.URL.Query()[accessTokenParam]
	}
	switch {
	case len(fromHeader)+len(fromQuery) > 1:
		return "", protocol.Errorf(protocol.CodeAuthenticationFailed, "Multiple JWTs provided.").
			WithDescription("A JWT was provided both as a header and as query parameter. Only a single JWT is expected.")
	case len(fromHeader) == 1:
		// Ditto splits "Bearer <token>" on single spaces and wants two parts.
		parts := strings.Split(fromHeader[0], " ")
		if len(parts) != 2 {
			return "", jwtInvalid("The Authorization Header is invalid!")
		}
		if parts[1] == "" {
			return "", missingToken(queryParam)
		}
		return parts[1], nil
	case len(fromQuery) == 1 && fromQuery[0] != "":
		return fromQuery[0], nil
	}
	return "", missingToken(queryParam)
}

func missingToken(queryParam bool) *protocol.Error {
	d := "Please provide a valid JWT in the authorization header prefixed with 'Bearer '."
	if queryParam {
		d = "Please provide a valid JWT in the 'Authorization' header prefixed with 'Bearer ' or as query parameter 'access_token'."
	}
	return protocol.Errorf(protocol.CodeAuthenticationFailed, "The JWT was missing.").WithDescription(d)
}

// jwtInvalid is Ditto's JwtInvalidException (400 jwt:invalid).
func jwtInvalid(description string) *protocol.Error {
	return protocol.Errorf(protocol.CodeJWTInvalid, "The JSON Web Token is not valid.").WithDescription(description)
}

// notVerified is Ditto's answer to a token that fails validation
// (JwtAuthenticationProvider.buildJwtUnauthorizedException): a plain 401
// gateway:authentication.failed, also for an expired token.
func notVerified(description string) *protocol.Error {
	return protocol.Errorf(protocol.CodeAuthenticationFailed, "The JWT could not be verified.").WithDescription(description)
}

// unverifiedIssuer reads the iss claim of a token whose signature is not yet
// checked. Nothing else is taken from the unverified token: the issuer only
// chooses the verifier, which then checks the signature and the issuer again.
func unverifiedIssuer(raw string) (string, *protocol.Error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", jwtInvalid("The token is expected to have three parts: header, payload and signature.")
	}
	var header map[string]json.RawMessage
	var claims struct {
		Issuer json.RawMessage `json:"iss"`
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil {
		return "", jwtInvalid("Check if your JSON Web Token has the correct format and is Base64 URL encoded.")
	}
	var iss string
	if len(claims.Issuer) == 0 || json.Unmarshal(claims.Issuer, &iss) != nil || iss == "" {
		return "", jwtInvalid("The JWT must have an issuer: a non-empty string in the 'iss' claim.")
	}
	return iss, nil
}

// decodeSegment decodes one base64url part of a JWT (padded or not, as Java's
// URL decoder accepts) into a JSON object.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(b, v)
}

var errNotObject = errors.New("not a JSON object")

// claimPath is a claim that names subjects: a top-level claim ("sub",
// "groups") or a slash-separated path into nested objects
// ("realm_access/roles"), like Ditto's {{ jwt:realm_access/roles }}.
type claimPath []string

func parseClaimPath(s string) (claimPath, bool) {
	p := strings.Split(s, "/")
	for _, seg := range p {
		if seg == "" {
			return nil, false
		}
	}
	return p, true
}

// values returns the claim's values as strings: a string is one value, an
// array gives one value per string or number element, a number its decimal
// text; anything else (missing, object, boolean, null) gives none.
func (p claimPath) values(claims map[string]any) []string {
	var v any = claims
	for _, seg := range p {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[seg]; !ok {
			return nil
		}
	}
	if a, ok := v.([]any); ok {
		var out []string
		for _, e := range a {
			if s, ok := scalar(e); ok {
				out = append(out, s)
			}
		}
		return out
	}
	if s, ok := scalar(v); ok {
		return []string{s}
	}
	return nil
}

func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case json.Number:
		return v.String(), true
	}
	return "", false
}

// subjects builds "<prefix>:<value>" for every value of every claim, in
// claim order, without duplicates.
func subjects(prefix string, paths []claimPath, claims map[string]any) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		for _, v := range p.values(claims) {
			s := prefix + ":" + v
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
