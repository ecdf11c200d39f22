package transport

import (
	"net/http"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// CORS header values for browser clients (MCP Inspector, web apps). Bearer
// tokens travel in a header, never cookies, so credentials are not allowed.
const (
	corsAllowMethods = "GET, POST, DELETE, OPTIONS"
	corsMaxAge       = "86400"
)

// setCORS lets the allowed browser origin read the answer, including the
// 401 challenge and the session id.
func setCORS(h http.Header, origin string) {
	h.Add("Vary", "Origin")
	if origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", oauthwire.CORSExposeHeaders)
}

// preflight answers a CORS preflight, which carries no credentials and so
// is not authenticated.
func preflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", corsAllowMethods)
	h.Set("Access-Control-Allow-Headers", oauthwire.CORSAllowHeaders)
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}
