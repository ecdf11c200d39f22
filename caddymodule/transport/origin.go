package transport

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// originAllowed reports whether a request with Origin header origin may use
// the endpoint (DNS rebinding protection): no header, the site's own
// origin, a loopback origin, or one configured in AllowedOrigins.
func (h *Handler) originAllowed(r *http.Request, origin string) bool {
	if origin == "" || strings.EqualFold(origin, h.cfg.Origin(r)) {
		return true
	}
	if slices.ContainsFunc(h.cfg.AllowedOrigins, func(a string) bool {
		return a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin)
	}) {
		return true
	}
	return isLoopbackOrigin(origin)
}

// isLoopbackOrigin reports whether origin is an http(s) origin on
// localhost or a loopback address.
func isLoopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return oauthwire.LoopbackHost(u.Hostname())
}
