package caddymodule_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestToolScopesGateCallsAndFilterTheList(t *testing.T) {
	g := startGateway(t, gatewayOptions{gateway: `scopes memory.read memory.write
		tool_scope memory.read read_graph search_nodes open_nodes
		tool_scope memory.write *`})
	reader := authorize(t, g, "read-only", "memory.read")

	resp, body := post(t, g, "/mcp", reader.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"search_nodes"`) || strings.Contains(body, `"create_entities"`) {
		t.Fatalf("tools/list for a memory.read token: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, g, "/mcp", reader.accessToken, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[]}}}`)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="memory.write"`) {
		t.Fatalf("create_entities with memory.read: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	if resp, body := post(t, g, "/mcp", reader.accessToken, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("read_graph with memory.read: %d %s", resp.StatusCode, body)
	}

	writer := authorize(t, g, "writer", "memory.read", "memory.write")
	if resp, body := post(t, g, "/mcp", writer.accessToken, `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[]}}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("create_entities with memory.write: %d %s", resp.StatusCode, body)
	}
}
