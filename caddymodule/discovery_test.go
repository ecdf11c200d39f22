package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestDiscoveryAnswersEveryProbedLocation walks the locations real clients
// probe (Codex CLI's list, in its order, and the root fallbacks of the SDKs)
// and checks issuer and resource are byte-identical everywhere.
func TestDiscoveryAnswersEveryProbedLocation(t *testing.T) {
	g := startGateway(t, gatewayOptions{tls: true})
	resource, issuer := g.base+"/mcp", g.base

	for _, path := range []string{
		"/.well-known/oauth-protected-resource/mcp",
		"/mcp/.well-known/oauth-protected-resource",
		"/.well-known/oauth-protected-resource",
	} {
		resp, body := get(t, g, path)
		var prm struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			BearerMethods        []string `json:"bearer_methods_supported"`
		}
		json.Unmarshal([]byte(body), &prm)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" ||
			prm.Resource != resource || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != issuer {
			t.Errorf("%s: %d %s %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	for _, path := range []string{
		"/.well-known/oauth-authorization-server/mcp",
		"/.well-known/openid-configuration/mcp",
		"/mcp/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server",
		"/.well-known/openid-configuration",
	} {
		resp, body := get(t, g, path)
		var asm map[string]any
		json.Unmarshal([]byte(body), &asm)
		if resp.StatusCode != http.StatusOK || asm["issuer"] != issuer || asm["registration_endpoint"] != issuer+"/register" ||
			asm["authorization_response_iss_parameter_supported"] != true {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource/other", "/.well-known/oauth-authorization-server/other/x",
		"/authorize/", "/Token", "//register", "/MCP", "//mcp"} {
		resp, body := get(t, g, path)
		if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s %s, want a JSON 404", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
}

// TestUnauthenticatedProbesGetTheChallenge covers the first request of each
// client: POST (Claude Code, Gemini CLI), GET (Codex CLI), HEAD (Gemini CLI).
func TestUnauthenticatedProbesGetTheChallenge(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	want := `Bearer resource_metadata="` + g.base + `/.well-known/oauth-protected-resource/mcp"`
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodHead} {
		for _, path := range []string{"/mcp", "/mcp/"} {
			req, _ := http.NewRequest(method, g.base+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"server/discover"}`))
			req.Header.Set("MCP-Protocol-Version", "2026-07-28")
			resp, err := g.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), want) {
				t.Errorf("%s %s: %d %q", method, path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
		}
	}
	// With a token, a bare server/discover under 2026-07-28 (no _meta
	// envelope) gets the specification's 400 with -32602, not a modern
	// error, which tells a dual-era client to fall back to initialize; with
	// the envelope, the gateway answers it for the memory server.
	gr := authorize(t, g, "claude-code-like")
	resp, body := post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"server/discover"}`, "MCP-Protocol-Version", "2026-07-28")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "-32602") {
		t.Fatalf("bare server/discover: %d %s, want 400 with JSON-RPC -32602", resp.StatusCode, body)
	}
	resp, body = post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "server/discover")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"supportedVersions":["2026-07-28"]`) {
		t.Fatalf("server/discover: %d %s, want the gateway's answer", resp.StatusCode, body)
	}
}

// TestForwardedOriginOnlyFromTrustedProxies: behind a proxy listed in
// Caddy's trusted_proxies, the issuer and resource follow the proxy's
// X-Forwarded-Proto and X-Forwarded-Host; from anyone else those headers
// are ignored, so a client cannot choose the issuer.
func TestForwardedOriginOnlyFromTrustedProxies(t *testing.T) {
	metadata := func(g *gateway) string {
		req, _ := http.NewRequest(http.MethodGet, g.base+"/.well-known/oauth-protected-resource/mcp", nil)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "mcp.example.net")
		resp, err := g.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var prm struct {
			Resource string `json:"resource"`
		}
		json.NewDecoder(resp.Body).Decode(&prm)
		return prm.Resource
	}
	g := startGateway(t, gatewayOptions{})
	if got := metadata(g); got != g.base+"/mcp" {
		t.Errorf("untrusted forwarding headers changed the resource to %q", got)
	}
	g = startGateway(t, gatewayOptions{global: "servers {\n\t\ttrusted_proxies static 127.0.0.0/8\n\t}"})
	if got := metadata(g); got != "https://mcp.example.net/mcp" {
		t.Errorf("behind a trusted proxy the resource is %q, want https://mcp.example.net/mcp", got)
	}
}
