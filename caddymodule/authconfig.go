package caddymodule

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/publicurl"
)

// AuthConfig configures the authorization server. String values accept
// Caddy's global placeholders, so secrets can come from {env.*} or {file.*}.
type AuthConfig struct {
	// Users maps user names to bcrypt password hashes, as printed by
	// `caddy hash-password`. Default: no users.
	Users map[string]string `json:"users,omitempty"`

	// UserGroups are the groups of users of Users, for grant and allow.
	// Default: none.
	UserGroups map[string][]string `json:"user_groups,omitempty"`

	// FirstUser is a user created on first start. Without a password, one is
	// generated, only its hash is kept in storage, and it is printed once.
	// Default: none.
	FirstUser *FirstUser `json:"first_user,omitempty"`

	// TrustedIdentity takes the user from an earlier Caddy authentication
	// handler (basic_auth, forward_auth, ...) through {http.auth.user.id}
	// instead of showing a login form. Default false.
	TrustedIdentity bool `json:"trusted_identity,omitempty"`

	// OIDC are OpenID Connect providers people sign in with; the login
	// page offers a button per provider. Default: none.
	OIDC []OIDCLogin `json:"oidc,omitempty"`

	// GitHub are GitHub sign-ins (by organisation membership). Default:
	// none.
	GitHub []GitHubLogin `json:"github,omitempty"`

	// Grants give scopes to users, groups and email domains; once any is
	// set, a user holds only the scopes a grant gives them. Default: none,
	// every user may hold every scope.
	Grants []ScopeGrant `json:"grants,omitempty"`

	// Registration is the dynamic client registration policy (RFC 7591).
	// Default: open to anyone, without limits.
	Registration Registration `json:"registration,omitempty"`

	// Clients are pre-registered OAuth clients. Default: none.
	Clients []StaticClient `json:"clients,omitempty"`

	// ClientMetadataDocuments configures client ids that are https URLs
	// of the client's metadata document (CIMD), which the gateway fetches
	// behind an SSRF guard. Default: accepted, fetched from public
	// addresses only.
	ClientMetadataDocuments ClientMetadataDocuments `json:"client_metadata_documents,omitzero"`

	// AccessTokenLifetime is how long access tokens are valid. Default 1h.
	AccessTokenLifetime caddy.Duration `json:"access_token_lifetime,omitempty"`
	// RefreshTokenLifetime is how long a grant can be refreshed. Default 30 days.
	RefreshTokenLifetime caddy.Duration `json:"refresh_token_lifetime,omitempty"`
	// CodeLifetime is how long an authorization code is valid. Default 60s.
	CodeLifetime caddy.Duration `json:"code_lifetime,omitempty"`
	// RefreshReuseGrace is how long a just-rotated refresh token is still
	// honoured, so concurrent refreshes do not log a user out; a reuse after
	// it revokes the whole grant; negative disables the grace. Default 10s.
	RefreshReuseGrace caddy.Duration `json:"refresh_reuse_grace,omitempty"`
	// KeyRotation is how often a new signing key is created; older keys stay
	// published until their tokens expire. Default 30 days.
	KeyRotation caddy.Duration `json:"key_rotation,omitempty"`
	// LoginLifetime is how long a sign-in (password or provider) is
	// remembered in the browser; lowering it ends longer sessions already
	// issued. Default 12h.
	LoginLifetime caddy.Duration `json:"login_lifetime,omitempty"`
	// LoginAttempts is how many failed password logins one client address
	// may make per LoginAttemptWindow (successful ones do not count);
	// negative disables the limit. Default 10.
	LoginAttempts int `json:"login_attempts,omitempty"`
	// LoginAttemptWindow is the window of LoginAttempts. Default 5m.
	LoginAttemptWindow caddy.Duration `json:"login_attempt_window,omitempty"`
	// SignInStarts is how many sign-ins at sign-in providers (oidc,
	// github) one client address (an IPv6 /64) may start per
	// SignInStartWindow without completing them for a person the policy
	// admits (each is kept in storage for up to 10 minutes), and one
	// network (an IPv4 /24, an IPv6 /48) four times as many; negative
	// disables the limit. Default 30.
	SignInStarts int `json:"sign_in_starts,omitempty"`
	// SignInStartWindow is the window of SignInStarts. Default 10m.
	SignInStartWindow caddy.Duration `json:"sign_in_start_window,omitempty"`
	// MaxPendingSignIns caps the sign-ins at sign-in providers in progress
	// on this instance from all addresses together, per 10 minutes: at
	// most this many records of ~19 KiB in storage. Past half of it, a
	// network that started a hundredth of it, or any in a region (an IPv4
	// /16, an IPv6 /32) that did, is refused and others are not, so one
	// allocation cannot lock everyone out; negative disables the cap.
	// Default 2000.
	MaxPendingSignIns int `json:"max_pending_sign_ins,omitempty"`
	// ClientAuthFailures is how many failed secret checks of pre-registered
	// clients (bcrypt, deliberately slow) one address may cause per
	// ClientAuthFailureWindow, counted per address and per client and
	// address, so guesses never lock the real client out; negative
	// disables. Default 10.
	ClientAuthFailures int `json:"client_auth_failures,omitempty"`
	// ClientAuthFailureWindow is the window of ClientAuthFailures. Default 5m.
	ClientAuthFailureWindow caddy.Duration `json:"client_auth_failure_window,omitempty"`
	// ConsentLifetime is how long a user's consent to a client is
	// remembered; negative never remembers it. Default 30 days.
	ConsentLifetime caddy.Duration `json:"consent_lifetime,omitempty"`
}

