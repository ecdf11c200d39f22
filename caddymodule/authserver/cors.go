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
	oauthwire.AllowCORS(w.Header(), "*")
	if r.Method != http.MethodOptions {
		return false
	}
	oauthwire.AnswerPreflight(w, "GET, POST, OPTIONS")
	return true
}
