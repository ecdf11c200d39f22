package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/dustin/go-humanize"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
	"github.com/mcpgate/mcpgate/caddymodule/transport"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("mcp_gateway", parseCaddyfile)
	// After authentication handlers, so trusted_identity sees their user,
	// and ahead of the handlers that usually answer every request.
	httpcaddyfile.RegisterDirectiveOrder("mcp_gateway", httpcaddyfile.Before, "invoke")
}

// parseCaddyfile sets up the gateway from Caddyfile tokens. Syntax:
//
//	mcp_gateway {
//	    public_origin <origin>
//	    home_page
//
//	    # the resource at /mcp
//	    upstream <addresses...>                 # or: reverse_proxy <addresses...> { ... }
//	    stdio <command> [<args...>] {           # or: a local stdio MCP server
//	        env <KEY> <value>                   #   repeatable; {http.auth.user.id} per user
//	        dir <path>
//	        per_user | shared                   #   default per_user
//	        idle_timeout <duration>
//	        max_processes <n>
//	        start_timeout <duration>
//	    }
//	    upstream_transport http|sse
//	    upstream_path <path>
//	    scopes <scopes...>
//	    tool_scope <scope> <tools-or-methods...>
//	    identity_headers <subject-header> <client-id-header> [<subject-type-header>]
//	    groups_header <header>
//	    allow {                                # who may use this resource at all
//	        users <names...>                   # users entries; a provider's user as <provider>:<username>
//	        groups <groups...>                 # users groups; a provider's group as <provider>:<group>
//	    }
//	    allow_client_tokens
//	    backend_authorization <value>
//	    allowed_origins <origins...>
//	    max_body <size>
//	    revocation_check_interval <duration>
//	    timeout <duration>
//	    stream_get
//	    cache_hints <ttl> [public|private]
//	    backend_refresh <duration>
//	    backend_sessions [<max> [<idle>]] {    # <max> or the block required
//	        per_subject <n>                     #   sessions of one user over all its clients
//	    }
//
//	    # more resources under the same origin and authorization server
//	    resource <path> {
//	        <any of the resource subdirectives above>
//	    }
//
//	    # the authorization server
//	    users {
//	        <name> <bcrypt-hash> [<groups...>]
//	    }
//	    first_user <name> [<password>]
//	    trusted_identity
//	    oidc <name> {                         # any number; redirect URI <origin>/login/<name>/callback
//	        issuer <url>
//	        client_id <id>
//	        client_secret <secret>
//	        label <text>
//	        scopes <scopes...>
//	        username_claim <claim>
//	        groups_claim <claim>
//	        allowed_domains <domains...>
//	        reauthenticate_after <duration>
//	    }
//	    github [<name>] {                     # redirect URI <origin>/login/<name>/callback, name default github
//	        client_id <id>
//	        client_secret <secret>
//	        allowed_orgs <orgs...>
//	        label <text>
//	        reauthenticate_after <duration>
//	    }
//	    grant <scopes...> {                    # any number; once set, users hold only granted scopes
//	        users <names...>                   # users entries; a provider's user as <provider>:<username>
//	        groups <groups...>                 # users groups; a provider's group as <provider>:<group>
//	        domains <domains...>
//	    }
//	    registration open|closed|token [<initial-access-token>] {
//	        rate_limit <count> [<window>]
//	        max_clients <count>
//	        unused_clients_per_address <count>|off
//	        unused_client_lifetime <duration>
//	        allow_client_credentials
//	    }
//	    client_metadata_documents [off] {
//	        allow_private_addresses
//	        allow_hosts <hosts...>
//	        deny_hosts <hosts...>
//	        max_size <size>
//	        timeout <duration>
//	        max_cache <duration>
//	        stale_grace <duration>
//	    }
//	    client <id> {
//	        name <display-name>
//	        secret_hash <bcrypt-hash>
//	        redirect_uris <uris...>
//	        scopes <scopes...>
//	    }
//	    access_token_lifetime | refresh_token_lifetime | code_lifetime |
//	    refresh_reuse_grace | key_rotation | login_lifetime | consent_lifetime <duration>
//	    login_attempts <count>|off [<window>]
//	    sign_in_starts <count>|off [<window>]
//	    max_pending_sign_ins <count>|off
//	    client_auth_failures <count>|off [<window>]
//	}
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Gateway)
	if err := g.unmarshal(h); err != nil {
		return nil, err
	}
	return g, nil
}

