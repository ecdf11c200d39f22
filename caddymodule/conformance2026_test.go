package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/jsonrpc"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// modernScenarios are the conformance suite's 2026-07-28 server scenarios
// about the protocol's new transport rules, which the gateway provides in
// front of any backend.
var modernScenarios = []string{"server-stateless", "caching", "http-header-validation"}

// conformance2026 returns the arguments of node running conformance
// 0.2.0-alpha.12 (installed as conformance-2026 beside the 0.1.16 the
// 2025-11-25 tests use, which keeps the conformance executable).
func conformance2026(t *testing.T, args ...string) []string {
	t.Helper()
	return append([]string{testenv.File(t, "conformance-2026/dist/index.js")}, args...)
}

// notApplicable are the 2026-07-28 checks that need what a backend does not
// have, with the reason; they fail with or without the gateway.
var notApplicable = map[string]string{
	"sep-2575-server-rejects-undeclared-capability":   "needs the suite's diagnostic tool test_missing_capability (a tool that requires the sampling capability)",
	"sep-2575-missing-capability-http-400":            "needs the diagnostic tool test_missing_capability",
	"sep-2549-prompts-list-caching-hints":             "the backend has no prompts (not in its capabilities), so prompts/list is rightly -32601",
	"sep-2549-resources-list-caching-hints":           "the /tools backend has no resources (not in its capabilities)",
	"sep-2549-resources-templates-list-caching-hints": "the /tools backend has no resources (not in its capabilities)",
}

// runModernConformance runs the 2026-07-28 scenarios against url and
// returns the failed checks (id: message) by scenario and how many checks
// ran and passed.
func runModernConformance(t *testing.T, url string) (failures map[string][]string, passed, total int) {
	t.Helper()
	failures = map[string][]string{}
	for _, scenario := range modernScenarios {
		out := t.TempDir()
		cmd := testenv.Cmd(t, "node", conformance2026(t, "server", "--url", url, "--spec-version", "2026-07-28", "--scenario", scenario, "-o", out)...)
		log, err := cmd.CombinedOutput()
		files, _ := filepath.Glob(filepath.Join(out, "server-*", "checks.json"))
		if len(files) == 0 {
			t.Fatalf("conformance %s --url %s: %v, no results\n%s", scenario, url, err, log)
		}
		name := regexp.MustCompile(`^server-(.+)-\d{4}-\d\d-\d\dT`)
		for _, path := range files {
			m := name.FindStringSubmatch(filepath.Base(filepath.Dir(path)))
			data, err := os.ReadFile(path)
			if m == nil || err != nil {
				t.Fatalf("unexpected result %s: %v", path, err)
			}
			var checks []struct{ ID, Status, ErrorMessage string }
			if err := json.Unmarshal(data, &checks); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			failures[m[1]] = []string{}
			for _, c := range checks {
				t.Logf("| %s | %s | %s |", m[1], c.ID, c.Status)
				switch c.Status {
				case "SUCCESS":
					passed++
					total++
				case "FAILURE":
					total++
					failures[m[1]] = append(failures[m[1]], c.ID+": "+c.ErrorMessage)
				}
			}
		}
	}
	return failures, passed, total
}

// toolsBackend is a plain JSON-RPC /tools server written for the test: the
// kind of backend the gateway grew out of (tools/list and tools/call only,
// no initialize, no MCP transport rules).
func toolsBackend(t *testing.T) string {
	t.Helper()
	b := &recordingBackend{handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req jsonrpc.Request
		if r.URL.Path != "/tools" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if req.ID == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		var resp jsonrpc.Response
		switch req.Method {
		case "tools/list":
			resp, _ = jsonrpc.NewResult(req.ID, map[string]any{"tools": []any{map[string]any{
				"name": "echo", "description": "Echoes text", "inputSchema": map[string]any{"type": "object", "properties": map[string]any{"text": map[string]any{"type": "string"}}},
			}}})
		case "tools/call":
			var p struct {
				Arguments struct{ Text string } `json:"arguments"`
			}
			_ = json.Unmarshal(req.Params, &p)
			resp, _ = jsonrpc.NewResult(req.ID, map[string]any{"content": []any{map[string]any{"type": "text", "text": p.Arguments.Text}}})
		default:
			resp = jsonrpc.NewError(req.ID, jsonrpc.MethodNotFound, "Method not found: "+req.Method)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})}
	b.listen(t, "127.0.0.1:0")
	return b.addr
}

// TestModernConformanceThroughGateway runs the 2026-07-28 transport
// scenarios through the gateway in front of memoryserver, of a plain
// JSON-RPC /tools backend and of server-everything (sessions required):
// every check must pass.
func TestModernConformanceThroughGateway(t *testing.T) {
	for name, upstream := range map[string]func(*testing.T) string{
		"memoryserver":  func(*testing.T) string { return "" },
		"tools-backend": func(t *testing.T) string { return toolsBackend(t) + "\n\t\tupstream_path /tools" },
		// A legacy server that serves nothing outside a session: the
		// gateway holds one for the suite's caller.
		"server-everything": func(t *testing.T) string { return startEverything(t) },
	} {
		t.Run(name, func(t *testing.T) {
			gwPort, frontPort := freePort(t), freePort(t)
			g := startGateway(t, gatewayOptions{upstream: upstream(t), port: gwPort, sites: fmt.Sprintf(`
http://:%[1]s {
	reverse_proxy 127.0.0.1:%[2]s {
		header_up Host localhost:%[2]s
		header_up Authorization "Bearer {env.%[3]s}"
	}
}`, frontPort, gwPort, conformanceTokenEnv)})
			t.Setenv(conformanceTokenEnv, authorize(t, g, "conformance-2026").accessToken)
			failures, passed, total := runModernConformance(t, "http://localhost:"+frontPort+"/mcp")
			t.Logf("%s: %d of %d checks passed", name, passed, total)
			for _, scenario := range modernScenarios {
				failed, ran := failures[scenario]
				if !ran {
					t.Errorf("%s did not run", scenario)
				}
				for _, f := range failed {
					id, _, _ := strings.Cut(f, ":")
					if reason := notApplicable[id]; reason != "" {
						t.Logf("%s: not applicable (%s)", id, reason)
						continue
					}
					t.Errorf("%s through the gateway: %s", scenario, f)
				}
			}
		})
	}
}
