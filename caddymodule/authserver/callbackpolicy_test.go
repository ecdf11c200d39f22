package authserver

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The policy decides at the provider's callback, before anything is
// stored: with GitHub or Google anyone completes a sign-in, and a stranger
// the policy refuses must not make the server keep a provider session and
// their provider refresh token per sign-in.

// signInRecords counts the provider sessions and the users' provider
// refresh token records in storage.
func (e *env) signInRecords() (sessions, tokens int) {
	e.t.Helper()
	names, err := e.srv.store.list(context.Background(), nsUpstream)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, name := range names {
		if strings.Contains(name, "/session-") {
			sessions++
		}
	}
	names, err = e.srv.store.list(context.Background(), nsUpstreamTokens)
	if err != nil {
		e.t.Fatal(err)
	}
	return sessions, len(names)
}

// setsSession reports whether resp sets the login session cookie.
func setsSession(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, cookieSession) {
			return true
		}
	}
	return false
}

func TestAPersonThePolicyRefusesIsRefusedAtTheCallbackAndNothingIsStored(t *testing.T) {
	for _, tc := range []struct {
		name, scope, page string
		policy            func(*Config)
	}{
		{"not allowed on the resource", "mcp", "who may not use the MCP server", func(c *Config) {
			c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{"corp:ops"}}}
		}},
		{"holds none of the scopes asked for", "mcp:admin", "who may not hold any of what", func(c *Config) {
			c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp:admin"}, Groups: []string{"corp:admins"}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			u := corp() // ann@example.com, group eng
			u.id.RefreshToken = "provider-rt"
			e := policyEnv(t, u, func(c *Config) {
				c.AuditLog = zap.New(core)
				tc.policy(c)
			})
			_, challenge := pkce()
			q := authParams(e.publicClient(), challenge)
			q.Set("scope", tc.scope)
			b := e.browser()
			resp, page := b.callback(u, b.startUpstream(u, q), "good-code")
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "You signed in as ann@example.com, "+tc.page) {
				t.Fatalf("callback for a person the policy refuses: %d, want 403 and the refusal page\n%s", resp.StatusCode, page)
			}
			if setsSession(resp) {
				t.Error("the refusal sets a session cookie")
			}
			if sessions, tokens := e.signInRecords(); sessions != 0 || tokens != 0 {
				t.Errorf("the refusal stored %d provider sessions and %d provider token records, want none", sessions, tokens)
			}
			if resp, page := b.get(q); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign in with") {
				t.Errorf("after the refusal, /authorize: %d, want the login page\n%s", resp.StatusCode, page)
			}
			entries := logs.FilterMessage("authorization").All()
			if len(entries) != 1 {
				t.Fatalf("%d audit entries, want 1", len(entries))
			}
			f := entries[0].ContextMap()
			if f["decision"] != auditRefused || f["reason"] != tc.name || f["sub"] != u.id.Subject || f["login"] != "upstream:corp" {
				t.Errorf("audit entry %v", f)
			}
		})
	}
}

// TestTheCallbackDecidesOnlyForThePendingRequest: a person refused what
// one request asks for signs in for another the policy admits, and the
// session of that sign-in does not get them the first: /authorize decides
// again.
func TestTheCallbackDecidesOnlyForThePendingRequest(t *testing.T) {
	u := corp()
	e := policyEnv(t, u, func(c *Config) {
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{"corp:admins"}}}
	})
	_, challenge := pkce()
	admin := authParams(e.publicClient(), challenge)
	admin.Set("scope", "mcp:admin")
	b := e.browser()
	if resp, page := b.upstreamConsent(u, admin); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-in for mcp:admin: %d, want 403\n%s", resp.StatusCode, page)
	}
	plain := authParams(e.publicClient(), challenge)
	plain.Set("scope", "mcp")
	if resp, page := b.finishSignIn(u, b.startUpstreamBesidePasswords(u, plain), plain); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
		t.Fatalf("sign-in for mcp, after a refused one: %d, want the consent page\n%s", resp.StatusCode, page)
	}
	if resp, page := b.get(admin); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "may not hold any of what") {
		t.Fatalf("signed in, /authorize for mcp:admin: %d, want 403\n%s", resp.StatusCode, page)
	}
}

// TestAnAdmittedPersonsSignInStoresItsSessionAsBefore: the sign-in of a
// person the policy admits keeps their session and provider refresh
// token, and a remembered approval still gives a code at once.
func TestAnAdmittedPersonsSignInStoresItsSessionAsBefore(t *testing.T) {
	u := corp()
	u.id.RefreshToken = "provider-rt"
	e := policyEnv(t, u, func(c *Config) {
		c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{"corp:eng"}}}
	})
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	b := e.browser()
	resp, _ := b.callback(u, b.startUpstream(u, q), "good-code")
	if resp.StatusCode != http.StatusSeeOther || !setsSession(resp) {
		t.Fatalf("callback: %d, session cookie set: %v; want 303 and the cookie", resp.StatusCode, setsSession(resp))
	}
	if sessions, tokens := e.signInRecords(); sessions != 1 || tokens != 1 {
		t.Fatalf("%d provider sessions and %d provider token records stored, want 1 each", sessions, tokens)
	}
	_, page := b.get(q)
	loc := location(t, b.decide(page, "approve"))
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	tokensOf(t, status, m)

	// Another browser: the approval is remembered, the code comes at once.
	b = e.browser()
	verifier, challenge = pkce()
	q = authParams(c, challenge)
	resp, page = b.upstreamConsent(u, q)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("a sign-in with a remembered approval: %d, want a code at once\n%s", resp.StatusCode, page)
	}
	status, m, _ = e.postForm("/token", codeForm(c, location(t, resp).Query().Get("code"), verifier), "", "")
	tokensOf(t, status, m)
}

// TestACallbackForARequestNoLongerValidStoresNothing: the client a sign-in
// was started for was deleted meanwhile; the callback answers as
// /authorize would, and keeps nothing.
func TestACallbackForARequestNoLongerValidStoresNothing(t *testing.T) {
	u := corp()
	u.id.RefreshToken = "provider-rt"
	e := upstreamEnv(t, u)
	c := e.publicClient()
	_, challenge := pkce()
	q := authParams(c, challenge)
	b := e.browser()
	state := b.startUpstream(u, q)
	if _, err := e.srv.RevokeClient(context.Background(), c.id); err != nil {
		t.Fatal(err)
	}
	resp, page := b.callback(u, state, "good-code")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "not registered here") {
		t.Fatalf("callback for a deleted client: %d, want 400 and the page /authorize shows\n%s", resp.StatusCode, page)
	}
	if setsSession(resp) {
		t.Error("a session cookie was set")
	}
	if sessions, tokens := e.signInRecords(); sessions != 0 || tokens != 0 {
		t.Errorf("%d provider sessions and %d provider token records stored, want none", sessions, tokens)
	}
}
