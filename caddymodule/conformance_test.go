package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// conformanceTokenEnv carries the access token the front proxy of
// TestConformanceSuiteThroughGateway adds to every request.
const conformanceTokenEnv = "MCPGATE_TEST_CONFORMANCE_TOKEN"

// everythingMustPass are the scenarios that must pass through the gateway
// in front of server-everything: those it passes on its own, and
// dns-rebinding-protection, which the gateway adds. It has none of the
// suite's test_* fixtures, so the other tools, prompts and resources
// scenarios fail against it with or without the gateway.
var everythingMustPass = []string{
	"server-initialize", "ping", "tools-list", "tools-call-simple-text", "tools-call-error",
	"logging-set-level", "resources-list", "resources-subscribe", "resources-unsubscribe",
	"prompts-list", "server-sse-multiple-streams", "dns-rebinding-protection",
}

// fixtureExpectedFailures are the scenarios testdata/conformance/server.mjs
// does not implement, with the reason; it must pass all others through the
// gateway.
var fixtureExpectedFailures = map[string]string{
	"server-sse-polling": "needs test_reconnection and resuming the call's stream with GET and Last-Event-ID; the gateway answers GET with 405",
}

// startConformanceFixture runs testdata/conformance/server.mjs, the suite's
// fixtures as a Streamable HTTP server, and returns its address.
func startConformanceFixture(t *testing.T) string {
	t.Helper()
	port := freePort(t)
	cmd := testenv.Cmd(t, "node", "testdata/conformance/server.mjs", port)
	modules := filepath.Dir(filepath.Dir(testenv.Bin(t, "node")))
	cmd.Env = append(cmd.Env, "SDK_DIR="+filepath.Join(modules, "@modelcontextprotocol", "sdk"))
	return startNodeServer(t, cmd, "127.0.0.1:"+port)
}

// runConformance runs the suite's server scenarios that selection picks
// ("--suite", "all" or "--scenario", name) against url and returns each
// scenario's failed checks ("" when it passed).
func runConformance(t *testing.T, url string, selection ...string) map[string]string {
	t.Helper()
	out := t.TempDir()
	cmd := testenv.Cmd(t, "conformance", append([]string{"server", "--url", url, "-o", out}, selection...)...)
	log, err := cmd.CombinedOutput()
	// The suite exits 1 when any scenario fails; its per-scenario checks
	// are in out/server-<scenario>-<timestamp>/checks.json.
	dirs, _ := filepath.Glob(filepath.Join(out, "server-*", "checks.json"))
	if len(dirs) == 0 {
		t.Fatalf("conformance server --url %s: %v, no results\n%s", url, err, log)
	}
	name := regexp.MustCompile(`^server-(.+)-\d{4}-\d\d-\d\dT`)
	results := map[string]string{}
	for _, path := range dirs {
		m := name.FindStringSubmatch(filepath.Base(filepath.Dir(path)))
		data, err := os.ReadFile(path)
		if m == nil || err != nil {
			t.Fatalf("unexpected result %s: %v", path, err)
		}
		var checks []struct {
			ID, Status, ErrorMessage string
		}
		if err := json.Unmarshal(data, &checks); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var failed []string
		for _, c := range checks {
			if c.Status == "FAILURE" {
				failed = append(failed, c.ID+": "+c.ErrorMessage)
			}
		}
		results[m[1]] = strings.Join(failed, "; ")
	}
	return results
}

// TestConformanceSuiteThroughGateway runs the official conformance suite's
// server scenarios against two Streamable HTTP servers, directly and
// through the gateway, and checks that the gateway loses none of them.
func TestConformanceSuiteThroughGateway(t *testing.T) {
	t.Run("server-everything", func(t *testing.T) {
		conformanceThroughGateway(t, startEverything(t), func(name string) bool {
			return slices.Contains(everythingMustPass, name)
		})
	})
	t.Run("fixture", func(t *testing.T) {
		conformanceThroughGateway(t, startConformanceFixture(t), func(name string) bool {
			return fixtureExpectedFailures[name] == ""
		})
	})
}

// conformanceThroughGateway runs the suite against backend, then through a
// gateway in front of it. A scenario that passes directly must pass through
// the gateway, and so must every scenario mustPass names.
//
// The suite sends no Authorization header, so it talks to a plain Caddy
// site in front of the gateway that adds one: a real access token from the
// authorization code flow, read from the environment at request time
// ({env.*} is a runtime placeholder), and the gateway's Host so that the
// token's audience matches. Every conformance request is therefore verified
// by the guard like any client's (before the token is set, the same request
// is refused with 401).
func conformanceThroughGateway(t *testing.T, backend string, mustPass func(scenario string) bool) {
	conformanceCompared(t, backend, gatewayOptions{upstream: backend}, mustPass)
}

// conformanceCompared is conformanceThroughGateway where the gateway's
// backend is o's (a stdio block) and backend is the same server over HTTP,
// run directly.
func conformanceCompared(t *testing.T, backend string, o gatewayOptions, mustPass func(scenario string) bool) {
	gwPort, frontPort := freePort(t), freePort(t)
	o.port = gwPort
	o.sites = fmt.Sprintf(`
http://:%[1]s {
	reverse_proxy 127.0.0.1:%[2]s {
		header_up Host localhost:%[2]s
		header_up Authorization "Bearer {env.%[3]s}"
	}
}`, frontPort, gwPort, conformanceTokenEnv)
	g := startGateway(t, o)
	front := &gateway{base: "http://localhost:" + frontPort, client: g.client}
	t.Setenv(conformanceTokenEnv, "")
	if resp, body := post(t, front, "/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("front proxy without a token: %d %s, want the guard's 401", resp.StatusCode, body)
	}
	t.Setenv(conformanceTokenEnv, authorize(t, g, "conformance-suite").accessToken)

	// The backends are of the 2025 era: the 2026-07-28 scenarios (the
	// suite has them since 0.2.0) fail against them directly too.
	direct := runConformance(t, "http://localhost:"+strings.TrimPrefix(backend, "127.0.0.1:")+"/mcp", "--suite", "all")
	gated := runConformance(t, front.base+"/mcp", "--suite", "all")
	names := slices.Sorted(maps.Keys(direct))
	table := "| scenario | directly | through mcpgate |\n|---|---|---|\n"
	for _, name := range names {
		table += fmt.Sprintf("| %s | %s | %s |\n", name, verdict(direct, name), verdict(gated, name))
		failed, ran := gated[name]
		if (direct[name] == "" || mustPass(name)) && (!ran || failed != "") {
			t.Errorf("%s through the gateway: %s", name, verdict(gated, name))
		}
	}
	t.Logf("conformance results:\n%s", table)
}

// verdict is a scenario's cell in the results table.
func verdict(results map[string]string, name string) string {
	failed, ok := results[name]
	switch {
	case !ok:
		return "not run"
	case failed == "":
		return "pass"
	}
	return "FAIL: " + strings.ReplaceAll(failed, "|", "/")
}
