package transport

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
)

func TestPostRelaysJSONReplyToUpstreamPath(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{UpstreamPath: "/tools"}, proxyTo(t, b))
	for _, path := range []string{"/mcp?x=1", "/mcp/?x=1"} {
		resp, body := rpc(t, url+path, initialize, map[string]string{"Accept": "application/json", "Accept-Encoding": "br"})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %q %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if !strings.Contains(body, `"protocolVersion"`) {
			t.Errorf("%s: reply %s", path, body)
		}
		s := b.last(t)
		if s.path != "/tools" || s.query != "x=1" || s.body != initialize {
			t.Errorf("%s: backend saw %s?%s %q", path, s.path, s.query, s.body)
		}
		if s.header.Get("Accept") != upstreamAccept || strings.Contains(s.header.Get("Accept-Encoding"), "br") {
			t.Errorf("%s: backend Accept = %q, Accept-Encoding = %q", path, s.header.Get("Accept"), s.header.Get("Accept-Encoding"))
		}
	}
}

func TestPostToleratesAcceptVariants(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	for _, accept := range []string{"", "*/*", "application/json", "text/event-stream", "application/json, text/event-stream"} {
		resp, body := rpc(t, url+"/mcp", initialize, map[string]string{"Accept": accept})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Accept %q: %d %s", accept, resp.StatusCode, body)
		}
	}
}

func TestNotificationsAndResponsesGet202(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	for _, msg := range []string{
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":7,"result":{}}`,
		`{"jsonrpc":"2.0","method":"crash"}`,
	} {
		resp, body := rpc(t, url+"/mcp", msg, nil)
		if resp.StatusCode != http.StatusAccepted || body != "" {
			t.Errorf("%s: %d %q", msg, resp.StatusCode, body)
		}
		if b.last(t).body != msg {
			t.Errorf("%s not forwarded", msg)
		}
	}
}

func TestBackendJSONRPCErrorIsANormalReply(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	resp, body := rpc(t, url+"/mcp", request(5, "server/discover"), map[string]string{"MCP-Protocol-Version": "2025-11-25"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if id, code, _ := rpcError(t, body); id != "5" || code != jsonrpc.MethodNotFound {
		t.Errorf("reply %s", body)
	}
}

func TestMalformedBodies(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{MaxBodyBytes: 256}, proxyTo(t, b))
	cases := []struct {
		name, body string
		status     int
		code       int
	}{
		{"not json", `{"jsonrpc":`, http.StatusBadRequest, jsonrpc.ParseError},
		{"batch", `[` + initialize + `,` + toolsList + `]`, http.StatusBadRequest, jsonrpc.InvalidRequest},
		{"no method", `{"jsonrpc":"2.0","id":1}`, http.StatusBadRequest, jsonrpc.InvalidRequest},
	}
	for _, c := range cases {
		resp, body := rpc(t, url+"/mcp", c.body, nil)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.status)
			continue
		}
		if _, code, _ := rpcError(t, body); code != c.code {
			t.Errorf("%s: code %d, want %d", c.name, code, c.code)
		}
	}
	if n := b.calls(); n != 0 {
		t.Errorf("the backend got %d malformed requests", n)
	}
}

func TestBodyLimit(t *testing.T) {
	b := &backend{}
	h, err := New(Config{MaxBodyBytes: 256, Origin: func(*http.Request) string { return "http://gw.example" }}, b)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"jsonrpc":"2.0","id":1,"method":"x","params":{"p":"` + strings.Repeat("a", 300) + `"}}`
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "http://gw.example/mcp", strings.NewReader(body)))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", w.Code)
	}
	if _, code, _ := rpcError(t, w.Body.String()); code != jsonrpc.InvalidRequest || b.calls() != 0 {
		t.Errorf("code %d, backend calls %d", code, b.calls())
	}
}

func TestProtocolVersionHeader(t *testing.T) {
	url := gateway(t, Config{}, proxyTo(t, &backend{}))
	for _, v := range append([]string{""}, protocolVersions[1:]...) { // the modern one is TestModernHeaderWithoutTheClaim's
		resp, _ := rpc(t, url+"/mcp", initialize, map[string]string{"MCP-Protocol-Version": v})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("version %q: %d", v, resp.StatusCode)
		}
	}
	for _, v := range []string{"2099-01-01", "2025-06-1", "latest"} {
		resp, body := rpc(t, url+"/mcp", initialize, map[string]string{"MCP-Protocol-Version": v})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("version %q: %d", v, resp.StatusCode)
			continue
		}
		rpcError(t, body)
	}
}

func TestProtocolVersionForwarded(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b))
	rpc(t, url+"/mcp", toolsList, map[string]string{"MCP-Protocol-Version": "2025-11-25"})
	if got := b.last(t).header.Get("MCP-Protocol-Version"); got != "2025-11-25" {
		t.Errorf("backend saw version %q", got)
	}
}

// The backend must read the body as the gateway did: a charset other than
// UTF-8 (in UTF-7, "nam+AGU-" is a second "name") or another media type is
// refused with 415 before anything decides, and what is forwarded is
// labelled application/json.
func TestContentTypeIsJSONInUTF8(t *testing.T) {
	var got string
	backend := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Content-Type")
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{}}`))
	})
	url := gateway(t, Config{}, proxyTo(t, backend)) + "/mcp"
	for ct, want := range map[string]int{
		"application/json":                 http.StatusOK,
		"application/json; charset=utf-8":  http.StatusOK,
		"Application/JSON; Charset=UTF-8":  http.StatusOK,
		"application/json; charset=utf-7":  http.StatusUnsupportedMediaType,
		"application/json; charset=utf-16": http.StatusUnsupportedMediaType,
		"application/json; boundary=x":     http.StatusUnsupportedMediaType,
		"text/plain":                       http.StatusUnsupportedMediaType,
		"application/json;;":               http.StatusUnsupportedMediaType,
	} {
		got = ""
		resp, body := rpc(t, url, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","nam+AGU-":"delete_entities"}}`,
			map[string]string{"Content-Type": ct})
		if resp.StatusCode != want {
			t.Errorf("Content-Type %q: %d %s, want %d", ct, resp.StatusCode, body, want)
		}
		if want == http.StatusOK && got != "application/json" {
			t.Errorf("Content-Type %q reached the backend as %q", ct, got)
		}
	}
}

// A notifications/* method with an id is a request the backend would
// answer; it passes tool scopes only as a notification, so it is refused.
func TestNotificationMethodWithAnIDIsRefused(t *testing.T) {
	b := &backend{}
	url := gateway(t, Config{}, proxyTo(t, b)) + "/mcp"
	resp, body := rpc(t, url, `{"jsonrpc":"2.0","id":7,"method":"notifications/initialized"}`, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"id":7`) || b.calls() != 0 {
		t.Fatalf("notifications/initialized with an id: %d %s, backend called %d times", resp.StatusCode, body, b.calls())
	}
	if resp, _ := rpc(t, url, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the notification itself: %d, want 202", resp.StatusCode)
	}
}
