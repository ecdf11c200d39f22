package authserver

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// upstreamConsent signs u's user in and returns the page /authorize shows
// them for q.
func (b *browser) upstreamConsent(u *fakeUpstream, q url.Values) (*http.Response, string) {
	b.e.t.Helper()
	if resp, _ := b.callback(u, b.startUpstream(u, q), "good-code"); resp.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("callback: %d", resp.StatusCode)
	}
	return b.get(q)
}

func policyEnv(t *testing.T, u *fakeUpstream, mutate func(*Config)) *env {
	return newEnv(t, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		mutate(c)
	})
}

func TestConsentOffersOnlyTheScopesTheUserMayHold(t *testing.T) {
	u := corp() // ann@example.com, group eng, domain example.com
	u.id.Domain = "example.com"
	e := policyEnv(t, u, func(c *Config) {
		c.ScopeGrants = []ScopeGrant{
			{Scopes: []string{"mcp:admin"}, Groups: []string{"admins"}},
			{Scopes: []string{"mcp"}, Domains: []string{"Example.com"}},
		}
	})
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", "mcp mcp:admin offline_access")
	b := e.browser()
	resp, page := b.upstreamConsent(u, q)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "<code>mcp</code>") || strings.Contains(page, "mcp:admin") {
		t.Fatalf("consent page should offer mcp and not mcp:admin: %d\n%s", resp.StatusCode, page)
	}
	loc := location(t, b.decide(page, "approve"))
	status, m, _ := e.postForm("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "client_id": {c.id},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier},
	}, "", "")
	if tok := tokensOf(t, status, m); tok.scope != "mcp offline_access" {
		t.Fatalf("token scope %q, want only what the user may hold", tok.scope)
	}
}

func TestAUserWhoMayHoldNothingAskedForGetsAPage(t *testing.T) {
	u := corp()
	e := policyEnv(t, u, func(c *Config) {
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp:admin"}, Groups: []string{"admins"}}}
	})
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	q.Set("scope", "mcp:admin")
	resp, page := e.browser().upstreamConsent(u, q)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "ann@example.com, who may not hold any of what") {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
}

func TestAllowKeepsOthersOffTheResource(t *testing.T) {
	u := corp() // group eng
	e := policyEnv(t, u, func(c *Config) {
		c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{"ops"}, Users: []string{"bob@example.com"}}}
	})
	_, challenge := pkce()
	resp, page := e.browser().upstreamConsent(u, authParams(e.publicClient(), challenge))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "who may not use the MCP server "+e.ts.URL+"/mcp") {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
}

func TestAllowLetsItsGroupIn(t *testing.T) {
	u := corp()
	e := policyEnv(t, u, func(c *Config) { c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{"corp:eng"}}} })
	_, challenge := pkce()
	if resp, page := e.browser().upstreamConsent(u, authParams(e.publicClient(), challenge)); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
}

// TestRefreshDecidesThePolicyAgain: alice held mcp:admin through a grant;
// the operator takes her out of it. Her next refresh yields a token without
// it, and the old access token stops passing the revocation check.
func TestRefreshDecidesThePolicyAgain(t *testing.T) {
	both := func(c *Config) {
		c.Origin = sameOrigin
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp", "mcp:admin"}, Users: []string{testUser}}}
	}
	e := newEnv(t, both)
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", "mcp mcp:admin")
	loc := e.browser().authorize(q)
	status, m, _ := e.postForm("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "client_id": {c.id},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier},
	}, "", "")
	old := tokensOf(t, status, m)
	if old.scope != "mcp mcp:admin" {
		t.Fatalf("scope %q", old.scope)
	}
	oldClaims := e.claimsOf(old.access)

	// A reload: mcp:admin now only for admins.
	e2 := startEnv(t, e.clock, e.storage, func(c *Config) {
		c.Origin = sameOrigin
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Users: []string{testUser}}, {Scopes: []string{"mcp:admin"}, Users: []string{"root"}}}
	})
	if revoked, err := e2.srv.IsRevoked(context.Background(), oldClaims.ID, oldClaims.GrantID); err != nil || !revoked {
		t.Fatalf("old token after losing a scope: revoked=%v %v", revoked, err)
	}
	status, m = e2.refresh(c, old.refresh)
	fresh := tokensOf(t, status, m)
	if fresh.scope != "mcp" {
		t.Fatalf("refreshed scope %q, want mcp alone", fresh.scope)
	}
	freshClaims := e2.claimsOf(fresh.access)
	if revoked, err := e2.srv.IsRevoked(context.Background(), freshClaims.ID, freshClaims.GrantID); err != nil || revoked {
		t.Fatalf("the narrower token: revoked=%v %v", revoked, err)
	}
	// The wider family stays revoked: its token does not pass again now
	// that a narrower family exists.
	if revoked, _ := e2.srv.IsRevoked(context.Background(), oldClaims.ID, oldClaims.GrantID); !revoked {
		t.Fatal("the wider token passes again after the narrowing")
	}
	if status, m := e2.refresh(c, old.refresh); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("the wider family's refresh token: %d %v", status, m)
	}
	if status, m := e2.refresh(c, fresh.refresh); status != http.StatusOK {
		t.Fatalf("the narrower family's refresh token: %d %v", status, m)
	}

	// Out of every grant: nothing more.
	e3 := startEnv(t, e.clock, e.storage, func(c *Config) {
		c.Origin = sameOrigin
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp", "mcp:admin"}, Users: []string{"root"}}}
	})
	status, m = e3.refresh(c, tokensOf(t, status, m).refresh)
	if status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("refresh with no scope left: %d %v", status, m)
	}
}