// FirstUser declares the user created on first start.
type FirstUser struct {
	// Name is the user name. Required.
	Name string `json:"name,omitempty"`
	// Password is the plain password; hashed on load. Default: generated.
	Password string `json:"password,omitempty"`
}

// Registration is the dynamic client registration policy.
type Registration struct {
	// Mode is "open", "token" (an initial access token is required) or
	// "closed" (pre-registered clients only). Default "open".
	Mode string `json:"mode,omitempty"`
	// InitialAccessToken is the Bearer token mode "token" requires (at
	// least 16 characters; use {env.*} or {file.*}). Default: none.
	InitialAccessToken string `json:"initial_access_token,omitempty"`
	// AllowClientCredentials lets confidential clients registered with the
	// initial access token (mode "token" only) use client_credentials, which
	// yields tokens without a user; self-registered clients otherwise get
	// tokens only through a user's login. Default false.
	AllowClientCredentials bool `json:"allow_client_credentials,omitempty"`
	// RateLimit is how many registrations one remote address may make per
	// RateWindow. Default 0: unlimited.
	RateLimit int `json:"rate_limit,omitempty"`
	// RateWindow is the rate limit's window. Default 1m.
	RateWindow caddy.Duration `json:"rate_window,omitempty"`
	// MaxClients caps the number of live dynamically registered clients; at
	// the cap the oldest never-used client is evicted, and when all are in
	// use registration answers 503 with Retry-After. Default 0: unlimited.
	MaxClients int `json:"max_clients,omitempty"`
	// UnusedClientsPerAddress is how many never-used registered clients one
	// client address (an IPv6 /64) may hold at once; -1 disables. Default 20.
	UnusedClientsPerAddress int `json:"unused_clients_per_address,omitempty"`
	// UnusedClientLifetime is how long a registered client that never
	// obtained a token is kept (and counts toward MaxClients). Default 24h.
	UnusedClientLifetime caddy.Duration `json:"unused_client_lifetime,omitempty"`
}

