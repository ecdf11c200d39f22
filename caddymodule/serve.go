package caddymodule

import (
	"net/http"
	"strings"

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
	if strings.HasPrefix(r.URL.Path, protectedResourceWellKnown) {
		// Metadata of a resource this gateway does not serve: a JSON 404,
		// so clients probing several locations move on cleanly.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, err := w.Write([]byte(`{"error":"not_found","error_description":"no protected resource metadata at this path"}`))
		return err
	}
	return next.ServeHTTP(w, r)
}

const protectedResourceWellKnown = "/.well-known/oauth-protected-resource"
