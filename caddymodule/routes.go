package caddymodule

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// routeTable is everything a gateway answers, built once at provision from
// the routes its parts export (the authorization server's endpoints and
// discovery, each resource's metadata and MCP endpoint): exact path ->
// handler, readable in one place, plus the near misses that get a JSON 404.
type routeTable struct {
	exact map[string]http.Handler
	// canonical holds each route in the form nearMiss compares: lowercase,
	// no doubled or trailing slashes.
	canonical map[string]bool
}

// add merges routes, refusing a path two parts claim (a resource at
// /token, say), with an error that names it.
func (t *routeTable) add(part string, routes map[string]http.Handler) error {
	if t.exact == nil {
		t.exact, t.canonical = map[string]http.Handler{}, map[string]bool{}
	}
	for p, h := range routes {
		if t.exact[p] != nil {
			return fmt.Errorf("%s: path %s is already served by another part of the gateway; choose another resource path", part, p)
		}
		t.exact[p] = h
		t.canonical[canonicalPath(p)] = true
	}
	return nil
}

// nearMiss reports whether path belongs to the gateway without being one of
// its routes: anything under a discovery prefix (protected-resource or
// authorization-server metadata of an unknown resource), an OpenID alias
// appended to another path, or a route in another case or with extra
// slashes. Such paths get a JSON 404, so clients probing several locations
// move on cleanly instead of taking whatever the rest of the site answers.
func (t *routeTable) nearMiss(path string) bool {
	if strings.HasPrefix(path, oauthwire.ProtectedResourceWellKnown) || strings.HasSuffix(path, authserver.DiscoverySuffix) {
		return true
	}
	for _, prefix := range authserver.DiscoveryPrefixes {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return t.canonical[canonicalPath(path)]
}

func canonicalPath(p string) string {
	p = strings.ToLower(p)
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	return p
}
