package authserver

import (
	"net/http"
	"strings"
	"testing"
)

// TestRestartKeepsClientsTokensKeysAndLogins starts a second Server on the
// first one's storage, as after a restart or on another instance.
func TestRestartKeepsClientsTokensKeysAndLogins(t *testing.T) {
	// Both serve one public origin, as instances behind one name do (the
	// remembered consent is for that origin's resource).
	sameOrigin := func(c *Config) { c.Origin = func(*http.Request) string { return "http://gateway.test" } }
	first := newEnv(t, sameOrigin)
	c := first.publicClient()
	tok := first.codeFlow(c)
	b := first.browser()
	_, challenge := pkce()
	b.authorize(authParams(c, challenge))

	second := startEnv(t, first.clock, first.storage, sameOrigin)
	// Tokens of the first verify with the second's keys.
	if second.claimsOf(tok.access).ClientID != c.id {
		t.Fatal("claims")
	}
	if k1, k2 := jwksKids(t, first), jwksKids(t, second); strings.Join(k1, ",") != strings.Join(k2, ",") {
		t.Fatalf("JWKS differ: %v %v", k1, k2)
	}
	// Its refresh tokens and clients work there.
	status, m := second.refresh(c, tok.refresh)
	fresh := tokensOf(t, status, m)
	if kidOf(t, fresh.access) != kidOf(t, tok.access) {
		t.Fatal("the second instance made its own signing key")
	}
	// The browser's login (and remembered consent) carry over.
	b.e = second
	resp, _ := b.get(authParams(c, challenge))
	if resp.StatusCode != http.StatusFound || location(t, resp).Query().Get("code") == "" {
		t.Fatalf("login or consent lost: %d", resp.StatusCode)
	}
}
