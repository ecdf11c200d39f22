package caddymodule_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgate/mcpgate/memoryserver"
)

// recordingBackend is a memoryserver on a real loopback listener that
// remembers the headers of the last request it got.
type recordingBackend struct {
	addr string
	mu   sync.Mutex
	last http.Header
	path string
	// handler serves the memory server and records; srv is the current
	// listener's server.
	handler http.Handler
	srv     *http.Server
}

func startBackend(t *testing.T) *recordingBackend {
	t.Helper()
	mem, err := memoryserver.Open(context.Background(), t.TempDir()+"/memory.db", memoryserver.Options{SubjectHeader: memoryserver.DefaultSubjectHeader})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	b := &recordingBackend{}
	b.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.last, b.path = r.Header.Clone(), r.URL.RequestURI()
		b.mu.Unlock()
		mem.ServeHTTP(w, r)
	})
	b.listen(t, "127.0.0.1:0")
	return b
}

// listen serves on addr until the test ends or stop is called.
func (b *recordingBackend) listen(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	srv := &http.Server{Handler: b.handler}
	b.srv = srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func (b *recordingBackend) stop() { b.srv.Close() }

func (b *recordingBackend) lastRequest() (http.Header, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last, b.path
}

// post sends one JSON-RPC message to the gateway's MCP endpoint and reads
// the whole answer.
func post(t *testing.T, g *gateway, path, token, body string, header ...string) (*http.Response, string) {
	t.Helper()
	resp := postStream(t, g, path, token, body, header...)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(data)
}

// postStream is post that leaves the answer's body unread, for reading a
// stream of Server-Sent Events as it arrives. The caller closes the body.
func postStream(t *testing.T, g *gateway, path, token, body string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestLegacyToolsBackendGetsIdentityNotToken(t *testing.T) {
	backend := startBackend(t)
	g := startGateway(t, gatewayOptions{upstream: backend.addr + "\n\t\tupstream_path /tools"})
	gr := authorize(t, g, "legacy-client")

	resp, body := post(t, g, "/mcp/?trace=1", gr.accessToken,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"a","entityType":"t","observations":[]}]}}}`,
		"X-MCP-Subject", "mallory", "X-MCP-Client-ID", "spoofed", "X-MCP-Subject-Type", "client",
		"Connection", "X-MCP-Subject, X-MCP-Client-ID, X-MCP-Subject-Type") // would make the proxy drop them

	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"a"`) {
		t.Fatalf("tools/call through the gateway to /tools: %d %s", resp.StatusCode, body)
	}
	h, path := backend.lastRequest()
	if path != "/tools?trace=1" {
		t.Errorf("backend saw %q, want /tools?trace=1 (path mapped, query kept)", path)
	}
	if h.Get("Authorization") != "" {
		t.Errorf("the client's token reached the backend: %q", h.Get("Authorization"))
	}
	if got := h.Values("X-MCP-Subject"); len(got) != 1 || got[0] != testUser {
		t.Errorf("backend's X-MCP-Subject = %q, want only the verified %q", got, testUser)
	}
	if got := h.Values("X-MCP-Client-ID"); len(got) != 1 || got[0] != gr.clientID {
		t.Errorf("backend's X-MCP-Client-ID = %q, want only the verified %q", got, gr.clientID)
	}
	if got := h.Values("X-MCP-Subject-Type"); len(got) != 1 || got[0] != "user" {
		t.Errorf("backend's X-MCP-Subject-Type = %q, want only user", got)
	}
}

func TestBackendDownIsAJSONRPCErrorAndRecovers(t *testing.T) {
	backend := startBackend(t)
	addr := backend.addr
	g := startGateway(t, gatewayOptions{upstream: addr})
	gr := authorize(t, g, "resilient-client")
	ping := `{"jsonrpc":"2.0","id":7,"method":"ping"}`

	backend.stop()
	resp, body := post(t, g, "/mcp", gr.accessToken, ping)
	var rpc struct {
		ID    int `json:"id"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &rpc); err != nil || rpc.Error == nil || rpc.ID != 7 {
		t.Fatalf("backend down: %d %q, want a JSON-RPC error object for id 7", resp.StatusCode, body)
	}
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("backend down: status %d, want 502", resp.StatusCode)
	}

	// Discovery and tokens keep working while the backend is away.
	if r, _ := get(t, g, "/.well-known/oauth-protected-resource/mcp"); r.StatusCode != http.StatusOK {
		t.Errorf("resource metadata while the backend is down: %d", r.StatusCode)
	}
	refreshed := refresh(t, g, gr.refreshToken, gr.clientID)

	backend.listen(t, addr)
	if resp, body := post(t, g, "/mcp", refreshed, ping); resp.StatusCode != http.StatusOK || !strings.Contains(body, `"result"`) {
		t.Fatalf("after the backend came back: %d %s", resp.StatusCode, body)
	}
}

func get(t *testing.T, g *gateway, path string) (*http.Response, string) {
	t.Helper()
	resp, err := g.client.Get(g.base + path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(data)
}

func TestSlowBackendTimesOutWithAJSONRPCError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; the gateway must not wait forever
	})}
	go slow.Serve(l)
	t.Cleanup(func() { slow.Close() })

	g := startGateway(t, gatewayOptions{upstream: l.Addr().String() + "\n\t\ttimeout 1s"})
	gr := authorize(t, g, "patient-client")
	resp, body := post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":"slow-1","method":"tools/list"}`)
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, `"id":"slow-1"`) || !strings.Contains(body, `"error"`) {
		t.Fatalf("slow backend: %d %s, want 504 with a JSON-RPC error for id slow-1", resp.StatusCode, body)
	}
}
