package authserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// TestGoSDKClientFlow drives the MCP Go SDK's AuthorizationCodeHandler
// through discovery, dynamic registration, login, consent, code exchange
// and refreshes. The guard is H4's; a minimal protected-resource metadata
// handler stands in for it, and the 401 the SDK reacts to is built here.
func TestGoSDKClientFlow(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.AccessTokenLifetime = time.Second }) // below oauth2's expiry delta: every Token() refreshes
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-protected-resource/mcp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"resource": e.ts.URL + "/mcp", "authorization_servers": []string{e.ts.URL},
			"scopes_supported": []string{"mcp"}, "bearer_methods_supported": []string{"header"},
		})
	})
	mux.Handle("/", e.srv)
	e.ts.Config.Handler = mux

	b := e.browser()
	handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
		DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{Metadata: &oauthex.ClientRegistrationMetadata{
			ClientName: "Go SDK test", RedirectURIs: []string{"http://127.0.0.1:45454/callback"},
			TokenEndpointAuthMethod: "none", GrantTypes: []string{"authorization_code", "refresh_token"},
		}},
		AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
			_, page := b.send(http.MethodGet, strings.TrimPrefix(args.URL, e.ts.URL), "")
			if strings.Contains(page, `name="password"`) {
				_, page = b.login(page)
			}
			loc := location(t, b.decide(page, "approve"))
			q := loc.Query()
			return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
		},
		RequestRefreshToken: true,
		Client:              e.ts.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	mcpReq := httptest.NewRequest(http.MethodPost, e.ts.URL+"/mcp", nil)
	unauthorized := &http.Response{
		StatusCode: http.StatusUnauthorized,
		Header: http.Header{"Www-Authenticate": {`Bearer resource_metadata="` + e.ts.URL +
			`/.well-known/oauth-protected-resource/mcp", scope="mcp"`}},
		Body: io.NopCloser(strings.NewReader("")),
	}
	if err := handler.Authorize(context.Background(), mcpReq, unauthorized); err != nil {
		t.Fatal(err)
	}
	ts, _ := handler.TokenSource(context.Background())
	seen := map[string]bool{}
	for range 3 {
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		cl := e.claimsOf(tok.AccessToken)
		if len(cl.Audience) != 1 || cl.Audience[0] != e.ts.URL+"/mcp" || cl.Subject != testUser || !strings.Contains(cl.Scope, "mcp") {
			t.Fatalf("claims %+v", cl)
		}
		if seen[tok.AccessToken] {
			t.Fatal("token source did not refresh")
		}
		seen[tok.AccessToken] = true
	}
}
