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
	state := b.startUpstreamBesidePasswords(u, q)
	if resp, _ := b.callback(u, state, "good-code"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	resp, page := b.get(q)
	if resp.StatusCode == http.StatusOK && strings.Contains(page, "mcp:admin") {
		t.Fatalf("the upstream user %q (subject %s) is offered the password user %q's mcp:admin:\n%s",
			u.id.Username, u.id.Subject, testUser, page)
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
