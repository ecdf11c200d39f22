package authserver

import (
	"net/http"
	"strings"
)

// Routes returns every path the server answers, each with its handler: the
// endpoints at the origin root (several clients skip discovery and
// synthesize exactly these) and the discovery documents, RFC 8414 at the
// root and path-inserted for each resource plus the OpenID Connect aliases
// (inserted and appended), each also with a trailing slash. The Caddy glue
// builds its one routing table from these; the map must not be changed.
func (s *Server) Routes() map[string]http.Handler { return s.routes }

// DiscoveryPrefixes and DiscoverySuffix mark the paths that belong to the
// authorization server's discovery even when no route serves them (another
// resource's path inserted, another case): a gateway answers them with a
// JSON 404, never with whatever the rest of the site serves.
var (
	DiscoveryPrefixes = []string{wellKnownOAuth, wellKnownOIDC}
	DiscoverySuffix   = wellKnownOIDC
)

func (s *Server) buildRoutes() map[string]http.Handler {
	// Everything but /authorize is for programs, browser ones included:
	// CORS, with preflights answered unauthenticated.
	api := func(serve http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !preflight(w, r) {
				serve(w, r)
			}
		})
	}
	routes := map[string]http.Handler{
		pathAuthorize: http.HandlerFunc(s.serveAuthorize),
		pathToken:     api(s.serveToken),
		pathRegister:  api(s.serveRegister),
		pathRevoke:    api(s.serveRevoke),
		pathJWKS:      api(s.serveJWKS),
	}
	s.upstreamRoutes(routes)
	metadata := api(s.serveMetadata)
	discovery := []string{wellKnownOAuth, wellKnownOIDC}
	for _, rp := range s.cfg.ResourcePaths {
		rp = strings.TrimSuffix(rp, "/")
		discovery = append(discovery, wellKnownOAuth+rp, wellKnownOIDC+rp, rp+wellKnownOIDC)
	}
	for _, p := range discovery {
		routes[p], routes[p+"/"] = metadata, metadata
	}
	for p, h := range routes {
		routes[p] = s.withRequester(h)
	}
	return routes
}
