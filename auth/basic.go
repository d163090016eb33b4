package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/twinway/twinway/protocol"
)

// BasicSubjectIssuer is the issuer of HTTP Basic subjects: user U is
// "nginx:U", as in Ditto's default deployment behind nginx.
const BasicSubjectIssuer = "nginx"

// BasicUsers authenticates HTTP Basic credentials against configured users.
type BasicUsers struct {
	// passwords holds SHA-256 digests so that comparisons take constant time
	// whatever the lengths involved.
	passwords map[string][sha256.Size]byte
}

// NewBasicUsers returns an authenticator for the users (name → password).
func NewBasicUsers(users map[string]string) *BasicUsers {
	b := &BasicUsers{passwords: make(map[string][sha256.Size]byte, len(users))}
	for name, password := range users {
		b.passwords[name] = sha256.Sum256([]byte(password))
	}
	return b
}

// Authenticate checks the request's Authorization: Basic header.
func (b *BasicUsers) Authenticate(r *http.Request) (Context, error) {
	name, password, ok := r.BasicAuth()
	if !ok {
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "The request did not contain credentials: use HTTP Basic authentication.")
	}
	want, known := b.passwords[name]
	got := sha256.Sum256([]byte(password))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 || !known {
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "The username or password is wrong.")
	}
	return Context{Subjects: []string{BasicSubjectIssuer + ":" + name}}, nil
}