// UnmarshalCaddyfile implements caddyfile.Unmarshaler. The reverse_proxy
// blocks it may contain need a Helper; use the directive for those.
func (g *Gateway) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return g.unmarshal(httpcaddyfile.Helper{Dispenser: d})
}

func (g *Gateway) unmarshal(h httpcaddyfile.Helper) error {
	d := h.Dispenser
	d.Next() // consume directive name
	if d.NextArg() {
		return d.Errf("mcp_gateway takes no arguments; the MCP path is set with 'resource <path>' and defaults to /mcp")
	}
	top := &Resource{}
	topUsed := false
	for d.NextBlock(0) {
		handled, err := parseResourceOption(h, top)
		if err != nil {
			return err
		}
		if handled {
			topUsed = true
			continue
		}
		if err := g.parseGatewayOption(h); err != nil {
			return err
		}
	}
	if topUsed {
		g.Resources = append([]*Resource{top}, g.Resources...)
	}
	return nil
}

// parseGatewayOption parses one subdirective that is not a resource option.
func (g *Gateway) parseGatewayOption(h httpcaddyfile.Helper) error {
	d := h.Dispenser
	a := &g.Auth
	switch d.Val() {
	case "public_origin":
		if !d.AllArgs(&g.PublicOrigin) {
			return d.ArgErr()
		}
	case "home_page":
		if d.NextArg() {
			return d.ArgErr()
		}
		g.HomePage = true
	case "resource":
		res := &Resource{}
		if !d.NextArg() {
			return d.Errf("resource needs the MCP path it serves, for example: resource /memory/mcp { upstream 127.0.0.1:17800 }")
		}
		res.Path = d.Val()
		if err := oauthwire.CheckResourcePath(res.Path); err != nil {
			return d.Errf("%v, for example: resource /memory/mcp { ... }", err)
		}
		if d.NextArg() {
			return d.ArgErr()
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			handled, err := parseResourceOption(h, res)
			if err != nil {
				return err
			}
			if !handled {
				return d.Errf("unrecognized resource option '%s'", d.Val())
			}
		}
		g.Resources = append(g.Resources, res)
	case "users":
		if d.NextArg() {
			return d.ArgErr()
		}
		if a.Users == nil {
			a.Users = map[string]string{}
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			name := d.Val()
			args := d.RemainingArgs()
			if len(args) == 0 || args[0] == "" {
				return d.Errf("user %q needs exactly one bcrypt hash (make one with 'caddy hash-password'), optionally followed by the user's groups; when it comes from {$VAR}, that variable is unset or empty", name)
			}
			if _, dup := a.Users[name]; dup {
				return d.Errf("user %q is declared twice", name)
			}
			a.Users[name] = args[0]
			if len(args) > 1 {
				if a.UserGroups == nil {
					a.UserGroups = map[string][]string{}
				}
				a.UserGroups[name] = args[1:]
			}
		}
	case "first_user":
		args := d.RemainingArgs()
		if len(args) < 1 || len(args) > 2 {
			return d.Errf("first_user takes a user name and an optional password")
		}
		a.FirstUser = &FirstUser{Name: args[0]}
		if len(args) == 2 {
			a.FirstUser.Password = args[1]
		}
	case "trusted_identity":
		if d.NextArg() {
			return d.ArgErr()
		}
		a.TrustedIdentity = true
	case "registration":
		return parseRegistration(d, &a.Registration)
	case "client":
		return parseClient(d, a)
	case "client_metadata_documents":
		return parseClientMetadataDocuments(d, &a.ClientMetadataDocuments)
	case "oidc":
		return parseOIDC(d, a)
	case "grant":
		return parseGrant(d, a)
	case "github":
		return parseGitHub(d, a)
	case "access_token_lifetime":
		return durationArg(d, &a.AccessTokenLifetime)
	case "refresh_token_lifetime":
		return durationArg(d, &a.RefreshTokenLifetime)
	case "code_lifetime":
		return durationArg(d, &a.CodeLifetime)
	case "refresh_reuse_grace":
		return durationOrOffArg(d, &a.RefreshReuseGrace)
	case "key_rotation":
		return durationArg(d, &a.KeyRotation)
	case "login_lifetime":
		return durationArg(d, &a.LoginLifetime)
	case "consent_lifetime":
		return durationOrOffArg(d, &a.ConsentLifetime)
	case "login_attempts":
		return countAndWindowOrOff(d, &a.LoginAttempts, &a.LoginAttemptWindow)
	case "sign_in_starts":
		return countAndWindowOrOff(d, &a.SignInStarts, &a.SignInStartWindow)
	case "max_pending_sign_ins":
		return countOrOff(d, &a.MaxPendingSignIns)
	case "client_auth_failures":
		return countAndWindowOrOff(d, &a.ClientAuthFailures, &a.ClientAuthFailureWindow)
	default:
		return d.Errf("unrecognized mcp_gateway option '%s'", d.Val())
	}
	return nil
}

