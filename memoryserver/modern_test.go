package memoryserver

import (
	"fmt"
	"testing"
)

// envelope is the params._meta of a 2026-07-28 request.
const envelope = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`

func modernBody(method, params string) string {
	if params != "" {
		params += ","
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":%q,"params":{%s%s}}`, method, params, envelope)
}

func modernPost(t *testing.T, ts *testServer, method, params string, header ...string) (int, map[string]any) {
	t.Helper()
	h := append([]string{"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", method}, header...)
	status, v := ts.post(t, modernBody(method, params), h...)
	m, _ := v.(map[string]any)
	return status, m
}

func TestServesMCP20260728Natively(t *testing.T) {
	ts := newTestServer(t, Options{})
	status, m := modernPost(t, ts, "server/discover", "")
	r, _ := m["result"].(map[string]any)
	if status != 200 || fmt.Sprint(r["supportedVersions"]) != "[2026-07-28]" || r["resultType"] != "complete" ||
		r["cacheScope"] != "public" || r["ttlMs"] == nil || r["capabilities"] == nil {
		t.Fatalf("server/discover: %d %v", status, m)
	}
	if meta, _ := r["_meta"].(map[string]any); meta["io.modelcontextprotocol/serverInfo"] == nil {
		t.Errorf("server/discover without serverInfo: %v", r)
	}
	_, m = modernPost(t, ts, "tools/list", "")
	if r, _ := m["result"].(map[string]any); r["resultType"] != "complete" || r["cacheScope"] != "public" || r["tools"] == nil {
		t.Errorf("tools/list: %v", m)
	}
	// The graph is the caller's own and changes with every write.
	_, m = modernPost(t, ts, "resources/read", `"uri":"memory://knowledge-graph"`, "Mcp-Name", "memory://knowledge-graph")
	if r, _ := m["result"].(map[string]any); r["cacheScope"] != "private" || r["ttlMs"] != float64(0) {
		t.Errorf("resources/read: %v", m)
	}
	_, m = modernPost(t, ts, "tools/call", `"name":"read_graph","arguments":{}`, "Mcp-Name", "read_graph")
	if r, _ := m["result"].(map[string]any); r["resultType"] != "complete" || r["ttlMs"] != nil {
		t.Errorf("tools/call: %v", m)
	}
	// Older requests are answered as by the reference server.
	if status, v := ts.post(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); status != 200 || v.(map[string]any)["result"].(map[string]any)["resultType"] != nil {
		t.Errorf("legacy tools/list: %d %v", status, v)
	}
}

func TestRefusesWhat20260728Refuses(t *testing.T) {
	ts := newTestServer(t, Options{})
	for _, tc := range []struct {
		name, method, params string
		header               []string
		status               int
		code                 float64
	}{
		{"removed ping", "ping", "", nil, 404, -32601},
		{"removed initialize", "initialize", "", nil, 404, -32601},
		{"unknown method", "widgets/frob", "", nil, 404, -32601},
		{"Mcp-Name mismatch", "tools/call", `"name":"delete_entities","arguments":{"entityNames":["x"]}`, []string{"Mcp-Name", "read_graph"}, 400, -32020},
		{"Mcp-Method mismatch", "tools/list", "", []string{"Mcp-Method", "prompts/list"}, 400, -32020},
	} {
		status, m := modernPost(t, ts, tc.method, tc.params, tc.header...)
		e, _ := m["error"].(map[string]any)
		if status != tc.status || e["code"] != tc.code || m["id"] != float64(7) {
			t.Errorf("%s: %d %v, want %d with %v", tc.name, status, m, tc.status, tc.code)
		}
	}
	status, v := ts.post(t, `{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		"MCP-Protocol-Version", "2099-01-01", "Mcp-Method", "tools/list")
	e, _ := v.(map[string]any)["error"].(map[string]any)
	if data, _ := e["data"].(map[string]any); status != 400 || e["code"] != float64(-32022) || fmt.Sprint(data["supported"]) != "[2026-07-28]" {
		t.Errorf("unsupported version: %d %v", status, v)
	}
}
