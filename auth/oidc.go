package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/twinway/twinway/protocol"
)

// DefaultClockSkew is the clock skew tolerated on exp, nbf and iat when an
// issuer does not set one (Ditto's oauth.allowed-clock-skew).
const DefaultClockSkew = 10 * time.Second

// IssuerConfig is one trusted OpenID Connect issuer (Ditto's
// oauth.openid-connect-issuers entry).
type IssuerConfig struct {
	// Issuer is the issuer URL, exactly as in its tokens' iss claim and its
	// discovery document, e.g. "https://accounts.google.com". Required.
	Issuer string
	// SubjectPrefix is the subject issuer of the subjects built from its
	// tokens: "google" gives "google:<sub>". Required, without ':'.
	SubjectPrefix string
	// Audience, when set, must be in the token's aud claim; a token without
	// it fails with gateway:jwt.condition.failed. Empty: aud is not checked.
	Audience string
	// SubjectClaims name the claims that become subjects, in order; the
	// first value is the default subject. A claim may hold a string, a number
	// or an array of them (one subject per element: "groups"), and may be a
	// path into nested objects ("realm_access/roles"). Default: ["sub"].
	SubjectClaims []string
	// ClockSkew is tolerated on exp, nbf and iat. Zero: DefaultClockSkew.
	ClockSkew time.Duration
	// Algorithms are the accepted signature algorithms. Default: every
	// asymmetric algorithm go-oidc supports (RS256/384/512, ES256/384/512,
	// PS256/384/512, EdDSA). "none" and HMAC are never accepted.
	Algorithms []string
}

