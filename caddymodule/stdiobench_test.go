package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// BenchmarkStdioVersusHTTP sends the same tools/call (server-everything's
// echo) through the gateway to server-everything run two ways: as a stdio
// child of the gateway (/stdio, one process for the user) and as its own
// Streamable HTTP server behind reverse_proxy (/mcp, in a session). It
// reports requests per second and the median latency; see BENCHMARKS.md.
//
//	go test ./caddymodule -run '^$' -bench StdioVersusHTTP -benchtime 5s
func BenchmarkStdioVersusHTTP(b *testing.B) {
	script, err := filepath.EvalSymlinks(testenv.Bin(b, "mcp-server-everything"))
	if err != nil {
		b.Fatal(err)
	}
	g := startGateway(b, gatewayOptions{upstream: startEverything(b), gateway: fmt.Sprintf(`resource /stdio {
			stdio %s %s stdio
		}`, testenv.Bin(b, "node"), script)})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	call := func(path, token, session, body string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, g.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-06-18")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, err
	}
	const initialize = `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}`
	const echo = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`
	for _, path := range []string{"/mcp", "/stdio"} {
		name := map[string]string{"/mcp": "http", "/stdio": "stdio"}[path]
		token := authorizeFor(b, g, path, "bench "+name).accessToken
		resp, err := call(path, token, "", initialize)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s initialize: %v %v", name, err, resp)
		}
		session := resp.Header.Get("Mcp-Session-Id")
		call(path, token, session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		b.Run(name, func(b *testing.B) {
			var mu sync.Mutex
			var latencies []time.Duration
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					t0 := time.Now()
					resp, err := call(path, token, session, echo)
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Errorf("echo: %v %v", err, resp)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			slices.Sort(latencies)
			if len(latencies) > 0 {
				b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "req/s")
				b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
			}
		})
	}
}
