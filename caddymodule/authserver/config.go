package authserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// Registration policies for POST /register.
const (
	// RegistrationOpen lets any client register (what MCP clients expect),
	// optionally limited by RegistrationPolicy.RateLimit and MaxClients.
	RegistrationOpen = "open"
	// RegistrationToken requires "Authorization: Bearer <InitialAccessToken>"
	// on every registration request (RFC 7591 §3).
	RegistrationToken = "token"
	// RegistrationClosed disables dynamic registration: only the clients in
	// Config.Clients can use the server.
	RegistrationClosed = "closed"
)

// Config configures a Server. The zero value of every field except Origin is
// usable and means the stated default.
type Config struct {
	// Origin returns the public origin (scheme://host, no trailing slash)
	// under which r reached the gateway. The issuer is exactly Origin(r), and
	// every resource URL is Origin(r)+path, so the guard must compute its
	// origin with the same function. Required.
	Origin func(r *http.Request) string

	// ResourcePaths are the MCP endpoint paths (such as "/mcp") that are
	// valid RFC 8707 resources: a resource parameter must equal
	// Origin(r)+path for one of them. The first one is the resource bound to
	// tokens when a client sends none. Default: ["/mcp"].
	ResourcePaths []string

	// Scopes are the scopes this server knows (scopes_supported). Default:
	// ["mcp"]. "offline_access" is always accepted and advertised too, since
	// clients ask for it to obtain refresh tokens (refresh tokens are issued
	// regardless).
	Scopes []string

	// ScopeDescriptions describe scopes in words for the consent page
	// (the raw name is shown small beside them). Default: words for "mcp"
	// and "offline_access", a generic phrase for others.
	ScopeDescriptions map[string]string

	// DefaultScopes are granted when an authorization request names no
	// scope. Each must be in Scopes. Default: all of Scopes.
	DefaultScopes []string

	// AccessTokenLifetime is the lifetime of access tokens. Default: 1h.
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is the lifetime of a refresh-token family,
	// counted from the authorization; rotation does not extend it.
	// Default: 30 days (720h).
	RefreshTokenLifetime time.Duration
	// CodeLifetime is the lifetime of authorization codes. Default: 60s.
	CodeLifetime time.Duration
	// RefreshReuseGrace is how long after a rotation the previous refresh
	// token still yields a fresh token pair (two concurrent refreshes must
	// not log the user out). Reuse after the window revokes the whole
	// family. Default: 10s; a negative value disables the grace window.
	RefreshReuseGrace time.Duration
	// KeyRotation is how long one signing key signs before the next takes
	// over. Retired keys stay published for one more AccessTokenLifetime.
	// Default: 30 days (720h).
	KeyRotation time.Duration
	// LoginLifetime is how long a sign-in (password form or provider)
	// lasts in the browser's session cookie, counted from its start by the
	// value in force when it is used: lowering it ends longer sessions
	// already issued. Default: 12h.
	LoginLifetime time.Duration
	// ConsentLifetime is how long an approval is remembered per user and
	// client, so the consent page is skipped for the same or fewer scopes.
	// Default: 30 days (720h); a negative value disables remembering.
	ConsentLifetime time.Duration

	// Registration is the policy for dynamic client registration.
	// Default: open, without limits.
	Registration RegistrationPolicy

	// Clients are pre-registered clients. They work under every
	// registration policy.
	Clients []StaticClient

	// ClientMetadataDocuments configures client ids that are https URLs
	// of the client's metadata. Default: accepted, fetched from public
	// addresses only.
	ClientMetadataDocuments ClientMetadataDocuments

	// Users maps user names to bcrypt password hashes, as printed by
	// `caddy hash-password` ($2a$...). When set, /authorize shows a login
	// form (inputs "username" and "password") to unidentified visitors.
	Users map[string]string

	// OnPasswordLogin, when set, is called after a user of Users logged in
	// with the form (the Caddy glue forgets the first user's one-time
	// password then). Default: nothing is called.
	OnPasswordLogin func(user string)

	// UserGroups are the groups of users of Config.Users, for ScopeGrants
	// and ResourceAccess. Default: none.
	UserGroups map[string][]string

	// TrustedIdentity, when set, returns the subject already established
	// for r by an earlier handler (the Caddy glue reads
	// {http.auth.user.id}). It is consulted before the login session.
	TrustedIdentity func(r *http.Request) (subject string, ok bool)

	// IdentitySources are further identity sources consulted after
	// TrustedIdentity and the login session.
	IdentitySources []IdentitySource

	// Upstreams are identity providers people sign in with instead of a
	// password: the login page offers a button per provider. Default: none.
	Upstreams []UpstreamLogin

	// ScopeGrants decide who may hold which scope (policy.go): the consent
	// page offers, and tokens carry, only scopes a grant gives the user;
	// refresh decides again. Default: none, every user may hold every
	// scope.
	ScopeGrants []ScopeGrant

	// ResourceAccess limits who may use a resource at all, by resource
	// path. Default: everyone may use every resource.
	ResourceAccess map[string]AccessRule

	// AuditLog receives the audit trail: one Info entry per authorization
	// decision (audit.go). Default: none.
	AuditLog *zap.Logger

	// StoragePrefix is the key prefix of everything this server keeps in
	// Storage. Default: "mcpgate/authserver".
	StoragePrefix string

	// MaxBodyBytes bounds request bodies of /register, /token, /revoke and
	// the form posts of /authorize. Default: 64 KiB.
	MaxBodyBytes int64

	// LoginAttempts is how many failed password logins one client address
	// may make per LoginAttemptWindow, so passwords cannot be guessed at
	// speed; successful logins do not count. Negative disables the limit.
	// Default: 10.
	LoginAttempts int

	// LoginAttemptWindow is the window of LoginAttempts. Default: 5 minutes.
	LoginAttemptWindow time.Duration

	// SignInStarts is how many sign-ins at upstream providers one client
	// address (an IPv4 address, an IPv6 /64) may start (/login/<name>) per
	// SignInStartWindow, and one network (an IPv4 /24, an IPv6 /48) four
	// times as many. Each one keeps a record in storage (at most ~19 KiB)
	// until its callback or for 10 minutes, and starting one takes no
	// account, only a valid authorization request; a sign-in that
	// completes for a person the policy admits does not count (one the
	// policy refuses does: completing it took only an account at the
	// provider). Beyond it that address or network gets 429 with
	// Retry-After until the window ends. Negative disables the limit.
	// Default: 30.
	SignInStarts int

	// SignInStartWindow is the window of SignInStarts. Default: 10 minutes.
	SignInStartWindow time.Duration

	// MaxPendingSignIns caps the sign-ins at upstream providers this
	// instance starts per 10 minutes (the time one may take) from all
	// addresses together, those given back not counted (see SignInStarts),
	// so that strangers with many networks cannot fill storage either: at
	// most MaxPendingSignIns records, ~38 MiB by default. So that one
	// network cannot reach it and lock everyone else out, past half of it
	// a network that has started a hundredth of it in its window is
	// refused, and so is one that started any in a region (an IPv4 /16, an
	// IPv6 /32: /48s are cheap) that has; others are not until the cap. Beyond
	// it /login/<name> answers 503 with Retry-After. Negative disables the
	// cap. Default: 2000.
	MaxPendingSignIns int

	// ClientAuthFailures is how many wrong secrets of pre-registered
	// confidential clients (bcrypt hashes, slow to check on purpose) one
	// client address may send per ClientAuthFailureWindow to /token and
	// /revoke, counted per address and per client and address. Beyond it
	// that address gets 429 temporarily_unavailable with Retry-After,
	// without a bcrypt comparison, until the window ends; the client itself
	// is never locked out: from other addresses it goes on, and the secret
	// last verified passes even from a throttled address. Concurrent
	// comparisons are bounded too (two per client, one per CPU in all).
	// Negative disables the limit. Default: 10.
	ClientAuthFailures int

	// ClientAuthFailureWindow is the window of ClientAuthFailures.
	// Default: 5 minutes.
	ClientAuthFailureWindow time.Duration

	// ClientIP returns the client address that registrations, logins and
	// client authentication failures are limited by. It must not be read
	// from a header the client controls: the glue passes the address Caddy
	// computed from trusted_proxies (the leftmost X-Forwarded-For value is
	// whatever the client sent; trusted_proxies_strict takes the rightmost
	// untrusted one). IPv6 addresses count per /64. Default: the host of
	// r.RemoteAddr.
	ClientIP func(r *http.Request) string

	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// RegistrationPolicy limits POST /register.
type RegistrationPolicy struct {
	// Mode is RegistrationOpen (default), RegistrationToken or
	// RegistrationClosed.
	Mode string
	// RateLimit is the number of registrations one remote IP may make per
	// RateWindow. Default: 0, unlimited.
	RateLimit int
	// RateWindow is the window of RateLimit. Default: 1 minute.
	RateWindow time.Duration
	// MaxClients caps the number of live dynamically registered clients.
	// At the cap, the oldest client that never obtained a token is evicted
	// to make room; when every client has been used, registration answers
	// 503 temporarily_unavailable with Retry-After. At the cap, each
	// registration reads every client record to choose. Default: 0,
	// unlimited.
	MaxClients int
	// UnusedClientsPerAddress is how many clients that never obtained a
	// token one client address (an IPv6 /64) may hold at once; beyond it
	// registration answers 429 temporarily_unavailable with Retry-After.
	// Used clients do not count. Negative disables the quota. Default: 20.
	UnusedClientsPerAddress int
	// InitialAccessToken is the bearer token RegistrationToken requires.
	// It is compared in constant time.
	InitialAccessToken string
	// AllowClientCredentials lets confidential clients registered with the
	// InitialAccessToken (mode RegistrationToken only) register and use the
	// client_credentials grant: tokens without a user. Without it, a
	// self-registered client gets tokens only through a user's
	// authorization, so open registration cannot mint anonymous tokens.
	// Default: false.
	AllowClientCredentials bool
	// ClientIdleLifetime is how long after its last token a dynamically
	// registered client lives before the sweep deletes it.
	// Default: 90 days (2160h), longer than a refresh-token family.
	ClientIdleLifetime time.Duration
	// UnusedClientLifetime is how long a dynamically registered client that
	// has never obtained a token lives before the sweep deletes it, so a
	// burst of registrations fills MaxClients only that long.
	// Default: 24h.
	UnusedClientLifetime time.Duration
}

// StaticClient is a pre-registered client.
type StaticClient struct {
	// ID is the client_id. Required.
	ID string
	// Name is shown on the consent page. Default: ID.
	Name string
	// SecretHash is the bcrypt hash of the client secret (as printed by
	// `caddy hash-password`). Empty declares a public client, which
	// authenticates with "none" and must use PKCE.
	SecretHash string
	// RedirectURIs are the allowed redirect URIs, under the same rules as
	// dynamic registration. A confidential client used only for
	// client_credentials may have none.
	RedirectURIs []string
	// Scopes limits the scopes the client may obtain. Default: all of
	// Config.Scopes.
	Scopes []string
}

// Defaults of Config.
const (
	defaultAccessTokenLifetime  = time.Hour
	defaultRefreshTokenLifetime = 30 * 24 * time.Hour
	defaultCodeLifetime         = 60 * time.Second
	defaultRefreshReuseGrace    = 10 * time.Second
	defaultKeyRotation          = 30 * 24 * time.Hour
	defaultLoginLifetime        = 12 * time.Hour
	defaultConsentLifetime      = 30 * 24 * time.Hour
	defaultRateWindow           = time.Minute
	defaultLoginAttempts        = 10
	defaultLoginAttemptWindow   = 5 * time.Minute
	defaultClientAuthFailures   = 10
	defaultClientAuthWindow     = 5 * time.Minute
	defaultSignInStarts         = 30
	defaultSignInStartWindow    = 10 * time.Minute
	defaultMaxPendingSignIns    = 2000
	defaultClientIdleLifetime   = 90 * 24 * time.Hour
	defaultUnusedClientLifetime = 24 * time.Hour
	defaultUnusedPerAddress     = 20
	defaultStoragePrefix        = "mcpgate/authserver"
	defaultMaxBodyBytes         = 64 << 10
	offlineAccessScope          = "offline_access"
)

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	setDuration := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	if len(c.ResourcePaths) == 0 {
		c.ResourcePaths = []string{oauthwire.DefaultResourcePath}
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"mcp"}
	}
	if len(c.DefaultScopes) == 0 {
		c.DefaultScopes = c.Scopes
	}
	setDuration(&c.AccessTokenLifetime, defaultAccessTokenLifetime)
	setDuration(&c.RefreshTokenLifetime, defaultRefreshTokenLifetime)
	setDuration(&c.CodeLifetime, defaultCodeLifetime)
	setDuration(&c.RefreshReuseGrace, defaultRefreshReuseGrace)
	setDuration(&c.KeyRotation, defaultKeyRotation)
	setDuration(&c.LoginLifetime, defaultLoginLifetime)
	setDuration(&c.ConsentLifetime, defaultConsentLifetime)
	setDuration(&c.Registration.RateWindow, defaultRateWindow)
	setDuration(&c.LoginAttemptWindow, defaultLoginAttemptWindow)
	if c.LoginAttempts == 0 {
		c.LoginAttempts = defaultLoginAttempts
	}
	setDuration(&c.ClientAuthFailureWindow, defaultClientAuthWindow)
	if c.ClientAuthFailures == 0 {
		c.ClientAuthFailures = defaultClientAuthFailures
	}
	if c.SignInStarts == 0 {
		c.SignInStarts = defaultSignInStarts
	}
	setDuration(&c.SignInStartWindow, defaultSignInStartWindow)
	if c.MaxPendingSignIns == 0 {
		c.MaxPendingSignIns = defaultMaxPendingSignIns
	}
	setDuration(&c.Registration.ClientIdleLifetime, defaultClientIdleLifetime)
	setDuration(&c.Registration.UnusedClientLifetime, defaultUnusedClientLifetime)
	if c.Registration.UnusedClientsPerAddress == 0 {
		c.Registration.UnusedClientsPerAddress = defaultUnusedPerAddress
	}
	if c.Registration.Mode == "" {
		c.Registration.Mode = RegistrationOpen
	}
	if c.StoragePrefix == "" {
		c.StoragePrefix = defaultStoragePrefix
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = defaultMaxBodyBytes
	}
	c.ClientMetadataDocuments = c.ClientMetadataDocuments.withDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ClientIP == nil {
		c.ClientIP = remoteIP
	}
	if c.AuditLog == nil {
		c.AuditLog = zap.NewNop()
	}
	return c
}

