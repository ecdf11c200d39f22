package transport

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/mcpwire"
)

// modernMeta is the _meta of a 2026-07-28 request.
const modernMeta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"t","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}`

// modern returns a 2026-07-28 request body; params are extra params members.
func modern(id int, method, params string) string {
	if params != "" {
		params += ","
	}
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":{%s%s}}`, id, method, params, modernMeta)
}

// modernHeaders are the standard headers of a 2026-07-28 request.
func modernHeaders(method, name string) map[string]string {
	h := map[string]string{"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
	if name != "" {
		h["Mcp-Name"] = name
	}
	return h
}

// result decodes a JSON-RPC success reply's result.
func result(t *testing.T, body string) map[string]any {
	t.Helper()
	var resp struct {
		Result map[string]any `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Result == nil {
		t.Fatalf("not a JSON-RPC result: %s", body)
	}
	return resp.Result
}

// methodsSeen returns the JSON-RPC methods the backend received, in order.
func (b *backend) methodsSeen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, s := range b.requests {
		var m struct{ Method string }
		_ = json.Unmarshal([]byte(s.body), &m)
		out = append(out, m.Method)
	}
	return out
}

// clock is a settable Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestDiscoverAnsweredFromTheBackendsCachedInitialize(t *testing.T) {
	b := &backend{}
	clk := &clock{now: time.Unix(1e9, 0)}
	url := gateway(t, Config{Now: clk.Now, BackendRefresh: time.Minute}, proxyTo(t, b))
	for i := range 3 {
		resp, body := rpc(t, url+"/mcp", modern(i, "server/discover", ""), modernHeaders("server/discover", ""))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("server/discover: %d %s", resp.StatusCode, body)
		}
		r := result(t, body)
		if fmt.Sprint(r["supportedVersions"]) != "[2026-07-28]" || r["resultType"] != "complete" ||
			r["ttlMs"] != float64(0) || r["cacheScope"] != "private" || r["capabilities"] == nil {
			t.Fatalf("server/discover result %s", body)
		}
	}
	// One probe (server/discover, then initialize) for the three requests.
	if got := strings.Join(b.methodsSeen(), " "); got != "server/discover initialize" {
		t.Fatalf("backend saw %q, want one probe", got)
	}
	clk.add(time.Minute)
	rpc(t, url+"/mcp", modern(4, "server/discover", ""), modernHeaders("server/discover", ""))
	if n := len(b.methodsSeen()); n != 4 {
		t.Fatalf("after the refresh interval the backend saw %d calls, want a second probe", n)
	}
}

func TestBackendFailureForgetsWhatWasProbed(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	rpc(t, url+"/mcp", modern(1, "server/discover", ""), modernHeaders("server/discover", ""))
	resp, _ := rpc(t, url+"/mcp", modern(2, "crash", ""), modernHeaders("crash", ""))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("crash: %d", resp.StatusCode)
	}
	rpc(t, url+"/mcp", modern(3, "server/discover", ""), modernHeaders("server/discover", ""))
	if got := strings.Join(b.methodsSeen(), " "); got != "server/discover initialize crash server/discover initialize" {
		t.Fatalf("backend saw %q; a restarted backend must be probed again", got)
	}
}

func TestModernRequestAdaptedForALegacyBackend(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{CacheTTL: time.Minute, CacheScope: "public"}, proxyTo(t, b))
	body := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_graph","arguments":{"n":1.50},"_meta":{"progressToken":"p1","io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}`
	resp, out := rpc(t, url+"/mcp", body, modernHeaders("tools/call", "read_graph"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/call: %d %s", resp.StatusCode, out)
	}
	got := b.last(t)
	if want := `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_graph","arguments":{"n":1.50},"_meta":{"progressToken":"p1"}}}`; got.body != want {
		t.Errorf("backend got\n%s\nwant\n%s", got.body, want)
	}
	if v := got.header.Get("MCP-Protocol-Version"); v != "2025-06-18" {
		t.Errorf("backend got MCP-Protocol-Version %q, want the one it chose in initialize", v)
	}
	if r := result(t, out); r["resultType"] != "complete" || r["ttlMs"] != nil {
		t.Errorf("tools/call result %s: want resultType, no caching hints", out)
	}
	_, out = rpc(t, url+"/mcp", modern(8, "tools/list", ""), modernHeaders("tools/list", ""))
	if r := result(t, out); r["resultType"] != "complete" || r["ttlMs"] != float64(60000) || r["cacheScope"] != "public" {
		t.Errorf("tools/list result %s: want the configured caching hints", out)
	}
	// Only reserved keys in _meta: _meta goes.
	rpc(t, url+"/mcp", modern(9, "tools/list", ""), modernHeaders("tools/list", ""))
	if got := b.last(t).body; got != `{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}` {
		t.Errorf("backend got %s", got)
	}
}

// A legacy client's request is relayed exactly as before.
func TestLegacyRequestsAreNotAdapted(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	body := `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"progressToken":1}}}`
	_, out := rpc(t, url+"/mcp", body, map[string]string{"MCP-Protocol-Version": "2025-11-25"})
	if r := result(t, out); r["resultType"] != nil {
		t.Errorf("legacy reply rewritten: %s", out)
	}
	if got := strings.Join(b.methodsSeen(), " "); got != "tools/list" || b.last(t).body != body {
		t.Errorf("backend saw %q %s", got, b.last(t).body)
	}
}

func TestHeadersMustMatchTheBody(t *testing.T) {
	cases := []struct {
		name, body string
		header     map[string]string
		code       int
	}{
		{"no Mcp-Method", modern(1, "tools/list", ""), map[string]string{"MCP-Protocol-Version": "2026-07-28"}, mcpwire.CodeHeaderMismatch},
		{"no MCP-Protocol-Version", modern(1, "tools/list", ""), map[string]string{"Mcp-Method": "tools/list"}, mcpwire.CodeHeaderMismatch},
		{"Mcp-Method differs", modern(1, "tools/call", `"name":"create_entities"`), modernHeaders("tools/list", "create_entities"), mcpwire.CodeHeaderMismatch},
		{"Mcp-Name differs", modern(1, "tools/call", `"name":"create_entities"`), modernHeaders("tools/call", "read_graph"), mcpwire.CodeHeaderMismatch},
		{"no Mcp-Name", modern(1, "tools/call", `"name":"create_entities"`), modernHeaders("tools/call", ""), mcpwire.CodeHeaderMismatch},
		{"Mcp-Name not the uri", modern(1, "resources/read", `"uri":"memory://a"`), modernHeaders("resources/read", "memory://b"), mcpwire.CodeHeaderMismatch},
		{"Mcp-Name bad base64", modern(1, "tools/call", `"name":"read_graph"`), modernHeaders("tools/call", "=?base64?cmVhZF9ncmFwaA?="), mcpwire.CodeHeaderMismatch},
		{"Mcp-Name base64 of another", modern(1, "tools/call", `"name":"create_entities"`), modernHeaders("tools/call", "=?base64?cmVhZF9ncmFwaA==?="), mcpwire.CodeHeaderMismatch},
		{"version header differs from _meta", modern(1, "tools/list", ""), map[string]string{"MCP-Protocol-Version": "2025-11-25", "Mcp-Method": "tools/list"}, mcpwire.CodeHeaderMismatch},
		{"_meta repeats the version", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}`, modernHeaders("tools/list", ""), jsonrpc.InvalidRequest},
		// Legacy clients do not send the headers; when they do, they must match too.
		{"legacy Mcp-Name differs", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities"}}`, map[string]string{"Mcp-Name": "read_graph"}, mcpwire.CodeHeaderMismatch},
	}
	for _, c := range cases {
		b := &backend{}
		url := gateway(t, Config{}, proxyTo(t, b))
		resp, body := rpc(t, url+"/mcp", c.body, c.header)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d %s, want 400", c.name, resp.StatusCode, body)
			continue
		}
		if id, code, _ := rpcError(t, body); id != "1" || code != c.code {
			t.Errorf("%s: %s, want id 1 and code %d", c.name, body, c.code)
		}
		if n := b.calls(); n != 0 {
			t.Errorf("%s: the backend was called %d times", c.name, n)
		}
	}
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	for name, header := range map[string]string{"plain": "read_graph", "base64": "=?base64?cmVhZF9ncmFwaA==?="} {
		resp, body := rpc(t, url+"/mcp", modern(1, "tools/call", `"name":"read_graph"`), modernHeaders("tools/call", header))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s Mcp-Name that matches: %d %s", name, resp.StatusCode, body)
		}
	}
}

