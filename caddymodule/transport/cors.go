package transport

import (
	"net/http"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// setCORS lets the allowed browser origin (MCP Inspector, web apps) read
// the answer.
func setCORS(h http.Header, origin string) {
	h.Add("Vary", "Origin")
	if origin != "" {
		oauthwire.AllowCORS(h, origin)
	}
}

// preflight answers a CORS preflight of the MCP endpoint.
func preflight(w http.ResponseWriter) {
	oauthwire.AnswerPreflight(w, "GET, POST, DELETE, OPTIONS")
}
