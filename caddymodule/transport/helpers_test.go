package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

// seen is what the stand-in backend received.
type seen struct {
	method, path, query string
	header              http.Header
	body                string
}

// backend is a stand-in plain JSON-RPC server whose replies depend on the
// JSON-RPC method, to exercise every relay path.
type backend struct {
	sessionID string        // sent with the initialize reply when set
	sseTools  bool          // answer tools/list as an SSE stream
	release   chan struct{} // the "stream" method waits on it between events

	mu       sync.Mutex
	requests []seen
}

var backendTools = []string{"read_graph", "create_entities", "search_nodes"}

func (b *backend) last(t *testing.T) seen {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("the backend was not called")
	}
	return b.requests[len(b.requests)-1]
}

func (b *backend) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.requests)
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.mu.Lock()
	b.requests = append(b.requests, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
	b.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/ping\"}\n\n")
		return
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var req jsonrpc.Request
	_ = json.Unmarshal(body, &req)
	reply := func(result any) {
		out, _ := jsonrpc.NewResult(req.ID, result)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	}
	switch req.Method {
	case "initialize":
		if b.sessionID != "" {
			w.Header().Set("Mcp-Session-Id", b.sessionID)
		}
		reply(map[string]any{"protocolVersion": "2025-06-18"})
	case "server/discover", "widgets/frob":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found"))
	case "tools/list":
		tools := []map[string]any{}
		for _, name := range backendTools {
			tools = append(tools, map[string]any{"name": name, "inputSchema": map[string]any{"type": "object"}})
		}
		if !b.sseTools {
			reply(map[string]any{"tools": tools})
			return
		}
		out, _ := jsonrpc.NewResult(req.ID, map[string]any{"tools": tools})
		data, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: 1\nevent: message\ndata: %s\n\n", data)
	case "stream":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n")
		w.(http.Flusher).Flush()
		<-b.release
		fmt.Fprintf(w, "data: {\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}\n\n", req.ID)
	case "crash":
		http.Error(w, "internal failure", http.StatusInternalServerError)
	case "html404":
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<h1>Not Found</h1>")
	case "unauthorized", "forbidden":
		status := map[string]int{"unauthorized": http.StatusUnauthorized, "forbidden": http.StatusForbidden}[req.Method]
		w.Header().Set("WWW-Authenticate", `Bearer realm="backend"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, -32001, req.Method))
	case "gone":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}`)
	case "gone-empty":
		w.WriteHeader(http.StatusNotFound)
	case "hang":
		<-r.Context().Done()
	case "empty":
		w.WriteHeader(http.StatusOK)
	case "html200":
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<h1>Welcome to nginx!</h1>")
	default:
		reply(map[string]any{"ok": true})
	}
}

// proxyTo returns a reverse proxy to the backend served over loopback, as
// Caddy's reverse_proxy would be.
func proxyTo(t *testing.T, b http.Handler) http.Handler {
	t.Helper()
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}

// gateway serves a transport Handler over loopback; it returns its URL.
func gateway(t *testing.T, cfg Config, upstream http.Handler) string {
	t.Helper()
	if cfg.Origin == nil {
		cfg.Origin = func(r *http.Request) string { return "http://" + r.Host }
	}
	h, err := New(cfg, upstream)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// rpc POSTs body to url with headers and returns the response and its body.
func rpc(t *testing.T, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	return do(t, http.MethodPost, url, body, header)
}

func do(t *testing.T, method, url, body string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(out)
}

// rpcError decodes a JSON-RPC error reply.
func rpcError(t *testing.T, body string) (id string, code int, message string) {
	t.Helper()
	var resp jsonrpc.Response
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Error == nil {
		t.Fatalf("not a JSON-RPC error: %q (%v)", body, err)
	}
	return string(resp.ID), resp.Error.Code, resp.Error.Message
}

const (
	initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`
	toolsList  = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
)

func request(id int, method string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q}`, id, method)
}
