// Package authserver is the OAuth 2.1 authorization server of mcpgate: RFC
// 8414 discovery, RFC 7591 dynamic client registration, the authorization
// code flow with PKCE and a login and consent page, RFC 9068 JWT access
// tokens, rotating refresh tokens and RFC 7009 revocation. It is plain
// net/http over a small Storage interface (Caddy's storage fits), so it has
// no Caddy imports and is tested with httptest alone.
//
// All state (clients, codes, refresh-token families, consents, revocations,
// signing keys and the cookie key) lives in Storage, so a restart loses
// nothing and instances sharing a storage backend need no sticky routing.
// One-time use of codes and refresh rotation hold a process mutex and the
// storage lock. Call Sweep periodically to delete what has expired.
package authserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// Server is the authorization server. Create it with New; it is safe for
// concurrent use, and several Servers (processes) may share one Storage.
type Server struct {
	cfg          Config
	store        *store
	log          *zap.Logger
	keys         *keyring
	cookieKey    []byte
	static       map[string]*client
	limiter      *rateLimiter // registrations
	unused       *unusedQuota // never-used clients per address
	logins       *rateLimiter // failed password logins
	secretChecks *secretChecks
	revoked      *revocationCache

	// compareHash is bcrypt.CompareHashAndPassword; tests observe it.
	compareHash func(hash, password []byte) error
	// dummyHash is what an unknown user name's password is checked
	// against (see newDummyHash).
	dummyHash []byte
}

// Endpoint paths, at the origin root: several clients skip discovery and
// synthesize exactly these.
const (
	pathAuthorize  = "/authorize"
	pathToken      = "/token"
	pathRegister   = "/register"
	pathRevoke     = "/revoke"
	pathJWKS       = "/jwks"
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
	wellKnownOIDC  = "/.well-known/openid-configuration"
)

// New validates cfg, fills its defaults and prepares the server's state in
// store: on first start it creates the signing key and the cookie key.
// logger may be nil.
func New(cfg Config, store Storage, logger *zap.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("authserver: no storage")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:          cfg,
		store:        newStore(store, cfg.StoragePrefix),
		log:          logger,
		static:       staticClients(cfg),
		limiter:      newRateLimiter(cfg.Registration.RateLimit, cfg.Registration.RateWindow),
		unused:       newUnusedQuota(cfg.Registration.UnusedClientsPerAddress),
		logins:       newRateLimiter(cfg.LoginAttempts, cfg.LoginAttemptWindow),
		secretChecks: newSecretChecks(cfg),
		revoked:      newRevocationCache(),
		compareHash:  bcrypt.CompareHashAndPassword,
	}
	var err error
	if s.dummyHash, err = newDummyHash(cfg.Users); err != nil {
		return nil, fmt.Errorf("authserver: hashing the dummy password: %w", err)
	}
	s.keys = newKeyring(s.store, cfg, logger)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if s.cookieKey, err = loadCookieKey(ctx, s.store); err != nil {
		return nil, fmt.Errorf("authserver: loading the cookie key from storage: %w", err)
	}
	if _, err := s.keys.signer(ctx, cfg.Now()); err != nil {
		return nil, fmt.Errorf("authserver: loading the signing key from storage: %w", err)
	}
	return s, nil
}

// Handles reports whether ServeHTTP owns r's path: the endpoints and every
// authorization-server or OpenID discovery path (unknown variants of those
// answer 404 JSON). Protected-resource metadata is not among them.
func (s *Server) Handles(r *http.Request) bool {
	p := r.URL.Path
	switch p {
	case pathAuthorize, pathToken, pathRegister, pathRevoke, pathJWKS:
		return true
	}
	return strings.HasPrefix(p, wellKnownOAuth) || strings.HasPrefix(p, wellKnownOIDC) ||
		strings.HasSuffix(p, wellKnownOIDC)
}

// ServeHTTP serves the endpoints Handles reports; other paths get 404 JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p == pathAuthorize {
		s.serveAuthorize(w, r)
		return
	}
	if !s.Handles(r) {
		writeNotFound(w)
		return
	}
	// Everything but /authorize is for programs, browser ones included.
	if preflight(w, r) {
		return
	}
	switch p {
	case pathToken:
		s.serveToken(w, r)
	case pathRegister:
		s.serveRegister(w, r)
	case pathRevoke:
		s.serveRevoke(w, r)
	case pathJWKS:
		s.serveJWKS(w, r)
	default:
		s.serveMetadata(w, r)
	}
}

// remoteIP is the default Config.ClientIP: the peer's address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
