package authserver

import (
	"context"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// oneOrigin makes instances on one storage serve one public origin, as
// after a restart behind one name, then applies mutate.
func oneOrigin(mutate func(*Config)) func(*Config) {
	return func(c *Config) {
		c.Origin = func(*http.Request) string { return "http://gateway.test" }
		if mutate != nil {
			mutate(c)
		}
	}
}

// userGrant authorizes a public client as alice and returns the client,
// the tokens and the access token's claims.
func userGrant(e *env, scope string) (registered, tokens, oauthwire.AccessClaims) {
	e.t.Helper()
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	if scope != "" {
		q.Set("scope", scope)
	}
	code := e.browser().authorize(q).Query().Get("code")
	status, m, _ := e.postForm("/token", codeForm(c, code, verifier), "", "")
	tok := tokensOf(e.t, status, m)
	return c, tok, e.claimsOf(tok.access)
}

// revokedAfterTTL asks IsRevoked once, lets the cache TTL pass and asks
// again, returning the second answer: what a guard sees within its
// revocation check interval.
func revokedAfterTTL(t *testing.T, e *env, cl oauthwire.AccessClaims) bool {
	t.Helper()
	ctx := context.Background()
	e.srv.IsRevoked(ctx, cl.ID, cl.GrantID)
	e.clock.Advance(time.Second)
	revoked, err := e.srv.IsRevoked(ctx, cl.ID, cl.GrantID)
	if err != nil {
		t.Fatal(err)
	}
	return revoked
}

func otherHash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// The attack of issue 8: a user removed from the configuration, or whose
// password changed, kept minting access tokens with a refresh token.
func TestGrantsDieWithTheirUser(t *testing.T) {
	for name, users := range map[string]func(t *testing.T) map[string]string{
		"user removed":     func(t *testing.T) map[string]string { return map[string]string{"bob": otherHash(t, "bob")} },
		"password changed": func(t *testing.T) map[string]string { return map[string]string{testUser: otherHash(t, "new password")} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, oneOrigin(nil))
			c, tok, cl := userGrant(e, "")
			// The same configuration again keeps the grant.
			same := startEnv(t, e.clock, e.storage, oneOrigin(nil))
			status, m := same.refresh(c, tok.refresh)
			tok = tokensOf(t, status, m)
			if revokedAfterTTL(t, same, cl) {
				t.Fatal("revoked under an unchanged configuration")
			}

			changed := startEnv(t, e.clock, e.storage, oneOrigin(func(c *Config) { c.Users = users(t) }))
			status, m = changed.refresh(c, tok.refresh)
			wantError(t, status, m, 400, "invalid_grant")
			if !revokedAfterTTL(t, changed, cl) {
				t.Fatal("the guard still accepts the user's access token")
			}
		})
	}
}

// Without scopes per user, what a user holds is what the server and the
// client still offer: a scope removed from either ends the grants that
// carry it.
func TestRefreshNeedsTheGrantedScopesStillAvailable(t *testing.T) {
	e := newEnv(t, oneOrigin(nil))
	c, tok, _ := userGrant(e, "mcp mcp:admin")
	narrowed := startEnv(t, e.clock, e.storage, oneOrigin(func(c *Config) { c.Scopes = []string{"mcp"} }))
	status, m := narrowed.refresh(c, tok.refresh)
	wantError(t, status, m, 400, "invalid_grant")

	// A grant within the remaining scopes still refreshes.
	c2, tok2, _ := userGrant(e, "mcp")
	status, m = narrowed.refresh(c2, tok2.refresh)
	tokensOf(t, status, m)
}

// Identities from an earlier handler cannot be re-checked here: their
// grants live until revoked or expired, even when no such user is
// configured.
func TestExternalIdentityGrantsAreNotUserChecked(t *testing.T) {
	trusted := func(c *Config) {
		c.TrustedIdentity = func(r *http.Request) (string, bool) { return "carol", true }
	}
	e := newEnv(t, trusted)
	c, tok, cl := userGrant(e, "")
	if cl.Subject != "carol" {
		t.Fatalf("sub %q", cl.Subject)
	}
	status, m := e.refresh(c, tok.refresh)
	tokensOf(t, status, m)
	if revokedAfterTTL(t, e, cl) {
		t.Fatal("an external identity's grant was revoked")
	}
}

// A grant made before grants recorded their user cannot be checked, so it
// ends: its user authorizes again once.
func TestGrantsWithoutARecordedLoginEnd(t *testing.T) {
	e := newEnv(t, nil)
	c, tok, cl := userGrant(e, "")
	ctx := context.Background()
	var g grant
	key := e.srv.grantKey(cl.GrantID)
	if _, err := e.srv.store.get(ctx, key, &g); err != nil {
		t.Fatal(err)
	}
	g.Login, g.Credential = "", ""
	if err := e.srv.store.put(ctx, key, g); err != nil {
		t.Fatal(err)
	}
	status, m := e.refresh(c, tok.refresh)
	wantError(t, status, m, 400, "invalid_grant")
	if !revokedAfterTTL(t, e, cl) {
		t.Fatal("the legacy grant's access token still passes")
	}
}

func TestCodeOfARemovedUserIsNotExchanged(t *testing.T) {
	e := newEnv(t, oneOrigin(nil))
	c := e.publicClient()
	verifier, challenge := pkce()
	code := e.authorizedCode(c, challenge)
	changed := startEnv(t, e.clock, e.storage, oneOrigin(func(c *Config) { c.Users = map[string]string{"bob": testUserHash} }))
	status, m, _ := changed.postForm("/token", codeForm(c, code, verifier), "", "")
	wantError(t, status, m, 400, "invalid_grant")
}