// parseResourceOption parses the current subdirective into res when it is a
// resource option, and reports whether it was one.
func parseResourceOption(h httpcaddyfile.Helper, res *Resource) (bool, error) {
	d := h.Dispenser
	switch d.Val() {
	case "upstream", "reverse_proxy":
		if res.ProxyRaw != nil || res.Stdio != nil {
			return true, d.Errf("only one upstream, reverse_proxy or stdio per resource; list several addresses in it to balance load")
		}
		rp := new(reverseproxy.Handler)
		if err := rp.UnmarshalCaddyfile(d.NewFromNextSegment()); err != nil {
			return true, err
		}
		if err := rp.FinalizeUnmarshalCaddyfile(h); err != nil {
			return true, err
		}
		if len(rp.Upstreams) == 0 && rp.DynamicUpstreamsRaw == nil {
			return true, d.Errf("%s needs at least one backend address, for example 127.0.0.1:17800", d.Val())
		}
		res.ProxyRaw = caddyconfig.JSONModuleObject(rp, "handler", "reverse_proxy", nil)
	case "stdio":
		return true, parseStdio(d, res)
	case "upstream_transport":
		if !d.AllArgs(&res.UpstreamTransport) {
			return true, d.Errf("upstream_transport takes http or sse, for example: upstream_transport sse")
		}
		if res.UpstreamTransport != "http" && res.UpstreamTransport != "sse" {
			return true, d.Errf("upstream_transport %q must be http (the default) or sse (the legacy 2024-11-05 HTTP+SSE transport)", res.UpstreamTransport)
		}
	case "upstream_path":
		if !d.AllArgs(&res.UpstreamPath) {
			return true, d.ArgErr()
		}
	case "scopes":
		res.Scopes = append(res.Scopes, d.RemainingArgs()...)
		if len(res.Scopes) == 0 {
			return true, d.ArgErr()
		}
	case "tool_scope":
		args := d.RemainingArgs()
		if len(args) < 2 {
			return true, d.Errf("tool_scope needs a scope and the tools or methods it allows, for example: tool_scope memory.read read_graph search_nodes")
		}
		if res.ToolScopes == nil {
			res.ToolScopes = map[string][]string{}
		}
		res.ToolScopes[args[0]] = append(res.ToolScopes[args[0]], args[1:]...)
	case "identity_headers":
		args := d.RemainingArgs()
		if len(args) != 2 && len(args) != 3 {
			return true, d.Errf("identity_headers needs the subject header, the client id header and optionally the subject type header, for example: identity_headers X-MCP-Subject X-MCP-Client-ID X-MCP-Subject-Type")
		}
		res.SubjectHeader, res.ClientIDHeader = args[0], args[1]
		if len(args) == 3 {
			res.SubjectTypeHeader = args[2]
		}
	case "allow_client_tokens":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		res.AllowClientTokens = true
	case "groups_header":
		if !d.AllArgs(&res.GroupsHeader) {
			return true, d.Errf("groups_header needs the header's name, for example: groups_header X-MCP-Groups")
		}
	case "allow":
		return true, parseAllow(d, res)
	case "backend_authorization":
		if !d.AllArgs(&res.BackendAuthorization) || res.BackendAuthorization == "" {
			return true, d.Errf("backend_authorization needs the value of the backend's Authorization header, for example \"Bearer {env.BACKEND_TOKEN}\"")
		}
	case "allowed_origins":
		res.AllowedOrigins = append(res.AllowedOrigins, d.RemainingArgs()...)
		if len(res.AllowedOrigins) == 0 {
			return true, d.ArgErr()
		}
	case "max_body":
		var size string
		if !d.AllArgs(&size) {
			return true, d.ArgErr()
		}
		n, err := humanize.ParseBytes(size)
		if err != nil || n == 0 {
			return true, d.Errf("max_body %q is not a size such as 4MiB", size)
		}
		res.MaxBodyBytes = int64(n)
	case "revocation_check_interval":
		return true, durationArg(d, &res.RevocationCheckInterval)
	case "timeout":
		return true, durationArg(d, &res.Timeout)
	case "stream_get":
		if d.NextArg() {
			return true, d.ArgErr()
		}
		res.StreamGET = true
	case "cache_hints":
		args := d.RemainingArgs()
		if len(args) != 1 && len(args) != 2 {
			return true, d.Errf("cache_hints needs a time to live and optionally public or private, for example: cache_hints 5m public")
		}
		ttl, err := caddy.ParseDuration(args[0])
		if err != nil || ttl < 0 {
			return true, d.Errf("cache_hints time to live %q is not a duration such as 5m", args[0])
		}
		res.CacheTTL = caddy.Duration(ttl)
		if len(args) == 2 {
			if args[1] != "public" && args[1] != "private" {
				return true, d.Errf("cache_hints scope %q must be public (the same for every user) or private", args[1])
			}
			res.CacheScope = args[1]
		}
	case "backend_refresh":
		return true, durationArg(d, &res.BackendRefresh)
	case "backend_sessions":
		return true, parseBackendSessions(d, res)
	default:
		return false, nil
	}
	return true, nil
}

