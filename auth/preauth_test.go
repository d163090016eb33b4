package auth

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"

	"github.com/twinway/twinway/protocol"
)

func preAuthRequest(remote string, values ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/ws/2", nil)
	r.RemoteAddr = remote
	for _, v := range values {
		r.Header.Add(HeaderPreAuthenticated, v)
	}
	return r
}

func TestPreAuthenticated(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8", "127.0.0.1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPreAuthenticated(trusted)

	ok := []struct {
		remote, header string
		want           []string
	}{
		{"10.1.2.3:4711", "nginx:ditto", []string{"nginx:ditto"}},
		{"127.0.0.1:1", " nginx:ditto , google:alice,, ", []string{"nginx:ditto", "google:alice"}},
		{"[::ffff:10.0.0.1]:80", "nginx:ditto", []string{"nginx:ditto"}},
		{"[fd00::1%eth0]:80", "nginx:ditto", []string{"nginx:ditto"}},
	}
	for _, c := range ok {
		r := preAuthRequest(c.remote, c.header)
		if !p.Applicable(r) {
			t.Fatalf("%s: not applicable", c.remote)
		}
		who, err := p.Authenticate(r)
		if err != nil || !slices.Equal(who.Subjects, c.want) || !who.Expiry.IsZero() {
			t.Fatalf("%s %q: %+v, %v", c.remote, c.header, who, err)
		}
	}

	fail := []struct {
		name    string
		r       *http.Request
		message string
	}{
		{"untrusted peer", preAuthRequest("192.168.1.1:80", "nginx:admin"), "The header 'x-ditto-pre-authenticated' is only accepted from a trusted proxy."},
		{"127.0.0.2", preAuthRequest("127.0.0.2:80", "nginx:admin"), "The header 'x-ditto-pre-authenticated' is only accepted from a trusted proxy."},
		{"no address", preAuthRequest("@", "nginx:admin"), "The header 'x-ditto-pre-authenticated' is only accepted from a trusted proxy."},
		{"twice", preAuthRequest("10.0.0.1:80", "nginx:a", "nginx:b"), "The header 'x-ditto-pre-authenticated' must be given once."},
		{"empty", preAuthRequest("10.0.0.1:80", " , "), "Failed to extract AuthorizationSubjects from pre-authenticated header value < , >!"},
		{"absent", preAuthRequest("10.0.0.1:80"), "No pre-authenticated subject was provided!"},
	}
	for _, c := range fail {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Authenticate(c.r)
			wantError(t, err, 401, protocol.CodeAuthenticationFailed, c.message)
		})
	}

	// The query parameter Ditto also reads is ignored: a proxy passes it on.
	r := httptest.NewRequest(http.MethodGet, "/ws/2?x-ditto-pre-authenticated=nginx:admin", nil)
	r.RemoteAddr = "10.0.0.1:80"
	if p.Applicable(r) {
		t.Fatal("applicable to the query parameter")
	}

	// Nothing trusted: never accepted.
	_, err = NewPreAuthenticated(nil).Authenticate(preAuthRequest("127.0.0.1:1", "nginx:ditto"))
	wantError(t, err, 401, protocol.CodeAuthenticationFailed, "")
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{"10.1.2.3/8", " ::1 ", "::ffff:127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.1/32")}
	if !slices.Equal(got, want) {
		t.Fatalf("= %v, want %v", got, want)
	}
	for _, bad := range []string{"", "10.0.0.0/33", "nginx"} {
		if _, err := ParsePrefixes([]string{bad}); err == nil {
			t.Fatalf("%q: no error", bad)
		}
	}
}
