package caddymodule_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// Attacks an outside review of the security hardening found to work, each
// kept as a regression test: it failed on the code it was written against.

// startExpressBackend runs testdata/expressbackend.mjs, an MCP server
// built as the TypeScript SDK documents (createMcpExpressApp, so
// express.json() parses the body), and returns its address.
func startExpressBackend(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	cmd := testenv.Cmd(t, "node", "testdata/expressbackend.mjs", port)
	modules := filepath.Dir(filepath.Dir(testenv.Bin(t, "node")))
	cmd.Env = append(cmd.Env, "SDK_DIR="+filepath.Join(modules, "@modelcontextprotocol", "sdk"))
	return startNodeServer(t, cmd, "127.0.0.1:"+port)
}

// Rule 2 (one reading of every request): the gateway reads the body as
// UTF-8 whatever the Content-Type says, but Express's JSON parser (and the
// SDK's own raw-body path) decodes it in the declared charset, and accepts
// any "utf-*" that iconv-lite knows, UTF-7 included. In UTF-7, "nam+AGU-"
// is "name": the gateway sees two different keys and decides on the first,
// the backend sees a duplicate "name" and takes the last.
func TestCharsetCannotSmuggleASecondToolName(t *testing.T) {
	backend := startExpressBackend(t)
	g := startGateway(t, gatewayOptions{upstream: backend, gateway: `scopes memory.read memory.write
		tool_scope memory.read read_graph
		tool_scope memory.write *`})
	reader := authorize(t, g, "read-only", "memory.read")

	resp, body := post(t, g, "/mcp", reader.accessToken,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "ran read_graph") {
		t.Fatalf("read_graph with memory.read (control): %d %s", resp.StatusCode, body)
	}
	resp, body = post(t, g, "/mcp", reader.accessToken,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_graph","nam+AGU-":"delete_entities","arguments":{}}}`,
		"Content-Type", "application/json; charset=utf-7")
	if strings.Contains(body, "ran delete_entities") {
		t.Fatalf("a memory.read token ran delete_entities by declaring charset=utf-7: %d %s", resp.StatusCode, body)
	}
}

// Rule 1 (the backend learns that the caller is a client): a token without
// a user carries the client id as its subject, and the gateway's own
// backend, the memory server, keys data by X-MCP-Subject alone and ignores
// X-MCP-Subject-Type. A client whose id equals a user name (a client block
// named like a user, or a trusted_identity user named like a client) reads
// and writes that user's graph with its client_credentials token.
func TestClientTokenDoesNotShareTheGraphOfTheUserWithItsName(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("client-secret"), bcrypt.MinCost)
	g := startGateway(t, gatewayOptions{gateway: `allow_client_tokens
		client ` + testUser + ` {
			secret_hash ` + string(hash) + `
		}`})
	user := authorize(t, g, "users-own-client")
	if resp, body := post(t, g, "/mcp", user.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{"entities":[{"name":"users-secret","entityType":"note","observations":["only for the user"]}]}}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("create_entities as the user: %d %s", resp.StatusCode, body)
	}

	resp, err := g.client.PostForm(g.base+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testUser}, "client_secret": {"client-secret"}, "resource": {g.base + "/mcp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("client_credentials for the client %q: %d %v", testUser, resp.StatusCode, err)
	}
	resp, body := post(t, g, "/mcp", tok.AccessToken, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`)
	if resp.StatusCode == http.StatusOK && strings.Contains(body, "users-secret") {
		t.Fatalf("the client %q read the graph of the user %q with a token without a user: %s", testUser, testUser, body)
	}
}

// Rule 10 (refuse what is not its own) in the deployment examples: the
// loopback examples answer unknown paths with 404, but examples/behind-proxy
// and examples/public end their site with mcp_gateway alone, so an unknown
// path (/.well-known/anything) gets Caddy's empty 200 again.
func TestBehindProxyUnknownPathIsNotFound(t *testing.T) {
	exampleEnv(t)
	startExample(t, "behind-proxy")
	g := &gateway{base: "http://127.0.0.1:" + os.Getenv("MCPGATE_HTTP_PORT"), client: &http.Client{Timeout: 30 * time.Second}}
	g.waitReady(t)
	for _, path := range []string{"/.well-known/anything", "/admin", "/mcp/anything"} {
		if resp, body := get(t, g, path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d %q, want 404", path, resp.StatusCode, body)
		}
	}
}

// Rule 2 (one reading of every request), design §3b: Mcp-Method and
// Mcp-Name are a second statement of what a request does, and whatever
// routes or logs by them behind the gateway (a per-tool router, a WAF, a
// 2026-07-28 backend that trusts them) reads another request than the one
// the gateway decided on. The gateway forwards them unchecked; the design
// wants a mismatch answered 400 with JSON-RPC -32020.
func TestMcpNameHeaderDisagreeingWithTheBodyIsRefused(t *testing.T) {
	backend := startBackend(t)
	g := startGateway(t, gatewayOptions{upstream: backend.addr, gateway: `scopes memory.read memory.write
		tool_scope memory.read read_graph
		tool_scope memory.write *`})
	reader := authorize(t, g, "header-client", "memory.read")
	resp, body := post(t, g, "/mcp", reader.accessToken,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`,
		"Mcp-Method", "tools/call", "Mcp-Name", "delete_entities")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "-32020") {
		h, _ := backend.lastRequest()
		t.Fatalf("Mcp-Name delete_entities on a read_graph call: %d %s; the backend got Mcp-Name %q", resp.StatusCode, body, h.Get("Mcp-Name"))
	}
}