func TestRefreshRefusesAUserNoLongerAllowed(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Origin = sameOrigin })
	c := e.publicClient()
	tok := e.codeFlow(c)
	claims := e.claimsOf(tok.access)
	e2 := startEnv(t, e.clock, e.storage, func(c *Config) {
		c.Origin = sameOrigin
		c.ResourceAccess = map[string]AccessRule{"/mcp": {Users: []string{"root"}}}
	})
	if status, m := e2.refresh(c, tok.refresh); status != http.StatusBadRequest || !strings.Contains(m["error_description"].(string), "may no longer use this resource") {
		t.Fatalf("%d %v", status, m)
	}
	if revoked, _ := e2.srv.IsRevoked(context.Background(), claims.ID, claims.GrantID); !revoked {
		t.Fatal("the token of a user no longer allowed passes the revocation check")
	}
}

// sameOrigin is the origin of servers that restart on one storage.
func sameOrigin(*http.Request) string { return "http://gateway.test" }

func TestPolicyConfigMistakes(t *testing.T) {
	cfg := testConfig(&clock{t: e0})
	cfg.ScopeGrants = []ScopeGrant{{Scopes: []string{"nope"}, Users: []string{"a"}}, {Scopes: []string{"mcp"}}}
	cfg.ResourceAccess = map[string]AccessRule{"/other": {Users: []string{"a"}}, "/mcp": {}}
	err := cfg.Validate()
	for _, want := range []string{`grant nope: scope "nope" is not one of the server's scopes`, "grant mcp: gives the scopes to no one", "allow for /other: not a resource path", "allow for /mcp: lets no one in"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant %q", err, want)
		}
	}
}

func TestACodeIsNotExchangedAfterThePolicyRefusesItsUser(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Origin = sameOrigin })
	c := e.publicClient()
	verifier, challenge := pkce()
	loc := e.browser().authorize(authParams(c, challenge))
	// A reload within the code's lifetime takes the resource from alice.
	e2 := startEnv(t, e.clock, e.storage, func(c *Config) {
		c.Origin = sameOrigin
		c.ResourceAccess = map[string]AccessRule{"/mcp": {Users: []string{"root"}}}
	})
	status, m, _ := e2.postForm("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "client_id": {c.id},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier},
	}, "", "")
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
}

// TestAPasswordUsersGroupsComeFromTheConfiguration: alice is in admins
// through UserGroups; taken out of it, she loses mcp:admin at her next
// refresh.
func TestAPasswordUsersGroupsComeFromTheConfiguration(t *testing.T) {
	policy := func(groups ...string) func(*Config) {
		return func(c *Config) {
			c.Origin = sameOrigin
			c.UserGroups = map[string][]string{testUser: groups}
			c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Users: []string{testUser}}, {Scopes: []string{"mcp:admin"}, Groups: []string{"admins"}}}
		}
	}
	e := newEnv(t, policy("admins"))
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", "mcp mcp:admin")
	loc := e.browser().authorize(q)
	status, m, _ := e.postForm("/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "client_id": {c.id},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier},
	}, "", "")
	if tok := tokensOf(t, status, m); tok.scope != "mcp mcp:admin" {
		t.Fatalf("scope %q", tok.scope)
	}
	e2 := startEnv(t, e.clock, e.storage, policy())
	status, m = e2.refresh(c, m["refresh_token"].(string))
	if tok := tokensOf(t, status, m); tok.scope != "mcp" {
		t.Fatalf("scope after leaving admins %q", tok.scope)
	}
}
