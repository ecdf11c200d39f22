package transport

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
	"github.com/mcpgate/mcpgate/memoryserver"
)

// TestMemoryServerBehindGuard runs the real memory server at its legacy
// /tools path behind the guard and the adapter: per-user graphs follow the
// verified subject, and a read-only token cannot write.
func TestMemoryServerBehindGuard(t *testing.T) {
	ms, err := memoryserver.Open(context.Background(), filepath.Join(t.TempDir(), "memory.db"),
		memoryserver.Options{SubjectHeader: guard.DefaultSubjectHeader})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	issuer := guardtest.NewIssuer(t, "k1")
	origin := func(r *http.Request) string { return "http://" + r.Host }
	gd, err := guard.New(guard.Config{
		Origin:     origin,
		Scopes:     []string{"memory.read", "memory.write"},
		ToolScopes: map[string][]string{"memory.read": {"read_graph", "search_nodes", "open_nodes"}, "memory.write": {"*"}},
	}, issuer, issuer)
	if err != nil {
		t.Fatal(err)
	}
	url := gateway(t, Config{Origin: origin, UpstreamPath: "/tools", Gate: gd}, proxyTo(t, ms))
	token := func(sub, scope string) map[string]string {
		c := guardtest.Claims(url, "/mcp", time.Now())
		c["sub"], c["scope"], c["jti"] = sub, scope, sub+scope
		return map[string]string{"Authorization": "Bearer " + issuer.Mint(t, c), "MCP-Protocol-Version": "2025-06-18"}
	}
	aliceRW, aliceRO, bobRO := token("alice", "memory.read memory.write"), token("alice", "memory.read"), token("bob", "memory.read")

	if resp, body := rpc(t, url+"/mcp", initialize, aliceRW); resp.StatusCode != http.StatusOK || !strings.Contains(body, "protocolVersion") {
		t.Fatalf("initialize: %d %s", resp.StatusCode, body)
	}
	if resp, body := rpc(t, url+"/mcp", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, aliceRW); resp.StatusCode != http.StatusAccepted || body != "" {
		t.Fatalf("initialized: %d %q", resp.StatusCode, body)
	}
	create := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"Gateway","entityType":"project","observations":["guarded"]}]}}}`
	if resp, _ := rpc(t, url+"/mcp", create, aliceRO); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("read-only token wrote: %d", resp.StatusCode)
	}
	if resp, body := rpc(t, url+"/mcp", create, aliceRW); resp.StatusCode != http.StatusOK || strings.Contains(body, `"isError":true`) {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	read := `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`
	if _, body := rpc(t, url+"/mcp", read, aliceRO); !strings.Contains(body, "Gateway") {
		t.Errorf("alice does not see her entity: %s", body)
	}
	if _, body := rpc(t, url+"/mcp", read, bobRO); strings.Contains(body, "Gateway") {
		t.Errorf("bob sees alice's graph: %s", body)
	}
	_, body := rpc(t, url+"/mcp", toolsList, aliceRO)
	if strings.Contains(body, "create_entities") || !strings.Contains(body, "read_graph") {
		t.Errorf("tools/list not filtered for a read-only token: %.300s", body)
	}
	if resp, body := rpc(t, url+"/mcp", request(5, "server/discover"), aliceRO); resp.StatusCode != http.StatusOK || !strings.Contains(body, "-32601") {
		t.Errorf("server/discover: %d %s", resp.StatusCode, body)
	}
}