// parseBackendSessions parses backend_sessions [<max> [<idle>]] with an
// optional block (per_subject <n>); without arguments the block is needed.
func parseBackendSessions(d *caddyfile.Dispenser, res *Resource) error {
	const example = "for example: backend_sessions 1000 10m { per_subject 4 }"
	args := d.RemainingArgs()
	if len(args) > 2 {
		return d.Errf("backend_sessions takes the most sessions to hold and optionally how long one may idle, then a block for per_subject; %s", example)
	}
	if len(args) >= 1 {
		n, err := strconv.Atoi(args[0])
		if err != nil || n <= 0 {
			return d.Errf("backend_sessions %q is not a positive number of sessions", args[0])
		}
		res.MaxBackendSessions = n
	}
	if len(args) == 2 {
		idle, err := caddy.ParseDuration(args[1])
		if err != nil || idle <= 0 {
			return d.Errf("backend_sessions idle time %q is not a duration such as 10m", args[1])
		}
		res.BackendSessionIdle = caddy.Duration(idle)
	}
	options := 0
	for nesting := d.Nesting(); d.NextBlock(nesting); options++ {
		switch d.Val() {
		case "per_subject":
			var v string
			if !d.AllArgs(&v) {
				return d.Errf("per_subject needs the most sessions held for one user over all its client applications, for example: per_subject 4")
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("backend_sessions per_subject %q is not a positive number of sessions (the default is %d)", v, transport.DefaultMaxBackendSessionsPerSubject)
			}
			res.MaxBackendSessionsPerSubject = n
		default:
			return d.Errf("unrecognized backend_sessions option '%s'; the only one is per_subject", d.Val())
		}
	}
	if len(args) == 0 && options == 0 {
		return d.Errf("backend_sessions needs the most sessions to hold, optionally how long one may idle, or a block with per_subject; %s", example)
	}
	return nil
}

