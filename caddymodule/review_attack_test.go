package caddymodule_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// Holes found by the review of issue 8. Each test fails on the code it was
// written against and passes once the hole is closed.

// startExpressBackend runs testdata/review/expressbackend.mjs, an MCP server
// built as the TypeScript SDK documents (createMcpExpressApp, so
// express.json() parses the body), and returns its address.
func startExpressBackend(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	cmd := testenv.Cmd(t, "node", "testdata/review/expressbackend.mjs", port)
	modules := filepath.Dir(filepath.Dir(testenv.Bin(t, "node")))
	cmd.Env = append(cmd.Env, "SDK_DIR="+filepath.Join(modules, "@modelcontextprotocol", "sdk"))
	return startNodeServer(t, cmd, "127.0.0.1:"+port)
}

// Rule 2 (one reading of every request): the gateway reads the body as
// UTF-8 whatever the Content-Type says, but Express's JSON parser (and the
// SDK's own raw-body path) decodes it in the declared charset, and accepts
// any "utf-*" that iconv-lite knows, UTF-7 included. In UTF-7, "nam+AGU-"
// is "name": the gateway sees two different keys and decides on the first,
// the backend sees a duplicate "name" and takes the last.
func TestReviewUTF7CharsetSmugglesToolName(t *testing.T) {
	backend := startExpressBackend(t)
	g := startGateway(t, gatewayOptions{upstream: backend, gateway: `scopes memory.read memory.write
		tool_scope memory.read read_graph
		tool_scope memory.write *`})
	reader := authorize(t, g, "read-only", "memory.read")

	resp, body := post(t, g, "/mcp", reader.accessToken,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ran read_graph") {
		t.Fatalf("read_graph with memory.read (control): %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, g, "/mcp", reader.accessToken,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_graph","nam+AGU-":"delete_entities","arguments":{}}}`,
		"Content-Type", "application/json; charset=utf-7")
	if strings.Contains(body, "ran delete_entities") {
		t.Fatalf("a memory.read token ran delete_entities by declaring charset=utf-7: %d %s", resp.StatusCode, body)
	}
}
