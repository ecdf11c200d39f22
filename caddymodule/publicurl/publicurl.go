// Package publicurl computes the public origin (scheme://host) under which a
// request reached the gateway. The authorization server's issuer and the
// protected resource's URL are both derived from it, so they stay
// byte-identical wherever they appear.
package publicurl

import (
	"net/http"
	"strings"
)

// Origin returns configured (without a trailing slash) when it is set, and
// otherwise the scheme and host the request arrived with: https when the
// connection carried TLS, http otherwise. It never consults forwarding
// headers; a gateway behind another TLS terminator configures its origin.
func Origin(r *http.Request, configured string) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + strings.ToLower(r.Host)
}
