package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestSeveralResourcesShareOneAuthorizationServer fronts two backends under
// one origin: each is its own protected resource with its own metadata, and
// a token is good only for the resource it was issued for.
func TestSeveralResourcesShareOneAuthorizationServer(t *testing.T) {
	legacy := startBackend(t)
	g := startGateway(t, gatewayOptions{gateway: "resource /legacy/mcp {\n\t\t\tupstream " + legacy.addr + "\n\t\t\tupstream_path /tools\n\t\t}"})

	for path, resource := range map[string]string{
		"/.well-known/oauth-protected-resource/mcp":        g.base + "/mcp",
		"/.well-known/oauth-protected-resource/legacy/mcp": g.base + "/legacy/mcp",
		"/legacy/mcp/.well-known/oauth-protected-resource": g.base + "/legacy/mcp",
	} {
		if resp, body := get(t, g, path); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"resource":"`+resource+`"`) {
			t.Errorf("%s: %d %s, want resource %s", path, resp.StatusCode, body, resource)
		}
	}
	resp, _ := post(t, g, "/legacy/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	if want := `resource_metadata="` + g.base + `/.well-known/oauth-protected-resource/legacy/mcp"`; !strings.Contains(resp.Header.Get("WWW-Authenticate"), want) {
		t.Errorf("challenge on /legacy/mcp: %q, want %s", resp.Header.Get("WWW-Authenticate"), want)
	}

	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	forLegacy := authorizeFor(t, g, "/legacy/mcp", "legacy-only")
	if resp, body := post(t, g, "/legacy/mcp", forLegacy.accessToken, ping); resp.StatusCode != http.StatusOK {
		t.Fatalf("legacy token on /legacy/mcp: %d %s", resp.StatusCode, body)
	}
	if _, path := legacy.lastRequest(); path != "/tools" {
		t.Errorf("legacy backend saw %q, want /tools", path)
	}
	if resp, _ := post(t, g, "/mcp", forLegacy.accessToken, ping); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("legacy token on /mcp: %d, want 401 (another audience)", resp.StatusCode)
	}
	forMemory := authorize(t, g, "memory-only")
	if resp, _ := post(t, g, "/legacy/mcp", forMemory.accessToken, ping); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("memory token on /legacy/mcp: %d, want 401 (another audience)", resp.StatusCode)
	}
}
