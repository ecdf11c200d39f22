package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestRequestsAreLoggedAndCountedWithoutSecrets drives a few MCP requests
// and checks the structured log line of each, the Prometheus counters, and
// that no token, code or password appears anywhere in the logs.
func TestRequestsAreLoggedAndCountedWithoutSecrets(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "caddy.log")
	accessLog := filepath.Join(t.TempDir(), "access.log")
	g := startGateway(t, gatewayOptions{
		global: "log everything {\n\t\toutput file " + logFile + "\n\t\tlevel DEBUG\n\t}",
		site:   "metrics /metrics\n\tlog {\n\t\toutput file " + accessLog + "\n\t}",
	})
	gr := authorize(t, g, "observed-client")
	series := []string{
		`caddy_mcp_gateway_requests_total{method="tools/call",outcome="ok",resource="/mcp"}`,
		`caddy_mcp_gateway_auth_failures_total{reason="missing_token",resource="/mcp"}`,
		`caddy_mcp_gateway_auth_failures_total{reason="malformed",resource="/mcp"}`,
		`caddy_mcp_gateway_upstream_duration_seconds_count{method="tools/call",resource="/mcp"}`,
	}
	// The collectors are process-wide (shared by every gateway, as Caddy's
	// own are), so earlier tests may have counted already: compare deltas.
	before := metricValues(t, g, series)
	post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`)
	post(t, g, "/mcp", "", `{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	post(t, g, "/mcp", "not-a-token", `{"jsonrpc":"2.0","id":3,"method":"ping"}`)

	after := metricValues(t, g, series)
	for _, name := range series {
		if after[name]-before[name] != 1 {
			t.Errorf("%s went from %v to %v, want one more", name, before[name], after[name])
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

	// Caddy's access log names the caller of the tools/call.
	access, err := os.ReadFile(accessLog)
	if err != nil {
		t.Fatal(err)
	}
	found = false
	for _, line := range strings.Split(string(access), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil || entry["mcp_method"] != "tools/call" {
			continue
		}
		found = true
		if entry["user_id"] != testUser || entry["mcp_client_id"] != gr.clientID {
			t.Errorf("access log entry of the tools/call: %v", entry)
		}
	}
	if !found {
		t.Errorf("no access log entry for the tools/call in:\n%.2000s", access)
	}
}

// metricValues reads the current value of each series from /metrics (0
// when it is not there yet).
func metricValues(t *testing.T, g *gateway, series []string) map[string]float64 {
	t.Helper()
	_, text := get(t, g, "/metrics")
	values := map[string]float64{}
	for _, line := range strings.Split(text, "\n") {
		for _, name := range series {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				v, err := strconv.ParseFloat(rest, 64)
				if err != nil {
					t.Fatalf("metric %s: %v", line, err)
				}
				values[name] = v
			}
		}
	}
	return values
}
