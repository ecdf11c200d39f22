package stdiobackend

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
)

// legacySSE is a 2024-11-05 HTTP+SSE server: GET opens a session and
// names its POST endpoint; each POSTed request is answered on the stream
// with the session's id and the subject header it came with.
type legacySSE struct {
	mu       sync.Mutex
	sessions map[string]chan string
	hosts    []string // hosts the POSTs were sent to
	n        int
	endpoint string // format of the endpoint event, %s the session id
}

func (s *legacySSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		s.n++
		id := fmt.Sprint("s", s.n)
		ch := make(chan string, 16)
		s.sessions[id] = ch
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "event: endpoint\ndata: "+s.endpoint+"\n\n", id)
		http.NewResponseController(w).Flush()
		for {
			select {
			case msg := <-ch:
				fmt.Fprintf(w, "event: message\ndata: %s\n\n", msg)
				http.NewResponseController(w).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case http.MethodPost:
		s.mu.Lock()
		ch := s.sessions[r.URL.Query().Get("sessionId")]
		s.hosts = append(s.hosts, r.URL.Host)
		s.mu.Unlock()
		var m struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if ch == nil || json.NewDecoder(r.Body).Decode(&m) != nil || r.URL.Path != "/message" {
			http.Error(w, "no session", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		if m.ID == nil {
			return
		}
		result := map[string]any{"session": r.URL.Query().Get("sessionId"), "subject": r.Header.Get("X-Test-Subject")}
		if m.Method == "initialize" {
			result = map[string]any{"protocolVersion": "2024-11-05", "capabilities": map[string]any{}, "serverInfo": map[string]any{"name": "legacy", "version": "1"}}
		}
		out, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": result})
		ch <- string(out)
	}
}

func TestSSEServerGetsOneSessionPerSubject(t *testing.T) {
	legacy := &legacySSE{sessions: map[string]chan string{}, endpoint: "http://elsewhere.example/message?sessionId=%s"}
	srv := serve(t, newBackend(t, Config{SSE: legacy}))
	type who struct{ Session, Subject string }
	call := func(subject string) who {
		resp, body := rpc(t, srv, subject, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", subject, resp.StatusCode, body)
		}
		var w who
		result(t, body, &w)
		return w
	}
	a, b := call("alice"), call("bob")
	if a.Session == b.Session || a.Subject != "alice" || b.Subject != "bob" {
		t.Errorf("alice %+v, bob %+v: want a session each, with the caller's identity", a, b)
	}
	if again := call("alice"); again != a {
		t.Errorf("alice's second call %+v, want session %s again", again, a.Session)
	}
	// A client token named "alice" is not the user alice.
	resp, body := rpcAs(t, srv, guard.Identity{Subject: "alice", ClientID: "alice", Client: true}, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	var client who
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the client alice: %d %s", resp.StatusCode, body)
	}
	result(t, body, &client)
	if client.Session == a.Session {
		t.Errorf("the client alice got the user alice's session %s", a.Session)
	}
	_, body = rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`)
	if !strings.Contains(body, `"protocolVersion":"2024-11-05"`) || !strings.Contains(body, `"legacy"`) {
		t.Errorf("initialize: %s", body)
	}
	// The endpoint event named another host: the POSTs still go where
	// the event stream came from.
	for _, h := range legacy.hosts {
		if h == "elsewhere.example" {
			t.Errorf("a POST went to the host the server named: %s", h)
		}
	}
}

func TestSSEServerThatIsNotAnEventStream(t *testing.T) {
	srv := serve(t, newBackend(t, Config{SSE: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	})}))
	resp, body := rpc(t, srv, "alice", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "not an event stream") {
		t.Errorf("%d %s, want 502 saying it is not an event stream", resp.StatusCode, body)
	}
}