// ClientMetadataDocuments configures Client ID Metadata Documents.
type ClientMetadataDocuments struct {
	// Off refuses URL client ids, so clients register instead: for a
	// gateway without direct internet access. Default false.
	Off bool `json:"off,omitempty"`
	// AllowPrivateAddresses lets documents be fetched from loopback,
	// private and link-local addresses (tests, intranets). Default false.
	AllowPrivateAddresses bool `json:"allow_private_addresses,omitempty"`
	// AllowHosts, when set, are the only hosts whose URLs may be client
	// ids. Default: any public host.
	AllowHosts []string `json:"allow_hosts,omitempty"`
	// DenyHosts are hosts whose URLs may not be client ids. Default: none.
	DenyHosts []string `json:"deny_hosts,omitempty"`
	// MaxSize caps a document in bytes. Default 5KiB.
	MaxSize int64 `json:"max_size,omitempty"`
	// Timeout bounds one fetch. Default 5s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// MaxCache caps how long a document is used before it is fetched
	// again, whatever its own Cache-Control says. Default 24h.
	MaxCache caddy.Duration `json:"max_cache,omitempty"`
	// StaleGrace is how long after its cache lifetime a stored document
	// (or the last good key set at a jwks_uri) still stands in when
	// fetching it again fails at the host without saying anything about it
	// (unreachable, timeout, 5xx, 429, 408); not when this server's own
	// per-host limit held the fetch back (anyone can spend it). A 404, 410,
	// redirect or invalid document ends the client at once. Negative:
	// never. Default 24h.
	StaleGrace caddy.Duration `json:"stale_grace,omitempty"`
}

// StaticClient is a pre-registered OAuth client.
type StaticClient struct {
	// ID is the client_id. Required.
	ID string `json:"id,omitempty"`
	// Name is shown on the consent page. Default: the ID.
	Name string `json:"name,omitempty"`
	// SecretHash is the bcrypt hash of the client secret; empty declares a
	// public client. Default: public.
	SecretHash string `json:"secret_hash,omitempty"`
	// RedirectURIs are the exact redirect URIs the client may use (any
	// port on loopback). Default: none, which suits a client that only uses
	// client_credentials.
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Scopes limits the scopes the client may obtain. Default: all.
	Scopes []string `json:"scopes,omitempty"`
}

