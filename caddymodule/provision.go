package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
	"github.com/mcpgate/mcpgate/caddymodule/publicurl"
	"github.com/mcpgate/mcpgate/caddymodule/transport"
)

// Provision takes the authorization server from the mcp_auth app (shared
// with every handler of the same settings), loads the reverse proxies or
// stdio backends and builds a guard and transport adapter per resource.
func (g *Gateway) Provision(ctx caddy.Context) error {
	g.logger = ctx.Logger()
	g.audit = g.logger.Named("audit")
	repl := caddy.NewReplacer()
	g.PublicOrigin = publicurl.Canonical(repl.ReplaceAll(g.PublicOrigin, ""))
	for _, res := range g.Resources {
		res.setDefaults()
	}

	m, err := newGatewayMetrics(ctx.GetMetricsRegistry())
	if err != nil {
		return fmt.Errorf("registering metrics: %v", err)
	}
	g.metrics = m

	if err := g.checkSecrets(repl); err != nil {
		return err
	}

	users := make(map[string]string, len(g.Auth.Users)+1)
	for name, hash := range g.Auth.Users {
		users[name] = repl.ReplaceAll(hash, "")
	}
	if fu := g.Auth.FirstUser; fu != nil {
		u, err := ensureFirstUser(ctx, ctx.Storage(), repl.ReplaceAll(fu.Name, ""), repl.ReplaceAll(fu.Password, ""))
		if err != nil {
			return err
		}
		if _, declared := users[u.Name]; !declared {
			users[u.Name] = u.Hash
		}
		g.firstUser, g.oneTimePassword = u.Name, u.OneTimePassword
		g.firstUserPasswordSet = repl.ReplaceAll(fu.Password, "") != ""
	}

	app, err := ctx.App("mcp_auth")
	if err != nil {
		return fmt.Errorf("loading the mcp_auth app: %v", err)
	}
	key, err := g.sharedServerKey()
	if err != nil {
		return err
	}
	g.server, err = app.(*AuthApp).server(key, func() (*authserver.Server, error) {
		cfg, err := g.authserverConfig(repl, users)
		if err != nil {
			return nil, err
		}
		cfg.AuditLog = g.audit
		if g.oneTimePassword != "" {
			cfg.OnPasswordLogin = forgetOneTimePassword(ctx.Storage(), g.firstUser, g.logger)
		}
		return authserver.New(cfg, ctx.Storage(), app.(*AuthApp).logger.Named("authserver"))
	})
	if err != nil {
		return fmt.Errorf("mcp_gateway authorization server: %w", err)
	}

	app.(*AuthApp).addGateway(g)

	if err := g.routes.add("the authorization server", g.server.Routes()); err != nil {
		return err
	}
	paths := make([]string, len(g.Resources))
	for i, res := range g.Resources {
		gd, tr, err := g.provisionResource(ctx, repl, res, i == 0)
		if err != nil {
			return fmt.Errorf("mcp_gateway resource %s: %w", res.Path, err)
		}
		for _, routes := range []map[string]http.Handler{gd.Routes(), tr.Routes()} {
			if err := g.routes.add("resource "+res.Path, routes); err != nil {
				return err
			}
		}
		paths[i] = res.Path
	}

	if g.HomePage {
		page := homePage{g}
		if err := g.routes.add("the home page", map[string]http.Handler{"/": page}); err != nil {
			return err
		}
		for _, res := range g.Resources {
			for _, p := range []string{res.Path, res.Path + "/"} {
				if h := g.routes.exact[p]; h != nil {
					g.routes.exact[p] = browserAware(page, h)
				}
			}
		}
	}

	origin := g.PublicOrigin
	if origin == "" {
		origin = "each site's own address"
	}
	g.logger.Info("MCP endpoints ready: point clients at the origin followed by a path",
		zap.String("origin", origin), zap.Strings("paths", paths))
	return nil
}

// setDefaults fills the documented defaults of a resource.
func (res *Resource) setDefaults() {
	if res.Path == "" {
		res.Path = oauthwire.DefaultResourcePath
	}
	if res.UpstreamPath == "" {
		res.UpstreamPath = oauthwire.DefaultResourcePath
		if res.UpstreamTransport == "sse" {
			res.UpstreamPath = "/sse"
		}
	}
	if len(res.Scopes) == 0 {
		res.Scopes = []string{defaultScope}
	}
}

