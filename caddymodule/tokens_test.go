package caddymodule_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"golang.org/x/oauth2"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
)

// tokenClaim reads one claim of the handler's current access token. It does
// not verify the token: the gateway already did.
func tokenClaim(t *testing.T, h *auth.AuthorizationCodeHandler, claim string) string {
	t.Helper()
	ts, err := h.TokenSource(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("access token is not a JWT: %v", err)
	}
	var claims map[string]any
	if err := parsed.UnsafeClaimsWithoutVerification(&claims); err != nil {
		t.Fatal(err)
	}
	s, _ := claims[claim].(string)
	return s
}

// refresh redeems a refresh token at the token endpoint as a public client
// and returns the new access token.
func refresh(t *testing.T, g *gateway, refreshToken, clientID string) string {
	t.Helper()
	resp, err := g.client.PostForm(g.base+"/token", url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {refreshToken},
		"client_id":     {clientID},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("refresh: %d %s", resp.StatusCode, body.Error)
	}
	if body.RefreshToken == "" || body.RefreshToken == refreshToken {
		t.Fatal("refresh did not rotate the refresh token")
	}
	return body.AccessToken
}

// grant is what a client holds after the authorization code flow.
type grant struct {
	clientID, accessToken, refreshToken string
}

// registerClient registers a public client with one redirect URI and
// returns its client id.
func registerClient(t testing.TB, g *gateway, clientName, redirect string) string {
	t.Helper()
	reg, _ := json.Marshal(map[string]any{"client_name": clientName, "redirect_uris": []string{redirect}, "token_endpoint_auth_method": "none"})
	resp, err := g.client.Post(g.base+"/register", "application/json", bytes.NewReader(reg))
	if err != nil {
		t.Fatal(err)
	}
	var client struct {
		ClientID string `json:"client_id"`
	}
	json.NewDecoder(resp.Body).Decode(&client)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	return client.ClientID
}

// authorize registers a public client and runs the authorization code flow
// with PKCE through the login and consent pages, the way any client does,
// for the resource at /mcp, asking for scopes (the server's defaults when
// none).
func authorize(t *testing.T, g *gateway, clientName string, scopes ...string) grant {
	t.Helper()
	return authorizeFor(t, g, "/mcp", clientName, scopes...)
}

// authorizeFor is authorize for the resource at path.
func authorizeFor(t testing.TB, g *gateway, path, clientName string, scopes ...string) grant {
	t.Helper()
	return authorizeAs(t, g, testUser, testPassword, path, clientName, scopes...)
}

// authorizeAs is authorizeFor with the user who logs in.
func authorizeAs(t testing.TB, g *gateway, user, password, path, clientName string, scopes ...string) grant {
	t.Helper()
	redirect := "http://127.0.0.1:" + freePort(t) + "/callback"
	clientID := registerClient(t, g, clientName, redirect)
	conf := &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: redirect,
		Scopes:      scopes,
		Endpoint:    oauth2.Endpoint{AuthURL: g.base + "/authorize", TokenURL: g.base + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("resource", g.base+path))
	back, err := browsertest.New(g.client.Transport).Authorize(authURL, user, password, "approve")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, g.client)
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", g.base+path))
	if err != nil {
		t.Fatalf("exchanging the code: %v", err)
	}
	return grant{clientID: clientID, accessToken: tok.AccessToken, refreshToken: tok.RefreshToken}
}
