package caddymodule

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
)

// Resource is one protected MCP endpoint and the backend behind it.
type Resource struct {
	// Path is the public MCP path; the resource URL (the tokens' audience)
	// is the public origin followed by it. `Path` and `Path/` both serve it.
	// Default "/mcp".
	Path string `json:"path,omitempty"`

	// ProxyRaw is the reverse_proxy handler that reaches the backend, so load
	// balancing, health checks, upstream TLS and timeouts are Caddy's own.
	// Required unless Stdio is set.
	ProxyRaw json.RawMessage `json:"proxy,omitempty" caddy:"namespace=http.handlers inline_key=handler"`

	// Stdio runs the backend as a local stdio MCP server instead, one
	// process per user by default. Default none.
	Stdio *StdioBackend `json:"stdio,omitempty"`

	// UpstreamTransport is how the backend behind the reverse proxy speaks:
	// "http" (JSON-RPC, or Streamable HTTP, POSTed per message) or "sse",
	// the legacy 2024-11-05 HTTP+SSE transport: the gateway holds an event
	// stream per verified user (and per client acting on its own) at
	// UpstreamPath, posts messages to the
	// endpoint it names and returns each reply to its client. Default
	// "http".
	UpstreamTransport string `json:"upstream_transport,omitempty"`

	// UpstreamPath is the backend's JSON-RPC path (for example /tools on
	// legacy servers), or its event stream with UpstreamTransport "sse";
	// the query string is kept. Default "/mcp", or "/sse" for "sse".
	UpstreamPath string `json:"upstream_path,omitempty"`

	// Scopes are the scopes this resource advertises and requires (a token
	// needs one of them). Default ["mcp"].
	Scopes []string `json:"scopes,omitempty"`

	// ToolScopes maps a scope to the tool names (and JSON-RPC methods, those
	// containing "/") it allows; "*" allows every tool, not other methods.
	// When set, tools/call is enforced and tools/list filtered per token;
	// lifecycle and listing methods (initialize, server/discover, ping,
	// logging/setLevel, notifications/*, tools/list, resources/list,
	// resources/templates/list, prompts/list) stay open, and every other
	// method, such as resources/read, prompts/get or one the gateway does not
	// know, needs a scope that lists it. Default: no gating.
	ToolScopes map[string][]string `json:"tool_scopes,omitempty"`

	// SubjectHeader carries the verified user to the backend; an incoming
	// header of that name is removed first. Default "X-MCP-Subject".
	SubjectHeader string `json:"subject_header,omitempty"`

	// ClientIDHeader carries the verified OAuth client id to the backend.
	// Default "X-MCP-Client-ID".
	ClientIDHeader string `json:"client_id_header,omitempty"`

	// SubjectTypeHeader tells the backend whether the subject is a "user"
	// or a "client" (a token without a user, whose subject is the client
	// id); an incoming header of that name is removed first. Default
	// "X-MCP-Subject-Type".
	SubjectTypeHeader string `json:"subject_type_header,omitempty"`

	// GroupsHeader carries the user's groups to the backend as grant and
	// allow name them (google:admins for a provider's groups_claim,
	// github:acme for an organisation, plain for the users block),
	// comma-separated and percent-encoded; an incoming header of that name
	// is removed first. Default "X-MCP-Groups".
	GroupsHeader string `json:"groups_header,omitempty"`

	// Allow limits who may use this resource at all. Default: everyone
	// who can sign in.
	Allow *AccessRule `json:"allow,omitempty"`

	// AllowClientTokens accepts access tokens minted without a user
	// (client_credentials grants of scripts and CI). Default false: they
	// get 401 invalid_token.
	AllowClientTokens bool `json:"allow_client_tokens,omitempty"`

	// BackendAuthorization is sent to the backend as its Authorization
	// header (placeholders such as {env.BACKEND_TOKEN} are replaced). The
	// client's token is never forwarded. Default: none.
	BackendAuthorization string `json:"backend_authorization,omitempty"`

	// AllowedOrigins are the browser origins (Origin header) allowed to call
	// the resource; requests with another Origin get 403. Default: the
	// gateway's own origin and loopback origins.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`

	// MaxBodyBytes bounds a request body. Default 4 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`

	// Timeout bounds how long the backend may take to start answering an
	// MCP request; past it the client gets a JSON-RPC error with 504. A
	// stream, once started, is not cut. Default 30s.
	Timeout caddy.Duration `json:"timeout,omitempty"`

	// StreamGET passes GET on the MCP path (the server-to-client event
	// stream of Streamable HTTP) to the backend, for backends that push.
	// Default false: GET gets 405 with Allow: POST.
	StreamGET bool `json:"stream_get,omitempty"`

	// CacheTTL is the ttlMs hint the gateway adds for 2026-07-28 clients to
	// the cacheable results (server/discover, tools/list, prompts/list,
	// resources/list, resources/templates/list, resources/read) of a backend
	// older than 2026-07-28. Default 0: clients refetch every time.
	CacheTTL caddy.Duration `json:"cache_ttl,omitempty"`

	// CacheScope is the cacheScope hint added with CacheTTL: "public" when
	// those results are the same for every user, else "private". A
	// tools/list filtered by tool scopes is always "private". Default
	// "private".
	CacheScope string `json:"cache_scope,omitempty"`

	// BackendRefresh is how long what the gateway learnt by probing the
	// backend (its era, and its initialize result for server/discover) is
	// reused; a backend failure drops it sooner. Default 1m.
	BackendRefresh caddy.Duration `json:"backend_refresh,omitempty"`

	// MaxBackendSessions bounds the sessions the gateway holds for
	// 2026-07-28 clients with a legacy backend that serves nothing outside
	// a session (one per user and client application); when full, the
	// least recently used without a request in flight is ended, and when
	// all have one a new caller gets 503 with Retry-After. Default 1000.
	MaxBackendSessions int `json:"max_backend_sessions,omitempty"`

	// MaxBackendSessionsPerSubject bounds such sessions of one user (or
	// one client's own token) over all its client applications, so that
	// a user with many registered clients cannot push other users' sessions
	// out; its own least recently used is ended instead. Default 4.
	MaxBackendSessionsPerSubject int `json:"max_backend_sessions_per_subject,omitempty"`

	// BackendSessionIdle is how long such a held session may go unused
	// before the gateway ends it. Default 10m.
	BackendSessionIdle caddy.Duration `json:"backend_session_idle,omitempty"`

	// RevocationCheckInterval bounds how long a revoked token keeps working
	// on this resource. Default 30s, at most 5m.
	RevocationCheckInterval caddy.Duration `json:"revocation_check_interval,omitempty"`
}
