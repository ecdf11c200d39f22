package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// stdioUser is the second user of the stdio tests.
const stdioUser, stdioPassword = "bob", "bob's own password"

// memoryStdio is the stdio line running the reference memory server (npm)
// with the Node runtime installed next to it.
func memoryStdio(t *testing.T) string {
	t.Helper()
	script, err := filepath.EvalSymlinks(testenv.Bin(t, "mcp-server-memory"))
	if err != nil {
		t.Fatal(err)
	}
	return "stdio " + testenv.Bin(t, "node") + " " + script
}

// stdioGateway runs a gateway with alice and bob whose /notes resource is
// the reference memory server, one process per user, each user's graph in
// graphs/<user>.jsonl (graphs made by the gateway as the directory); /idle is the same with idle_timeout 1s.
func stdioGateway(t *testing.T) (*gateway, string) {
	t.Helper()
	bobHash, err := bcrypt.GenerateFromPassword([]byte(stdioPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	graphs := filepath.Join(t.TempDir(), "graphs")
	stdio := memoryStdio(t)
	g := startGateway(t, gatewayOptions{gateway: fmt.Sprintf(`users {
			%s %s
		}
		resource /notes {
			%s {
				env MEMORY_FILE_PATH %s/{http.auth.user.id}.jsonl
				dir %[4]s
			}
		}
		resource /idle {
			%[3]s {
				env MEMORY_FILE_PATH %[4]s/idle-{http.auth.user.id}.jsonl
				idle_timeout 1s
			}
		}`, stdioUser, string(bobHash), stdio, graphs)})
	return g, graphs
}

// toolCall calls a tool of the memory server at path and returns the text
// of its result.
func toolCall(t *testing.T, g *gateway, path, token string, id int, tool, args string) string {
	t.Helper()
	resp, body := post(t, g, path, token, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, id, tool, args))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", tool, resp.StatusCode, body)
	}
	var m struct {
		ID     json.RawMessage
		Result struct {
			Content []struct{ Text string }
			IsError bool
		}
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || len(m.Result.Content) == 0 || m.Result.IsError || string(m.ID) != strconv.Itoa(id) {
		t.Fatalf("%s: %v %s", tool, err, body)
	}
	return m.Result.Content[0].Text
}

// server-everything run by the gateway as a stdio server passes the
// conformance scenarios it passes on its own over Streamable HTTP.
func TestConformanceOfStdioEverythingThroughGateway(t *testing.T) {
	script, err := filepath.EvalSymlinks(testenv.Bin(t, "mcp-server-everything"))
	if err != nil {
		t.Fatal(err)
	}
	stdio := fmt.Sprintf("stdio %s %s stdio", testenv.Bin(t, "node"), script)
	conformanceCompared(t, startEverything(t), gatewayOptions{backend: stdio}, func(name string) bool {
		return slices.Contains(everythingMustPass, name)
	})
}

// The conformance fixture (test_* tools: content of every type, log and
// progress notifications, sampling and elicitation requests) run as a
// stdio server passes through the gateway what it passes over HTTP.
func TestConformanceOfStdioFixtureThroughGateway(t *testing.T) {
	sdk := filepath.Join(filepath.Dir(filepath.Dir(testenv.Bin(t, "node"))), "@modelcontextprotocol", "sdk")
	fixture, err := filepath.Abs("testdata/conformance/server.mjs")
	if err != nil {
		t.Fatal(err)
	}
	stdio := fmt.Sprintf("stdio %s %s stdio {\n\t\t\tenv SDK_DIR %s\n\t\t}", testenv.Bin(t, "node"), fixture, sdk)
	conformanceCompared(t, startConformanceFixture(t), gatewayOptions{backend: stdio}, func(name string) bool {
		return fixtureExpectedFailures[name] == ""
	})
}

// server-everything in its legacy HTTP+SSE mode (2024-11-05) behind the
// gateway: a 2025 client lists and calls tools over Streamable HTTP, each
// user on an event stream of its own.
func TestLegacySSEServerThroughGateway(t *testing.T) {
	port := freePort(t)
	cmd := testenv.Cmd(t, "mcp-server-everything", "sse")
	cmd.Env = append(cmd.Env, "PORT="+port)
	backend := startNodeServer(t, cmd, "127.0.0.1:"+port)
	g := startGateway(t, gatewayOptions{backend: "upstream " + backend + "\n\t\tupstream_transport sse"})
	token := authorize(t, g, "sse client").accessToken

	resp, body := post(t, g, "/mcp", token, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"serverInfo"`) || resp.Header.Get("Mcp-Session-Id") != "" {
		t.Fatalf("initialize: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = post(t, g, "/mcp", token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"name":"echo"`) {
		t.Fatalf("tools/list: %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, g, "/mcp", token, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"through the legacy stream"}}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "through the legacy stream") || !strings.Contains(body, `"id":2`) {
		t.Fatalf("tools/call: %d %s", resp.StatusCode, body)
	}
	// 2026-07-28 clients too: the adapter plays the modern server.
	resp, body = post(t, g, "/mcp", token, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"modern"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`,
		"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "echo")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "modern") || !strings.Contains(body, `"resultType":"complete"`) {
		t.Fatalf("modern tools/call: %d %s", resp.StatusCode, body)
	}
}

// TestExampleStdioEndToEnd runs examples/stdio as written, with an npx on
// PATH that runs the installed reference memory server (the example's
// `npx -y @modelcontextprotocol/server-memory` without the download).
func TestExampleStdioEndToEnd(t *testing.T) {
	script, err := filepath.EvalSymlinks(testenv.Bin(t, "mcp-server-memory"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	npx := fmt.Sprintf("#!/bin/sh\n# the example's npx -y @modelcontextprotocol/server-memory\nexec %q %q\n", testenv.Bin(t, "node"), script)
	if err := os.WriteFile(filepath.Join(bin, "npx"), []byte(npx), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	data := exampleEnv(t)
	startExample(t, "stdio")
	g := &gateway{base: "https://localhost:" + os.Getenv("MCPGATE_HTTPS_PORT"), data: data, client: &http.Client{Timeout: 30 * time.Second}}
	g.client.Transport = trustingTransport(t, data)
	g.waitReady(t)
	token := authorize(t, g, "stdio-example-client").accessToken
	toolCall(t, g, "/mcp", token, 1, "create_entities", `{"entities":[{"name":"Example","entityType":"n","observations":["from the example"]}]}`)
	if got := toolCall(t, g, "/mcp", token, 2, "read_graph", `{}`); !strings.Contains(got, "from the example") {
		t.Fatalf("read_graph: %s", got)
	}
	if files, _ := filepath.Glob(filepath.Join(data, "memory", "*.jsonl")); len(files) != 1 {
		t.Errorf("graph files %v, want the user's own", files)
	}
}
