package transport

import (
	"net/http"
	"strings"
	"testing"
)

func TestGetWithoutStreamingBackendIs405(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut} {
		resp, _ := do(t, method, url+"/mcp", "", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "POST" {
			t.Errorf("%s: %d Allow %q", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if b.calls() != 0 {
		t.Error("the backend was called")
	}
}

func TestGetStreamsWhenConfigured(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{StreamGET: true}, proxyTo(t, b))
	resp, body := do(t, http.MethodGet, url+"/mcp", "", map[string]string{"Accept": "text/event-stream"})
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || !strings.Contains(body, "notifications/ping") {
		t.Fatalf("%d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

func TestDeletePassesThroughOnlyWithSession(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	resp, _ := do(t, http.MethodDelete, url+"/mcp", "", nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE without session: %d", resp.StatusCode)
	}
	resp, _ = do(t, http.MethodDelete, url+"/mcp", "", map[string]string{"Mcp-Session-Id": "s-1"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE with session: %d", resp.StatusCode)
	}
	if s := b.last(t); s.method != http.MethodDelete || s.header.Get("Mcp-Session-Id") != "s-1" {
		t.Errorf("backend saw %s %v", s.method, s.header)
	}
}

func TestSessionIDPassesBothWaysAndIsNeverInvented(t *testing.T) {
	plain := gateway(t, Config{}, proxyTo(t, &backend{}))
	if resp, _ := rpc(t, plain+"/mcp", initialize, nil); resp.Header.Get("Mcp-Session-Id") != "" {
		t.Fatal("a session id was invented")
	}
	b := &backend{sessionID: "sess-42"}
	url := gateway(t, Config{}, proxyTo(t, b))
	resp, _ := rpc(t, url+"/mcp", initialize, nil)
	if resp.Header.Get("Mcp-Session-Id") != "sess-42" {
		t.Fatalf("session id not relayed: %v", resp.Header)
	}
	rpc(t, url+"/mcp", toolsList, map[string]string{"Mcp-Session-Id": "sess-42"})
	if got := b.last(t).header.Get("Mcp-Session-Id"); got != "sess-42" {
		t.Errorf("backend saw session %q", got)
	}
}

func TestOtherPathsAre404(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	resp, body := rpc(t, url+"/mcp/extra", initialize, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("%d", resp.StatusCode)
	}
	rpcError(t, body)
}
