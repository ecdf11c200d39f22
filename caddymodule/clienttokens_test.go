package caddymodule_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// clientCredentialsToken runs the client_credentials grant for the
// confidential client ci (secret "ci-secret") and the resource at path.
func clientCredentialsToken(t *testing.T, g *gateway, path string) string {
	t.Helper()
	resp, err := g.client.PostForm(g.base+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"ci"}, "client_secret": {"ci-secret"}, "resource": {g.base + path},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("client_credentials grant: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

// Open registration once let anyone mint a client_credentials token that
// /mcp took like a user's: through real Caddy, a resource refuses tokens
// without a user unless it says allow_client_tokens, and a resource that
// allows them tells the backend the caller is a client.
func TestClientTokensAreRefusedUnlessTheResourceAllowsThem(t *testing.T) {
	backend := startBackend(t)
	hash, _ := bcrypt.GenerateFromPassword([]byte("ci-secret"), bcrypt.MinCost)
	g := startGateway(t, gatewayOptions{upstream: backend.addr, gateway: `client ci {
			secret_hash ` + string(hash) + `
		}
		resource /ci {
			upstream ` + backend.addr + `
			allow_client_tokens
		}`})
	token := clientCredentialsToken(t, g, "/mcp")
	if !strings.Contains(jwtPayload(t, token), `"gty":"client_credentials"`) {
		t.Skip("the authorization server does not mark client_credentials tokens with gty yet (issue 8 item 1, its side)")
	}
	resp, body := post(t, g, "/mcp", token, `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "only tokens issued to a user") {
		t.Fatalf("client token on /mcp: %d %q %s", resp.StatusCode, challenge, body)
	}
	resp, body = post(t, g, "/ci", clientCredentialsToken(t, g, "/ci"), `{"jsonrpc":"2.0","id":2,"method":"ping"}`, "X-MCP-Subject-Type", "user")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("client token on /ci, which allows them: %d %s", resp.StatusCode, body)
	}
	if h, _ := backend.lastRequest(); !slices.Equal(h.Values("X-MCP-Subject-Type"), []string{"client"}) || h.Get("X-MCP-Subject") != "ci" {
		t.Errorf("backend saw subject %q of type %q", h.Get("X-MCP-Subject"), h.Values("X-MCP-Subject-Type"))
	}
}

// jwtPayload returns the decoded claims of a JWT, unverified.
func jwtPayload(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(payload)
}

// With two Authorization headers the guard would check one credential while
// the backend or a proxy on the way might read the other.
func TestTwoAuthorizationHeadersGet400(t *testing.T) {
	g := startGateway(t, gatewayOptions{})
	gr := authorize(t, g, "two-headers")
	req, _ := http.NewRequest(http.MethodPost, g.base+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header["Authorization"] = []string{"Bearer " + gr.accessToken, "Bearer " + gr.accessToken}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, `error="invalid_request"`) {
		t.Fatalf("two Authorization headers: %d %q", resp.StatusCode, challenge)
	}
}
