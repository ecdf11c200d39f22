package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
	return next.ServeHTTP(w, r)
}
