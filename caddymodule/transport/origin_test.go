package transport

import (
	"net/http"
	"testing"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

func TestOriginCheck(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{AllowedOrigins: []string{"https://app.example/"}}, proxyTo(t, b))
	allowed := []string{"", url, "http://localhost:6274", "http://127.0.0.1:3000", "https://[::1]", "https://app.example"}
	for _, origin := range allowed {
		resp, _ := rpc(t, url+"/mcp", initialize, map[string]string{"Origin": origin})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("origin %q: %d", origin, resp.StatusCode)
		}
		if origin != "" && resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("origin %q: ACAO %q", origin, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	calls := b.calls()
	for _, origin := range []string{"https://evil.example", "null", "http://localhost.evil.example", "file://"} {
		resp, body := rpc(t, url+"/mcp", initialize, map[string]string{"Origin": origin})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %d", origin, resp.StatusCode)
			continue
		}
		rpcError(t, body)
	}
	if b.calls() != calls {
		t.Error("a request from a disallowed origin reached the backend")
	}
}

func TestAnyOriginWhenConfigured(t *testing.T) {
	url := gateway(t, Config{AllowedOrigins: []string{"*"}}, proxyTo(t, &backend{}))
	if resp, _ := rpc(t, url+"/mcp", initialize, map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d", resp.StatusCode)
	}
}

func TestPreflight(t *testing.T) {
	url := gateway(t, Config{Gate: refuseAll{}}, proxyTo(t, &backend{}))
	resp, _ := do(t, http.MethodOptions, url+"/mcp", "", map[string]string{
		"Origin":                         "http://localhost:6274",
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "authorization, content-type, mcp-protocol-version",
	})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: %d", resp.StatusCode)
	}
	h := resp.Header
	if h.Get("Access-Control-Allow-Origin") != "http://localhost:6274" || h.Get("Access-Control-Allow-Headers") != oauthwire.CORSAllowHeaders || h.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight headers %v", h)
	}
}

// refuseAll is a Gate that admits nothing.
type refuseAll struct{}

func (refuseAll) Admit(w http.ResponseWriter, _ *http.Request) (*http.Request, bool) {
	w.WriteHeader(http.StatusUnauthorized)
	return nil, false
}
func (refuseAll) AdmitCall(http.ResponseWriter, *http.Request, string, string) bool { return false }
func (refuseAll) ListFilter(*http.Request, string) func(string) bool                { return nil }
