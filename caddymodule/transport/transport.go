// Package transport makes a plain JSON-RPC-over-HTTP backend look like an
// MCP Streamable HTTP server: it checks the Origin, answers CORS, asks a
// Gate (the guard) to authenticate, enforces the transport rules (methods,
// MCP-Protocol-Version, body bounds, 202 for notifications) and relays the
// backend's reply, turning backend failures into JSON-RPC errors. It is
// plain net/http; in Caddy the upstream handler is reverse_proxy.
//
// Choices: JSON-RPC batches are refused with -32600 (see post). Scope-based
// tool gating is decided by the Gate (AdmitCall, ListFilter) and enforced
// here, where the body is parsed anyway: a refused call never reaches the
// backend, and tools/list replies, JSON or SSE, are filtered.
//
// Both client eras are served (a dual-era adapter). A request whose
// params._meta names 2026-07-28 is modern: Mcp-Method, Mcp-Name and
// MCP-Protocol-Version are required and must match the body (400, -32020;
// Mcp-Name may use the =?base64?...?= form), a removed method (initialize,
// ping, logging/setLevel, resources/subscribe...) or one the backend lacks
// is a 404 with -32601, an unknown version a 400 with -32022 listing the
// served ones, and every error keeps the request id. The backend's era is
// probed once per Config.BackendRefresh (server/discover, then initialize)
// and forgotten when it fails: a 2026-07-28 backend gets modern requests
// unchanged; for an older one the gateway answers server/discover from the
// backend's initialize result, strips the io.modelcontextprotocol/ keys of
// params._meta, sends the revision the backend chose, and adds resultType
// and the caching hints (Config.CacheTTL, Config.CacheScope) to results.
// Where the specification leaves a choice, the TypeScript SDK v2 server's is
// taken: the body decides the era (a modern header without the _meta claim
// is a 400 with -32602, the cue for a dual-era client to fall back to
// initialize); supportedVersions lists only modern revisions; ttlMs 0 and
// cacheScope "private" by default. One deliberate difference: listChanged
// and subscribe are not advertised for older backends (no
// subscriptions/listen stream to feed them). Mcp-Method and Mcp-Name, when
// sent, are checked in every era, so the tool-scope decision, taken on
// params.name, is also the header's; a tools/list filtered per token is
// marked cacheScope "private". The probe asks with the first caller's
// identity and its answer is shared by every caller: it describes the
// backend, not the user. For a plain JSON-RPC backend without initialize
// the gateway answers a 2025 client's initialize and ping itself.
//
// A legacy backend that opens a session in initialize and serves nothing
// outside one (FastMCP, server-everything) gets modern requests in a
// session the gateway holds for their caller: one per identity the Gate
// verified (subject, client id, and whether the token has a user; never a
// header the client sets), so no two users, and no two applications of one
// user, share a session and its state. The session is opened as the
// client (initialize with the probed revision and the clientInfo and
// clientCapabilities of the request's _meta, then
// notifications/initialized; concurrent first requests share one), and
// dropped, reopened and the request sent once more when the backend
// answers that it does not know it (restarted, or expired it): a 404 that
// does not answer the request, or a 400 refusing the session at the
// transport (-32000 or -32001 naming the session without an id, or the
// TypeScript SDK example's "No valid session ID provided"), after which
// the session is ended all the same. Any other error, whatever its
// message, is the backend's answer to the request and relayed once. At
// most Config.MaxBackendSessions are held, and
// Config.MaxBackendSessionsPerSubject for one subject (its own least
// recently used ended to make room); when full, the least recently used
// session without a request in flight is ended (DELETE) to make room, and
// when all have one a new caller gets 503 with Retry-After, never another
// caller's session in use. Each is ended after Config.BackendSessionIdle
// unused and all by Close. Their ids stay the gateway's: never shown to a
// client, and refused (404) when a client sends one, from initialize's
// answer until the DELETE ending the session ran; a modern request's own
// Mcp-Session-Id is never forwarded.
// Out of scope: the backend's GET stream and subscriptions for modern
// callers; requests the backend sends inside a reply (sampling,
// elicitation) reach the client as events of the reply stream, as for any
// legacy backend, but the client's answer cannot reach the held session.
// Without a verified identity (no Gate) a modern request is relayed
// unadapted, for the backend's own answer. A modern request's event stream
// (tools/call's excepted) is held until its first message, so that a
// -32601 reply there is a 404.
//
// One parse decides, and the client's own bytes are forwarded: the
// decision (method, params.name) and the backend must read the same
// message, so jsonrpc.Parse refuses with 400 and -32600 any message that
// parsers could read differently (a repeated key, or a case variant such as
// "NAME" of a member decided on). Forwarding the bytes unchanged is safe only
// because of that refusal; a canonical re-encoding was not chosen, as it
// would reorder members and rewrite numbers of arguments the backend owns.
// The one edit (params._meta for an older backend) is a splice of that
// member, the rest byte for byte.
package transport

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// Handler serves one MCP endpoint in front of one upstream handler.
type Handler struct {
	cfg      Config
	upstream http.Handler
	backends backendCache
	sessions *sessionPool
}

