package stdiobackend

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
)

// serve runs b behind an HTTP server whose requests carry the identity
// named by their X-Test-Subject, X-Test-Client-ID and X-Test-Client (a
// token without a user) headers, as the guard would set it.
func serve(t *testing.T, b *Backend) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.Header.Get("X-Test-Subject"); s != "" {
			id := guard.Identity{Subject: s, ClientID: r.Header.Get("X-Test-Client-ID"), Client: r.Header.Get("X-Test-Client") == "1"}
			r = r.WithContext(guard.WithIdentity(r.Context(), id))
		}
		b.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.Close()
		b.Close()
	})
	return srv
}

func newBackend(t *testing.T, cfg Config) *Backend {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rpc posts body as subject and returns the answer, its body read.
func rpc(t *testing.T, srv *httptest.Server, subject, body string) (*http.Response, string) {
	t.Helper()
	resp := rpcStream(t, srv, subject, body)
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(data)
}

func rpcStream(t *testing.T, srv *httptest.Server, subject, body string) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(newRPC(context.Background(), srv, guard.Identity{Subject: subject}, body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// rpcAs posts body as id (its subject, client id and Client flag) and
// returns the answer, its body read.
func rpcAs(t *testing.T, srv *httptest.Server, id guard.Identity, body string) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(newRPC(context.Background(), srv, id, body))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(data)
}

// newRPC is a POST of body to srv as id (no identity when its subject is
// empty).
func newRPC(ctx context.Context, srv *httptest.Server, id guard.Identity, body string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader(body))
	if id.Subject != "" {
		req.Header.Set("X-Test-Subject", id.Subject)
	}
	if id.ClientID != "" {
		req.Header.Set("X-Test-Client-ID", id.ClientID)
	}
	if id.Client {
		req.Header.Set("X-Test-Client", "1")
	}
	return req
}

// result decodes a JSON reply's result into v and returns its id.
func result(t *testing.T, body string, v any) json.RawMessage {
	t.Helper()
	var m struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Result == nil {
		t.Fatalf("not a JSON-RPC result: %v %s", err, body)
	}
	if v != nil {
		if err := json.Unmarshal(m.Result, v); err != nil {
			t.Fatal(err)
		}
	}
	return m.ID
}

type echoed struct {
	Params   json.RawMessage `json:"params"`
	Env      []string        `json:"env"`
	Dir      string          `json:"dir"`
	PID      int             `json:"pid"`
	Notified []string        `json:"notified"`
}

func echo(t *testing.T, srv *httptest.Server, subject string) echoed {
	t.Helper()
	resp, body := rpc(t, srv, subject, `{"jsonrpc":"2.0","id":1,"method":"echo"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("echo as %q: %d %s", subject, resp.StatusCode, body)
	}
	var e echoed
	result(t, body, &e)
	return e
}

// nextData returns the data of the next SSE event on r.
func nextData(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended: %v", err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			return strings.TrimSpace(data)
		}
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no /proc: the signal test is all there is
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) == 0 || fields[0] != "Z"
}

// eventually polls cond until it holds or within passes.
func eventually(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// clock is a settable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
