package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/twinway/twinway/protocol"
)

// Authenticator turns a request's credentials into a Context. Its error is a
// *protocol.Error (401, 400 or 503) that the door sends as it is.
type Authenticator interface {
	Authenticate(r *http.Request) (Context, error)
}

// Applicable is implemented by an Authenticator that can tell whether a
// request carries credentials of its kind at all. A Chain skips it for a
// request without them; an Authenticator without this method is always tried.
type Applicable interface {
	Applicable(r *http.Request) bool
}

// Chain tries its authenticators in order, as Ditto's AuthenticationChain
// does: the first success wins; an authenticator that does not apply is
// skipped; a failure does not stop the chain (a later authenticator may still
// succeed). When nothing succeeds the answer is
//
//   - no applicable authenticator: 401 "No applicable authentication
//     provider was found!";
//   - one failure: that failure;
//   - several: the first that is not a 401, else one 401 that lists every
//     failure's description (Ditto's DefaultAuthenticationFailureAggregator).
type Chain struct {
	authenticators []Authenticator
}

// NewChain returns a chain of the authenticators, tried in the given order;
// nil interface values are left out. Ditto's order is the pre-authenticated
// header, then the JWT; Basic users, which Ditto leaves to nginx, come last.
func NewChain(authenticators ...Authenticator) *Chain {
	c := &Chain{}
	for _, a := range authenticators {
		if a != nil {
			c.authenticators = append(c.authenticators, a)
		}
	}
	return c
}

// Authenticate runs the chain on r.
func (c *Chain) Authenticate(r *http.Request) (Context, error) {
	var failures []*protocol.Error
	for _, a := range c.authenticators {
		if ap, ok := a.(Applicable); ok && !ap.Applicable(r) {
			continue
		}
		who, err := a.Authenticate(r)
		if err == nil {
			return who, nil
		}
		failures = append(failures, asAuthError(err))
	}
	switch len(failures) {
	case 0:
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "No applicable authentication provider was found!")
	case 1:
		return Context{}, failures[0]
	}
	return Context{}, aggregate(failures)
}

// aggregate is Ditto's DefaultAuthenticationFailureAggregator: the first
// failure that is not a 401, else a 401 whose description collects the
// failures' descriptions.
func aggregate(failures []*protocol.Error) *protocol.Error {
	var descriptions []string
	for _, f := range failures {
		if f.Status != http.StatusUnauthorized {
			return f
		}
		if f.Description != "" {
			descriptions = append(descriptions, "{ "+f.Description+" }")
		}
	}
	e := protocol.Errorf(protocol.CodeAuthenticationFailed, "Multiple authentication mechanisms were applicable but none succeeded.")
	if len(descriptions) > 0 {
		e = e.WithDescription("For a successful authentication see the following suggestions: " + strings.Join(descriptions, ", ") + ".")
	}
	return e
}

// asAuthError keeps a Ditto error as it is; anything else (a bug or an
// unreachable dependency in an authenticator) becomes the 503 Ditto answers
// for an authentication provider that failed unexpectedly.
func asAuthError(err error) *protocol.Error {
	var e *protocol.Error
	if errors.As(err, &e) {
		return e
	}
	return protocol.Errorf(protocol.CodeAuthProviderUnavailable, "The authentication provider is not available.")
}

// Applicable reports whether r has an Authorization header with the Basic
// scheme, so that a Chain tries the users only for such requests.
func (b *BasicUsers) Applicable(r *http.Request) bool {
	if b == nil {
		return false
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Basic")
}
