package memoryserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// testServer is a Server on a fresh database behind a real HTTP listener.
type testServer struct {
	*Server
	url string
}

func newTestServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	srv, err := Open(context.Background(), filepath.Join(t.TempDir(), "memory.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return &testServer{Server: srv, url: hs.URL + "/mcp"}
}

// post sends body and returns the status and the decoded reply (nil if empty).
func (ts *testServer) post(t *testing.T, body string, header ...string) (int, any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("reply is not JSON: %v: %s", err, raw)
	}
	return resp.StatusCode, v
}

// toolReply is a decoded tools/call result.
type toolReply struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Structured json.RawMessage `json:"structuredContent"`
	IsError    bool            `json:"isError"`
}

// text is the reply's only text content.
func (r toolReply) text(t *testing.T) string {
	t.Helper()
	if len(r.Content) != 1 || r.Content[0].Type != "text" {
		t.Fatalf("content = %+v, want one text item", r.Content)
	}
	return r.Content[0].Text
}

// call runs a tool over HTTP and fails the test on a JSON-RPC error.
func (ts *testServer) call(t *testing.T, tool string, args any, header ...string) toolReply {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": args}})
	status, v := ts.post(t, string(body), header...)
	m, _ := v.(map[string]any)
	if status != http.StatusOK || m["error"] != nil {
		t.Fatalf("%s: status %d, reply %v", tool, status, v)
	}
	raw, _ := json.Marshal(m["result"])
	var r toolReply
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// mustCall is call that also fails the test on an isError result.
func (ts *testServer) mustCall(t *testing.T, tool string, args any, header ...string) toolReply {
	t.Helper()
	r := ts.call(t, tool, args, header...)
	if r.IsError {
		t.Fatalf("%s: tool error: %s", tool, r.text(t))
	}
	return r
}

// graphOf reads the whole graph (owner selected by header, if any).
func (ts *testServer) graphOf(t *testing.T, header ...string) graph {
	t.Helper()
	var g graph
	if err := json.Unmarshal(ts.mustCall(t, "read_graph", map[string]any{}, header...).Structured, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// export returns the owner's graph in JSONL, a cheap way to compare states.
func (ts *testServer) export(t *testing.T, owner string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := ts.Export(context.Background(), &buf, owner); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// names lists entity names in order.
func names(g graph) []string {
	out := []string{}
	for _, e := range g.Entities {
		out = append(out, e.Name)
	}
	return out
}

// ent builds a create_entities item.
func ent(name, typ string, obs ...string) map[string]any {
	if obs == nil {
		obs = []string{}
	}
	return map[string]any{"name": name, "entityType": typ, "observations": obs}
}

// rel builds a relation item.
func rel(from, to, typ string) map[string]any {
	return map[string]any{"from": from, "to": to, "relationType": typ}
}
