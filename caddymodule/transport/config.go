package transport

import (
	"net/http"
	"time"
)

// Defaults applied by New to zero-valued Config fields.
const (
	// DefaultMaxBodyBytes bounds a request body when Config.MaxBodyBytes is zero.
	DefaultMaxBodyBytes int64 = 4 << 20
	// DefaultTimeout is how long the backend may take to start answering.
	DefaultTimeout = 30 * time.Second
	// DefaultBackendRefresh is how long a probe of the backend is reused
	// when Config.BackendRefresh is zero.
	DefaultBackendRefresh = time.Minute
	// DefaultMaxBackendSessions bounds the sessions held for 2026-07-28
	// callers when Config.MaxBackendSessions is zero.
	DefaultMaxBackendSessions = 1000
	// DefaultMaxBackendSessionsPerSubject bounds the sessions held for one
	// subject when Config.MaxBackendSessionsPerSubject is zero: a user has
	// a few applications at a time.
	DefaultMaxBackendSessionsPerSubject = 4
	// DefaultBackendSessionIdle is how long a held session may go unused
	// when Config.BackendSessionIdle is zero.
	DefaultBackendSessionIdle = 10 * time.Minute
)

// Config describes one MCP endpoint and its backend.
type Config struct {
	// Path is the public MCP endpoint; Path and Path+"/" are both served,
	// without redirects. Default "/mcp".
	Path string

	// UpstreamPath is the backend's JSON-RPC path (legacy servers use
	// "/tools"); the request path is rewritten to it and the query kept.
	// Default "/mcp".
	UpstreamPath string

	// Origin returns the site's public origin (scheme://host); browsers from
	// it are allowed. Required; the Caddy glue passes a publicurl-based func.
	Origin func(*http.Request) string

	// AllowedOrigins are further Origin header values allowed to call the
	// endpoint ("*" allows any). The site's own origin and loopback origins
	// (localhost, 127.0.0.0/8, [::1], any port) are always allowed. Requests
	// without an Origin header (non-browser clients) are always allowed.
	// Default none.
	AllowedOrigins []string

	// Gate authenticates requests and authorizes calls; *guard.Guard
	// implements it. Default nil: no authentication (local use only).
	Gate Gate

	// MaxBodyBytes bounds a POST body; larger bodies get 413. Default 4 MiB.
	MaxBodyBytes int64

	// Timeout bounds how long the backend may take to start its answer
	// (status line); then the client gets a 504 JSON-RPC error. A reply
	// already started (such as an SSE stream) is not cut. Default 30s.
	Timeout time.Duration

	// StreamGET passes GET (the server-to-client SSE stream) through to the
	// backend. Default false: GET gets 405 with Allow: POST, as plain
	// JSON-RPC backends cannot push.
	StreamGET bool

	// CacheTTL is the ttlMs the gateway adds to the cacheable results
	// (server/discover, the lists, resources/read) that a backend older
	// than 2026-07-28 returns to 2026-07-28 clients. Default 0: immediately
	// stale, as the TypeScript SDK v2 server does.
	CacheTTL time.Duration

	// CacheScope is the cacheScope added with CacheTTL, "public" (the same
	// for every user) or "private"; a tools/list filtered per token is
	// always "private". Default "private", as the TypeScript SDK v2 server.
	CacheScope string

	// BackendRefresh is how long the backend's era and initialize result,
	// learnt by probing it (server/discover, else initialize), are reused
	// for 2026-07-28 clients. A backend failure (no reply, 5xx, timeout)
	// drops them at once, so a restarted or replaced backend is probed
	// again. Default 1m.
	BackendRefresh time.Duration

	// MaxBackendSessions bounds the backend sessions the gateway holds for
	// 2026-07-28 callers of a legacy backend that serves nothing outside a
	// session (one per verified subject and client id); when full, the
	// least recently used without a request in flight is ended (DELETE) to
	// make room, and when every one has a request in flight a new caller
	// gets 503 with Retry-After instead. Default 1000.
	MaxBackendSessions int

	// MaxBackendSessionsPerSubject bounds the held sessions of one subject
	// (a user, or a client's own token), whatever its client ids: any
	// signed-in user can get many (open registration, client metadata
	// documents), and without a share of their own one user would evict
	// every other user's sessions. A subject at its bound loses its own
	// least recently used session. Default 4.
	MaxBackendSessionsPerSubject int

	// BackendSessionIdle is how long a held backend session may go unused
	// before the gateway ends it (DELETE); the caller's next request opens
	// a new one. Default 10m.
	BackendSessionIdle time.Duration

	// Now is the clock of BackendRefresh and BackendSessionIdle. Default
	// time.Now.
	Now func() time.Time

	// Observe, when set, is called once per request to the endpoint, after
	// the answer is written (for logs and metrics). Default nil.
	Observe func(Event)

	// holdStreamFor is how long a modern request's event stream is held
	// for its first message (see firstMessage); tests shorten or lengthen
	// it. Default holdStreamFor.
	holdStreamFor time.Duration
}
