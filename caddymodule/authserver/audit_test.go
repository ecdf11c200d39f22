package authserver

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestAuditTrailOfAuthorizationDecisions(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	u := corp()
	e := startEnv(t, &clock{t: e0}, &certmagic.FileStorage{Path: t.TempDir()}, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.AuditLog = zap.New(core)
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{"corp:admins"}}}
	})
	c := e.publicClient()
	_, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", "mcp")
	b := e.browser()
	_, page := b.upstreamConsent(u, q)
	b.decide(page, "deny")
	_, page = b.get(q)
	b.decide(page, "approve")
	q.Set("scope", "mcp:admin")
	if resp, _ := b.get(q); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("mcp:admin: %d", resp.StatusCode)
	}

	var got []string
	for _, entry := range logs.All() {
		f := entry.ContextMap()
		if entry.Message != "authorization" || f["sub"] != "https://idp.example#u1" || f["username"] != "ann@example.com" ||
			f["client_id"] != c.id || f["client_kind"] != ClientRegistered || f["resource"] != e.ts.URL+"/mcp" || f["login"] != "upstream:corp" ||
			fmt.Sprint(f["groups"]) != "[corp:eng]" {
			t.Errorf("entry %s %v", entry.Message, f)
		}
		got = append(got, f["decision"].(string)+" "+f["scope"].(string))
		for k, v := range f {
			if s, ok := v.(string); ok && (strings.Contains(s, "good-code") || len(s) > 200) {
				t.Errorf("field %s carries %q", k, s)
			}
		}
	}
	if strings.Join(got, ", ") != "denied mcp, approved mcp, refused mcp:admin" {
		t.Fatalf("decisions %q", got)
	}
}

func TestClientKinds(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "ci", RedirectURIs: []string{"https://ci.example/cb"}}}
	})
	for id, want := range map[string]string{"ci": ClientPreRegistered, "https://app.example/client.json": ClientMetadataURL, "abc123": ClientRegistered} {
		if kind, _ := e.srv.ClientKind(id); kind != want {
			t.Errorf("%s: %s, want %s", id, kind, want)
		}
	}
	if _, host := e.srv.ClientKind("https://app.example/client.json"); host != "app.example" {
		t.Errorf("host %q", host)
	}
}

func TestAuditTrailOfRefreshDecisions(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	u := corp()
	u.id.Groups = []string{"eng", "admins"}
	u.id.RefreshToken = "rt"
	u.reauthAfter = time.Hour
	e := policyEnv(t, u, func(c *Config) {
		c.AuditLog = zap.New(core)
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{"corp:admins"}}}
	})
	c, tok := upstreamGrant(t, e, u, "mcp mcp:admin")
	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}}
	status, m := e.refresh(c, tok.refresh)
	tok = tokensOf(t, status, m)
	e.clock.Advance(2 * time.Hour)
	u.again, u.againErr = nil, &UpstreamDenied{Reason: "the account is disabled"}
	e.refresh(c, tok.refresh)

	var got []string
	for _, entry := range logs.FilterMessage("authorization").All() {
		f := entry.ContextMap()
		got = append(got, f["decision"].(string)+" "+f["scope"].(string))
	}
	want := "approved mcp mcp:admin, reconfirmed mcp mcp:admin, narrowed mcp, refused mcp"
	if strings.Join(got, ", ") != want {
		t.Fatalf("decisions %q\nwant %s", strings.Join(got, ", "), want)
	}
}

// TestARevokedGrantKeepsNoProviderToken: a grant revoked at the revocation
// endpoint, and the wider grant a narrower one replaces, keep neither
// refresh-token hashes nor a copy of the provider's sealed refresh token (a
// live credential at the provider that a copy of storage would hand over);
// the user's own record of it stays, rotated by the check, for the grant
// that replaced the wider one.
func TestARevokedGrantKeepsNoProviderToken(t *testing.T) {
	u := corp()
	u.id.Groups = []string{"eng", "admins"}
	u.id.RefreshToken = "rt"
	u.reauthAfter = time.Hour
	e := policyEnv(t, u, func(c *Config) {
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{"corp:admins"}}}
	})
	stored := func(refresh string) grant { return storedGrant(t, e, refresh) }
	c, wide := upstreamGrant(t, e, u, "mcp mcp:admin")
	if stored(wide.refresh).UpstreamToken != "" {
		t.Fatal("the grant holds a copy of the provider token")
	}
	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}, RefreshToken: "rt2"}
	status, m := e.refresh(c, wide.refresh)
	narrow := tokensOf(t, status, m)
	if g := stored(wide.refresh); !g.Revoked || g.UpstreamToken != "" || len(g.Tokens) != 0 {
		t.Fatalf("the replaced wider grant: revoked %v, provider token %q, %d refresh tokens", g.Revoked, g.UpstreamToken, len(g.Tokens))
	}
	if got := providerToken(t, e, u); got != "rt2" {
		t.Fatalf("the narrower grant refreshes with the provider token %q, want the rotated one", got)
	}
	if status, _, _ := e.postForm("/revoke", url.Values{"token": {narrow.refresh}, "client_id": {c.id}}, "", ""); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	if g := stored(narrow.refresh); !g.Revoked || g.UpstreamToken != "" {
		t.Fatalf("the revoked grant: revoked %v, provider token %q", g.Revoked, g.UpstreamToken)
	}
}