// Validate reports every configuration mistake at once, in words an
// operator can act on. New calls it; the Caddy glue may call it earlier
// (after filling defaults it does not own, it need not).
func (c Config) Validate() error { return c.validate(true) }

// validate is Validate; without needIdentity (an operator view, where no
// one logs in) a configuration without an identity source is fine.
func (c Config) validate(needIdentity bool) error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Origin == nil {
		add("origin: no function to compute the public origin was configured")
	}
	for _, p := range c.ResourcePaths {
		if err := oauthwire.CheckResourcePath(p); err != nil {
			add("%v", err)
		}
	}
	for _, s := range append(append([]string{}, c.Scopes...), c.DefaultScopes...) {
		if !oauthwire.ScopeToken(s) {
			add("scope %q: scopes are printable ASCII without spaces, quotes or backslashes", s)
		}
	}
	for _, s := range c.DefaultScopes {
		if !slices.Contains(c.Scopes, s) {
			add("default scope %q is not one of the server's scopes %v", s, c.Scopes)
		}
	}
	for name, d := range map[string]time.Duration{
		"access token lifetime": c.AccessTokenLifetime, "refresh token lifetime": c.RefreshTokenLifetime,
		"code lifetime": c.CodeLifetime, "key rotation": c.KeyRotation, "login lifetime": c.LoginLifetime,
		"registration rate window": c.Registration.RateWindow,
		"client idle lifetime":     c.Registration.ClientIdleLifetime, "unused client lifetime": c.Registration.UnusedClientLifetime,
		"client auth failure window": c.ClientAuthFailureWindow, "sign-in start window": c.SignInStartWindow,
	} {
		if d < 0 {
			add("%s: must be positive, got %s", name, d)
		}
	}
	if c.RefreshTokenLifetime > 0 && c.AccessTokenLifetime > c.RefreshTokenLifetime {
		add("access token lifetime %s is longer than the refresh token lifetime %s", c.AccessTokenLifetime, c.RefreshTokenLifetime)
	}
	if c.MaxBodyBytes < 1024 {
		add("max body size %d is below 1024 bytes, too small for a registration request", c.MaxBodyBytes)
	}
	switch c.Registration.Mode {
	case RegistrationOpen, RegistrationClosed:
		if c.Registration.InitialAccessToken != "" {
			add("registration: an initial access token is set but the mode is %q; use mode %q", c.Registration.Mode, RegistrationToken)
		}
		if c.Registration.AllowClientCredentials {
			add("registration: client_credentials can be allowed only to clients registered with an initial access token, but the mode is %q; use mode %q or remove allow_client_credentials (pre-registered clients with a secret may always use it)", c.Registration.Mode, RegistrationToken)
		}
	case RegistrationToken:
		if len(c.Registration.InitialAccessToken) < 16 {
			add("registration: mode %q needs an initial access token of at least 16 characters", RegistrationToken)
		}
	default:
		add("registration mode %q: must be %q, %q or %q", c.Registration.Mode, RegistrationOpen, RegistrationToken, RegistrationClosed)
	}
	if c.Registration.RateLimit < 0 || c.Registration.MaxClients < 0 {
		add("registration: rate limit and client cap must not be negative")
	}
	seen := map[string]bool{}
	for i, sc := range c.Clients {
		if sc.ID == "" {
			add("client #%d: no client id", i+1)
		}
		if seen[sc.ID] {
			add("client %q: declared twice", sc.ID)
		}
		seen[sc.ID] = true
		if sc.SecretHash != "" {
			if _, err := bcrypt.Cost([]byte(sc.SecretHash)); err != nil {
				add("client %q: secret hash is not a bcrypt hash (use `caddy hash-password`)", sc.ID)
			}
		} else if len(sc.RedirectURIs) == 0 {
			add("client %q: a public client (no secret) needs at least one redirect URI", sc.ID)
		}
		for _, u := range sc.RedirectURIs {
			if err := checkRedirectURI(u); err != nil {
				add("client %q: %v", sc.ID, err)
			}
		}
		for _, s := range sc.Scopes {
			if !slices.Contains(c.Scopes, s) {
				add("client %q: scope %q is not one of the server's scopes %v", sc.ID, s, c.Scopes)
			}
		}
	}
	errs = append(errs, c.ClientMetadataDocuments.validate()...)
	for user, hash := range c.Users {
		if user == "" {
			add("users: empty user name")
		}
		// An upstream user's subject is its issuer, '#' and the provider's
		// subject: a password user of that name would share its data at
		// the backend.
		if strings.Contains(user, "#") {
			add("user %q: '#' is kept for users of upstream sign-in providers (issuer#subject); rename the user", user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			add("user %q: password hash is not a bcrypt hash (use `caddy hash-password`)", user)
		}
	}
	if needIdentity && len(c.Users) == 0 && c.TrustedIdentity == nil && len(c.IdentitySources) == 0 && len(c.Upstreams) == 0 {
		add("no identity source: configure users, a sign-in provider (oidc, github) or a trusted identity, so people can log in at /authorize")
	}
	for user := range c.UserGroups {
		if _, ok := c.Users[user]; !ok {
			add("groups of user %q: no such user in users", user)
		}
	}
	errs = append(errs, c.policyNameErrors()...)
	for i, g := range c.ScopeGrants {
		if len(g.Scopes) == 0 {
			add("grant #%d: names no scope", i+1)
		}
		for _, sc := range g.Scopes {
			if !slices.Contains(c.Scopes, sc) {
				add("grant %s: scope %q is not one of the server's scopes %v", scopeString(g.Scopes), sc, c.Scopes)
			}
		}
		if len(g.Users)+len(g.Groups)+len(g.Domains) == 0 {
			add("grant %s: gives the scopes to no one; add users, groups or domains", scopeString(g.Scopes))
		}
	}
	for path, rule := range c.ResourceAccess {
		if !slices.Contains(c.ResourcePaths, path) {
			add("allow for %s: not a resource path of this server %v", path, c.ResourcePaths)
		}
		if len(rule.Users)+len(rule.Groups) == 0 {
			add("allow for %s: lets no one in; add users or groups", path)
		}
	}
	names := map[string]bool{}
	for _, u := range c.Upstreams {
		switch name := u.Name(); {
		case !upstreamName.MatchString(name):
			add("sign-in provider %q: the name appears in URLs, use letters, digits, '-' and '_'", name)
		case names[name]:
			add("sign-in provider %q: declared twice", name)
		default:
			names[name] = true
		}
	}
	if p := c.StoragePrefix; strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		add("storage prefix %q: must not start or end with '/'", p)
	}
	return errors.Join(errs...)
}

// upstreamName is the form of an upstream provider's name.
var upstreamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// resourceURL reports whether resource names one of the configured MCP
// endpoints under origin, and returns the canonical resource for "" (the
// first path). A trailing slash on the resource is tolerated and removed.
func (c *Config) resourceURL(origin, resource string) (string, bool) {
	if resource == "" {
		return origin + c.ResourcePaths[0], true
	}
	if u, err := url.Parse(resource); err != nil || u.Fragment != "" || u.RawQuery != "" {
		return "", false
	}
	trimmed := strings.TrimSuffix(resource, "/")
	for _, p := range c.ResourcePaths {
		if want := origin + strings.TrimSuffix(p, "/"); trimmed == want {
			return origin + p, true
		}
	}
	return "", false
}
