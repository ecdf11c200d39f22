//go:build linux

package caddymodule_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

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

// memoryProcesses returns the pids of the memory servers whose
// MEMORY_FILE_PATH is under graphs and contains marker: the processes of
// this test's gateway, found in /proc.
func memoryProcesses(t *testing.T, graphs, marker string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if zombie := bytes.Contains(stat, []byte(") Z ")); zombie {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte("MEMORY_FILE_PATH=")); ok && bytes.HasPrefix(v, []byte(graphs)) && bytes.Contains(v, []byte(marker)) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// queuedInput is how many bytes wait unread on pid's stdin.
func queuedInput(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/fd/0", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	var n int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return 0
	}
	return int(n)
}

// The reference memory server behind the gateway, one process per user:
// users never see each other's graph (2025 and 2026-07-28 clients alike), concurrent calls each get their own
// answer, a killed child fails its request and comes back, an idle one
// stops and restarts, and a reload or shutdown leaves no process behind.
func TestStdioMemoryServerPerUser(t *testing.T) {
	g, graphs := stdioGateway(t)
	alice := authorizeFor(t, g, "/notes", "alice's client").accessToken
	bob := authorizeAs(t, g, "/notes", "bob's client", stdioUser, stdioPassword).accessToken

	t.Run("users never see each other's graph", func(t *testing.T) {
		resp, body := post(t, g, "/notes", alice, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"memory-server"`) {
			t.Fatalf("initialize: %d %s", resp.StatusCode, body)
		}
		toolCall(t, g, "/notes", alice, 1, "create_entities", `{"entities":[{"name":"AliceSecret","entityType":"secret","observations":["only alice"]}]}`)
		toolCall(t, g, "/notes", bob, 1, "create_entities", `{"entities":[{"name":"BobThing","entityType":"thing","observations":["only bob"]}]}`)
		if got := toolCall(t, g, "/notes", bob, 2, "read_graph", `{}`); strings.Contains(got, "AliceSecret") || !strings.Contains(got, "BobThing") {
			t.Errorf("bob's graph: %s", got)
		}
		if got := toolCall(t, g, "/notes", alice, 2, "read_graph", `{}`); strings.Contains(got, "BobThing") || !strings.Contains(got, "AliceSecret") {
			t.Errorf("alice's graph: %s", got)
		}
		// A 2026-07-28 client: the adapter plays the modern server in front
		// of the child's 2025 session.
		modern := func(id int, method, name, params string) string {
			resp, body := post(t, g, "/notes", bob, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params),
				"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", method, "Mcp-Name", name)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("modern %s: %d %s", method, resp.StatusCode, body)
			}
			return body
		}
		const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
		if body := modern(5, "server/discover", "", `{`+meta+`}`); !strings.Contains(body, `"supportedVersions":["2026-07-28"]`) {
			t.Errorf("server/discover: %s", body)
		}
		if body := modern(6, "tools/call", "read_graph", `{"name":"read_graph","arguments":{},`+meta+`}`); !strings.Contains(body, "BobThing") || strings.Contains(body, "AliceSecret") || !strings.Contains(body, `"resultType":"complete"`) {
			t.Errorf("modern read_graph: %s", body)
		}
		if files, _ := filepath.Glob(filepath.Join(graphs, "*.jsonl")); len(files) != 2 {
			t.Errorf("graph files %v, want one per user", files)
		}
		if a, b := memoryProcesses(t, graphs, ""), 2; len(a) != b {
			t.Errorf("%d memory server processes, want %d", len(a), b)
		}
	})

	t.Run("50 concurrent calls of one user each get their answer", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Every call uses id 7: the answers must still not cross.
				resp, body := post(t, g, "/notes", alice, fmt.Sprintf(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"E%d","entityType":"n","observations":[]}]}}}`, i))
				if resp.StatusCode != http.StatusOK || !strings.Contains(body, fmt.Sprintf(`\"name\": \"E%d\"`, i)) || !strings.Contains(body, `"id":7`) {
					t.Errorf("call %d: %d %s", i, resp.StatusCode, body)
				}
			}()
		}
		wg.Wait()
	})

	t.Run("kill -9 mid-request, then a restart", func(t *testing.T) {
		pids := memoryProcesses(t, graphs, "/bob.jsonl")
		if len(pids) != 1 {
			t.Fatalf("bob's processes: %v", pids)
		}
		pid := pids[0]
		syscall.Kill(pid, syscall.SIGSTOP) // the request stays in flight
		done := make(chan string)
		go func() {
			resp, body := post(t, g, "/notes", bob, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`)
			done <- fmt.Sprint(resp.StatusCode, " ", body)
		}()
		if !eventually(10*time.Second, func() bool { return queuedInput(pid) > 0 }) {
			t.Fatal("the request never reached bob's process")
		}
		syscall.Kill(pid, syscall.SIGKILL)
		if got := <-done; !strings.HasPrefix(got, "502 ") || !strings.Contains(got, `"id":3`) || !strings.Contains(got, `"code":-32603`) {
			t.Errorf("the request in flight got %s, want 502 with a JSON-RPC error", got)
		}
		if got := toolCall(t, g, "/notes", bob, 4, "read_graph", `{}`); !strings.Contains(got, "BobThing") {
			t.Errorf("after the restart bob's graph is %s", got)
		}
		if now := memoryProcesses(t, graphs, "/bob.jsonl"); len(now) != 1 || now[0] == pid {
			t.Errorf("bob's processes after the restart: %v (killed %d)", now, pid)
		}
	})

	t.Run("an idle process stops and restarts", func(t *testing.T) {
		idle := authorizeFor(t, g, "/idle", "alice's idle client").accessToken
		toolCall(t, g, "/idle", idle, 1, "create_entities", `{"entities":[{"name":"Kept","entityType":"n","observations":[]}]}`)
		if !eventually(20*time.Second, func() bool { return len(memoryProcesses(t, graphs, "idle-")) == 0 }) {
			t.Fatal("the idle process still runs")
		}
		if got := toolCall(t, g, "/idle", idle, 2, "read_graph", `{}`); !strings.Contains(got, "Kept") {
			t.Errorf("after the restart: %s", got)
		}
		if n := len(memoryProcesses(t, graphs, "idle-")); n != 1 {
			t.Errorf("%d processes after the restart, want 1", n)
		}
	})

	t.Run("a reload and a shutdown leave no process", func(t *testing.T) {
		if n := len(memoryProcesses(t, graphs, "")); n == 0 {
			t.Fatal("no process before the reload")
		}
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(g.caddyfile)), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := caddy.Load(cfg, true); err != nil { // forced: the same config reloads
			t.Fatal(err)
		}
		if pids := memoryProcesses(t, graphs, ""); len(pids) != 0 {
			t.Errorf("processes %v outlived the reload", pids)
		}
		g.client.CloseIdleConnections() // the old server closed them
		toolCall(t, g, "/notes", alice, 9, "read_graph", `{}`)
		if n := len(memoryProcesses(t, graphs, "")); n != 1 {
			t.Errorf("%d processes after a request to the new config, want 1", n)
		}
		if err := caddy.Stop(); err != nil {
			t.Fatal(err)
		}
		if pids := memoryProcesses(t, graphs, ""); len(pids) != 0 {
			t.Errorf("processes %v outlived the shutdown", pids)
		}
		startCaddy(t, g.caddyfile) // for the harness's own Stop at the end
	})
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