// New returns a Handler for cfg with defaults applied, relaying to upstream.
func New(cfg Config, upstream http.Handler) (*Handler, error) {
	if upstream == nil {
		return nil, errors.New("transport: an upstream handler is required")
	}
	if cfg.Origin == nil {
		return nil, errors.New("transport: Config.Origin is required")
	}
	if cfg.Path == "" {
		cfg.Path = oauthwire.DefaultResourcePath
	}
	if cfg.UpstreamPath == "" {
		cfg.UpstreamPath = oauthwire.DefaultResourcePath
	}
	for _, p := range []string{cfg.Path, cfg.UpstreamPath} {
		if !strings.HasPrefix(p, "/") {
			return nil, errors.New("transport: paths must start with /: " + p)
		}
	}
	cfg.Path = strings.TrimSuffix(cfg.Path, "/")
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.BackendRefresh <= 0 {
		cfg.BackendRefresh = DefaultBackendRefresh
	}
	switch cfg.CacheScope {
	case "":
		cfg.CacheScope = "private"
	case "public", "private":
	default:
		return nil, errors.New(`transport: Config.CacheScope must be "public" or "private", not ` + quote(cfg.CacheScope))
	}
	if cfg.CacheTTL < 0 {
		return nil, errors.New("transport: Config.CacheTTL must not be negative")
	}
	if cfg.MaxBackendSessions < 0 || cfg.MaxBackendSessionsPerSubject < 0 || cfg.BackendSessionIdle < 0 {
		return nil, errors.New("transport: Config.MaxBackendSessions, Config.MaxBackendSessionsPerSubject and Config.BackendSessionIdle must not be negative")
	}
	if cfg.MaxBackendSessions == 0 {
		cfg.MaxBackendSessions = DefaultMaxBackendSessions
	}
	if cfg.MaxBackendSessionsPerSubject == 0 {
		cfg.MaxBackendSessionsPerSubject = DefaultMaxBackendSessionsPerSubject
	}
	if cfg.BackendSessionIdle == 0 {
		cfg.BackendSessionIdle = DefaultBackendSessionIdle
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.holdStreamFor == 0 {
		cfg.holdStreamFor = holdStreamFor
	}
	h := &Handler{cfg: cfg, upstream: upstream}
	h.sessions = newSessionPool(cfg.MaxBackendSessions, cfg.MaxBackendSessionsPerSubject, cfg.BackendSessionIdle, cfg.Now, h.endSession)
	return h, nil
}

// Handles reports whether r is for this endpoint: Path or Path+"/".
func (h *Handler) Handles(r *http.Request) bool {
	p := r.URL.Path
	return p == h.cfg.Path || p == h.cfg.Path+"/"
}

// ServeHTTP answers one request to the endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ev := Event{Request: r}
	ev.Status, ev.Outcome = h.serve(w, r, &ev)
	if h.cfg.Observe != nil {
		ev.Duration = time.Since(start)
		h.cfg.Observe(ev)
	}
}

// serve applies the checks in order (Origin, CORS preflight, gate, method,
// protocol version) and dispatches; it returns the status and outcome.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, ev *Event) (int, string) {
	if !h.Handles(r) {
		return writeError(w, http.StatusNotFound, nil, jsonrpc.InvalidRequest, "Not Found"), OutcomeInvalid
	}
	origin := r.Header.Get("Origin")
	if !h.originAllowed(r, origin) {
		return writeError(w, http.StatusForbidden, nil, jsonrpc.InvalidRequest, "Forbidden: Origin "+origin+" is not allowed"), OutcomeRefused
	}
	setCORS(w.Header(), origin)
	if r.Method == http.MethodOptions {
		preflight(w)
		return http.StatusNoContent, OutcomeOK
	}
	if h.cfg.Gate != nil {
		sw := &statusWriter{ResponseWriter: w}
		admitted, ok := h.cfg.Gate.Admit(sw, r)
		if !ok {
			return sw.status, OutcomeRefused
		}
		r = admitted
		ev.Request = r
	}
	for _, id := range r.Header.Values("Mcp-Session-Id") {
		if h.sessions.holds(id) {
			// A session the gateway opened for a 2026-07-28 caller is the
			// gateway's alone: relayed as a client's own, a leaked or
			// guessed id would let anyone act in that caller's state.
			return writeError(w, http.StatusNotFound, nil, jsonrpc.InvalidRequest, "Not Found: unknown session"), OutcomeInvalid
		}
	}
	if r.Method == http.MethodPost {
		return h.post(w, r, ev) // checks the version once the id is known
	}
	if rej := checkProtocolVersion(r.Header); rej != nil {
		return writeRejection(w, nil, rej), OutcomeInvalid
	}
	switch {
	case r.Method == http.MethodGet && h.cfg.StreamGET:
		return h.relay(w, h.upstreamRequest(r, nil, "text/event-stream"), call{raw: true}, ev)
	case r.Method == http.MethodDelete && r.Header.Get("Mcp-Session-Id") != "":
		// The client can only hold a session id the backend issued.
		return h.relay(w, h.upstreamRequest(r, nil, ""), call{raw: true}, ev)
	}
	allow := "POST"
	if h.cfg.StreamGET {
		allow = "GET, POST"
	}
	w.Header().Set("Allow", allow)
	return writeError(w, http.StatusMethodNotAllowed, nil, jsonrpc.InvalidRequest, "Method Not Allowed: "+r.Method), OutcomeInvalid
}

// statusWriter records the status a Gate wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
