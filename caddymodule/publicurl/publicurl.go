// Package publicurl computes the public origin (scheme://host) under which a
// request reached the gateway. The authorization server's issuer and the
// protected resource's URL are both derived from it, so they stay
// byte-identical wherever they appear.
package publicurl

import (
	"net/http"
	"net/url"
	"strings"
)

// Origin returns configured (without a trailing slash) when it is set.
// Otherwise, when forwarded is true (the request came from a proxy the
// operator trusts), it takes the scheme and host that proxy received from
// X-Forwarded-Proto and X-Forwarded-Host. Otherwise it returns the scheme
// and host the request arrived with: https when the connection carried TLS,
// http otherwise. Forwarding headers from anyone else are ignored, so a
// client cannot choose the issuer.
func Origin(r *http.Request, configured string, forwarded bool) string {
	if configured != "" {
		return strings.TrimRight(configured, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if forwarded {
		if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
			scheme = p
		}
		if h := firstValue(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
			host = h
		}
	}
	return scheme + "://" + strings.ToLower(host)
}

// firstValue is the first element of a comma-separated header value: the
// one the outermost proxy set.
func firstValue(v string) string {
	first, _, _ := strings.Cut(v, ",")
	return strings.TrimSpace(first)
}

// validHost accepts host[:port] made of the characters a DNS name, an IPv4
// address or a bracketed IPv6 address can contain.
func validHost(h string) bool {
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

// Canonical writes an origin the way clients compare it: lowercase
// scheme and host, no default port, no trailing slash. Anything that does
// not parse is left for Validate to report.
func Canonical(origin string) string {
	u, err := url.Parse(strings.TrimRight(origin, "/"))
	if err != nil || u.Host == "" {
		return origin
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if (scheme == "https" && strings.HasSuffix(host, ":443")) || (scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndex(host, ":")]
	}
	return scheme + "://" + host + u.EscapedPath()
}
