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
	"crypto/cipher"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/go-jose/go-jose/v4"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
)

// Server is the authorization server. Create it with New; it is safe for
// concurrent use, and several Servers (processes) may share one Storage.
type Server struct {
	cfg         Config
	store       *store
	log         *zap.Logger
	keys        *keyring
	cookieKey   atomic.Pointer[[]byte] // see cookieSecret
	cookieKeyMu sync.Mutex
	// upstreamAEAD seals upstream refresh tokens (see upstreamSealer).
	upstreamAEAD   atomic.Pointer[cipher.AEAD]
	upstreamAEADMu sync.Mutex
	static         map[string]*client
	limiter        *rateLimiter   // registrations
	unused         *unusedQuota   // never-used clients per address
	logins         *rateLimiter   // failed password logins
	signIns        *strangerQuota // sign-ins at upstream providers in progress
	newDocuments   *strangerQuota // fetches of client metadata documents not stored
	secretChecks   *secretChecks
	revoked        *revocationCache
	// documents fetches client metadata documents and their JWK sets;
	// nil when they are disabled and in the operator's view.
	documents *documentFetcher
	// documentFlights shares one refresh of a document among the
	// requests that need it at once.
	documentFlights flightGroup[documentRecord]
	jwksFlights     flightGroup[*jose.JSONWebKeySet]
	jwksCache       *jwksCache
	routes          map[string]http.Handler // see Routes
	// operatorView marks a server made by NewOperatorView.
	operatorView bool

	// compareHash is bcrypt.CompareHashAndPassword; tests observe it.
	compareHash func(hash, password []byte) error
	// dummies are what an unknown user name's password is checked against.
	dummies dummyHashes
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

// New validates cfg and fills its defaults, and warns on logger of the
// plain names in grant and allow rules that nothing can match
// (policynames.go). It reads and writes nothing:
// the signing keys are created on first signing and the cookie key on the
// first visit to /authorize, each under the storage lock, so validating a
// configuration leaves storage as it was. logger may be nil.
func New(cfg Config, store Storage, logger *zap.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s, err := newServer(cfg, store, logger)
	if err != nil {
		return nil, err
	}
	for _, w := range s.cfg.policyWarnings() {
		s.log.Warn(w)
	}
	if s.cfg.ClientMetadataDocuments.Disabled {
		return s, nil
	}
	if s.documents, err = newDocumentFetcher(s.cfg.ClientMetadataDocuments, s.cfg.Now, s.log); err != nil {
		return nil, err
	}
	return s, nil
}

// NewOperatorView returns a Server over store for an operator's commands
// (listing and revoking clients and grants, minting tokens for
// pre-registered clients): no one logs in through it, so cfg needs no
// identity source, and it answers no HTTP request.
func NewOperatorView(cfg Config, store Storage, logger *zap.Logger) (*Server, error) {
	if err := cfg.validate(false); err != nil {
		return nil, err
	}
	s, err := newServer(cfg, store, logger)
	if s != nil {
		s.operatorView = true
	}
	return s, err
}

func newServer(cfg Config, store Storage, logger *zap.Logger) (*Server, error) {
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
		signIns:      newSignInQuota(cfg),
		newDocuments: newDocumentQuota(),
		secretChecks: newSecretChecks(cfg),
		revoked:      newRevocationCache(),
		jwksCache:    newJWKSCache(cfg.ClientMetadataDocuments.StaleGrace),
		compareHash:  bcrypt.CompareHashAndPassword,
	}
	loadLimit := cfg.ClientMetadataDocuments.Timeout + loadStorageBudget
	s.documentFlights.limit = loadLimit
	s.jwksFlights.limit = loadLimit
	var err error
	if s.dummies, err = newDummyHashes(cfg.Users); err != nil {
		return nil, fmt.Errorf("authserver: hashing the dummy password: %w", err)
	}
	if s.dummies.mixedCosts() {
		logger.Warn("the users' password hashes have different bcrypt costs; an unknown name costs what some user does, so names stay hidden, but one cost for all is simpler to reason about: re-hash them with `caddy hash-password` (cost 14)")
	}
	s.keys = newKeyring(s.store, cfg, logger)
	s.routes = s.buildRoutes()
	return s, nil
}

// ServeHTTP serves the paths of Routes; any other path gets 404 JSON.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.operatorView {
		writeError(w, errServer())
		return
	}
	if h := s.routes[r.URL.Path]; h != nil {
		h.ServeHTTP(w, r)
		return
	}
	writeNotFound(w)
}

// remoteIP is the default Config.ClientIP: the peer's address.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
