package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// startEverything runs @modelcontextprotocol/server-everything in its
// Streamable HTTP mode (sessions, SSE replies, progress, sampling) on a free
// port until the test ends, and returns its loopback address. The server
// binds its port on every interface (it has no host setting); everything
// here reaches it on 127.0.0.1 only.
func startEverything(t testing.TB) string {
	t.Helper()
	port := freePort(t)
	cmd := testenv.Cmd(t, "mcp-server-everything", "streamableHttp")
	cmd.Env = append(cmd.Env, "PORT="+port)
	return startNodeServer(t, cmd, "127.0.0.1:"+port)
}

// startNodeServer starts cmd, an HTTP server, and waits until it accepts
// connections on addr; it is stopped when the test ends.
func startNodeServer(t testing.TB, cmd *exec.Cmd, addr string) string {
	t.Helper()
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var err error
	if !eventually(20*time.Second, func() bool {
		var c net.Conn
		if c, err = net.Dial("tcp", addr); err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("%s did not listen on %s: %v\n%s", cmd.Path, addr, err, stderr.String())
	}
	return addr
}

// lockedBuffer collects a process's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// nextEvent reads one Server-Sent Event and returns its data; events with
// no data, such as a stream's priming event, are skipped.
func nextEvent(r *bufio.Reader) (string, error) {
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "" && strings.TrimSpace(strings.Join(data, "")) != "":
			return strings.Join(data, "\n"), nil
		case line == "":
			data = nil
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
}

// rpcMessage is any JSON-RPC message seen on a stream.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// readMessage reads the next event of an SSE stream as a JSON-RPC message.
func readMessage(t *testing.T, r *bufio.Reader) rpcMessage {
	t.Helper()
	data, err := nextEvent(r)
	if err != nil {
		t.Fatalf("reading the event stream: %v", err)
	}
	var m rpcMessage
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatalf("event is not JSON-RPC: %v: %s", err, data)
	}
	return m
}

// openEventStream posts a request in a session and checks that the answer
// is an event stream.
func openEventStream(t *testing.T, g *gateway, token, session, body string) (*http.Response, *bufio.Reader) {
	t.Helper()
	resp := postStream(t, g, "/mcp", token, body, "Mcp-Session-Id", session, "MCP-Protocol-Version", "2025-06-18")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("%s: %d %q, want 200 text/event-stream", body, resp.StatusCode, ct)
	}
	return resp, bufio.NewReader(resp.Body)
}

func TestThirdPartyStreamableHTTPServerThroughGateway(t *testing.T) {
	g := startGateway(t, gatewayOptions{upstream: startEverything(t)})
	token := authorize(t, g, "everything-client").accessToken

	// The backend's session id reaches the client; the calls below work
	// only because it goes back upstream too (server-everything answers
	// 400 to a request without a session id it knows).
	resp, body := post(t, g, "/mcp", token,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"sampling":{}},"clientInfo":{"name":"h","version":"1"}}}`)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || session == "" || !strings.Contains(body, `"serverInfo"`) {
		t.Fatalf("initialize: %d, Mcp-Session-Id %q: %s", resp.StatusCode, session, body)
	}
	if resp, body := post(t, g, "/mcp", token, `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		"Mcp-Session-Id", session, "MCP-Protocol-Version", "2025-06-18"); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d %s", resp.StatusCode, body)
	}

	t.Run("progress events arrive one by one", func(t *testing.T) {
		// One progress notification a second for ten minutes: the stream
		// cannot have ended when its first events are read, so a gateway
		// that buffered the reply would leave this waiting until the
		// client's timeout.
		stream, events := openEventStream(t, g, token, session,
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":600,"steps":600},"_meta":{"progressToken":"tok-2"}}}`)
		defer stream.Body.Close()
		for want := 1; want <= 2; want++ {
			m := readMessage(t, events)
			var p struct {
				ProgressToken string  `json:"progressToken"`
				Progress      float64 `json:"progress"`
				Total         float64 `json:"total"`
			}
			json.Unmarshal(m.Params, &p)
			if m.Method != "notifications/progress" || p.ProgressToken != "tok-2" || p.Progress != float64(want) || p.Total != 600 {
				t.Fatalf("event %d: %s %s, want progress %d/600 for tok-2", want, m.Method, m.Params, want)
			}
		}
	})

	t.Run("server request on the stream is answered by the client", func(t *testing.T) {
		// The tool sends sampling/createMessage on the call's stream and
		// replies only after the client has answered it in a second POST:
		// the stream is relayed live, or this cannot complete.
		stream, events := openEventStream(t, g, token, session,
			`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"trigger-sampling-request","arguments":{"prompt":"hello"}}}`)
		defer stream.Body.Close()
		ask := readMessage(t, events)
		if ask.Method != "sampling/createMessage" || len(ask.ID) == 0 {
			t.Fatalf("first event: %+v, want a sampling/createMessage request", ask)
		}
		answer := fmt.Sprintf(`{"jsonrpc":"2.0","id":%s,"result":{"role":"assistant","model":"test","content":{"type":"text","text":"answered through the gateway"}}}`, ask.ID)
		if resp, body := post(t, g, "/mcp", token, answer, "Mcp-Session-Id", session, "MCP-Protocol-Version", "2025-06-18"); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("posting the sampling answer: %d %s", resp.StatusCode, body)
		}
		result := readMessage(t, events)
		if string(result.ID) != "3" || !strings.Contains(string(result.Result), "answered through the gateway") {
			t.Fatalf("tool result: %+v, want id 3 quoting the sampling answer", result)
		}
	})

	// DELETE ends the backend's session: afterwards it refuses the id.
	req, _ := http.NewRequest(http.MethodDelete, g.base+"/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Session-Id", session)
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	del, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	del.Body.Close()
	if del.StatusCode != http.StatusOK {
		t.Fatalf("DELETE with the session id: %d, want the backend's 200", del.StatusCode)
	}
	if resp, body := post(t, g, "/mcp", token, `{"jsonrpc":"2.0","id":4,"method":"ping"}`,
		"Mcp-Session-Id", session, "MCP-Protocol-Version", "2025-06-18"); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("ping in the deleted session: %d %s, want the backend's 4xx", resp.StatusCode, body)
	}
}
