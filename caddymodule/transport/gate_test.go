package transport

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// guarded serves the transport behind a real guard whose tokens carry
// "memory.read", which allows read_graph and search_nodes only.
type guarded struct {
	url     string
	backend *backend
	token   string
	events  chan Event
}

func newGuarded(t *testing.T, b *backend) *guarded {
	t.Helper()
	return newGuardedHandler(t, b, b)
}

// newGuardedHandler is newGuarded in front of upstream, which b records.
func newGuardedHandler(t *testing.T, b *backend, upstream http.Handler) *guarded {
	t.Helper()
	issuer := guardtest.NewIssuer(t, "k1")
	g := &guarded{backend: b, events: make(chan Event, 1)}
	origin := func(r *http.Request) string { return "http://" + r.Host }
	gd, err := guard.New(guard.Config{
		Origin:     origin,
		Scopes:     []string{"memory.read", "memory.write"},
		ToolScopes: map[string][]string{"memory.read": {"read_graph", "search_nodes"}, "memory.write": {"*"}},
	}, issuer, issuer)
	if err != nil {
		t.Fatal(err)
	}
	g.url = gateway(t, Config{Origin: origin, Gate: gd, Observe: func(e Event) { g.events <- e }}, proxyTo(t, upstream))
	c := guardtest.Claims(g.url, "/mcp", time.Now())
	c["scope"] = "memory.read"
	g.token = issuer.Mint(t, c)
	return g
}

// call POSTs body with the token and returns the response and body, after
// the request was observed.
func (g *guarded) call(t *testing.T, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	h := map[string]string{"Authorization": "Bearer " + g.token}
	for k, v := range header {
		h[k] = v
	}
	resp, out := rpc(t, g.url+"/mcp", body, h)
	<-g.events
	return resp, out
}

func TestUnauthenticatedRequestsGetTheChallenge(t *testing.T) {
	g := newGuarded(t, &backend{})
	for _, method := range []string{http.MethodPost, http.MethodHead, http.MethodGet} {
		resp, _ := do(t, method, g.url+"/mcp", initialize, map[string]string{"Origin": "http://localhost:6274"})
		<-g.events
		challenge := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(challenge, `resource_metadata="`+g.url+`/.well-known/oauth-protected-resource/mcp"`) {
			t.Errorf("%s: %d %q", method, resp.StatusCode, challenge)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:6274" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Errorf("%s: a browser could not read the challenge: %v", method, resp.Header)
		}
	}
	if g.backend.calls() != 0 {
		t.Error("an unauthenticated request reached the backend")
	}
}

func TestBackendGetsIdentityNotToken(t *testing.T) {
	g := newGuarded(t, &backend{})
	resp, _ := g.call(t, initialize, map[string]string{"X-MCP-Subject": "root", "X-MCP-Client-ID": "admin"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	h := g.backend.last(t).header
	if h.Get("Authorization") != "" {
		t.Error("the client's token reached the backend")
	}
	if !slices.Equal(h.Values("X-Mcp-Subject"), []string{"alice"}) || !slices.Equal(h.Values("X-Mcp-Client-Id"), []string{"client-1"}) {
		t.Errorf("identity headers %v", h)
	}
}

func TestToolOutsideScopesIsRefused(t *testing.T) {
	g := newGuarded(t, &backend{})
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","arguments":{}}}`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"create_entities","arguments":{}}}`,
	} {
		resp, _ := g.call(t, body, nil)
		challenge := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="memory.write"`) {
			t.Errorf("%s: %d %q", body, resp.StatusCode, challenge)
		}
	}
	if g.backend.calls() != 0 {
		t.Error("a call outside the token's scopes reached the backend")
	}
	if resp, _ := g.call(t, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_graph"}}`, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("allowed tool: %d", resp.StatusCode)
	}
}

func TestToolsListIsFiltered(t *testing.T) {
	for _, sse := range []bool{false, true} {
		g := newGuarded(t, &backend{sseTools: sse})
		resp, body := g.call(t, toolsList, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sse=%v: %d", sse, resp.StatusCode)
		}
		if sse {
			_, data, ok := strings.Cut(body, "data: ")
			if !ok || !strings.HasPrefix(body, "id: 1\nevent: message\n") {
				t.Fatalf("sse event %q", body)
			}
			body = data
		}
		var reply struct {
			ID     int `json:"id"`
			Result struct {
				Tools []struct{ Name string } `json:"tools"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(body), &reply); err != nil {
			t.Fatalf("sse=%v: %q: %v", sse, body, err)
		}
		var names []string
		for _, tool := range reply.Result.Tools {
			names = append(names, tool.Name)
		}
		if reply.ID != 2 || !slices.Equal(names, []string{"read_graph", "search_nodes"}) {
			t.Errorf("sse=%v: id %d tools %v", sse, reply.ID, names)
		}
	}
}

func TestObservedRequestCarriesIdentity(t *testing.T) {
	g := newGuarded(t, &backend{})
	rpc(t, g.url+"/mcp", initialize, map[string]string{"Authorization": "Bearer " + g.token})
	e := <-g.events
	id, ok := guard.IdentityFrom(e.Request.Context())
	if !ok || id.Subject != "alice" || id.ClientID != "client-1" {
		t.Fatalf("identity %+v %v", id, ok)
	}
}

// The gateway decides on one reading of the body and forwards the bytes, so
// a body that parsers read differently must never reach the backend: a
// read-only token sent "NAME":"read_graph" next to "name":"create_entities",
// and a Node or Python backend ran create_entities.
func TestAmbiguousMessagesAreRefused(t *testing.T) {
	g := newGuarded(t, &backend{})
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","NAME":"read_graph"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_entities","name":"read_graph"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"create_entities","name":"read_graph"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"create_entities"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"tools/list","params":{"name":"create_entities"}}`,
	} {
		resp, out := g.call(t, body, nil)
		_, code, message := rpcError(t, out)
		if resp.StatusCode != http.StatusBadRequest || code != jsonrpc.InvalidRequest || !strings.Contains(message, "member") {
			t.Errorf("%s: %d %s", body, resp.StatusCode, out)
		}
	}
	if g.backend.calls() != 0 {
		t.Error("an ambiguous message reached the backend")
	}
}
