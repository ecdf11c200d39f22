package authserver

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// upstreamConsent signs u's user in and returns the page /authorize shows
// them for q, or the callback's refusal.
func (b *browser) upstreamConsent(u *fakeUpstream, q url.Values) (*http.Response, string) {
	b.e.t.Helper()
	return b.finishSignIn(u, b.startUpstream(u, q), q)
}

// finishSignIn completes the sign-in of state at u, started for q, and
// returns what the browser then shows: /authorize's page, after the
// callback's redirect there, or the callback's own answer when it refused
// (the policy decides there first).
func (b *browser) finishSignIn(u *fakeUpstream, state string, q url.Values) (*http.Response, string) {
	b.e.t.Helper()
	resp, page := b.callback(u, state, "good-code")
	if resp.StatusCode != http.StatusSeeOther {
		return resp, page
	}
	if want := "/authorize?"; !strings.HasPrefix(resp.Header.Get("Location"), want) {
		b.e.t.Fatalf("callback redirects to %q, want %s", resp.Header.Get("Location"), want)
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
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
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
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
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
	status, m, _ := e2.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
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
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	tok := tokensOf(t, status, m)
	if tok.scope != "mcp mcp:admin" || !slices.Equal(e.claimsOf(tok.access).Groups, []string{"admins"}) {
		t.Fatalf("scope %q groups %q", tok.scope, e.claimsOf(tok.access).Groups)
	}
	// The groups claim (the backend's groups header) is the configured
	// groups too, not those recorded at sign-in.
	e2 := startEnv(t, e.clock, e.storage, policy())
	status, m = e2.refresh(c, tok.refresh)
	if tok := tokensOf(t, status, m); tok.scope != "mcp" || e2.claimsOf(tok.access).Groups != nil {
		t.Fatalf("scope after leaving admins %q, groups %q", tok.scope, e2.claimsOf(tok.access).Groups)
	}
}

// TestAProvidersGrantIsJudgedByItsProvidersNames: a grant keeps its user's
// groups as the provider gave them ("admins"), and each decision names them
// corp:admins from how the user signed in; so grants recorded before
// provider groups had a namespace of their own need no migration, and a
// rule naming plain admins, which once matched them, stops at the next
// refresh and the revocation check.
func TestAProvidersGrantIsJudgedByItsProvidersNames(t *testing.T) {
	u := corp()
	u.id.Groups = []string{"eng", "admins"}
	policy := func(admins string) func(*Config) {
		return func(c *Config) {
			c.Origin, c.Users, c.Upstreams = sameOrigin, nil, []UpstreamLogin{u}
			c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{admins}}}
		}
	}
	e := newEnv(t, policy("corp:admins"))
	c, tok := upstreamGrant(t, e, u, "mcp mcp:admin")
	if tok.scope != "mcp mcp:admin" {
		t.Fatalf("scope %q", tok.scope)
	}
	claims := e.claimsOf(tok.access)
	var stored grant
	if found, err := e.srv.store.get(context.Background(), e.srv.grantKey(claims.GrantID), &stored); !found || err != nil || strings.Join(stored.Groups, ",") != "eng,admins" {
		t.Fatalf("stored groups %q (found %v, %v), want them as the provider gave them", stored.Groups, found, err)
	}

	// Restarted on the same storage, corp:admins still holds the grant.
	e2 := startEnv(t, e.clock, e.storage, policy("corp:admins"))
	if revoked, err := e2.srv.IsRevoked(context.Background(), claims.ID, claims.GrantID); err != nil || revoked {
		t.Fatalf("the token under corp:admins: revoked=%v %v", revoked, err)
	}
	status, m := e2.refresh(c, tok.refresh)
	if tok = tokensOf(t, status, m); tok.scope != "mcp mcp:admin" {
		t.Fatalf("refreshed under corp:admins: scope %q", tok.scope)
	}
	claims = e2.claimsOf(tok.access)

	// A rule naming plain admins is a group of the users block: the
	// provider's admins lose mcp:admin.
	e3 := startEnv(t, e.clock, e.storage, policy("admins"))
	if revoked, err := e3.srv.IsRevoked(context.Background(), claims.ID, claims.GrantID); err != nil || !revoked {
		t.Fatalf("the token with mcp:admin under plain admins: revoked=%v %v", revoked, err)
	}
	status, m = e3.refresh(c, tok.refresh)
	if fresh := tokensOf(t, status, m); fresh.scope != "mcp" {
		t.Fatalf("refreshed under plain admins: scope %q, want mcp alone", fresh.scope)
	}
}

