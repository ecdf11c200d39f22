package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// obtainToken gets an access token for origin's /mcp the way an MCP client
// does: it registers a public client (RFC 7591), logs in and approves on the
// login and consent pages, and exchanges the code with PKCE (RFC 7636) for
// the resource (RFC 8707).
func obtainToken(ctx context.Context, client *http.Client, origin, user, password string) (string, error) {
	redirectAddr, err := testenv.FreeAddr()
	if err != nil {
		return "", err
	}
	redirect := "http://" + redirectAddr + "/callback"
	clientID, err := register(ctx, client, origin, redirect)
	if err != nil {
		return "", err
	}
	conf := &oauth2.Config{
		ClientID:    clientID,
		RedirectURL: redirect,
		Endpoint:    oauth2.Endpoint{AuthURL: origin + "/authorize", TokenURL: origin + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	resource := oauth2.SetAuthURLParam("resource", origin+"/mcp")
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("gatewaybench", oauth2.S256ChallengeOption(verifier), resource)
	back, err := browsertest.New(client.Transport).Authorize(authURL, user, password, "approve")
	if err != nil {
		return "", fmt.Errorf("logging in: %v", err)
	}
	code := back.Query().Get("code")
	if code == "" {
		return "", fmt.Errorf("no code in the redirect %s", back.Redacted())
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, client), code, oauth2.VerifierOption(verifier), resource)
	if err != nil {
		return "", fmt.Errorf("exchanging the code: %v", err)
	}
	return tok.AccessToken, nil
}

// register registers a public client with one loopback redirect URI and
// returns its client_id.
func register(ctx context.Context, client *http.Client, origin, redirect string) (string, error) {
	body, err := json.Marshal(map[string]any{
		"client_name":                "gatewaybench",
		"redirect_uris":              []string{redirect},
		"token_endpoint_auth_method": "none",
	})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, origin+"/register", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var reg struct {
		ClientID string `json:"client_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reg); err != nil || resp.StatusCode != http.StatusCreated || reg.ClientID == "" {
		return "", fmt.Errorf("registering a client: %s (%v)", resp.Status, err)
	}
	return reg.ClientID, nil
}
