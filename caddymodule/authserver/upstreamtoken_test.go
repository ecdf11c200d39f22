package authserver

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// upstreamGrant signs u's user in for a new public client with scope and
// returns the client and the tokens.
func upstreamGrant(t *testing.T, e *env, u *fakeUpstream, scope string) (registered, tokens) {
	t.Helper()
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", scope)
	b := e.browser()
	resp, page := b.upstreamConsent(u, q)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent: %d\n%s", resp.StatusCode, page)
	}
	loc := location(t, b.decide(page, "approve"))
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	return c, tokensOf(t, status, m)
}

func reauthEnv(t *testing.T) (*env, *fakeUpstream) {
	u := corp()
	u.id.RefreshToken = "provider-refresh-token-1"
	u.reauthAfter = time.Hour
	e := policyEnv(t, u, func(c *Config) {
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}, {Scopes: []string{"mcp:admin"}, Groups: []string{"corp:admins"}}}
	})
	return e, u
}

func TestTheProvidersRefreshTokenIsKeptSealed(t *testing.T) {
	e, u := reauthEnv(t)
	upstreamGrant(t, e, u, "mcp")
	found := false
	filepath.WalkDir(e.storage.Path, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), "provider-refresh-token-1") {
			t.Errorf("%s holds the provider's refresh token in the clear", path)
		}
		if strings.Contains(path, "upstream-tokens") && strings.Contains(string(b), `"upstream_token"`) {
			found = true
		}
		return nil
	})
	if !found {
		t.Fatal("no record keeps the user's sealed provider token")
	}
	sealed, err := e.srv.sealUpstreamToken(context.Background(), "https://idp.example#u1", "tok")
	if err != nil {
		t.Fatal(err)
	}
	// Moved into another user's grant, it does not open.
	if _, err := e.srv.openUpstreamToken(context.Background(), "https://idp.example#u2", sealed); err == nil {
		t.Fatal("a sealed token opened for another subject")
	}
	if tok, err := e.srv.openUpstreamToken(context.Background(), "https://idp.example#u1", sealed); err != nil || tok != "tok" {
		t.Fatalf("open: %q %v", tok, err)
	}
}

func TestRefreshChecksTheUserAgainAtTheProvider(t *testing.T) {
	e, u := reauthEnv(t)
	c, tok := upstreamGrant(t, e, u, "mcp")

	// Within reauthenticate_after the provider is not asked.
	e.clock.Advance(30 * time.Minute)
	status, m := e.refresh(c, tok.refresh)
	tok = tokensOf(t, status, m)
	if len(u.rechecked) != 0 {
		t.Fatalf("the provider was asked within the window: %v", u.rechecked)
	}
	// Past it, it is, with the token it gave; its answer is recorded.
	e.clock.Advance(31 * time.Minute)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng", "admins"}, RefreshToken: "provider-refresh-token-2"}
	status, m = e.refresh(c, tok.refresh)
	tok = tokensOf(t, status, m)
	if len(u.rechecked) != 1 || u.rechecked[0] != "provider-refresh-token-1" {
		t.Fatalf("rechecked with %v", u.rechecked)
	}
	if g := e.claimsOf(tok.access).Groups; strings.Join(g, ",") != "corp:eng,corp:admins" {
		t.Fatalf("groups after the check %v", g)
	}
	// Checked just now: the next refresh does not ask again; the one
	// after the window asks with the rotated token.
	status, m = e.refresh(c, tok.refresh)
	tok = tokensOf(t, status, m)
	e.clock.Advance(61 * time.Minute)
	status, m = e.refresh(c, tok.refresh)
	tok = tokensOf(t, status, m)
	if len(u.rechecked) != 2 || u.rechecked[1] != "provider-refresh-token-2" {
		t.Fatalf("rechecked with %v", u.rechecked)
	}
}

func TestAGroupRemovedAtTheProviderIsLostAtTheNextCheck(t *testing.T) {
	e, u := reauthEnv(t)
	u.id.Groups = []string{"eng", "admins"}
	c, tok := upstreamGrant(t, e, u, "mcp mcp:admin")
	if tok.scope != "mcp mcp:admin" {
		t.Fatalf("scope %q", tok.scope)
	}
	old := e.claimsOf(tok.access)
	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}}
	status, m := e.refresh(c, tok.refresh)
	if fresh := tokensOf(t, status, m); fresh.scope != "mcp" {
		t.Fatalf("scope after admins was removed: %q", fresh.scope)
	}
	if revoked, _ := e.srv.IsRevoked(context.Background(), old.ID, old.GrantID); !revoked {
		t.Fatal("the token with mcp:admin still passes the revocation check")
	}
}

func TestAUserTheProviderNoLongerVouchesForLosesTheGrant(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(*fakeUpstream)
		wantStatus int
		wantCode   string
	}{
		{"disabled at the provider", func(u *fakeUpstream) { u.againErr = &UpstreamDenied{Reason: "the account is disabled"} }, http.StatusBadRequest, "invalid_grant"},
		{"another user behind the token", func(u *fakeUpstream) {
			u.again = &UpstreamIdentity{Subject: "https://idp.example#someone-else", Username: "eve@example.com", Groups: []string{"eng"}}
		}, http.StatusBadRequest, "invalid_grant"},
		{"no provider refresh token", func(u *fakeUpstream) { u.id.RefreshToken = "" }, http.StatusBadRequest, "invalid_grant"},
		{"provider down", func(u *fakeUpstream) { u.againErr = errors.New("connection refused") }, http.StatusServiceUnavailable, "temporarily_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, u := reauthEnv(t)
			tc.setup(u)
			c, tok := upstreamGrant(t, e, u, "mcp")
			e.clock.Advance(2 * time.Hour)
			status, m := e.refresh(c, tok.refresh)
			wantError(t, status, m, tc.wantStatus, tc.wantCode)
		})
	}
}
