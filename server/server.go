// Package server wires the gateway's components — store, twin handler,
// WebSocket door, HTTP door, metrics — into one http.Server. cmd/twinway
// calls it, and so do the end-to-end tests, which start as many gateways as
// they like in one process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/twinway/twinway/api"
	"github.com/twinway/twinway/auth"
	"github.com/twinway/twinway/gateway"
	"github.com/twinway/twinway/metrics"
	"github.com/twinway/twinway/policies"
	"github.com/twinway/twinway/twin"
	"github.com/twinway/twinway/twin/mongostore"
	"github.com/twinway/twinway/twin/sqlitestore"
)

// Server is one running gateway.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   twin.Store
	gateway *gateway.Gateway
	http    *http.Server
}

// store is what the server needs of a thing store.
type store interface {
	twin.Store
	twin.Searcher
	twin.PolicyStore
}

// openStore opens the MongoDB store when a URI is configured, else the
// embedded store, and returns it with the readiness probe of /health.
func openStore(ctx context.Context, cfg Config, log *slog.Logger, m *metrics.Metrics) (store, func(context.Context) error, error) {
	if cfg.MongoDB.URI != "" {
		s, err := mongostore.Open(ctx, mongostore.Config{URI: cfg.MongoDB.URI, Database: cfg.MongoDB.Database,
			ConnectTimeout: time.Duration(cfg.MongoDB.ConnectTimeout), OperationTimeout: time.Duration(cfg.MongoDB.OperationTimeout),
			MaxPoolSize: cfg.MongoDB.MaxPoolSize, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("opening the MongoDB store: %w", err)
		}
		return s, s.Ping, nil
	}
	s, err := sqlitestore.Open(ctx, sqlitestore.Config{Dir: cfg.DataDir, Logger: log, Observe: m.ObserveCommit})
	if err != nil {
		return nil, nil, fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
	}
	ready := func(ctx context.Context) error {
		_, err := s.Get(ctx, "_:health-probe")
		if errors.Is(err, twin.ErrNotFound) {
			return nil
		}
		return err
	}
	return s, ready, nil
}

// New opens the store and builds the gateway described by cfg.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, defaultUser, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if defaultUser {
		log.Warn("the default user ditto/ditto is enabled: configure users before exposing the gateway")
	}
	m := metrics.New()
	store, ready, err := openStore(ctx, cfg, log.With("component", "store"), m)
	if err != nil {
		return nil, err
	}
	httpAuth, wsAuth, tokens, err := authenticators(ctx, cfg, log)
	if err != nil {
		store.Close()
		return nil, err
	}

	// The handler publishes events to the gateway, and the gateway sends
	// commands to the handler: the sink closes over gw, set just below.
	var gw *gateway.Gateway
	pols, err := policies.New(policies.Config{Store: store, Logger: log.With("component", "policies")})
	if err != nil {
		store.Close()
		return nil, err
	}
	twins, err := twin.New(twin.Config{Store: store, Policies: pols, Logger: log.With("component", "twin"), MaxThingBytes: cfg.MaxThingBytes,
		Events: twin.EventSinkFunc(func(ev twin.Event) { gw.Publish(ev) })})
	if err != nil {
		store.Close()
		return nil, err
	}
	commands := commandRouter{things: twins, policies: pols}
	gw, err = gateway.New(gateway.Config{Twins: commands, Search: twins, Live: twins, Auth: wsAuth, Tokens: tokens, Metrics: m, Logger: log.With("component", "gateway"),
		QueueMessages: cfg.WebSocket.QueueMessages, QueueBytes: cfg.WebSocket.QueueBytes,
		MaxMessageBytes: cfg.WebSocket.MaxMessageBytes, PingInterval: time.Duration(cfg.WebSocket.PingInterval)})
	if err != nil {
		store.Close()
		return nil, err
	}
	httpAPI, err := api.New(api.Config{Twins: twins, Policies: pols, ThingPolicies: twins, Auth: httpAuth, Challenges: challenges(cfg), Metrics: m, Logger: log.With("component", "api"),
		MaxBodyBytes: cfg.HTTP.MaxBodyBytes, DefaultNamespace: cfg.DefaultNamespace, Search: twins, Ready: ready, Events: gw,
		Commands: gw, Live: gw})
	if err != nil {
		store.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/ws/2", gw)
	mux.Handle("/", httpAPI.Handler())
	return &Server{cfg: cfg, log: log, store: store, gateway: gw,
		http: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 610 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}}, nil
}