// authserverConfig translates the module configuration into the
// authorization server's, replacing global placeholders in secrets.
func (g *Gateway) authserverConfig(repl *caddy.Replacer, users map[string]string) (authserver.Config, error) {
	a := g.Auth
	upstreams, err := a.upstreamLogins(repl)
	if err != nil {
		return authserver.Config{}, err
	}
	cfg := authserver.Config{
		Origin:                  g.origin,
		Scopes:                  g.allScopes(),
		AccessTokenLifetime:     time.Duration(a.AccessTokenLifetime),
		RefreshTokenLifetime:    time.Duration(a.RefreshTokenLifetime),
		CodeLifetime:            time.Duration(a.CodeLifetime),
		RefreshReuseGrace:       time.Duration(a.RefreshReuseGrace),
		KeyRotation:             time.Duration(a.KeyRotation),
		LoginLifetime:           time.Duration(a.LoginLifetime),
		ConsentLifetime:         time.Duration(a.ConsentLifetime),
		LoginAttempts:           a.LoginAttempts,
		LoginAttemptWindow:      time.Duration(a.LoginAttemptWindow),
		SignInStarts:            a.SignInStarts,
		SignInStartWindow:       time.Duration(a.SignInStartWindow),
		MaxPendingSignIns:       a.MaxPendingSignIns,
		ClientAuthFailures:      a.ClientAuthFailures,
		ClientAuthFailureWindow: time.Duration(a.ClientAuthFailureWindow),
		Users:                   users,
		UserGroups:              a.UserGroups,
		Upstreams:               upstreams,
		ClientIP:                caddyClientIP,
		Registration: authserver.RegistrationPolicy{
			Mode:                    a.Registration.Mode,
			InitialAccessToken:      repl.ReplaceAll(a.Registration.InitialAccessToken, ""),
			AllowClientCredentials:  a.Registration.AllowClientCredentials,
			RateLimit:               a.Registration.RateLimit,
			RateWindow:              time.Duration(a.Registration.RateWindow),
			MaxClients:              a.Registration.MaxClients,
			UnusedClientsPerAddress: a.Registration.UnusedClientsPerAddress,
			UnusedClientLifetime:    time.Duration(a.Registration.UnusedClientLifetime),
		},
	}
	cmd := a.ClientMetadataDocuments
	cfg.ClientMetadataDocuments = authserver.ClientMetadataDocuments{
		Disabled: cmd.Off, AllowPrivateAddresses: cmd.AllowPrivateAddresses,
		AllowHosts: cmd.AllowHosts, DenyHosts: cmd.DenyHosts, MaxSize: cmd.MaxSize,
		Timeout: time.Duration(cmd.Timeout), MaxCache: time.Duration(cmd.MaxCache),
		StaleGrace: time.Duration(cmd.StaleGrace),
	}
	cfg.ScopeDescriptions = g.scopeDescriptions()
	for _, res := range g.Resources {
		cfg.ResourcePaths = append(cfg.ResourcePaths, res.Path)
	}
	for _, c := range a.Clients {
		cfg.Clients = append(cfg.Clients, authserver.StaticClient{
			ID:           c.ID,
			Name:         c.Name,
			SecretHash:   repl.ReplaceAll(c.SecretHash, ""),
			RedirectURIs: c.RedirectURIs,
			Scopes:       c.Scopes,
		})
	}
	if a.TrustedIdentity {
		cfg.TrustedIdentity = identityFromCaddyAuth
	}
	cfg.ScopeGrants, cfg.ResourceAccess = g.policy()
	return cfg, nil
}

// origin is the public origin of r: the configured one, else the one a
// proxy in Caddy's trusted_proxies forwarded, else the request's own.
func (g *Gateway) origin(r *http.Request) string {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return publicurl.Origin(r, g.PublicOrigin, trusted)
}

// allScopes is the union of the resources' scopes, in order of appearance;
// "mcp" when no resource declares any.
func (g *Gateway) allScopes() []string {
	var all []string
	seen := map[string]bool{}
	for _, res := range g.Resources {
		for _, s := range res.Scopes {
			if !seen[s] {
				seen[s] = true
				all = append(all, s)
			}
		}
	}
	if len(all) == 0 {
		return []string{defaultScope}
	}
	return all
}

// scopeDescriptions describes in words, for the consent page, the scopes
// that tool_scope maps to tools: "Use the tools a, b", or "Use every tool"
// for *.
func (g *Gateway) scopeDescriptions() map[string]string {
	out := map[string]string{}
	for _, res := range g.Resources {
		for scope, tools := range res.ToolScopes {
			switch _, done := out[scope]; {
			case done || len(tools) == 0:
			case slices.Contains(tools, "*"):
				out[scope] = "Use every tool"
			default:
				out[scope] = "Use the tools " + strings.Join(tools, ", ")
			}
		}
	}
	return out
}

// defaultScope is the only scope of a gateway that declares none.
const defaultScope = "mcp"

// caddyClientIP is the client address Caddy's server determined for r (it
// sets one on every request), honouring the server's trusted_proxies and
// trusted_proxies_strict; every per-address limit counts by it. Never read
// X-Forwarded-For here: its leftmost value is whatever the client sent.
func caddyClientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// identityFromCaddyAuth returns the user an earlier Caddy authentication
// handler established, from the {http.auth.user.id} placeholder.
func identityFromCaddyAuth(r *http.Request) (string, bool) {
	repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if !ok {
		return "", false
	}
	id, _ := repl.GetString("http.auth.user.id")
	return id, id != ""
}
