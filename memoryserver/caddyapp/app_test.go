package caddyapp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

func TestAppServesJSONRPC(t *testing.T) {
	addr := freeAddr(t)
	t.Setenv("MEMORYSERVER_TEST_DB", filepath.Join(t.TempDir(), "memory.db"))
	load(t, fmt.Sprintf(`{"listen": %q, "db": "{env.MEMORYSERVER_TEST_DB}", "subject_header": "X-MCP-Subject"}`, addr))
	url := "http://" + addr + "/mcp"

	initResult := call(t, url, "alice", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}`)
	if initResult["protocolVersion"] != "2025-06-18" {
		t.Errorf("initialize result = %v", initResult)
	}
	call(t, url, "alice", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"Caddy","entityType":"server","observations":["in process"]}]}}}`)

	readGraph := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`
	if got := entityNames(t, call(t, url, "alice", readGraph)); got != "Caddy" {
		t.Errorf("alice's entities = %q, want Caddy", got)
	}
	if got := entityNames(t, call(t, url, "bob", readGraph)); got != "" {
		t.Errorf("bob's entities = %q, want none: subject_header did not reach the server", got)
	}
}

func TestAppSurvivesReload(t *testing.T) {
	addr := freeAddr(t)
	db := filepath.Join(t.TempDir(), "memory.db")
	app := fmt.Sprintf(`{"listen": %q, "db": %q}`, addr, db)
	load(t, app)
	// A reload starts the new config before stopping the old one on the same
	// address: it works only if the listener comes from Caddy's pool.
	load(t, strings.Replace(app, "{", `{"max_body": 1048576,`, 1))
	call(t, "http://"+addr+"/tools", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
}

func TestAppRejectsBadConfig(t *testing.T) {
	db := filepath.Join(t.TempDir(), "memory.db")
	tests := []struct{ name, app, wantErr string }{
		{"public address", `{"listen": "0.0.0.0:17800", "db": %q}`, "not a loopback address"},
		{"datagram socket", `{"listen": "udp/127.0.0.1:17800", "db": %q}`, "not a stream socket"},
		{"port range", `{"listen": "127.0.0.1:17800-17801", "db": %q}`, "exactly one port"},
		{"negative body limit", `{"listen": "127.0.0.1:17800", "max_body": -1, "db": %q}`, "max_body"},
		{"unknown placeholder", `{"listen": "127.0.0.1:17800", "db": "{nope}/%s"}`, "unrecognized placeholder"},
		{"database cannot be created", `{"listen": "127.0.0.1:0", "db": "/dev/null/%s"}`, "opening /dev/null/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := caddy.Load(config(fmt.Sprintf(tt.app, db)), true)
			if err == nil {
				caddy.Stop()
				t.Fatal("config loaded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// config wraps the memoryserver app's JSON in a Caddy config that has no
// admin endpoint, writes nothing outside the test's directories and logs
// only errors.
func config(app string) []byte {
	return []byte(`{"admin": {"disabled": true, "config": {"persist": false}},
		"logging": {"logs": {"default": {"level": "ERROR"}}},
		"apps": {"memoryserver": ` + app + `}}`)
}

// load runs Caddy in this process with the app config, until the test ends.
func load(t *testing.T, app string) {
	t.Helper()
	if err := caddy.Load(config(app), true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { caddy.Stop() })
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// call POSTs one JSON-RPC request as subject (none when empty) and returns
// its result, failing the test on any error.
func call(t *testing.T, url, subject, request string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(request))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if subject != "" {
		req.Header.Set("X-MCP-Subject", subject)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply struct {
		Result map[string]any
		Error  any
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		t.Fatalf("%s: decoding reply: %v", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || reply.Error != nil || reply.Result["isError"] == true {
		t.Fatalf("%s: %s", resp.Status, mustJSON(reply))
	}
	return reply.Result
}

// entityNames lists, comma-separated, the entity names in a tool result.
func entityNames(t *testing.T, result map[string]any) string {
	t.Helper()
	var graph struct{ Entities []struct{ Name string } }
	if err := json.Unmarshal(mustJSON(result["structuredContent"]), &graph); err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(graph.Entities))
	for i, e := range graph.Entities {
		names[i] = e.Name
	}
	return strings.Join(names, ",")
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
