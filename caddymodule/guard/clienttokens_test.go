package guard

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
)

// clientToken mints a client_credentials token (gty claim, no user).
func (f *fixture) clientToken() string {
	return f.as.Mint(f.t, guardtest.ClientClaims(testOrigin, "/mcp", f.clock.now()))
}

// Open registration once let anyone mint a client_credentials token that
// /mcp took like a user's: a resource refuses tokens without a user unless
// its configuration allows them.
func TestAdmitRefusesClientTokensByDefault(t *testing.T) {
	var reasons []string
	f := newFixture(t, func(c *Config) {
		c.OnFailure = func(_ *http.Request, reason string) { reasons = append(reasons, reason) }
	})
	w, got := f.admit("Bearer "+f.clientToken(), nil)
	if got != nil {
		t.Fatal("a client-credentials token was admitted")
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if w.Code != http.StatusUnauthorized || !strings.HasPrefix(challenge, `Bearer resource_metadata="`) ||
		!strings.Contains(challenge, `error="invalid_token"`) || !strings.Contains(challenge, "accepts only tokens issued to a user") {
		t.Fatalf("got %d %q", w.Code, challenge)
	}
	if !slices.Equal(reasons, []string{"client_token"}) {
		t.Errorf("reasons %q", reasons)
	}
}

func TestAdmitAcceptsClientTokensWhenAllowed(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowClientTokens = true })
	w, got := f.admit("Bearer "+f.clientToken(), http.Header{"X-Mcp-Subject-Type": {"user"}})
	if got == nil {
		t.Fatalf("refused: %d %s", w.Code, w.Body)
	}
	if !got.identity.Client || got.identity.Subject != "client-1" {
		t.Errorf("identity %+v", got.identity)
	}
	if s := got.header.Values("X-MCP-Subject-Type"); !slices.Equal(s, []string{"client"}) {
		t.Errorf("subject type header = %q, want [client]", s)
	}
	if _, user := f.admit("Bearer "+f.token(nil), nil); user == nil || user.identity.Client {
		t.Errorf("a user token read as a client's: %+v", user)
	}
}

func TestSubjectTypeHeaderIsConfigurable(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AllowClientTokens, c.SubjectTypeHeader = true, "X-Kind" })
	_, got := f.admit("Bearer "+f.clientToken(), http.Header{"X-Kind": {"user", "user"}})
	if got == nil || !slices.Equal(got.header.Values("X-Kind"), []string{"client"}) || got.header.Get("X-MCP-Subject-Type") != "" {
		t.Fatalf("headers %+v", got)
	}
}

// With two Authorization headers the guard would check one credential while
// a proxy or backend behind it could read the other.
func TestAdmitRefusesTwoAuthorizationHeaders(t *testing.T) {
	f := newFixture(t, nil)
	tok := "Bearer " + f.token(nil)
	for _, values := range [][]string{{tok, tok}, {tok, "Basic YWxpY2U6c2VjcmV0"}, {tok, ""}} {
		w, got := f.admit("", http.Header{"Authorization": values})
		if got != nil {
			t.Errorf("%d Authorization headers admitted", len(values))
			continue
		}
		challenge := w.Header().Get("WWW-Authenticate")
		if w.Code != http.StatusBadRequest || !strings.HasPrefix(challenge, `Bearer resource_metadata="`) || !strings.Contains(challenge, `error="invalid_request"`) {
			t.Errorf("got %d %q", w.Code, challenge)
		}
	}
}
