// Package guard protects one MCP resource path with OAuth 2.1 Bearer access
// tokens (RFC 9068 JWTs from the gateway's authorization server) and serves
// its RFC 9728 protected resource metadata. It is plain net/http: the
// transport adapter calls Admit and AdmitCall, and the Caddy glue routes the
// metadata paths to ServeHTTP.
package guard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Guard verifies access tokens for one protected resource.
type Guard struct {
	cfg         Config
	keys        *keyCache
	revocations RevocationChecker
	tokens      *tokenCache
	tools       toolPolicy
}

// New returns a Guard for cfg with defaults applied. keys is required;
// revocations may be nil to skip revocation checks.
func New(cfg Config, keys KeySource, revocations RevocationChecker) (*Guard, error) {
	if keys == nil {
		return nil, errors.New("guard: a key source is required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Guard{
		cfg:         cfg,
		keys:        &keyCache{src: keys, now: cfg.Now},
		revocations: revocations,
		tokens:      newTokenCache(cfg.CacheSize),
		tools:       newToolPolicy(cfg.ToolScopes),
	}, nil
}

func (g *Guard) now() time.Time { return g.cfg.Now() }

// Admit authenticates r. On success it returns the request to forward: the
// client's Authorization header and any incoming identity headers removed,
// the verified identity set in the identity headers and in the context
// (see IdentityFrom), and the backend credential set when configured. On
// failure it has written the 401/403/503 answer and returns ok false.
func (g *Guard) Admit(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	origin := g.cfg.Origin(r)
	if len(r.Header.Values("Authorization")) > 1 {
		// Two credentials: the guard would check the first while a proxy
		// or backend behind it might read the other (or all of them).
		g.fail(w, r, origin, "invalid_request", refusal{
			status:      http.StatusBadRequest,
			code:        "invalid_request",
			description: "send exactly one Authorization header",
		})
		return nil, false
	}
	raw, present := bearerToken(r.Header.Get("Authorization"))
	if !present {
		g.fail(w, r, origin, errMissingToken.reason, g.unauthorized(errMissingToken))
		return nil, false
	}
	if raw == "" {
		g.fail(w, r, origin, errMalformed.reason, g.unauthorized(errMalformed))
		return nil, false
	}
	id, err := g.authenticate(r.Context(), origin, raw)
	var rej *rejection
	switch {
	case errors.As(err, &rej):
		g.fail(w, r, origin, rej.reason, g.unauthorized(rej))
		return nil, false
	case err != nil:
		g.fail(w, r, origin, "unavailable", refusal{
			status:      http.StatusServiceUnavailable,
			code:        "temporarily_unavailable",
			description: "token verification is temporarily unavailable",
		})
		return nil, false
	}
	if id.Client && !g.cfg.AllowClientTokens {
		// Open registration once let anyone mint a client_credentials
		// token; a resource takes tokens without a user only when its
		// configuration says so.
		g.fail(w, r, origin, errClientToken.reason, g.unauthorized(errClientToken))
		return nil, false
	}
	if len(g.cfg.Scopes) > 0 && !slices.ContainsFunc(id.Scopes, func(s string) bool { return slices.Contains(g.cfg.Scopes, s) }) {
		g.fail(w, r, origin, "insufficient_scope", insufficientScope(strings.Join(g.cfg.Scopes, " ")))
		return nil, false
	}
	// The request to forward is a copy: the client's request, which Caddy
	// logs and later handlers may read, keeps its own headers (as Caddy's
	// reverse proxy does, which clones before it edits).
	admitted := r.WithContext(WithIdentity(r.Context(), id))
	admitted.Header = r.Header.Clone()
	g.setBackendHeaders(admitted.Header, id)
	return admitted, true
}

// setBackendHeaders replaces client-supplied credentials and identity with
// the verified identity and the backend's own credential: a client must
// not name its own subject or groups. Headers whose names hold '_' go too:
// CGI, FastCGI (Caddy's php_fastcgi) and WSGI backends read "X_MCP_Subject"
// as "X-MCP-Subject" (both HTTP_X_MCP_SUBJECT, RFC 3875 §4.1.18), and
// "Mcp_Method" or "X_Forwarded_For" likewise, and Go's server takes such
// names as they are: under that spelling a client could set beside the
// real header one the gateway sets or decided on. nginx drops them by
// default too; MCP clients send none.
func (g *Guard) setBackendHeaders(h http.Header, id Identity) {
	g.protectFromConnection(h)
	for name := range h {
		if strings.Contains(name, "_") || g.isGuardedHeader(name) {
			delete(h, name)
		}
	}
	h.Set(g.cfg.SubjectHeader, id.Subject)
	h.Set(g.cfg.ClientIDHeader, id.ClientID)
	h.Set(g.cfg.SubjectTypeHeader, subjectType(id))
	if len(id.Groups) > 0 {
		h.Set(g.cfg.GroupsHeader, groupsHeader(id.Groups))
	}
	if g.cfg.BackendAuthorization != "" {
		h.Set("Authorization", g.cfg.BackendAuthorization)
	}
}

// groupsHeader is the GroupsHeader value of groups: comma-separated, each
// group percent-encoded where it holds a comma, '%' or a byte outside
// printable ASCII, so a group named "eng,admins" cannot pass for two and
// no group can split the header.
func groupsHeader(groups []string) string {
	enc := make([]string, len(groups))
	for i, g := range groups {
		var b strings.Builder
		for _, c := range []byte(g) {
			if c == ',' || c == '%' || c < 0x20 || c > 0x7e {
				fmt.Fprintf(&b, "%%%02X", c)
			} else {
				b.WriteByte(c)
			}
		}
		enc[i] = b.String()
	}
	return strings.Join(enc, ",")
}

// subjectType is the SubjectTypeHeader value for id.
func subjectType(id Identity) string {
	if id.Client {
		return "client"
	}
	return "user"
}

// protectFromConnection removes, from the Connection header, the names of
// the headers the guard sets: a proxy deletes every header Connection
// names (RFC 9110 §7.6.1) after the guard ran, so a client could otherwise
// strip the verified identity or the backend's credential on the way.
func (g *Guard) protectFromConnection(h http.Header) {
	values := h.Values("Connection")
	if len(values) == 0 {
		return
	}
	var kept []string
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !g.isGuardedHeader(name) {
				kept = append(kept, name)
			}
		}
	}
	h.Del("Connection")
	if len(kept) > 0 {
		h.Set("Connection", strings.Join(kept, ", "))
	}
}

// fail reports reason to OnFailure and writes the refusal.
func (g *Guard) fail(w http.ResponseWriter, r *http.Request, origin, reason string, f refusal) {
	if g.cfg.OnFailure != nil {
		g.cfg.OnFailure(r, reason)
	}
	g.refuse(w, origin, f)
}

// isGuardedHeader reports whether name, in any case, is the client's
// credential or one of the identity headers the guard sets.
func (g *Guard) isGuardedHeader(name string) bool {
	for _, guarded := range []string{"Authorization", g.cfg.SubjectHeader, g.cfg.ClientIDHeader, g.cfg.SubjectTypeHeader, g.cfg.GroupsHeader} {
		if strings.EqualFold(name, guarded) {
			return true
		}
	}
	return false
}
