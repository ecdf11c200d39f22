package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditTrail routes the logger http.handlers.mcp_gateway.audit to a
// file of its own with Caddy's log options, as README shows, and checks
// one entry per authorization decision and per tool call, without the
// tools' arguments or any token.
func TestAuditTrail(t *testing.T) {
	auditFile := filepath.Join(t.TempDir(), "audit.log")
	g := startGateway(t, gatewayOptions{
		global: "log audit {\n\t\tinclude http.handlers.mcp_gateway.audit\n\t\toutput file " + auditFile + "\n\t}",
		gateway: `scopes memory.read memory.write
		tool_scope memory.read read_graph
		tool_scope memory.write *`,
	})
	gr := authorize(t, g, "audited-client", "memory.read")
	post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{"note":"an-argument-never-logged"}}}`)
	post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"an-argument-never-logged"}]}}}`)
	post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)

	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{gr.accessToken, gr.refreshToken, testPassword, "an-argument-never-logged"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the audit trail contains %.24s...", secret)
		}
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		if e["logger"] != "http.handlers.mcp_gateway.audit" || e["sub"] != testUser || e["client_id"] != gr.clientID || e["client_kind"] != "dcr" {
			t.Errorf("entry %v", e)
		}
		switch e["msg"] {
		case "authorization":
			got = append(got, "authorization "+e["decision"].(string)+" "+e["scope"].(string))
		case "tool call":
			if _, ok := e["latency"]; !ok || e["resource"] != "/mcp" {
				t.Errorf("tool call entry %v", e)
			}
			got = append(got, "tool "+e["tool"].(string)+" "+e["decision"].(string)+" "+jsonNumber(e["status"]))
		default:
			t.Errorf("unexpected entry %v", e)
		}
	}
	want := "authorization approved memory.read, tool read_graph allowed 200, tool create_entities refused 403"
	if strings.Join(got, ", ") != want {
		t.Fatalf("audit trail:\n%s\nwant %s", strings.Join(got, ", "), want)
	}
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
