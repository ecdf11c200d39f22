package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// ServeHTTP answers the gateway's own paths from its routing table, a JSON
// 404 for near misses, and passes everything else on.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	if h := g.routes.exact[r.URL.Path]; h != nil {
		h.ServeHTTP(w, r)
		return nil
	}
	if g.routes.nearMiss(r.URL.Path) {
		oauthwire.WriteError(w, http.StatusNotFound, "not_found", "the MCP gateway serves nothing at this path")
		return nil
	}
	return next.ServeHTTP(w, r)
}
