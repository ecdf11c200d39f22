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
