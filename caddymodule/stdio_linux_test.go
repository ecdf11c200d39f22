package caddymodule_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
)

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
	bob := authorizeAs(t, g, stdioUser, stdioPassword, "/notes", "bob's client").accessToken

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
