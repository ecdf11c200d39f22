package upstreamlogin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/caddymodule/publicurl"
)

func TestOIDCReauthenticateAsksTheProviderAgain(t *testing.T) {
	idp := startIDP(t, 0)
	o := newOIDC(t, idp.Issuer, func(c *OIDCConfig) { c.Scopes = append(c.Scopes, "offline_access") })
	a := newAttempt()
	id, err := o.Complete(context.Background(), a, signIn(t, idp, o, a, "ann", "ann-pw"))
	if err != nil {
		t.Fatal(err)
	}
	if id.RefreshToken == "" {
		t.Fatal("no refresh token from the provider")
	}
	users := testUsers()
	ann := users["ann"]
	ann.Groups = []string{"eng"}
	users["ann"] = ann
	idp.SetUsers(t, users)
	again, err := o.Reauthenticate(context.Background(), id.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if again.Subject != id.Subject || strings.Join(again.Groups, ",") != "eng" || again.RefreshToken == "" {
		t.Fatalf("after the group change: %+v", again)
	}
	ann.Disabled = true
	users["ann"] = ann
	idp.SetUsers(t, users)
	_, err = o.Reauthenticate(context.Background(), again.RefreshToken)
	if _, denied := err.(*authserver.UpstreamDenied); !denied {
		t.Fatalf("a disabled account: %v, want a denial", err)
	}
	idp.Stop()
	if _, err := o.Reauthenticate(context.Background(), again.RefreshToken); err == nil {
		t.Fatal("reauthenticated with the provider down")
	} else if _, denied := err.(*authserver.UpstreamDenied); denied {
		t.Fatalf("the provider down read as a denial: %v", err)
	}
}

// testClock is the authorization server's clock in these tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestGroupRemovedOrUserDisabledAtTheProvider runs the whole chain with the
// real provider: ann signs in with the groups eng and ops; corp:ops gives
// mcp:admin. The provider removes her from ops: the refresh after
// reauthenticate_after yields mcp alone. The provider disables her: the
// next such refresh is refused.
func TestGroupRemovedOrUserDisabledAtTheProvider(t *testing.T) {
	var handler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	idp := startIDP(t, 0, ts.URL+"/login/corp/callback")
	o := newOIDC(t, idp.Issuer, func(c *OIDCConfig) {
		c.Scopes = append(c.Scopes, "offline_access")
		c.ReauthenticateAfter = time.Hour
	})
	clock := &testClock{t: time.Now()}
	srv, err := authserver.New(authserver.Config{
		Origin:    func(r *http.Request) string { return publicurl.Origin(r, "", false) },
		Scopes:    []string{"mcp", "mcp:admin"},
		Upstreams: []authserver.UpstreamLogin{o},
		Clients:   []authserver.StaticClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
		ScopeGrants: []authserver.ScopeGrant{
			{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}},
			{Scopes: []string{"mcp:admin"}, Groups: []string{"corp:ops"}},
		},
		Now: clock.Now,
	}, &certmagic.FileStorage{Path: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	handler = srv
	verifier, q := appAuthorization("mcp mcp:admin offline_access")
	back, err := browsertest.New(nil).AuthorizeUpstream(ts.URL+"/authorize?"+q.Encode(), idp.Issuer, "Corp", "ann", "ann-pw", "approve")
	if err != nil {
		t.Fatal(err)
	}
	token := func(form url.Values) (int, map[string]any) {
		form.Set("client_id", "app")
		resp, err := http.PostForm(ts.URL+"/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var m map[string]any
		json.Unmarshal(body, &m)
		return resp.StatusCode, m
	}
	status, m := token(url.Values{"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "redirect_uri": {"http://127.0.0.1:7/cb"}, "code_verifier": {verifier}})
	if status != http.StatusOK || m["scope"] != "mcp mcp:admin offline_access" {
		t.Fatalf("code exchange: %d %v", status, m)
	}

	users := testUsers()
	ann := users["ann"]
	ann.Groups = []string{"eng"}
	users["ann"] = ann
	idp.SetUsers(t, users)
	// Within the hour nothing is asked: the grant keeps its scopes.
	clock.Advance(30 * time.Minute)
	status, m = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
	if status != http.StatusOK || m["scope"] != "mcp mcp:admin offline_access" {
		t.Fatalf("refresh within the hour: %d %v", status, m)
	}
	clock.Advance(31 * time.Minute)
	status, m = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
	if status != http.StatusOK || m["scope"] != "mcp offline_access" {
		t.Fatalf("refresh after ops was removed: %d %v, want mcp without mcp:admin", status, m)
	}

	ann.Disabled = true
	users["ann"] = ann
	idp.SetUsers(t, users)
	clock.Advance(61 * time.Minute)
	status, m = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}})
	if status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("refresh of a disabled user: %d %v", status, m)
	}
}
