package caddymodule_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Identity headers: the guard replaces X-MCP-Subject in the request's
// header, but a chunked request may carry X-MCP-Subject again as a trailer
// after the body. The adapter reads the whole body and hands the upstream
// request the client's Trailer map and Transfer-Encoding, so Caddy's
// reverse proxy sends the client's trailer on to the backend. Servers that
// fold trailers into headers (Apache httpd with MergeTrailers on, older
// Tomcat with allowedTrailerHeaders, any framework that reads trailers as
// headers) then see the client's subject; the gateway never looked at it.
func TestTrailerCannotCarryIdentityToBackend(t *testing.T) {
	var mu sync.Mutex
	var got http.Header
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		mu.Lock()
		got = r.Trailer.Clone()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	g := startGateway(t, gatewayOptions{upstream: l.Addr().String()})
	gr := authorize(t, g, "trailer-client")
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\nTrailer: X-MCP-Subject\r\n\r\n%x\r\n%s\r\n0\r\nX-MCP-Subject: mallory\r\n\r\n",
		strings.TrimPrefix(g.base, "http://"), gr.accessToken, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chunked ping with a trailer: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Get("X-MCP-Subject") != "" {
		t.Errorf("the client's trailer reached the backend: %v (the verified subject is %q)", got, testUser)
	}
}
