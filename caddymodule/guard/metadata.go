package guard

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// resourceMetadata is the RFC 9728 protected resource metadata document.
type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
}

// metadataPath is the path-inserted metadata location for this resource.
func (g *Guard) metadataPath() string {
	return oauthwire.ProtectedResourceWellKnown + g.cfg.ResourcePath
}

// Handles reports whether ServeHTTP answers r's path: the path-inserted
// metadata URL, the resource-suffixed one (<ResourcePath>/.well-known/...)
// that some clients probe, and the root document when Config.Primary; each
// also with a trailing slash, which clients derive from an MCP URL ending
// in "/".
func (g *Guard) Handles(r *http.Request) bool {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case g.metadataPath(), g.cfg.ResourcePath + oauthwire.ProtectedResourceWellKnown:
		return true
	case oauthwire.ProtectedResourceWellKnown:
		return g.cfg.Primary
	}
	return false
}

// ServeHTTP serves the protected resource metadata, readable from any web
// origin (it is public), with a CORS preflight answer.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	oauthwire.AllowCORS(h, "*")
	switch r.Method {
	case http.MethodOptions:
		oauthwire.AnswerPreflight(w, "GET, HEAD, OPTIONS")
		return
	case http.MethodGet, http.MethodHead:
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		oauthwire.WriteError(w, http.StatusMethodNotAllowed, "invalid_request", "method not allowed; use GET")
		return
	}
	origin := g.cfg.Origin(r)
	h.Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resourceMetadata{
		Resource:               origin + g.cfg.ResourcePath,
		AuthorizationServers:   []string{origin},
		BearerMethodsSupported: []string{"header"},
		ScopesSupported:        g.cfg.Scopes,
	})
}