func TestRemovedMethodsAre404ForModernRequests(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	for i, method := range []string{"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"} {
		resp, body := rpc(t, url+"/mcp", modern(i, method, ""), modernHeaders(method, ""))
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d %s", method, resp.StatusCode, body)
			continue
		}
		if id, code, _ := rpcError(t, body); id != fmt.Sprint(i) || code != jsonrpc.MethodNotFound {
			t.Errorf("%s: %s", method, body)
		}
	}
	if n := b.calls(); n != 0 {
		t.Errorf("the backend saw %v", b.methodsSeen())
	}
	// An unknown method: the backend's -32601 becomes a 404.
	resp, body := rpc(t, url+"/mcp", modern(9, "widgets/frob", ""), modernHeaders("widgets/frob", ""))
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown method: %d %s", resp.StatusCode, body)
	}
	if id, code, _ := rpcError(t, body); id != "9" || code != jsonrpc.MethodNotFound {
		t.Errorf("unknown method: %s", body)
	}
}

func TestUnsupportedVersionListsTheSupportedOnes(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	for name, c := range map[string]struct {
		body   string
		header map[string]string
	}{
		"header": {toolsList, map[string]string{"MCP-Protocol-Version": "2099-01-01"}},
		"_meta":  {`{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2099-01-01","io.modelcontextprotocol/clientCapabilities":{}}}}`, map[string]string{"Mcp-Method": "tools/list"}},
	} {
		// A legacy client learns every version served; a modern one those
		// of its era, as server/discover lists them.
		supported := protocolVersions
		if name == "_meta" {
			supported = mcpwire.ModernVersions
		}
		resp, body := rpc(t, url+"/mcp", c.body, c.header)
		var reply struct {
			ID    json.RawMessage
			Error struct {
				Code int
				Data struct {
					Supported []string
					Requested string
				}
			}
		}
		_ = json.Unmarshal([]byte(body), &reply)
		if resp.StatusCode != http.StatusBadRequest || string(reply.ID) != "2" || reply.Error.Code != mcpwire.CodeUnsupportedVersion ||
			reply.Error.Data.Requested != "2099-01-01" || fmt.Sprint(reply.Error.Data.Supported) != fmt.Sprint(supported) {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
}

// modernBackend speaks 2026-07-28 itself.
type modernBackend struct{ backend }

func (m *modernBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req jsonrpc.Request
	body := new(strings.Builder)
	tee := http.MaxBytesReader(w, r.Body, 1<<20)
	buf := make([]byte, 4096)
	for {
		n, err := tee.Read(buf)
		body.Write(buf[:n])
		if err != nil {
			break
		}
	}
	_ = json.Unmarshal([]byte(body.String()), &req)
	m.mu.Lock()
	m.requests = append(m.requests, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body.String()})
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	result := map[string]any{"resultType": "complete", "from": "backend"}
	switch req.Method {
	case "server/discover":
		result["supportedVersions"] = []string{"2026-07-28"}
	case "tools/list":
		result["tools"] = []any{map[string]any{"name": "read_graph"}, map[string]any{"name": "create_entities"}}
		result["ttlMs"], result["cacheScope"] = 60000, "public"
	}
	out, _ := jsonrpc.NewResult(req.ID, result)
	_ = json.NewEncoder(w).Encode(out)
}

func TestModernBackendIsPassedThroughUnchanged(t *testing.T) {
	b := &modernBackend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	body := modern(3, "tools/call", `"name":"read_graph"`)
	_, out := rpc(t, url+"/mcp", body, modernHeaders("tools/call", "read_graph"))
	if b.last(t).body != body || b.last(t).header.Get("MCP-Protocol-Version") != "2026-07-28" {
		t.Errorf("backend got %s %v", b.last(t).body, b.last(t).header)
	}
	if r := result(t, out); r["from"] != "backend" || r["ttlMs"] != nil {
		t.Errorf("reply %s", out)
	}
	_, out = rpc(t, url+"/mcp", modern(4, "server/discover", ""), modernHeaders("server/discover", ""))
	if r := result(t, out); r["from"] != "backend" {
		t.Errorf("server/discover of a 2026-07-28 backend not relayed: %s", out)
	}
}

// The scope decision and the backend read the same tool: a header naming an
// allowed tool cannot carry a call of another one.
func TestToolScopesOnModernRequests(t *testing.T) {
	g := newGuarded(t, &backend{})
	resp, body := g.call(t, modern(1, "tools/call", `"name":"create_entities"`), modernHeaders("tools/call", "read_graph"))
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("Mcp-Name of an allowed tool on a call of another: %d %s", resp.StatusCode, body)
	}
	resp, _ = g.call(t, modern(2, "tools/call", `"name":"create_entities"`), modernHeaders("tools/call", "create_entities"))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("create_entities with memory.read: %d", resp.StatusCode)
	}
	resp, _ = g.call(t, modern(3, "tools/call", `"name":"read_graph"`), modernHeaders("tools/call", "read_graph"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read_graph with memory.read: %d", resp.StatusCode)
	}
	if n := g.backend.calls(); n != 3 { // the probe (2) and read_graph
		t.Errorf("the backend saw %v", g.backend.methodsSeen())
	}
	// A tools/list filtered for this token is private to it.
	_, body = g.call(t, modern(4, "tools/list", ""), modernHeaders("tools/list", ""))
	if r := result(t, body); r["cacheScope"] != "private" || len(r["tools"].([]any)) != 2 {
		t.Errorf("filtered tools/list: %s", body)
	}
}