// OIDCOptions are the OIDC authenticator's settings; zero values are the
// documented defaults.
type OIDCOptions struct {
	// HTTPClient fetches discovery documents and key sets. Default: a client
	// with a 10 s timeout.
	HTTPClient *http.Client
	// Logger receives discovery failures. Default: discard.
	Logger *slog.Logger
	// DiscoveryTimeout bounds one discovery request. Default: 10 s.
	DiscoveryTimeout time.Duration
	// RetryInterval is how long after a failed discovery tokens of that
	// issuer are answered 503 before discovery is tried again. Default: 10 s.
	RetryInterval time.Duration
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// defaultAlgorithms are go-oidc's asymmetric algorithms.
var defaultAlgorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

// OIDC authenticates JSON Web Tokens of trusted OpenID Connect issuers.
// go-oidc verifies every token: discovery, the issuer's key set (cached, and
// fetched again when a token names a key id it has not seen, so rotated keys
// are picked up and removed keys stop verifying), signature, algorithm, iss,
// aud and exp. This type chooses the issuer by the token's iss claim, checks
// nbf and iat with the issuer's clock skew, and turns the configured claims
// into subjects.
//
// Discovery is lazy: NewOIDC tries every issuer once, and an issuer that is
// unreachable then is tried again on its first token (at most once per
// RetryInterval), so the gateway starts, and serves other authenticators,
// while an identity provider is down. Its tokens meanwhile get 503
// gateway:authentication.provider.unavailable.
//
// Authenticate reads the Authorization: Bearer header (Ditto's HTTP door);
// WebSocket returns the authenticator of the /ws/2 upgrade, which also reads
// the access_token query parameter. An OIDC is safe for concurrent use.
type OIDC struct {
	issuers map[string]*oidcIssuer // by Issuer URL
	base    context.Context        // carries the HTTP client for go-oidc; never cancelled
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	retry   time.Duration
}

type oidcIssuer struct {
	cfg    IssuerConfig
	claims []claimPath
	// verifier is set once discovery succeeded and never changes after.
	verifier atomic.Pointer[oidc.IDTokenVerifier]
	mu       sync.Mutex // serialises discovery
	failedAt time.Time  // guarded by mu: the last failed discovery
}

// NewOIDC validates the issuers and tries their discovery, within ctx. An
// issuer whose discovery document names another issuer is a configuration
// error; an unreachable issuer is logged and tried again later. ctx bounds
// only this first attempt: later requests use the HTTP client alone.
func NewOIDC(ctx context.Context, issuers []IssuerConfig, opts OIDCOptions) (*OIDC, error) {
	if len(issuers) == 0 {
		return nil, errors.New("oidc: no issuers configured")
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.DiscoveryTimeout <= 0 {
		opts.DiscoveryTimeout = 10 * time.Second
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	o := &OIDC{
		issuers: make(map[string]*oidcIssuer, len(issuers)),
		base:    oidc.ClientContext(context.Background(), opts.HTTPClient),
		log:     opts.Logger,
		now:     opts.Now,
		timeout: opts.DiscoveryTimeout,
		retry:   opts.RetryInterval,
	}
	for _, cfg := range issuers {
		iss, err := newOIDCIssuer(cfg)
		if err != nil {
			return nil, err
		}
		if _, dup := o.issuers[cfg.Issuer]; dup {
			return nil, fmt.Errorf("oidc: issuer %q configured twice", cfg.Issuer)
		}
		o.issuers[cfg.Issuer] = iss
	}

	errs := make([]error, len(issuers))
	var wg sync.WaitGroup
	for i, cfg := range issuers {
		iss := o.issuers[cfg.Issuer]
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, opts.HTTPClient), o.timeout)
			defer cancel()
			iss.mu.Lock()
			defer iss.mu.Unlock()
			errs[i] = o.discover(dctx, iss)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if mismatch := (*oidc.IssuerMismatchError)(nil); errors.As(err, &mismatch) {
			return nil, fmt.Errorf("oidc: issuer %q: %w", issuers[i].Issuer, err)
		}
	}
	return o, nil
}

func newOIDCIssuer(cfg IssuerConfig) (*oidcIssuer, error) {
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("oidc: issuer %q: not an http(s) URL", cfg.Issuer)
	}
	if cfg.SubjectPrefix == "" || strings.Contains(cfg.SubjectPrefix, ":") {
		return nil, fmt.Errorf("oidc: issuer %q: the subject prefix must be non-empty and without ':'", cfg.Issuer)
	}
	if cfg.ClockSkew < 0 {
		return nil, fmt.Errorf("oidc: issuer %q: negative clock skew", cfg.Issuer)
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if len(cfg.SubjectClaims) == 0 {
		cfg.SubjectClaims = []string{"sub"}
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = defaultAlgorithms
	}
	for _, alg := range cfg.Algorithms {
		if !slices.Contains(defaultAlgorithms, alg) {
			return nil, fmt.Errorf("oidc: issuer %q: algorithm %q is not supported", cfg.Issuer, alg)
		}
	}
	iss := &oidcIssuer{cfg: cfg}
	for _, c := range cfg.SubjectClaims {
		p, ok := parseClaimPath(c)
		if !ok {
			return nil, fmt.Errorf("oidc: issuer %q: bad subject claim %q", cfg.Issuer, c)
		}
		iss.claims = append(iss.claims, p)
	}
	return iss, nil
}

// discover fetches iss's discovery document and builds its verifier; the
// caller holds iss.mu.
func (o *OIDC) discover(ctx context.Context, iss *oidcIssuer) error {
	p, err := oidc.NewProvider(ctx, iss.cfg.Issuer)
	if err != nil {
		iss.failedAt = o.now()
		o.log.Warn("OpenID Connect discovery failed", "issuer", iss.cfg.Issuer, "err", err)
		return err
	}
	skew := iss.cfg.ClockSkew
	v := p.VerifierContext(o.base, &oidc.Config{
		ClientID:             iss.cfg.Audience,
		SkipClientIDCheck:    iss.cfg.Audience == "",
		SupportedSigningAlgs: iss.cfg.Algorithms,
		// go-oidc has no leeway on exp: a clock skew behind lets a token
		// pass until exp+skew. nbf and iat are checked below with the skew.
		Now: func() time.Time { return o.now().Add(-skew) },
	})
	iss.verifier.Store(v)
	return nil
}

// verifierOf returns iss's verifier, discovering it first if need be.
func (o *OIDC) verifierOf(iss *oidcIssuer) (*oidc.IDTokenVerifier, error) {
	if v := iss.verifier.Load(); v != nil {
		return v, nil
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if v := iss.verifier.Load(); v != nil {
		return v, nil
	}
	if !iss.failedAt.IsZero() && o.now().Sub(iss.failedAt) < o.retry {
		return nil, errUnavailable
	}
	ctx, cancel := context.WithTimeout(o.base, o.timeout)
	defer cancel()
	if err := o.discover(ctx, iss); err != nil {
		return nil, errUnavailable
	}
	return iss.verifier.Load(), nil
}

var errUnavailable = errors.New("oidc: issuer unavailable")

func unavailable() *protocol.Error {
	return protocol.Errorf(protocol.CodeAuthProviderUnavailable, "The authentication provider is not available.")
}

// Applicable reports whether r has an Authorization: Bearer header.
func (o *OIDC) Applicable(r *http.Request) bool {
	return o != nil && bearerApplicable(r)
}

// Authenticate verifies the JWT of r's Authorization: Bearer header.
func (o *OIDC) Authenticate(r *http.Request) (Context, error) {
	raw, perr := extractToken(r, false)
	if perr != nil {
		return Context{}, perr
	}
	return o.Verify(r.Context(), raw)
}

// WebSocket returns the authenticator of the /ws/2 upgrade, which takes the
// JWT from the Authorization: Bearer header or the access_token query
// parameter (both at once: 401 "Multiple JWTs provided.").
func (o *OIDC) WebSocket() *OIDCWebSocket { return &OIDCWebSocket{o: o} }

// OIDCWebSocket is the OIDC authenticator of WebSocket upgrades.
type OIDCWebSocket struct{ o *OIDC }

// Applicable reports whether r has a Bearer header or an access_token query
// parameter.
func (w *OIDCWebSocket) Applicable(r *http.Request) bool {
	return w != nil && w.o != nil && (bearerApplicable(r) || r.URL.Query().Has(accessTokenParam))
}

// Authenticate verifies the JWT of the upgrade request r.
func (w *OIDCWebSocket) Authenticate(r *http.Request) (Context, error) {
	raw, perr := extractToken(r, true)
	if perr != nil {
		return Context{}, perr
	}
	return w.o.Verify(r.Context(), raw)
}

// Verify verifies a raw JWT, e.g. the one of a WebSocket session's
// JWT-TOKEN?jwtToken=… refresh, and returns its context: the subjects of the
// issuer's subject claims, and Expiry = the token's exp. Its errors are Ditto's:
//
//   - 400 jwt:invalid: not three base64url JSON parts, or no iss claim;
//   - 401 gateway:jwt.issuer.notsupported: iss is no configured issuer;
//   - 401 gateway:authentication.failed "The JWT could not be verified.":
//     expired or without exp (go-oidc requires exp), not yet valid, issued
//     in the future, bad signature, unknown key id, algorithm not accepted
//     ("none", HMAC), no subject claim;
//   - 401 gateway:jwt.condition.failed: the configured audience is not in aud;
//   - 503 gateway:authentication.provider.unavailable: discovery or the key
//     set cannot be fetched.
func (o *OIDC) Verify(ctx context.Context, raw string) (Context, error) {
	if raw == "" {
		return Context{}, missingToken(false)
	}
	issURL, perr := unverifiedIssuer(raw)
	if perr != nil {
		return Context{}, perr
	}
	iss := o.issuer(issURL)
	if iss == nil {
		return Context{}, protocol.Errorf(protocol.CodeJWTIssuerNotSupported, "The JWT issuer '%s' is not supported.", issURL)
	}
	v, err := o.verifierOf(iss)
	if err != nil {
		return Context{}, unavailable()
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return Context{}, o.verifyError(ctx, iss, err)
	}
	var claims map[string]any
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return Context{}, notVerified(err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return Context{}, notVerified(err.Error())
	}
	if perr := o.checkTimes(iss, claims); perr != nil {
		return Context{}, perr
	}
	subs := subjects(iss.cfg.SubjectPrefix, iss.claims, claims)
	if len(subs) == 0 {
		return Context{}, notVerified(fmt.Sprintf("The JWT has none of the claims %s that name its subjects.",
			strings.Join(iss.cfg.SubjectClaims, ", ")))
	}
	return Context{Subjects: subs, Expiry: tok.Expiry}, nil
}

// issuer finds the configured issuer of a token's iss claim. A claim without
// a scheme also matches its https URL (Ditto's issuers are written without
// one; go-oidc accepts "accounts.google.com" for Google's issuer).
func (o *OIDC) issuer(iss string) *oidcIssuer {
	if i, ok := o.issuers[iss]; ok {
		return i
	}
	if !strings.Contains(iss, "://") {
		return o.issuers["https://"+iss]
	}
	return nil
}

// verifyError maps go-oidc's verification error to Ditto's. go-oidc types
// only the expiry error; the audience, nbf and key-set failures are known by
// their text, which TestOIDCRejects, TestOIDCKeySetUnavailable and
// TestOIDCLazyDiscovery pin for the go-oidc version in go.mod.
func (o *OIDC) verifyError(ctx context.Context, iss *oidcIssuer, err error) *protocol.Error {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired) && expired.Expiry.IsZero():
		return notVerified("The JWT has no expiry (exp).")
	case errors.As(err, &expired):
		return notVerified(fmt.Sprintf("The JWT expired at %s.", expired.Expiry.UTC().Format(time.RFC3339)))
	case ctx.Err() != nil:
		return unavailable()
	case strings.Contains(msg, "fetching keys"):
		o.log.Warn("fetching the OpenID Connect key set failed", "issuer", iss.cfg.Issuer, "err", err)
		return unavailable()
	case strings.Contains(msg, "expected audience"):
		return protocol.Errorf(protocol.CodeJWTConditionFailed, "The JWT did not meet a configured prerequisite condition.").
			WithDescription(fmt.Sprintf("The JWT's audience (aud) must contain '%s'.", iss.cfg.Audience))
	case strings.Contains(msg, "before the nbf"):
		return notVerified("The JWT is not valid yet (nbf).")
	}
	return notVerified(msg)
}

// checkTimes rejects a verified token whose nbf or iat lies further in the
// future than the issuer's clock skew (go-oidc allows five minutes on nbf
// and does not look at iat).
func (o *OIDC) checkTimes(iss *oidcIssuer, claims map[string]any) *protocol.Error {
	limit := o.now().Add(iss.cfg.ClockSkew)
	if t, ok := numericDate(claims["nbf"]); ok && t.After(limit) {
		return notVerified(fmt.Sprintf("The JWT is not valid before %s.", t.UTC().Format(time.RFC3339)))
	}
	if t, ok := numericDate(claims["iat"]); ok && t.After(limit) {
		return notVerified(fmt.Sprintf("The JWT was issued in the future, at %s.", t.UTC().Format(time.RFC3339)))
	}
	return nil
}

// numericDate reads a JWT NumericDate (seconds since the epoch, possibly
// fractional).
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) {
		return time.Time{}, false
	}
	f = max(min(f, 1<<40), -(1 << 40)) // ±35,000 years, far from overflow
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
