package caddymodule_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
)

// goSDKClient connects the official Go SDK client to the gateway's MCP
// endpoint. Its OAuth handler discovers the authorization server from the
// 401, registers with the given name, and gets a code through a scripted
// browser that logs in and approves.
func goSDKClient(t *testing.T, g *gateway, name string) (*mcp.ClientSession, *auth.AuthorizationCodeHandler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	redirect := "http://127.0.0.1:" + freePort(t) + "/callback"
	browser := browsertest.New(g.client.Transport)
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
			Metadata: &oauthex.ClientRegistrationMetadata{
				ClientName:   name,
				RedirectURIs: []string{redirect},
				GrantTypes:   []string{"authorization_code", "refresh_token"},
			},
		},
		RedirectURL:         redirect,
		RequestRefreshToken: true,
		Client:              g.client,
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			back, err := browser.Authorize(args.URL, testUser, testPassword, "approve")
			if err != nil {
				return nil, err
			}
			if !strings.HasPrefix(back.String(), redirect) {
				return nil, fmt.Errorf("redirected to %s, not to the client's redirect URI", back)
			}
			q := back.Query()
			if q.Get("error") != "" {
				return nil, fmt.Errorf("authorization failed: %s", back)
			}
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: name, Version: "test"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:     g.base + "/mcp",
		HTTPClient:   g.client,
		OAuthHandler: handler,
	}, nil)
	if err != nil {
		t.Fatalf("%s connecting through the OAuth flow: %v", name, err)
	}
	t.Cleanup(func() { session.Close() })
	return session, handler
}

// callTool calls a tool and fails the test on a protocol error or a tool
// error, returning the structured result.
func callTool(t *testing.T, s *mcp.ClientSession, name string, args any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s failed: %+v", name, res.Content)
	}
	var out map[string]any
	raw, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(raw, &out)
	return out
}

func TestGoSDKClientsThroughOAuthOverTLS(t *testing.T) {
	g := startGateway(t, gatewayOptions{tls: true, gateway: "access_token_lifetime 10s"})

	alice, aliceAuth := goSDKClient(t, g, "go-sdk-one")
	other, otherAuth := goSDKClient(t, g, "go-sdk-two")

	tools, err := alice.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) < 9 {
		t.Fatalf("tools/list through the gateway: %d tools, want the memory server's nine and more", len(tools.Tools))
	}
	callTool(t, alice, "create_entities", map[string]any{"entities": []any{
		map[string]any{"name": "gateway", "entityType": "project", "observations": []string{"fronts plain JSON-RPC servers"}},
	}})
	graph := callTool(t, other, "read_graph", map[string]any{})
	if !strings.Contains(fmt.Sprint(graph), "fronts plain JSON-RPC servers") {
		t.Fatalf("the same user's second client does not see the entity: %v", graph)
	}

	// The two clients registered separately: the gateway tells them apart.
	ida, idb := tokenClaim(t, aliceAuth, "client_id"), tokenClaim(t, otherAuth, "client_id")
	if ida == "" || ida == idb {
		t.Fatalf("client ids %q and %q: want two distinct registered clients", ida, idb)
	}
	if sub := tokenClaim(t, aliceAuth, "sub"); sub != testUser {
		t.Fatalf("token subject %q, want %q", sub, testUser)
	}

	// Refresh: the access tokens live 10s and the SDK's token source renews
	// them 10s before expiry, so its next call redeems the refresh token for
	// a new access token (and a rotated refresh token), with no waiting.
	jti := tokenClaim(t, aliceAuth, "jti")
	callTool(t, alice, "search_nodes", map[string]any{"query": "gateway"})
	if tokenClaim(t, aliceAuth, "jti") == jti {
		t.Fatal("the SDK client did not refresh its access token")
	}
}
