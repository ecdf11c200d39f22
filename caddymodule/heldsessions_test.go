package caddymodule_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// sessionLog sits between the gateway and a backend and records which
// backend sessions each verified subject's requests ran in, and which
// sessions were ended.
type sessionLog struct {
	addr string

	mu        sync.Mutex
	bySubject map[string][]string // subject -> sessions, in order of first use
	ended     []string
}

func startSessionLog(t *testing.T, backend string) *sessionLog {
	t.Helper()
	l := &sessionLog{bySubject: map[string][]string{}}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.Header.Get("Mcp-Session-Id"); s != "" {
			l.mu.Lock()
			if r.Method == http.MethodDelete {
				l.ended = append(l.ended, s)
			} else if sub := r.Header.Get("X-MCP-Subject"); !slices.Contains(l.bySubject[sub], s) {
				l.bySubject[sub] = append(l.bySubject[sub], s)
			}
			l.mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	l.addr = ln.Addr().String()
	return l
}

func (l *sessionLog) sessionsOf(subject string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.bySubject[subject])
}

func (l *sessionLog) endedSessions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ended)
}

// TestPinned2026ClientsUseServerEverythingInSessionsOfTheirOwn runs the
// TypeScript SDK v2 client pinned to 2026-07-28 (no initialize, no session)
// against @modelcontextprotocol/server-everything, which serves nothing
// outside a session: the gateway holds one backend session per user, a
// restart of the backend costs the caller nothing, and stopping Caddy ends
// the sessions.
func TestPinned2026ClientsUseServerEverythingInSessionsOfTheirOwn(t *testing.T) {
	port := freePort(t)
	startServer := func() func() {
		cmd := testenv.Cmd(t, "mcp-server-everything", "streamableHttp")
		cmd.Env = append(cmd.Env, "PORT="+port)
		startNodeServer(t, cmd, "127.0.0.1:"+port)
		return func() { cmd.Process.Kill(); cmd.Wait() }
	}
	stopServer := startServer()
	log := startSessionLog(t, "127.0.0.1:"+port)
	g := startGateway(t, gatewayOptions{tls: true, upstream: log.addr, gateway: "users {\n\t\t\tbob " + hashedTestPassword + "\n\t\t}"})

	users := map[string]browserStep{
		testUser: passwordLogin,
		"bob": func(b *browsertest.Browser, authURL string) (*url.URL, error) {
			return b.Authorize(authURL, "bob", testPassword, "approve")
		},
	}
	for user, login := range users {
		name := "ts-v2-pinned-" + user
		r := runNodeClient(t, g, name, login, "CLIENT_DIR="+nodePackage(t, "@modelcontextprotocol", "client"),
			"testdata/tsclient2.mjs", g.base+"/mcp", name, "2026-07-28", "echo", `{"message":"hello from `+user+`"}`)
		if c := r["connected"]; c["era"] != "modern" || c["version"] != "2026-07-28" {
			t.Errorf("%s: connected %v, want 2026-07-28", user, c)
		}
		if names := fmt.Sprint(r["tools"]["names"]); !strings.Contains(names, "echo") || !strings.Contains(names, "get-sum") {
			t.Errorf("%s: tools/list %s", user, names)
		}
		if c := r["call"]; c["isError"] != false || !strings.Contains(fmt.Sprint(c["text"]), "hello from "+user) {
			t.Errorf("%s: echo: %v", user, c)
		}
		if ref := r["refreshed"]; ref["askedUserAgain"] != false || ref["isError"] != false {
			t.Errorf("%s: after refresh: %v", user, ref)
		}
	}
	alice, bob := log.sessionsOf(testUser), log.sessionsOf("bob")
	if len(alice) != 1 || len(bob) != 1 || alice[0] == bob[0] {
		t.Fatalf("backend sessions: %s %v, bob %v; want one each, not shared", testUser, alice, bob)
	}

	// The backend restarts and forgets every session (server-everything
	// then answers 400): the gateway opens a new one for the next call.
	token := authorize(t, g, "raw-2026-client").accessToken
	call := func(id int) string {
		t.Helper()
		resp, body := post(t, g, "/mcp", token,
			fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"message":"call %d"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`, id, id),
			"MCP-Protocol-Version", "2026-07-28", "Mcp-Method", "tools/call", "Mcp-Name", "echo")
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, fmt.Sprintf("call %d", id)) || resp.Header.Get("Mcp-Session-Id") != "" {
			t.Fatalf("tools/call %d: %d %v %s", id, resp.StatusCode, resp.Header, body)
		}
		return body
	}
	call(1)
	stopServer()
	startServer()
	call(2)
	held := log.sessionsOf(testUser)
	if len(held) != 3 {
		t.Fatalf("%s's sessions %v: want the TS client's, the raw client's and its new one after the restart", testUser, held)
	}

	// Stopping Caddy (as a reload does to the old configuration) ends the
	// sessions the gateway holds.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	ended := log.endedSessions()
	for _, s := range []string{alice[0], bob[0], held[2]} {
		if !slices.Contains(ended, s) {
			t.Errorf("session %s was not ended at stop; ended %v", s, ended)
		}
	}
}
