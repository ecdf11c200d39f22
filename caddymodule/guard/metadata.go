package guard

import (
	"encoding/json"
	"net/http"

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

// Routes returns the paths ServeHTTP answers, each with the guard as
// handler: the path-inserted metadata URL, the resource-suffixed one
// (<ResourcePath>/.well-known/oauth-protected-resource) that some clients
// probe, and the root document when Config.Primary; each also with a
// trailing slash. The Caddy glue builds its one routing table from these.
func (g *Guard) Routes() map[string]http.Handler {
	paths := []string{g.metadataPath(), g.cfg.ResourcePath + oauthwire.ProtectedResourceWellKnown}
	if g.cfg.Primary {
		paths = append(paths, oauthwire.ProtectedResourceWellKnown)
	}
	routes := map[string]http.Handler{}
	for _, p := range paths {
		routes[p], routes[p+"/"] = g, g
	}
	return routes
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
