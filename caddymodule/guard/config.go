package guard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// Defaults applied by New to zero-valued Config fields.
const (
	// DefaultSubjectHeader carries the verified subject to the backend.
	DefaultSubjectHeader = "X-MCP-Subject"
	// DefaultClientIDHeader carries the verified OAuth client id to the backend.
	DefaultClientIDHeader = "X-MCP-Client-ID"
	// DefaultSubjectTypeHeader tells the backend whether the subject is a
	// "user" or a "client".
	DefaultSubjectTypeHeader = "X-MCP-Subject-Type"
	// DefaultGroupsHeader carries the user's groups to the backend.
	DefaultGroupsHeader = "X-MCP-Groups"
	// DefaultRevocationCacheTTL bounds how long a revoked token can keep working.
	DefaultRevocationCacheTTL = 30 * time.Second
	// MaxRevocationCacheTTL is the largest RevocationCacheTTL New accepts.
	MaxRevocationCacheTTL = 5 * time.Minute
	// DefaultCacheSize is the number of verified tokens kept when Config.CacheSize is zero.
	DefaultCacheSize = 10000
)

// Config describes one protected resource (one MCP path on one site).
type Config struct {
	// ResourcePath is the protected MCP path; the resource URL is
	// Origin(r)+ResourcePath. Default "/mcp".
	ResourcePath string

	// Origin returns the public origin (scheme://host, no trailing slash) of a
	// request: the expected token issuer and the base of the resource URL.
	// Required; the Caddy glue passes a publicurl.Origin-based func.
	Origin func(*http.Request) string

	// Primary makes the guard also answer the root metadata document
	// /.well-known/oauth-protected-resource (for the site's first resource).
	// Default false.
	Primary bool

	// Scopes are advertised as scopes_supported and in the 401 challenge. When
	// non-empty, a token must carry at least one of them (else 403
	// insufficient_scope). Default none: any token for this resource passes.
	Scopes []string

	// ToolScopes gates JSON-RPC calls by scope: each scope maps to the tool
	// names (for tools/call) and method names (entries containing "/", such as
	// "resources/read") it allows; "*" allows every tool (not other methods).
	// When set, a tools/call needs a scope listing the tool or "*"; lifecycle
	// and listing methods (initialize, server/discover, ping,
	// logging/setLevel, notifications/*, tools/list, resources/list,
	// resources/templates/list, prompts/list) stay open; every other method,
	// known or not, needs a scope listing it; tools/list is filtered to the
	// callable tools. Default nil: no gating.
	ToolScopes map[string][]string

	// SubjectHeader receives the verified subject; any incoming header of
	// this name is removed first. Default "X-MCP-Subject".
	SubjectHeader string

	// ClientIDHeader receives the verified client id; any incoming header of
	// this name is removed first. Default "X-MCP-Client-ID".
	ClientIDHeader string

	// SubjectTypeHeader receives "user" or "client" (a token without a user,
	// whose subject is the client id); any incoming header of this name is
	// removed first. Default "X-MCP-Subject-Type".
	SubjectTypeHeader string

	// GroupsHeader receives the user's groups as the token names them
	// ("<provider>:<group>" for a sign-in provider's groups, so a backend
	// that authorizes by group cannot take one provider's "admins" for
	// another's), comma-separated, each percent-encoded where it holds a
	// comma, a '%' or a character outside printable ASCII; any incoming
	// header of this name is removed first, and none is sent for a user
	// without groups. Default "X-MCP-Groups".
	GroupsHeader string

	// AllowClientTokens accepts tokens minted without a user
	// (client_credentials, for scripts and CI). Default false: they get 401
	// invalid_token, so a backend that keys data by user never sees a
	// request without one.
	AllowClientTokens bool

	// BackendAuthorization, when set, is sent to the backend as its
	// Authorization header (for example "Bearer xyz"). The client's own
	// Authorization header is always removed. Default: none sent.
	BackendAuthorization string

	// RevocationCacheTTL is how long a token's "not revoked" answer is reused:
	// a revoked token or grant stops working within this time. Default 30s,
	// at most 5m.
	RevocationCacheTTL time.Duration

	// CacheSize bounds the number of verified tokens kept until their expiry.
	// Default 10000.
	CacheSize int

	// OnFailure, when set, is called for each refused request with a short
	// reason such as "missing_token", "expired" or "insufficient_scope"
	// (for logs and metrics; never the token). Default nil.
	OnFailure func(r *http.Request, reason string)

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// withDefaults validates c and fills in the defaults of zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Origin == nil {
		return c, errors.New("guard: Config.Origin is required")
	}
	if c.ResourcePath == "" {
		c.ResourcePath = oauthwire.DefaultResourcePath
	}
	if err := oauthwire.CheckResourcePath(c.ResourcePath); err != nil {
		return c, fmt.Errorf("guard: %w", err)
	}
	if c.SubjectHeader == "" {
		c.SubjectHeader = DefaultSubjectHeader
	}
	if c.ClientIDHeader == "" {
		c.ClientIDHeader = DefaultClientIDHeader
	}
	if c.SubjectTypeHeader == "" {
		c.SubjectTypeHeader = DefaultSubjectTypeHeader
	}
	if c.GroupsHeader == "" {
		c.GroupsHeader = DefaultGroupsHeader
	}
	if c.RevocationCacheTTL == 0 {
		c.RevocationCacheTTL = DefaultRevocationCacheTTL
	}
	if c.RevocationCacheTTL < 0 || c.RevocationCacheTTL > MaxRevocationCacheTTL {
		return c, fmt.Errorf("guard: revocation cache TTL %v outside 0..%v", c.RevocationCacheTTL, MaxRevocationCacheTTL)
	}
	for _, scope := range c.Scopes {
		if !oauthwire.ScopeToken(scope) {
			return c, fmt.Errorf("guard: %q is not a valid OAuth scope", scope)
		}
	}
	for scope := range c.ToolScopes {
		if !oauthwire.ScopeToken(scope) {
			return c, fmt.Errorf("guard: tool scope %q is not a valid OAuth scope", scope)
		}
		if len(c.Scopes) > 0 && !slices.Contains(c.Scopes, scope) {
			return c, fmt.Errorf("guard: tool scope %q is not one of the scopes %q", scope, c.Scopes)
		}
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}