func parseRegistration(d *caddyfile.Dispenser, reg *Registration) error {
	if !d.NextArg() {
		return d.Errf("registration needs a mode: open, token <initial-access-token>, or closed")
	}
	reg.Mode = d.Val()
	switch reg.Mode {
	case "open", "closed":
	case "token":
		if !d.NextArg() || d.Val() == "" {
			return d.Errf("registration token needs the initial access token, for example {env.MCPGATE_REGISTRATION_TOKEN}; when it comes from {$VAR}, that variable is unset or empty")
		}
		reg.InitialAccessToken = d.Val()
	default:
		return d.Errf("registration mode %q is not open, token or closed", reg.Mode)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "rate_limit":
			if err := countAndWindow(d, "rate_limit", d.RemainingArgs(), &reg.RateLimit, &reg.RateWindow); err != nil {
				return err
			}
		case "unused_client_lifetime":
			if err := durationArg(d, &reg.UnusedClientLifetime); err != nil {
				return err
			}
		case "allow_client_credentials":
			if d.NextArg() {
				return d.ArgErr()
			}
			if reg.Mode != "token" {
				return d.Errf("allow_client_credentials applies only to clients registered with an initial access token: use 'registration token <initial-access-token>', or a client block for a client that needs tokens without a user")
			}
			reg.AllowClientCredentials = true
		case "unused_clients_per_address":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			switch {
			case s == "off":
				reg.UnusedClientsPerAddress = -1
			case err != nil || n <= 0:
				return d.Errf("unused_clients_per_address %q is not a positive number or off", s)
			default:
				reg.UnusedClientsPerAddress = n
			}
		case "max_clients":
			var s string
			if !d.AllArgs(&s) {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return d.Errf("max_clients %q is not a positive number", s)
			}
			reg.MaxClients = n
		default:
			return d.Errf("unrecognized registration option '%s'", d.Val())
		}
	}
	return nil
}

func parseClientMetadataDocuments(d *caddyfile.Dispenser, c *ClientMetadataDocuments) error {
	if d.NextArg() {
		if d.Val() != "off" || d.NextArg() {
			return d.Errf("client_metadata_documents takes only 'off' (clients then register instead), got %q", d.Val())
		}
		c.Off = true
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if c.Off {
			return d.Errf("client_metadata_documents off takes no options; remove 'off' to configure %q", d.Val())
		}
		switch d.Val() {
		case "allow_private_addresses":
			if d.NextArg() {
				return d.ArgErr()
			}
			c.AllowPrivateAddresses = true
		case "allow_hosts", "deny_hosts":
			option := d.Val()
			hosts := d.RemainingArgs()
			if len(hosts) == 0 {
				return d.Errf("%s needs host names, such as claude.ai vscode.dev", option)
			}
			if option == "allow_hosts" {
				c.AllowHosts = append(c.AllowHosts, hosts...)
			} else {
				c.DenyHosts = append(c.DenyHosts, hosts...)
			}
		case "max_size":
			var size string
			if !d.AllArgs(&size) {
				return d.ArgErr()
			}
			n, err := humanize.ParseBytes(size)
			if err != nil || n == 0 {
				return d.Errf("max_size %q is not a size such as 5KiB", size)
			}
			c.MaxSize = int64(n)
		case "timeout":
			if err := durationArg(d, &c.Timeout); err != nil {
				return err
			}
		case "max_cache":
			if err := durationArg(d, &c.MaxCache); err != nil {
				return err
			}
		case "stale_grace":
			if err := durationOrOffArg(d, &c.StaleGrace); err != nil {
				return err
			}
		default:
			return d.Errf("unrecognized client_metadata_documents option '%s' (known: allow_private_addresses, allow_hosts, deny_hosts, max_size, timeout, max_cache, stale_grace)", d.Val())
		}
	}
	return nil
}

