package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRestartKeepsClientsTokensAndMemory stops the whole Caddy process
// state and starts again on the same data folder: the access token issued
// before still verifies (same keys), the refresh token still works (same
// grants), and the memory written before is there.
func TestRestartKeepsClientsTokensAndMemory(t *testing.T) {
	data := t.TempDir()
	g := startGateway(t, gatewayOptions{data: data})
	gr := authorize(t, g, "survivor")
	create := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"durable","entityType":"fact","observations":["kept across restarts"]}]}}}`
	if resp, body := post(t, g, "/mcp", gr.accessToken, create); resp.StatusCode != http.StatusOK {
		t.Fatalf("create before restart: %d %s", resp.StatusCode, body)
	}

	g = restartGateway(t, g)

	read := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"open_nodes","arguments":{"names":["durable"]}}}`
	resp, body := post(t, g, "/mcp", gr.accessToken, read)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "kept across restarts") {
		t.Fatalf("old access token after restart: %d %s", resp.StatusCode, body)
	}
	fresh := refresh(t, g, gr.refreshToken, gr.clientID)
	if resp, body := post(t, g, "/mcp", fresh, read); resp.StatusCode != http.StatusOK || !strings.Contains(body, "kept across restarts") {
		t.Fatalf("refreshed token after restart: %d %s", resp.StatusCode, body)
	}
}