// authenticators builds the authentication chains of the two doors, in
// Ditto's order: the pre-authenticated header, the JWT, then Basic users.
// The WebSocket door also takes the JWT from the access_token parameter.
// tokens verifies the JWTs of sessions' JWT-TOKEN refreshes (nil without
// issuers).
func authenticators(ctx context.Context, cfg Config, log *slog.Logger) (httpAuth, wsAuth *auth.Chain, tokens gateway.TokenVerifier, err error) {
	var basic *auth.BasicUsers
	if len(cfg.Users) > 0 {
		users := make(map[string]string, len(cfg.Users))
		for _, u := range cfg.Users {
			users[u.Name] = u.Password
		}
		basic = auth.NewBasicUsers(users)
	}
	var pre *auth.PreAuthenticated
	if len(cfg.PreAuthentication.TrustedProxies) > 0 {
		prefixes, err := auth.ParsePrefixes(cfg.PreAuthentication.TrustedProxies)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("preAuthentication.trustedProxies: %w", err)
		}
		pre = auth.NewPreAuthenticated(prefixes)
	}
	httpChain := []auth.Authenticator{optional(pre)}
	wsChain := []auth.Authenticator{optional(pre)}
	if len(cfg.OIDC.Issuers) > 0 {
		issuers := make([]auth.IssuerConfig, 0, len(cfg.OIDC.Issuers))
		for _, i := range cfg.OIDC.Issuers {
			issuers = append(issuers, auth.IssuerConfig{Issuer: i.Issuer, SubjectPrefix: i.SubjectPrefix, Audience: i.Audience,
				SubjectClaims: i.SubjectClaims, ClockSkew: time.Duration(i.ClockSkew)})
		}
		oidc, err := auth.NewOIDC(ctx, issuers, auth.OIDCOptions{Logger: log.With("component", "oidc"),
			DiscoveryTimeout: time.Duration(cfg.OIDC.DiscoveryTimeout)})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("oidc: %w", err)
		}
		tokens = oidc
		httpChain = append(httpChain, oidc)
		wsChain = append(wsChain, oidc.WebSocket())
	}
	httpChain = append(httpChain, optional(basic))
	wsChain = append(wsChain, optional(basic))
	return auth.NewChain(httpChain...), auth.NewChain(wsChain...), tokens, nil
}

// optional turns a nil pointer into a nil interface, which a chain leaves out.
func optional[T auth.Authenticator](a T) auth.Authenticator {
	var zero T
	if any(a) == any(zero) {
		return nil
	}
	return a
}

// challenges are the WWW-Authenticate challenges of a 401: Basic when users
// exist, Bearer when OIDC issuers do.
func challenges(cfg Config) []string {
	var out []string
	if len(cfg.Users) > 0 {
		out = append(out, `Basic realm="twinway"`)
	}
	if len(cfg.OIDC.Issuers) > 0 {
		out = append(out, `Bearer realm="twinway"`)
	}
	return out
}

// Listen opens the configured address.
func (s *Server) Listen() (net.Listener, error) {
	return net.Listen("tcp", s.cfg.Listen)
}

// Serve serves on ln until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	s.log.Info("gateway listening", "addr", ln.Addr().String(), "data", s.cfg.DataDir)
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown closes the WebSocket sessions (which http.Server.Shutdown does
// not track), lets HTTP requests in flight finish, then closes the store so
// that every acknowledged write is on disk.
func (s *Server) Shutdown(ctx context.Context) error {
	errs := []error{s.gateway.Shutdown(ctx), s.http.Shutdown(ctx), s.store.Close()}
	return errors.Join(errs...)
}
