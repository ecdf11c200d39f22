package transport

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard"
	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
)

const benchCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`

// echoBackend answers every request with a fixed tools/call result.
var echoBackend = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{}"}]}}` + "\n"))
})

func benchServe(b *testing.B, h http.Handler, header http.Header) {
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "http://gw.example/mcp", strings.NewReader(benchCall))
		for k, v := range header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkBackendDirect is the baseline: the backend handler alone.
func BenchmarkBackendDirect(b *testing.B) { benchServe(b, echoBackend, nil) }

// BenchmarkAdapter measures the adapter without authentication.
func BenchmarkAdapter(b *testing.B) {
	h, err := New(Config{Origin: func(*http.Request) string { return "http://gw.example" }}, echoBackend)
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, h, nil)
}

// BenchmarkAdapterWithGuard measures adapter and guard with a cached token.
func BenchmarkAdapterWithGuard(b *testing.B) {
	issuer := guardtest.NewIssuer(b, "k1")
	origin := func(*http.Request) string { return "http://gw.example" }
	g, err := guard.New(guard.Config{Origin: origin}, issuer, issuer)
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(Config{Origin: origin, Gate: g}, echoBackend)
	if err != nil {
		b.Fatal(err)
	}
	token := issuer.Mint(b, guardtest.Claims("http://gw.example", "/mcp", time.Now()))
	benchServe(b, h, http.Header{"Authorization": {"Bearer " + token}})
}
