package authserver

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestAnUpstreamUsernameDoesNotTakeALocalUsersGrant: the operator grants
// mcp:admin to the password user alice. Someone who signs in at an upstream
// provider whose username claim says "alice" (a GitHub login, a
// preferred_username or an unverified email address the person chose) is
// not that user (their subject is issuer#sub), and must not inherit her
// scopes or her access to a resource.
func TestAnUpstreamUsernameDoesNotTakeALocalUsersGrant(t *testing.T) {
	u := corp()
	u.id = &UpstreamIdentity{Subject: "https://idp.example#mallory", Username: testUser}
	e := newEnv(t, func(c *Config) {
		// alice stays a password user beside the provider.
		c.Upstreams = []UpstreamLogin{u}
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp:admin"}, Users: []string{testUser}}}
	})
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	q.Set("scope", "mcp:admin")
	b := e.browser()
	resp, page := b.finishSignIn(u, b.startUpstreamBesidePasswords(u, q), q)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "may not hold any of what") {
		t.Fatalf("the upstream user %q (subject %s) is not refused the password user %q's mcp:admin: %d\n%s",
			u.id.Username, u.id.Subject, testUser, resp.StatusCode, page)
	}
}

// The operator names a provider's user as <provider>:<username>: that
// user gets the grant, and a user of the same name elsewhere does not.
func TestAProvidersUserIsNamedWithTheProvider(t *testing.T) {
	u := corp()
	u.id = &UpstreamIdentity{Subject: "https://idp.example#alice", Username: testUser}
	e := newEnv(t, func(c *Config) {
		c.Upstreams = []UpstreamLogin{u}
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp:admin"}, Users: []string{u.name + ":" + testUser}}}
	})
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	q.Set("scope", "mcp:admin")
	b := e.browser()
	state := b.startUpstreamBesidePasswords(u, q)
	if resp, _ := b.callback(u, state, "good-code"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if resp, page := b.get(q); resp.StatusCode != http.StatusOK || !strings.Contains(page, "mcp:admin") {
		t.Fatalf("%s:%s is not offered mcp:admin: %d\n%s", u.name, testUser, resp.StatusCode, page)
	}
}

// startUpstreamBesidePasswords presses the provider's button on a login
// page that also has the password form.
func (b *browser) startUpstreamBesidePasswords(u *fakeUpstream, q url.Values) string {
	b.e.t.Helper()
	resp, page := b.send(http.MethodGet, "/login/"+u.name+"?"+q.Encode(), "")
	if resp.StatusCode != http.StatusFound {
		b.e.t.Fatalf("want a redirect to the provider, got %d\n%s", resp.StatusCode, page)
	}
	return u.attempts[len(u.attempts)-1].State
}

// TestIPv6FormsOfInternalIPv4AreForbidden: IPv4-compatible (::/96,
// deprecated but still routed through a sit tunnel where one exists) and
// SIIT IPv4-translated (::ffff:0:0:0/96) addresses embed an IPv4 address
// as 64:ff9b::/96 does, which the guard blocks for that reason; these
// forms of the loopback and the cloud metadata address pass it.
func TestIPv6FormsOfInternalIPv4AreForbidden(t *testing.T) {
	for _, a := range []string{"::127.0.0.1", "::169.254.169.254", "::10.0.0.1", "::ffff:0:127.0.0.1", "::ffff:0:169.254.169.254"} {
		if why := forbiddenAddress(netip.MustParseAddr(a)); why == "" {
			t.Errorf("%s (%s) is allowed", a, netip.MustParseAddr(a))
		}
	}
}

// TestAProvidersGroupPassesForNoOtherGroup: the operator gives mcp:admin,
// and a resource, to a group "admins". Anyone who can create a group of
// that name at some provider the gateway accepts (a free GitHub
// organisation, a self-service directory) must not get them: a user whose
// provider says they are in "admins" is in corp:admins if that provider is
// corp, never in the local group admins nor in other:admins; a member of
// the GitHub organisation acme is in github:acme alone.
func TestAProvidersGroupPassesForNoOtherGroup(t *testing.T) {
	for _, tc := range []struct {
		provider, group, rule string
		match                 bool
	}{
		{"corp", "admins", "admins", false},
		{"corp", "admins", "other:admins", false},
		{"corp", "admins", "corp:admins", true},
		{"github", "acme", "acme", false},
		{"github", "acme", "corp:acme", false},
		{"github", "acme", "github:acme", true},
	} {
		t.Run(tc.provider+" "+tc.group+" for "+tc.rule, func(t *testing.T) {
			providers := func() (*fakeUpstream, []UpstreamLogin) {
				var signIn *fakeUpstream
				var all []UpstreamLogin
				for _, name := range []string{"corp", "other", "github"} {
					u := &fakeUpstream{name: name, id: &UpstreamIdentity{Subject: "https://" + name + ".example#u1", Username: "ann"}}
					if name == tc.provider {
						u.id.Groups, signIn = []string{tc.group}, u
					}
					all = append(all, u)
				}
				return signIn, all
			}
			// Alice, a password user, is in the local group admins.
			local := map[string][]string{testUser: {"admins"}}

			u, all := providers()
			e := newEnv(t, func(c *Config) {
				c.Upstreams, c.UserGroups = all, local
				c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Users: []string{u.name + ":ann"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{tc.rule}}}
			})
			if resp, page := e.browser().upstreamConsentBesidePasswords(u, "mcp mcp:admin"); resp.StatusCode != http.StatusOK || strings.Contains(page, "mcp:admin") != tc.match {
				t.Errorf("grant mcp:admin { groups %s }: %s's user in %q offered it: %v, want %v (%d)\n%s", tc.rule, u.name, tc.group, !tc.match, tc.match, resp.StatusCode, page)
			}

			u, all = providers()
			e = newEnv(t, func(c *Config) {
				c.Upstreams, c.UserGroups = all, local
				c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{tc.rule}}}
			})
			if resp, page := e.browser().upstreamConsentBesidePasswords(u, "mcp"); (resp.StatusCode == http.StatusOK) != tc.match {
				t.Errorf("allow { groups %s }: %s's user in %q let in: %d, want %v\n%s", tc.rule, u.name, tc.group, resp.StatusCode, tc.match, page)
			}
		})
	}
}

