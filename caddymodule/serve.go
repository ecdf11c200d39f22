package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// ServeHTTP routes the gateway's own paths (discovery, the authorization
// server and each resource's MCP endpoint) and passes everything else on.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	for _, rh := range g.resources {
		if rh.transport.Handles(r) {
			rh.transport.ServeHTTP(w, r)
			return nil
		}
		if rh.guard.Handles(r) {
			rh.guard.ServeHTTP(w, r)
			return nil
		}
	}
	if g.server.Handles(r) {
		g.server.ServeHTTP(w, r)
		return nil
	}
	if g.nearMiss(r.URL.Path) {
		// A variant of one of our paths that we do not serve (other case,
		// doubled or trailing slashes, metadata of an unknown resource):
		// a JSON 404, so clients probing several locations move on cleanly
		// instead of taking whatever the rest of the site answers.
		oauthwire.WriteError(w, http.StatusNotFound, "not_found", "the MCP gateway serves nothing at this path")
		return nil
	}
	return next.ServeHTTP(w, r)
}

// gatewayEndpoints are the authorization server's paths at the origin root.
var gatewayEndpoints = []string{"/authorize", "/token", "/register", "/revoke", "/jwks"}

// nearMiss reports whether path looks like one of the gateway's own paths
// without being one: any path under /.well-known/oauth-protected-resource,
// or an endpoint or resource path in another case or with extra slashes.
func (g *Gateway) nearMiss(path string) bool {
	if strings.HasPrefix(path, oauthwire.ProtectedResourceWellKnown) {
		return true
	}
	norm := strings.ToLower(path)
	for strings.Contains(norm, "//") {
		norm = strings.ReplaceAll(norm, "//", "/")
	}
	norm = strings.TrimSuffix(norm, "/")
	for _, p := range gatewayEndpoints {
		if norm == p {
			return true
		}
	}
	for _, rh := range g.resources {
		if norm == strings.ToLower(strings.TrimSuffix(rh.path, "/")) {
			return true
		}
	}
	return false
}
