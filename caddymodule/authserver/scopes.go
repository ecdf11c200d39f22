package authserver

import (
	"slices"
	"strings"
)

// scopeList splits a space-separated scope parameter (RFC 6749 §3.3),
// dropping duplicates.
func scopeList(scope string) []string {
	var out []string
	for _, s := range strings.Fields(scope) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func scopeString(scopes []string) string { return strings.Join(scopes, " ") }

// subset reports whether every scope of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// grantableScopes decides the scopes of an authorization or
// client-credentials request: the requested ones, all of which the client
// must be allowed (offline_access always is), or when none are named the
// server's default scopes the client is allowed (or else all it is).
func (s *Server) grantableScopes(c *client, requested string) ([]string, *oauthError) {
	// A stored client may name scopes the configuration has dropped since.
	allowed := []string{offlineAccessScope}
	for _, sc := range c.scopes {
		if slices.Contains(s.cfg.Scopes, sc) {
			allowed = append(allowed, sc)
		}
	}
	want := scopeList(requested)
	if len(want) == 0 {
		for _, d := range s.cfg.DefaultScopes {
			if slices.Contains(allowed, d) {
				want = append(want, d)
			}
		}
		if len(want) == 0 {
			want = allowed[1:]
		}
		return want, nil
	}
	for _, sc := range want {
		if !slices.Contains(allowed, sc) {
			return nil, errInvalidScope("scope " + sc + " is not available to this client")
		}
	}
	return want, nil
}