// TestALocalGroupIsNotAProvidersGroup: the password user alice, in the
// local group admins, holds what a rule naming admins gives, and not what
// one naming corp:admins gives.
func TestALocalGroupIsNotAProvidersGroup(t *testing.T) {
	for rule, match := range map[string]bool{"admins": true, "corp:admins": false} {
		t.Run(rule, func(t *testing.T) {
			policy := func(c *Config) {
				c.Upstreams = []UpstreamLogin{corp()}
				c.UserGroups = map[string][]string{testUser: {"admins"}}
			}
			e := newEnv(t, func(c *Config) {
				policy(c)
				c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Users: []string{testUser}}, {Scopes: []string{"mcp:admin"}, Groups: []string{rule}}}
			})
			if resp, page := e.browser().passwordConsent("mcp mcp:admin"); resp.StatusCode != http.StatusOK || strings.Contains(page, "mcp:admin") != match {
				t.Errorf("grant mcp:admin { groups %s }: offered to alice of admins: %v, want %v (%d)\n%s", rule, !match, match, resp.StatusCode, page)
			}
			e = newEnv(t, func(c *Config) {
				policy(c)
				c.ResourceAccess = map[string]AccessRule{"/mcp": {Groups: []string{rule}}}
			})
			if resp, page := e.browser().passwordConsent("mcp"); (resp.StatusCode == http.StatusOK) != match {
				t.Errorf("allow { groups %s }: alice of admins let in: %d, want %v\n%s", rule, resp.StatusCode, match, page)
			}
		})
	}
}

// upstreamConsentBesidePasswords signs u's user in from a login page that
// also has the password form, for a new public client asking for scope,
// and returns the page /authorize then shows, or the callback's refusal.
func (b *browser) upstreamConsentBesidePasswords(u *fakeUpstream, scope string) (*http.Response, string) {
	b.e.t.Helper()
	_, challenge := pkce()
	q := authParams(b.e.publicClient(), challenge)
	q.Set("scope", scope)
	return b.finishSignIn(u, b.startUpstreamBesidePasswords(u, q), q)
}

// passwordConsent logs the test user in with their password for a new
// public client asking for scope, and returns the page /authorize then
// shows.
func (b *browser) passwordConsent(scope string) (*http.Response, string) {
	b.e.t.Helper()
	_, challenge := pkce()
	q := authParams(b.e.publicClient(), challenge)
	q.Set("scope", scope)
	_, page := b.get(q)
	return b.login(page)
}

// TestATrustedNameDoesNotPassForAProvidersUser: rules name a sign-in
// provider's user "<provider>:<username>". A handler before the gateway
// (forward_auth to a directory where people pick their own names) may
// vouch for someone called "corp:ann"; with a provider named corp
// configured, that person must not get what the rules give corp's ann,
// neither scopes nor a resource. The same rules match a trusted name that
// is not a provider's.
func TestATrustedNameDoesNotPassForAProvidersUser(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match bool
	}{{"corp:ann", false}, {"ann", true}} {
		e := newEnv(t, func(c *Config) {
			c.Users = nil
			c.Upstreams = []UpstreamLogin{corp()}
			c.TrustedIdentity = func(*http.Request) (string, bool) { return tc.name, true }
			c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp:admin"}, Users: []string{tc.name}}}
		})
		_, challenge := pkce()
		q := authParams(e.publicClient(), challenge)
		q.Set("scope", "mcp:admin")
		resp, page := e.browser().get(q)
		if offered := resp.StatusCode == http.StatusOK && strings.Contains(page, "mcp:admin"); offered != tc.match {
			t.Errorf("trusted %q, grant to %q: offered mcp:admin = %v, want %v (%d)", tc.name, tc.name, offered, tc.match, resp.StatusCode)
		}

		e = newEnv(t, func(c *Config) {
			c.Users = nil
			c.Upstreams = []UpstreamLogin{corp()}
			c.TrustedIdentity = func(*http.Request) (string, bool) { return tc.name, true }
			c.ResourceAccess = map[string]AccessRule{"/mcp": {Users: []string{tc.name}}}
		})
		resp, page = e.browser().get(authParams(e.publicClient(), challenge))
		if allowed := resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`); allowed != tc.match {
			t.Errorf("trusted %q, allow %q: let in = %v, want %v (%d)", tc.name, tc.name, allowed, tc.match, resp.StatusCode)
		}
	}
}