// A modern header on a request without the _meta envelope is neither era's:
// 400 with -32602 (a dual-era client then falls back to initialize), and the
// backend is not asked.
func TestModernHeaderWithoutTheClaim(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	for i, body := range []string{
		request(1, "server/discover"),
		initialize,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
	} {
		resp, out := rpc(t, url+"/mcp", body, modernHeaders("tools/list", ""))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%d: %d %s", i, resp.StatusCode, out)
			continue
		}
		if id, code, _ := rpcError(t, out); id != "1" || code != jsonrpc.InvalidParams {
			t.Errorf("%d: %s", i, out)
		}
	}
	if n := b.calls(); n != 0 {
		t.Errorf("the backend saw %v", b.methodsSeen())
	}
}

// plainBackend is a JSON-RPC server that knows only tools/call.
type plainBackend struct{ backend }

func (p *plainBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req jsonrpc.Request
	_ = json.NewDecoder(r.Body).Decode(&req)
	p.mu.Lock()
	p.requests = append(p.requests, seen{method: r.Method, header: r.Header.Clone(), body: req.Method})
	p.mu.Unlock()
	resp := jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found")
	if req.Method == "tools/call" {
		resp, _ = jsonrpc.NewResult(req.ID, map[string]any{"content": []any{}})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// A 2025 client needs initialize answered before it calls a /tools
// server's tools; the gateway answers it (and ping) when the backend does
// not, and relays everything else as the backend said it.
func TestPlainBackendGetsInitializeAnsweredForLegacyClients(t *testing.T) {
	b := &plainBackend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	resp, out := rpc(t, url+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`, nil)
	if r := result(t, out); resp.StatusCode != http.StatusOK || r["protocolVersion"] != "2025-06-18" || r["capabilities"] == nil {
		t.Fatalf("initialize: %d %s", resp.StatusCode, out)
	}
	_, out = rpc(t, url+"/mcp", request(2, "ping"), nil)
	result(t, out)
	_, out = rpc(t, url+"/mcp", request(3, "resources/list"), nil)
	if id, code, _ := rpcError(t, out); id != "3" || code != jsonrpc.MethodNotFound {
		t.Errorf("resources/list: %s, want the backend's -32601", out)
	}
}

// A 2026-07-28 backend's public tool list, once filtered for a token, is
// that token's own: cacheScope private.
func TestFilteredToolListOfAModernBackendIsPrivate(t *testing.T) {
	b := &modernBackend{}
	g := newGuardedHandler(t, &b.backend, b)
	_, body := g.call(t, modern(1, "tools/list", ""), modernHeaders("tools/list", ""))
	if r := result(t, body); r["cacheScope"] != "private" || len(r["tools"].([]any)) != 1 || r["ttlMs"] != float64(60000) {
		t.Errorf("filtered tools/list: %s", body)
	}
}