// TestPolicyNamesOfUnknownProvidersAreMistakes: "<provider>:<name>" of a
// provider that is not configured can match no one (a typo, or a provider
// removed); a local user or group named like a provider's would pass for
// it. Names with a ':' that the users block has, and subjects, are fine.
func TestPolicyNamesOfUnknownProvidersAreMistakes(t *testing.T) {
	cfg := testConfig(&clock{t: e0})
	cfg.Upstreams = []UpstreamLogin{corp()}
	cfg.Users["corp:bob"] = testUserHash
	cfg.UserGroups = map[string][]string{testUser: {"team:x", "corp:admins"}}
	cfg.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"},
		Users:  []string{"gogle:ann", "corp:ann", "https://idp.example#u1", testUser},
		Groups: []string{"gogle:admins", "corp:admins", "team:x"}}}
	cfg.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{"githb:acme"}}}
	err := cfg.Validate()
	want := []string{
		`grant mcp: user "gogle:ann": there is no sign-in provider "gogle" (configured: corp); write <provider>:<username> with one of them, or name a user of users`,
		`grant mcp: group "gogle:admins": there is no sign-in provider "gogle" (configured: corp); write <provider>:<group> with one of them, or name a group of users`,
		`allow for /mcp: group "githb:acme": there is no sign-in provider "githb"`,
		`user "corp:bob": grant and allow name the users of the sign-in provider "corp" so; rename the user`,
		`groups of user "alice": grant and allow name the group "corp:admins" of the sign-in provider "corp" so; rename the group`,
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate: %v\nwant %q", err, w)
		}
	}
	if err != nil && strings.Count(err.Error(), "\n")+1 != len(want) {
		t.Errorf("Validate reports more than the mistakes: %v", err)
	}

	// With a trusted identity, any name may be one of its users.
	cfg = testConfig(&clock{t: e0})
	cfg.TrustedIdentity = func(*http.Request) (string, bool) { return "", false }
	cfg.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Users: []string{"sso:ann"}}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("a trusted identity's user sso:ann: %v", err)
	}
}

// TestPlainPolicyNamesNothingHasAreWarnedOf: beside sign-in providers, a
// plain name in a rule that the users block does not have was most likely
// meant for a provider's user or group, which it does not match: New warns
// once per name, saying how to write it.
func TestPlainPolicyNamesNothingHasAreWarnedOf(t *testing.T) {
	github := corp()
	github.name = "github"
	plain := func(c *Config) {
		c.UserGroups = map[string][]string{testUser: {"eng"}}
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp:admin"}, Users: []string{testUser, "bob"}, Groups: []string{"eng", "admins"}}}
		c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{"ops"}}}
	}
	core, logs := observer.New(zap.WarnLevel)
	startLoggedEnv(t, &clock{t: e0}, &certmagic.FileStorage{Path: t.TempDir()}, zap.New(core), func(c *Config) {
		plain(c)
		c.Upstreams = []UpstreamLogin{corp(), github}
		g := &c.ScopeGrants[0]
		g.Users, g.Groups = append(g.Users, "corp:ann"), append(g.Groups, "github:acme")
	})
	var got []string
	for _, entry := range logs.All() {
		got = append(got, entry.Message)
	}
	want := []string{
		`grant mcp:admin: users has no user "bob", and a plain name matches no sign-in provider's user; for a provider's user write corp:bob or github:bob`,
		`grant mcp:admin: no user of users is in group "admins", and a plain name matches no sign-in provider's group; for a provider's group write corp:admins or github:admins`,
		`allow for /mcp: no user of users is in group "ops", and a plain name matches no sign-in provider's group; for a provider's group write corp:ops or github:ops`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Without providers a plain name is all there is.
	core, logs = observer.New(zap.WarnLevel)
	startLoggedEnv(t, &clock{t: e0}, &certmagic.FileStorage{Path: t.TempDir()}, zap.New(core), plain)
	if logs.Len() != 0 {
		t.Errorf("warnings without providers: %v", logs.All())
	}
}
