package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// stdioPeer speaks newline-delimited JSON-RPC with a process, the way a
// desktop MCP host speaks to a stdio server.
type stdioPeer struct {
	stdin    io.Writer
	messages chan rpcMessage
}

// send writes one message.
func (p *stdioPeer) send(t *testing.T, msg string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, msg+"\n"); err != nil {
		t.Fatalf("writing to the stdio server: %v", err)
	}
}

// call sends a request and waits for its response.
func (p *stdioPeer) call(t *testing.T, id int, method, params string) json.RawMessage {
	t.Helper()
	p.send(t, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	return p.response(t, id, method)
}

// response waits for the response to request id, skipping notifications.
func (p *stdioPeer) response(t *testing.T, id int, method string) json.RawMessage {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-p.messages:
			if !ok {
				t.Fatalf("%s: the stdio server exited", method)
			}
			if string(m.ID) != fmt.Sprint(id) {
				continue
			}
			if m.Error != nil {
				t.Fatalf("%s: %s", method, m.Error)
			}
			return m.Result
		case <-deadline:
			t.Fatalf("%s: no response", method)
		}
	}
}

// browserScript writes a program for $BROWSER that records the URL it is
// asked to open in the file it returns; mcp-remote opens the authorization
// URL through the `open` package, whose xdg-open uses $BROWSER when there
// is no desktop.
func browserScript(t *testing.T) (script, opened string) {
	t.Helper()
	dir := t.TempDir()
	script, opened = filepath.Join(dir, "browser"), filepath.Join(dir, "opened")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '"+opened+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, opened
}

// waitForLine polls path until it holds a line and returns the first one.
func waitForLine(t *testing.T, path string, stderr fmt.Stringer) string {
	t.Helper()
	var line string
	if !eventually(30*time.Second, func() bool {
		data, err := os.ReadFile(path)
		var ok bool
		line, _, ok = strings.Cut(string(data), "\n")
		return err == nil && ok
	}) {
		t.Fatalf("no browser was opened\n%s", stderr)
	}
	return line
}

func TestMCPRemoteThroughOAuthOverTLS(t *testing.T) {
	g := startGateway(t, gatewayOptions{tls: true})
	runMCPRemote(t, g, func(b *browsertest.Browser, authURL string) (*url.URL, error) {
		return b.Authorize(authURL, testUser, testPassword, "approve")
	})
}

// runMCPRemote connects mcp-remote to the gateway, plays its browser with
// authorize, and uses the memory server's tools through it.
func runMCPRemote(t *testing.T, g *gateway, authorize func(b *browsertest.Browser, authURL string) (*url.URL, error)) {
	t.Helper()
	home := t.TempDir()
	browser, opened := browserScript(t)
	callbackPort := freePort(t)
	cmd := testenv.Cmd(t, "mcp-remote", g.base+"/mcp", callbackPort)
	env := cmd.Env[:0]
	for _, kv := range cmd.Env {
		// No desktop: xdg-open falls back to $BROWSER.
		if name, _, _ := strings.Cut(kv, "="); !strings.Contains(name, "DISPLAY") && !strings.HasPrefix(name, "XDG_") && name != "DESKTOP_SESSION" {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+home, "MCP_REMOTE_CONFIG_DIR="+filepath.Join(home, "mcp-auth"), "BROWSER="+browser,
		"NODE_EXTRA_CA_CERTS="+filepath.Join(g.data, "caddy", "pki", "authorities", "local", "root.crt"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mcp-remote stderr:\n%s", stderr)
		}
	})
	peer := &stdioPeer{stdin: stdin, messages: make(chan rpcMessage, 16)}
	go func() {
		defer close(peer.messages)
		lines := bufio.NewScanner(stdout)
		lines.Buffer(nil, 1<<20)
		for lines.Scan() {
			var m rpcMessage
			if json.Unmarshal(lines.Bytes(), &m) == nil {
				peer.messages <- m
			}
		}
	}()

	// mcp-remote answers the host's initialize once it is connected, which
	// takes the browser step: log in and approve, then land on its
	// callback as the browser would.
	peer.send(t, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"stdio-host","version":"1"}}}`)
	authURL := waitForLine(t, opened, stderr)
	back, err := authorize(browsertest.New(g.client.Transport), authURL)
	if err != nil {
		t.Fatal(err)
	}
	if back.Host != "localhost:"+callbackPort || back.Query().Get("code") == "" {
		t.Fatalf("redirected to %s, want mcp-remote's callback on port %s with a code", back, callbackPort)
	}
	landed, err := http.Get(back.String())
	if err != nil {
		t.Fatal(err)
	}
	landed.Body.Close()

	initialized := peer.response(t, 1, "initialize")
	if !strings.Contains(string(initialized), `"serverInfo"`) {
		t.Fatalf("initialize through mcp-remote: %s", initialized)
	}
	peer.send(t, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if tools := peer.call(t, 2, "tools/list", `{}`); !strings.Contains(string(tools), `"create_entities"`) {
		t.Fatalf("tools/list through mcp-remote: %s", tools)
	}
	peer.call(t, 3, "tools/call", `{"name":"create_entities","arguments":{"entities":[{"name":"mcp-remote","entityType":"client","observations":["came through stdio"]}]}}`)
	if graph := peer.call(t, 4, "tools/call", `{"name":"read_graph","arguments":{}}`); !strings.Contains(string(graph), "came through stdio") {
		t.Fatalf("read_graph through mcp-remote: %s", graph)
	}
	if tokens, _ := filepath.Glob(filepath.Join(home, "mcp-auth", "*", "*_tokens.json")); len(tokens) == 0 {
		t.Errorf("mcp-remote stored no tokens under MCP_REMOTE_CONFIG_DIR")
	}
}
