// Package caddymodule registers mcpgate's `mcp_gateway` HTTP handler with
// Caddy. One handler is an OAuth 2.1 authorization server for MCP clients
// plus one or more protected MCP resources, each guarded by Bearer tokens and
// proxied, through Caddy's own reverse_proxy, to a plain JSON-RPC backend.
//
// The protocol logic lives in packages that do not import Caddy
// (authserver, guard, transport, and oauthwire for the wire facts they
// share); this package is the glue: configuration, provisioning, one
// routing table per handler built from the routes those packages export
// (routes.go), logs in Caddy's access log, metrics, the `mcp` operator
// commands, and the `mcp_auth` app that shares one authorization server
// per process among handlers of the same settings (authapp.go).
package caddymodule

import (
	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	// The caddy.storage.postgres module, for several instances sharing
	// one store (see pgstorage).
	_ "github.com/mcpgate/mcpgate/caddymodule/pgstorage"
	"github.com/mcpgate/mcpgate/caddymodule/stdiobackend"
	"github.com/mcpgate/mcpgate/caddymodule/transport"
)

func init() {
	caddy.RegisterModule(Gateway{})
}

// Gateway is the `http.handlers.mcp_gateway` module: an authorization server
// and the MCP resources it protects, under one public origin.
type Gateway struct {
	// PublicOrigin is the origin (scheme://host[:port]) clients use to reach
	// this gateway. It becomes the token issuer and the base of every
	// resource URL. Set it when another proxy terminates TLS in front of
	// Caddy. Default: the scheme and host each request arrived with, or,
	// for requests from a proxy in the server's trusted_proxies, the ones
	// it forwarded in X-Forwarded-Proto and X-Forwarded-Host.
	PublicOrigin string `json:"public_origin,omitempty"`

	// HomePage serves a page for people at / (what this server is, its MCP
	// URL, how to connect Claude Code, Claude Desktop and VS Code, the
	// operator's next steps), and the same page to a browser's GET of an
	// MCP endpoint (Accept: text/html, no Authorization); MCP clients keep
	// getting JSON. Turn it on for a site that serves nothing else at /.
	// Default: off.
	HomePage bool `json:"home_page,omitempty"`

	// Resources are the protected MCP endpoints, each with its own backend.
	// At least one is required.
	Resources []*Resource `json:"resources,omitempty"`

	// Auth configures the authorization server shared by all resources.
	// Default: open registration and no users, so a user source (users,
	// first_user or trusted_identity) must be configured.
	Auth AuthConfig `json:"auth,omitempty"`

	server    *authserver.Server
	firstUser string
	// oneTimePassword is the first user's generated password while it
	// has not been used to log in, for the banner.
	oneTimePassword string
	// firstUserPasswordSet: the first user's password is configured.
	firstUserPasswordSet bool
	routes               routeTable
	metrics              *gatewayMetrics
	logger               *zap.Logger
	// audit is the audit trail's logger (audit.go).
	audit *zap.Logger
	stdio []*stdiobackend.Backend
	// transports are the resources' MCP endpoints, whose held backend
	// sessions Cleanup ends.
	transports []*transport.Handler
}

// CaddyModule returns the Caddy module information.
func (Gateway) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.mcp_gateway",
		New: func() caddy.Module { return new(Gateway) },
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Gateway)(nil)
	_ caddy.Validator             = (*Gateway)(nil)
	_ caddy.CleanerUpper          = (*Gateway)(nil)
	_ caddyhttp.MiddlewareHandler = (*Gateway)(nil)
)