// provisionResource builds one protected resource: its guard (metadata and
// token checks) and its MCP endpoint (the transport, which calls the guard
// and relays to the resource's reverse proxy).
func (g *Gateway) provisionResource(ctx caddy.Context, repl *caddy.Replacer, res *Resource, primary bool) (*guard.Guard, *transport.Handler, error) {
	var upstream http.Handler
	switch {
	case res.Stdio != nil:
		b, err := g.provisionStdio(repl, res)
		if err != nil {
			return nil, nil, err
		}
		upstream = b
	case res.ProxyRaw == nil:
		return nil, nil, errors.New("no backend: add 'upstream <address>' (for example upstream 127.0.0.1:17800) or 'stdio <command>'")
	default:
		mod, err := ctx.LoadModule(res, "ProxyRaw")
		if err != nil {
			return nil, nil, fmt.Errorf("loading reverse proxy: %v", err)
		}
		proxy, ok := mod.(caddyhttp.MiddlewareHandler)
		if !ok {
			return nil, nil, fmt.Errorf("proxy module %T is not an HTTP handler", mod)
		}
		upstream = proxyHandler{proxy: proxy, outage: newOutageWarning(g.logger, res.Path)}
		if res.UpstreamTransport == "sse" {
			b, err := g.provisionSSE(res, upstream)
			if err != nil {
				return nil, nil, err
			}
			upstream = b
		}
	}
	gd, err := guard.New(guard.Config{
		ResourcePath:         res.Path,
		Origin:               g.origin,
		Primary:              primary,
		Scopes:               res.Scopes,
		ToolScopes:           res.ToolScopes,
		SubjectHeader:        res.SubjectHeader,
		ClientIDHeader:       res.ClientIDHeader,
		SubjectTypeHeader:    res.SubjectTypeHeader,
		GroupsHeader:         res.GroupsHeader,
		AllowClientTokens:    res.AllowClientTokens,
		BackendAuthorization: repl.ReplaceAll(res.BackendAuthorization, ""),
		RevocationCacheTTL:   time.Duration(res.RevocationCheckInterval),
		OnFailure:            g.authFailureObserver(res.Path),
	}, g.server, g.server)
	if err != nil {
		return nil, nil, err
	}
	if res.MaxBackendSessions < 0 || res.MaxBackendSessionsPerSubject < 0 || res.BackendSessionIdle < 0 {
		return nil, nil, fmt.Errorf("resource %s: max_backend_sessions, max_backend_sessions_per_subject and backend_session_idle must not be negative (leave them out for the defaults: %d, %d and %s)",
			res.Path, transport.DefaultMaxBackendSessions, transport.DefaultMaxBackendSessionsPerSubject, transport.DefaultBackendSessionIdle)
	}
	tr, err := transport.New(transport.Config{
		Path:                         res.Path,
		UpstreamPath:                 res.UpstreamPath,
		Origin:                       g.origin,
		AllowedOrigins:               res.AllowedOrigins,
		Gate:                         gd,
		MaxBodyBytes:                 res.MaxBodyBytes,
		Timeout:                      time.Duration(res.Timeout),
		StreamGET:                    res.StreamGET,
		CacheTTL:                     time.Duration(res.CacheTTL),
		CacheScope:                   res.CacheScope,
		BackendRefresh:               time.Duration(res.BackendRefresh),
		MaxBackendSessions:           res.MaxBackendSessions,
		MaxBackendSessionsPerSubject: res.MaxBackendSessionsPerSubject,
		BackendSessionIdle:           time.Duration(res.BackendSessionIdle),
		Observe:                      g.requestObserver(res.Path),
	}, upstream)
	if err != nil {
		return nil, nil, err
	}
	g.transports = append(g.transports, tr)
	return gd, tr, nil
}

// Validate checks the configuration for mistakes an operator can fix.
func (g *Gateway) Validate() error {
	var errs []error
	if len(g.Resources) == 0 {
		errs = append(errs, errors.New("mcp_gateway needs a backend: add 'upstream <address>' (for example upstream 127.0.0.1:17800)"))
	}
	if g.PublicOrigin != "" {
		u, err := url.Parse(g.PublicOrigin)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("public_origin %q must be an origin such as https://mcp.example.com (scheme and host, no path)", g.PublicOrigin))
		}
	}
	seen := map[string]bool{}
	for _, res := range g.Resources {
		if err := oauthwire.CheckResourcePath(res.Path); err != nil {
			errs = append(errs, err)
		}
		if err := res.validateBackend(); err != nil {
			errs = append(errs, fmt.Errorf("resource %s: %w", res.Path, err))
		}
		if seen[res.Path] {
			errs = append(errs, fmt.Errorf("resource path %s is declared twice", res.Path))
		}
		seen[res.Path] = true
	}
	return errors.Join(errs...)
}
