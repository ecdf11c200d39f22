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

// A search-only token once read the whole graph with resources/read. Once
// tool scopes exist, only lifecycle and listing methods stay open; data
// methods, known or not, need a scope that lists them.
func TestToolScopesCoverTheData(t *testing.T) {
	g := startGateway(t, gatewayOptions{gateway: `scopes memory.search memory.read
		tool_scope memory.search search_nodes
		tool_scope memory.read read_graph search_nodes open_nodes resources/read`})
	searcher := authorize(t, g, "search-only", "memory.search")
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"memory://knowledge-graph"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"x"}}`,
		`{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{}}`,
		`{"jsonrpc":"2.0","id":4,"method":"foo/bar"}`,
		`{"jsonrpc":"2.0","method":"foo/bar"}`,
	} {
		resp, out := post(t, g, "/mcp", searcher.accessToken, body)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("%s with memory.search: %d %q %s", body, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), out)
		}
	}
	for body, status := range map[string]int{
		`{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`: http.StatusOK,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`:                                                    http.StatusAccepted,
		`{"jsonrpc":"2.0","id":6,"method":"ping"}`:                                                                  http.StatusOK,
		`{"jsonrpc":"2.0","id":7,"method":"tools/list"}`:                                                            http.StatusOK,
		`{"jsonrpc":"2.0","id":8,"method":"resources/list"}`:                                                        http.StatusOK,
		`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"search_nodes","arguments":{"query":"x"}}}`: http.StatusOK,
	} {
		if resp, out := post(t, g, "/mcp", searcher.accessToken, body); resp.StatusCode != status {
			t.Errorf("%s with memory.search: %d %s", body, resp.StatusCode, out)
		}
	}
	// Lists show what the token may use: no resources to a search-only token.
	listResources := `{"jsonrpc":"2.0","id":11,"method":"resources/list"}`
	if _, out := post(t, g, "/mcp", searcher.accessToken, listResources); !strings.Contains(out, `"resources":[]`) {
		t.Errorf("resources/list with memory.search, which may not read them: %s", out)
	}
	reader := authorize(t, g, "reader", "memory.read")
	resp, out := post(t, g, "/mcp", reader.accessToken, `{"jsonrpc":"2.0","id":10,"method":"resources/read","params":{"uri":"memory://knowledge-graph"}}`)
	if resp.StatusCode != http.StatusOK || strings.Contains(out, `"error"`) {
		t.Errorf("resources/read with memory.read, which lists it: %d %s", resp.StatusCode, out)
	}
	if _, out := post(t, g, "/mcp", reader.accessToken, listResources); !strings.Contains(out, "memory://knowledge-graph") {
		t.Errorf("resources/list with memory.read: %s", out)
	}
}
