package authserver

import (
	"net/http"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// CORS for the programmatic endpoints: browser clients (MCP Inspector, web
// apps) call them cross-origin and send no cookies, so any origin may.

// preflight adds the CORS headers to the response and answers an OPTIONS
// preflight itself, without authentication, reporting whether it did.
func preflight(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", oauthwire.CORSExposeHeaders)
	if r.Method != http.MethodOptions {
		return false
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", oauthwire.CORSAllowHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
	return true
}
