package transport

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

func TestBackendFailuresBecomeJSONRPCErrors(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	cases := []struct {
		method string
		status int
		text   string
	}{
		{"crash", http.StatusInternalServerError, "backend unavailable: 500"},
		{"html404", http.StatusBadGateway, "backend error: 404"},
		{"unauthorized", http.StatusBadGateway, "backend error: 401"},
		{"empty", http.StatusBadGateway, "empty reply"},
		{"html200", http.StatusBadGateway, "backend error: 200"},
	}
	for _, c := range cases {
		resp, body := rpc(t, url+"/mcp", request(9, c.method), nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.method, resp.StatusCode, c.status)
			continue
		}
		id, _, msg := rpcError(t, body)
		if id != "9" || !strings.Contains(msg, c.text) {
			t.Errorf("%s: id %s message %q", c.method, id, msg)
		}
		if resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s: backend challenge leaked", c.method)
		}
	}
}

func TestBackendJSONRPCErrorStatusPassesWithoutItsChallenge(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	resp, body := rpc(t, url+"/mcp", request(6, "forbidden"), nil)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if id, code, _ := rpcError(t, body); id != "6" || code != -32001 {
		t.Errorf("body %s", body)
	}
}

func TestSessionNotFoundStays404(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	session := map[string]string{"Mcp-Session-Id": "old"}
	resp, body := rpc(t, url+"/mcp", request(1, "gone"), session)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Session not found") {
		t.Errorf("JSON-RPC 404: %d %s", resp.StatusCode, body)
	}
	resp, body = rpc(t, url+"/mcp", request(2, "gone-empty"), session)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("empty 404 in a session: %d %s", resp.StatusCode, body)
	}
	if id, _, msg := rpcError(t, body); id != "2" || !strings.Contains(msg, "session not found") {
		t.Errorf("id %s message %q", id, msg)
	}
	if resp, _ := rpc(t, url+"/mcp", request(3, "gone-empty"), nil); resp.StatusCode != http.StatusBadGateway {
		t.Errorf("empty 404 outside a session: %d", resp.StatusCode)
	}
}

func TestBackendDownIs502(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	proxy.ErrorLog = nil
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	gw := gateway(t, Config{}, proxy)
	resp, body := rpc(t, gw+"/mcp", request(3, "tools/call"), nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if id, _, msg := rpcError(t, body); id != "3" || msg != "backend unavailable: 502 Bad Gateway" {
		t.Errorf("id %s message %q", id, msg)
	}
}

func TestSlowBackendIs504(t *testing.T) {
	url := gateway(t, Config{Timeout: 50 * time.Millisecond}, proxyTo(t, &backend{}))
	resp, body := rpc(t, url+"/mcp", request(4, "hang"), nil)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d %s", resp.StatusCode, body)
	}
	if id, _, msg := rpcError(t, body); id != "4" || !strings.Contains(msg, "did not answer") {
		t.Errorf("id %s message %q", id, msg)
	}
}

func TestSSEIsStreamedUnbuffered(t *testing.T) {
	b := &backend{release: make(chan struct{})}
	gw := gateway(t, Config{}, proxyTo(t, b))
	req, _ := http.NewRequest(http.MethodPost, gw+"/mcp", strings.NewReader(request(8, "stream")))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	// The backend holds the second event until the first one was read here.
	first, err := r.ReadString('\n')
	if err != nil || !strings.Contains(first, "notifications/progress") {
		t.Fatalf("first event %q %v", first, err)
	}
	close(b.release)
	rest := readAll(t, r)
	if !strings.Contains(rest, `"id":8`) {
		t.Errorf("final event missing: %q", rest)
	}
}

func readAll(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var sb strings.Builder
	if _, err := r.WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestObserve(t *testing.T) {
	observed := make(chan Event, 3)
	url := gateway(t, Config{Observe: func(e Event) { observed <- e }}, proxyTo(t, &backend{}))
	var events []Event
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph"}}`,
		request(2, "crash"),
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
	} {
		rpc(t, url+"/mcp", body, nil)
		events = append(events, <-observed)
	}
	want := []Event{
		{Method: "tools/call", Tool: "read_graph", Status: 200, Outcome: OutcomeOK},
		{Method: "crash", Status: 500, Outcome: OutcomeUpstreamError},
		{Method: "notifications/initialized", Status: 202, Outcome: OutcomeAccepted},
	}
	for i, e := range events {
		w := want[i]
		if e.Method != w.Method || e.Tool != w.Tool || e.Status != w.Status || e.Outcome != w.Outcome || e.Request == nil || e.Upstream <= 0 || e.Duration < e.Upstream {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

func TestStreamHeadersAreFlushedAtOnce(t *testing.T) {
	rec := httptest.NewRecorder()
	rw := newReplyWriter(rec, call{id: []byte("1")}, holdStreamFor)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.WriteHeader(http.StatusOK)
	if !rec.Flushed || rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatal("an SSE reply's headers were held back until its first event")
	}
}

// Trailers, announced (Trailer) or not (http.TrailerPrefix), are not
// relayed, nor do they become headers, in any reply mode: the client gets
// the headers of the backend's status line, and is not told to expect
// trailers that never come.
func TestBackendTrailersAreNotRelayed(t *testing.T) {
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req jsonrpc.Request
		body, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(body, &req)
		w.Header().Set("Trailer", "X-Checksum")
		switch req.Method {
		case "server/discover", "initialize", "invalid":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found"))
		case "tools/list", "tools/call":
			// A held stream that ends without a message (finish releases
			// it), and one never held.
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "id: prime\ndata: \n\n")
		}
		w.Header().Set("X-Checksum", "abc")
		w.Header().Set(http.TrailerPrefix+"X-Late", "def")
	})
	url := gateway(t, Config{holdStreamFor: time.Hour}, proxyTo(t, backend)) + "/mcp"
	for _, c := range []struct{ method, name, params string }{{"tools/list", "", ""}, {"tools/call", "t", `"name":"t"`}, {"invalid", "", ""}} {
		resp, body := rpc(t, url, modern(1, c.method, c.params), modernHeaders(c.method, c.name))
		if resp.Header.Get("Trailer") != "" || resp.Header.Get("X-Checksum") != "" || resp.Header.Get("X-Late") != "" || len(resp.Trailer) != 0 {
			t.Errorf("%s: %d headers %v trailers %v %s", c.method, resp.StatusCode, resp.Header, resp.Trailer, body)
		}
	}
}
