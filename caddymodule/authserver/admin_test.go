package authserver

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestAdminListsClientsAndGrants(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash}}
	})
	c := e.publicClient()
	e.codeFlow(c)
	ctx := context.Background()

	clients, err := e.srv.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(clients) != 2 || clients[0].ID != "ci" || !clients[0].Static || clients[1].ID != c.id || clients[1].Name != "Test Client" {
		t.Fatalf("clients: %+v", clients)
	}
	grants, err := e.srv.Grants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || grants[0].ClientID != c.id || grants[0].Subject != testUser || grants[0].Revoked {
		t.Fatalf("grants: %+v", grants)
	}
}

func TestAdminRevokeUserStopsItsRefreshTokens(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	tok := e.codeFlow(c)
	n, err := e.srv.RevokeUser(context.Background(), testUser)
	if err != nil || n != 1 {
		t.Fatalf("RevokeUser: %d %v", n, err)
	}
	status, m := e.refresh(c, tok.refresh)
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	claims := e.claimsOf(tok.access)
	if revoked, _ := e.srv.IsRevoked(context.Background(), claims.ID, claims.GrantID); !revoked {
		t.Fatal("the user's access token is not reported revoked")
	}
}

func TestAdminRevokeGrantAndClient(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash}}
	})
	ctx := context.Background()
	c := e.publicClient()
	first := e.codeFlow(c)
	second := e.codeFlow(c)

	if err := e.srv.RevokeGrant(ctx, e.claimsOf(first.access).GrantID); err != nil {
		t.Fatal(err)
	}
	status, m := e.refresh(c, first.refresh)
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	if status, _ := e.refresh(c, second.refresh); status != http.StatusOK {
		t.Fatalf("the other grant stopped working too: %d", status)
	}
	if err := e.srv.RevokeGrant(ctx, "nosuchgrant"); err == nil {
		t.Fatal("revoking an unknown grant succeeded")
	}

	n, err := e.srv.RevokeClient(ctx, c.id)
	if err != nil || n != 1 {
		t.Fatalf("RevokeClient: %d %v", n, err)
	}
	if cl, _ := e.srv.loadClient(ctx, c.id); cl != nil {
		t.Fatal("the revoked client is still registered")
	}
	if _, err := e.srv.RevokeClient(ctx, "ci"); err == nil || !strings.Contains(err.Error(), "declared in the configuration") {
		t.Fatalf("revoking a pre-registered client: %v", err)
	}
}

func TestAdminMintsTokensForConfidentialClientsOnly(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash, Scopes: []string{"mcp"}}}
	})
	ctx := context.Background()
	token, ttl, err := e.srv.MintToken(ctx, "ci", e.ts.URL+"/mcp", nil)
	if err != nil || ttl <= 0 {
		t.Fatalf("MintToken: %v %v", ttl, err)
	}
	claims := e.claimsOf(token)
	if claims.Subject != "ci" || claims.ClientID != "ci" || len(claims.Audience) != 1 || claims.Audience[0] != e.ts.URL+"/mcp" || claims.Issuer != e.ts.URL || claims.Scope != "mcp" {
		t.Fatalf("minted claims: %+v", claims)
	}
	if _, _, err := e.srv.MintToken(ctx, "ci", "https://elsewhere.example/other", nil); err == nil {
		t.Fatal("minted a token for a foreign resource")
	}
	if _, _, err := e.srv.MintToken(ctx, "ci", e.ts.URL+"/mcp", []string{"mcp:admin"}); err == nil {
		t.Fatal("minted a scope the client may not have")
	}
	pub := e.publicClient()
	if _, _, err := e.srv.MintToken(ctx, pub.id, e.ts.URL+"/mcp", nil); err == nil || !strings.Contains(err.Error(), "public") {
		t.Fatalf("minting for a public client: %v", err)
	}
}
