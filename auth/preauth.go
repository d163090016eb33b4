package auth

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/twinway/twinway/protocol"
)

// HeaderPreAuthenticated carries subjects that a reverse proxy in front of the
// gateway has already authenticated: "<issuer>:<subject>[,<issuer>:<subject>…]",
// e.g. "nginx:ditto" for nginx's Basic user ditto.
const HeaderPreAuthenticated = "x-ditto-pre-authenticated"

// PreAuthenticated trusts the x-ditto-pre-authenticated header, but only on
// connections whose remote address (the TCP peer, never X-Forwarded-For) is in
// one of the trusted proxy prefixes. It is off unless configured: build it
// only when trusted proxies are configured.
//
// Differences from Ditto (PreAuthenticatedAuthenticationProvider), on purpose:
//   - Ditto trusts the header from anyone once pre-authentication is enabled;
//     here the peer must be a trusted proxy. From any other address the header
//     makes the authenticator applicable and it fails (401), so a misconfigured
//     proxy is noticed; another authenticator of a Chain may still succeed
//     with its own credentials, which never mix with the header's subjects.
//   - Ditto also reads the header's name as a query parameter; a proxy passes
//     query parameters through unchanged, so a client could set subjects that
//     way. Only the header is read here, and only one header line: the proxy
//     must set (overwrite) it on every request it forwards.
type PreAuthenticated struct {
	trusted []netip.Prefix
}

// NewPreAuthenticated returns the authenticator that accepts the header from
// peers in the trusted prefixes (invalid prefixes are ignored; none at all
// means the header is never accepted).
func NewPreAuthenticated(trustedProxies []netip.Prefix) *PreAuthenticated {
	p := &PreAuthenticated{}
	for _, prefix := range trustedProxies {
		if prefix.IsValid() {
			p.trusted = append(p.trusted, prefix.Masked())
		}
	}
	return p
}

// ParsePrefixes parses trusted proxies from configuration: CIDR prefixes
// ("10.0.0.0/8", "fd00::/8") or single addresses ("127.0.0.1", "::1").
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Applicable reports whether r has the header.
func (p *PreAuthenticated) Applicable(r *http.Request) bool {
	if p == nil {
		return false
	}
	_, ok := r.Header[http.CanonicalHeaderKey(HeaderPreAuthenticated)]
	return ok
}

// Authenticate returns the header's subjects when the peer is trusted.
func (p *PreAuthenticated) Authenticate(r *http.Request) (Context, error) {
	values := r.Header.Values(HeaderPreAuthenticated)
	if len(values) == 0 {
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed, "No pre-authenticated subject was provided!")
	}
	if !p.trustedPeer(r.RemoteAddr) {
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed,
			"The header '%s' is only accepted from a trusted proxy.", HeaderPreAuthenticated)
	}
	if len(values) > 1 {
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed,
			"The header '%s' must be given once.", HeaderPreAuthenticated)
	}
	var subjects []string
	for s := range strings.SplitSeq(values[0], ",") {
		if s = strings.TrimSpace(s); s != "" {
			subjects = append(subjects, s)
		}
	}
	if len(subjects) == 0 {
		return Context{}, protocol.Errorf(protocol.CodeAuthenticationFailed,
			"Failed to extract AuthorizationSubjects from pre-authenticated header value <%s>!", values[0])
	}
	return Context{Subjects: subjects}, nil
}

func (p *PreAuthenticated) trustedPeer(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap().WithZone("")
	for _, prefix := range p.trusted {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}
