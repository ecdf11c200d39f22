package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRequestsAreLoggedAndCountedWithoutSecrets drives a few MCP requests
// and checks the structured log line of each, the Prometheus counters, and
// that no token, code or password appears anywhere in the logs.
func TestRequestsAreLoggedAndCountedWithoutSecrets(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	g := startGateway(t, gatewayOptions{
		global: "log everything {\n\t\toutput file " + logFile + "\n\t\tlevel DEBUG\n\t}",
		site:   "metrics /metrics",
	})
	gr := authorize(t, g, "observed-client")
	post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`)
	post(t, g, "/mcp", "", `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	post(t, g, "/mcp", "not-a-token", `{"jsonrpc":"2.0","id":3,"method":"ping"}`)

	_, metrics := get(t, g, "/metrics")
	for _, want := range []string{
		`caddy_mcp_gateway_requests_total{method="tools/call",outcome="ok",resource="/mcp"} 1`,
		`caddy_mcp_gateway_auth_failures_total{reason="missing_token",resource="/mcp"} 1`,
		`caddy_mcp_gateway_auth_failures_total{reason="malformed",resource="/mcp"} 1`,
		`caddy_mcp_gateway_upstream_duration_seconds_count{method="tools/call",resource="/mcp"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{gr.accessToken, gr.refreshToken, testPassword, "not-a-token"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the log contains a secret: %.20s...", secret)
		}
	}
	var found bool
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var entry map[string]any
		if json.Unmarshal(sc.Bytes(), &entry) != nil || entry["msg"] != "mcp request" || entry["method"] != "tools/call" {
			continue
		}
		found = true
		if entry["tool"] != "read_graph" || entry["sub"] != testUser || entry["client_id"] != gr.clientID ||
			entry["status"] != float64(http.StatusOK) || entry["duration"] == nil {
			t.Errorf("log entry of the tools/call: %v", entry)
		}
	}
	if !found {
		t.Errorf("no 'mcp request' log entry for the tools/call in:\n%.2000s", data)
	}
}
