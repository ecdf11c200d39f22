package caddymodule_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/memoryserver/nodetest"
)

// conformanceTokenEnv carries the access token the front proxy of
// TestConformanceSuiteThroughGateway adds to every request.
const conformanceTokenEnv = "MCPGATE_TEST_CONFORMANCE_TOKEN"

// conformanceMustPass are the scenarios that apply to a proxy and that the
// gateway must pass in front of server-everything (see CONFORMANCE.md).
var conformanceMustPass = []string{
	"server-initialize", "ping", "tools-list", "tools-call-simple-text", "tools-call-error",
	"logging-set-level", "resources-list", "prompts-list", "dns-rebinding-protection",
}

// conformanceProxyFailures are scenarios server-everything passes on its
// own that fail behind the gateway by design, with the reason.
var conformanceProxyFailures = map[string]string{}

// runConformance runs the suite's active server scenarios against url and
// returns each scenario's failed checks ("" when it passed).
func runConformance(t *testing.T, url string) map[string]string {
	t.Helper()
	out := t.TempDir()
	cmd := nodetest.Cmd(t, "conformance", "server", "--suite", "all", "--url", url, "-o", out)
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
// server scenarios against server-everything directly and through the
// gateway, and checks that the gateway loses none of them.
//
// The suite sends no Authorization header, so it talks to a plain Caddy
// site in front of the gateway that adds one: a real access token from the
// authorization code flow, read from the environment at request time
// ({env.*} is a runtime placeholder), and the gateway's Host so that the
// token's audience matches. Every conformance request is therefore verified
// by the guard like any client's (before the token is set, the same request
// is refused with 401).
func TestConformanceSuiteThroughGateway(t *testing.T) {
	everything := startEverything(t)
	gwPort, frontPort := freePort(t), freePort(t)
	g := startGateway(t, gatewayOptions{upstream: everything, port: gwPort, sites: fmt.Sprintf(`
http://:%[1]s {
	reverse_proxy 127.0.0.1:%[2]s {
		header_up Host localhost:%[2]s
		header_up Authorization "Bearer {env.%[3]s}"
	}
}`, frontPort, gwPort, conformanceTokenEnv)})
	front := &gateway{base: "http://localhost:" + frontPort, client: g.client}
	t.Setenv(conformanceTokenEnv, "")
	if resp, body := post(t, front, "/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("front proxy without a token: %d %s, want the guard's 401", resp.StatusCode, body)
	}
	t.Setenv(conformanceTokenEnv, authorize(t, g, "conformance-suite").accessToken)

	direct := runConformance(t, "http://localhost:"+strings.TrimPrefix(everything, "127.0.0.1:")+"/mcp")
	gated := runConformance(t, front.base+"/mcp")

	names := make([]string, 0, len(direct))
	for name := range direct {
		names = append(names, name)
	}
	sort.Strings(names)
	table := "| scenario | server-everything | through mcpgate |\n|---|---|---|\n"
	for _, name := range names {
		table += fmt.Sprintf("| %s | %s | %s |\n", name, verdict(direct, name), verdict(gated, name))
		if failed, ok := gated[name]; direct[name] == "" && (!ok || failed != "") && conformanceProxyFailures[name] == "" {
			t.Errorf("%s passes against server-everything but fails through the gateway: %s", name, failed)
		}
	}
	for _, name := range conformanceMustPass {
		if failed, ok := gated[name]; !ok || failed != "" {
			t.Errorf("%s through the gateway: %q (ran: %v)", name, failed, ok)
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
