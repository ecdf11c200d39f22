package authserver

import (
	"net/http"
	"strings"
	"testing"
)

func TestConsentIsPerResourceAndNamesIt(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ResourcePaths = []string{"/a/mcp", "/b/mcp"} })
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	qa := authParams(c, challenge)
	qa.Set("resource", e.ts.URL+"/a/mcp")
	_, login := b.get(qa)
	if _, page := b.login(login); !strings.Contains(page, "<code>"+e.ts.URL+"/a/mcp</code>") {
		t.Fatalf("consent page does not name the resource:\n%s", page)
	}
	if loc := b.authorize(qa); loc.Query().Get("code") == "" {
		t.Fatal("approval for /a/mcp failed")
	}
	if resp, _ := b.get(qa); resp.StatusCode != http.StatusFound {
		t.Fatalf("approval for /a/mcp not remembered: %d", resp.StatusCode)
	}
	qb := authParams(c, challenge)
	qb.Set("resource", e.ts.URL+"/b/mcp")
	resp, page := b.get(qb)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) || !strings.Contains(page, e.ts.URL+"/b/mcp") {
		t.Fatalf("approval for /a/mcp covered /b/mcp: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestConsentPageShowsHostsInPunycodeAndFlagsSelfChosenNames: a
// self-registered client's name is marked as unchecked and its redirect
// host is shown in punycode, so "аpple.example" with a Cyrillic а does not
// pass for apple.example; a pre-registered client's name is the operator's.
func TestConsentPageShowsHostsInPunycodeAndFlagsSelfChosenNames(t *testing.T) {
	const lookalike = "https://\u0430pple.example/cb"
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "desk", Name: "Desk App", RedirectURIs: []string{"https://desk.example/cb"}}}
	})
	consentPage := func(c registered) string {
		t.Helper()
		_, challenge := pkce()
		b := e.browser()
		_, login := b.get(authParams(c, challenge))
		resp, page := b.login(login)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
			t.Fatalf("no consent page: %d", resp.StatusCode)
		}
		return page
	}
	const unchecked = "this name was not checked"

	page := consentPage(e.register(map[string]any{"client_name": "Apple", "redirect_uris": []string{lookalike}, "token_endpoint_auth_method": "none"}))
	if !strings.Contains(page, "sent to <code>xn--pple-43d.example</code>") {
		t.Errorf("the look-alike redirect host is not shown in punycode:\n%s", page)
	}
	if !strings.Contains(page, unchecked) {
		t.Errorf("a self-registered name is not marked as unchecked:\n%s", page)
	}

	page = consentPage(registered{id: "desk", redirect: "https://desk.example/cb"})
	if !strings.Contains(page, "<strong>Desk App</strong>") || strings.Contains(page, unchecked) {
		t.Errorf("a pre-registered client's name is marked as unchecked:\n%s", page)
	}
	if !strings.Contains(page, "sent to <code>desk.example</code>") {
		t.Errorf("redirect host of the pre-registered client:\n%s", page)
	}
}
