// Package oauthwire holds the pieces of the OAuth and MCP wire format that
// the authorization server, the guard and the transport adapter must agree
// on, so each has one definition: the access-token claims and their parse
// (accesstoken.go), the resource path rule (resourcepath.go), the OAuth JSON
// error (error.go), CORS, scope tokens and loopback hosts (here).
package oauthwire

import (
	"net"
	"net/http"
	"strings"
)

// ProtectedResourceWellKnown is the RFC 9728 well-known path prefix of
// protected resource metadata.
const ProtectedResourceWellKnown = "/.well-known/oauth-protected-resource"

// CORS headers for browser-based MCP clients (MCP Inspector, web apps): what
// they may send on discovery, registration, token and MCP requests, and
// what they may read from the answers.
const (
	CORSAllowHeaders  = "Authorization, Content-Type, Accept, MCP-Protocol-Version, Mcp-Session-Id, Last-Event-ID"
	CORSExposeHeaders = "Mcp-Session-Id, WWW-Authenticate, MCP-Protocol-Version"
)

// AllowCORS lets browser clients at origin ("*": any origin) read the
// answer, including the 401 challenge and the session id. Bearer tokens
// travel in a header, never in cookies, so credentials are never allowed.
func AllowCORS(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", CORSExposeHeaders)
}

// AnswerPreflight answers a CORS preflight for the given methods. A
// preflight carries no credentials, so it is never authenticated.
func AnswerPreflight(w http.ResponseWriter, methods string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", methods)
	h.Set("Access-Control-Allow-Headers", CORSAllowHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// ScopeToken reports whether s is a scope-token (RFC 6749 §3.3): printable
// ASCII without space, double quote or backslash.
func ScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// LoopbackHost reports whether host (without port or brackets) is
// localhost or a loopback address: where native apps receive redirects
// (RFC 8252 §7.3) and local browser clients live.
func LoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