func parseClient(d *caddyfile.Dispenser, a *AuthConfig) error {
	var c StaticClient
	if !d.AllArgs(&c.ID) {
		return d.Errf("client needs its client_id, for example: client ci-bot { ... }")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "name":
			if !d.AllArgs(&c.Name) {
				return d.ArgErr()
			}
		case "secret_hash":
			if !d.AllArgs(&c.SecretHash) || c.SecretHash == "" {
				return d.Errf("client %s: secret_hash needs the bcrypt hash of the client's secret (caddy hash-password), or remove the line for a public client; when it comes from {$VAR}, that variable is unset or empty", c.ID)
			}
		case "redirect_uris":
			c.RedirectURIs = append(c.RedirectURIs, d.RemainingArgs()...)
		case "scopes":
			c.Scopes = append(c.Scopes, d.RemainingArgs()...)
		default:
			return d.Errf("unrecognized client option '%s'", d.Val())
		}
	}
	a.Clients = append(a.Clients, c)
	return nil
}

// countAndWindowOrOff reads "<count>|off [<window>]" for the current
// option; off stores a negative count.
func countAndWindowOrOff(d *caddyfile.Dispenser, count *int, window *caddy.Duration) error {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) == 1 && args[0] == "off" {
		*count = -1
		return nil
	}
	return countAndWindow(d, name, args, count, window)
}

// countOrOff parses the argument "<count>|off" of the current option: a
// positive count, or off (-1).
func countOrOff(d *caddyfile.Dispenser, count *int) error {
	name := d.Val()
	var s string
	if !d.AllArgs(&s) {
		return d.Errf("%s takes a count or off, for example: %s 100", name, name)
	}
	n, err := strconv.Atoi(s)
	switch {
	case s == "off":
		*count = -1
	case err != nil || n <= 0:
		return d.Errf("%s %q is not a positive number or off", name, s)
	default:
		*count = n
	}
	return nil
}

// countAndWindow parses the arguments "<count> [<window>]" of the option
// name: a positive count and an optional positive duration.
func countAndWindow(d *caddyfile.Dispenser, name string, args []string, count *int, window *caddy.Duration) error {
	if len(args) < 1 || len(args) > 2 {
		return d.Errf("%s takes a count and an optional window, for example: %s 10 1m", name, name)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n <= 0 {
		return d.Errf("%s count %q is not a positive number", name, args[0])
	}
	*count = n
	if len(args) == 2 {
		w, err := caddy.ParseDuration(args[1])
		if err != nil || w <= 0 {
			return d.Errf("%s window %q is not a positive duration", name, args[1])
		}
		*window = caddy.Duration(w)
	}
	return nil
}

// durationArg reads exactly one positive duration into dst.
func durationArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	return readDuration(d, dst, false)
}

// durationOrOffArg reads exactly one duration into dst, where a negative
// value turns the feature off.
func durationOrOffArg(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	return readDuration(d, dst, true)
}

func readDuration(d *caddyfile.Dispenser, dst *caddy.Duration, offAllowed bool) error {
	name := d.Val()
	var s string
	if !d.AllArgs(&s) {
		return d.ArgErr()
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s: %q is not a duration such as 90s, 1h or 30d", name, s)
	}
	if dur <= 0 && !offAllowed {
		return d.Errf("%s: %q must be longer than zero", name, s)
	}
	*dst = caddy.Duration(dur)
	return nil
}
