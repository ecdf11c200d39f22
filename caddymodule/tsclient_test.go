package caddymodule_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// runTSClient runs testdata/tsclient.mjs (the TypeScript SDK client) against
// the gateway, playing its browser, and returns its results by step.
func runTSClient(t *testing.T, g *gateway, name string) map[string]map[string]any {
	t.Helper()
	return runTSClientAs(t, g, name, passwordLogin)
}

// runTSClientAs is runTSClient with the browser's part played by authorize.
func runTSClientAs(t *testing.T, g *gateway, name string, authorize browserStep) map[string]map[string]any {
	t.Helper()
	return runNodeClient(t, g, name, authorize, "SDK_DIR="+nodePackage(t, "@modelcontextprotocol", "sdk"),
		"testdata/tsclient.mjs", g.base+"/mcp", name)
}

// browserStep plays the browser from the authorization URL to the redirect
// back to the client.
type browserStep func(b *browsertest.Browser, authURL string) (*url.URL, error)

// passwordLogin logs in with the test user's password and approves.
func passwordLogin(b *browsertest.Browser, authURL string) (*url.URL, error) {
	return b.Authorize(authURL, testUser, testPassword, "approve")
}

// nodePackage returns the folder of an installed npm package.
func nodePackage(t *testing.T, path ...string) string {
	t.Helper()
	modules := filepath.Dir(filepath.Dir(testenv.Bin(t, "node")))
	return filepath.Join(append([]string{modules}, path...)...)
}

// runNodeClient runs a Node.js client script with args and env (one
// NAME=value, trusting the gateway's local CA too), plays the browser with
// authorize when it prints "AUTHORIZE <url>" (answering the redirect on its
// stdin), and returns what it printed as "RESULT <json>" lines, by "step".
func runNodeClient(t *testing.T, g *gateway, name string, authorize browserStep, env, script string, args ...string) map[string]map[string]any {
	t.Helper()
	cmd := testenv.Cmd(t, "node", append([]string{script}, args...)...)
	cmd.Env = append(cmd.Env, env,
		"NODE_EXTRA_CA_CERTS="+filepath.Join(g.data, "caddy", "pki", "authorities", "local", "root.crt"))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	browser := browsertest.New(g.client.Transport)
	results := map[string]map[string]any{}
	scanner := bufio.NewScanner(stdout)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "AUTHORIZE "):
			back, err := authorize(browser, strings.TrimPrefix(line, "AUTHORIZE "))
			if err != nil {
				t.Fatalf("%s: browser step: %v", name, err)
			}
			io.WriteString(stdin, back.String()+"\n")
		case strings.HasPrefix(line, "RESULT "):
			var r map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &r); err != nil {
				t.Fatal(err)
			}
			results[fmt.Sprint(r["step"])] = r
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	return results
}

func TestTypeScriptSDKClientsThroughOAuthOverTLS(t *testing.T) {
	g := startGateway(t, gatewayOptions{tls: true})
	one := runTSClient(t, g, "ts-sdk-one")
	two := runTSClient(t, g, "ts-sdk-two")

	for name, r := range map[string]map[string]map[string]any{"ts-sdk-one": one, "ts-sdk-two": two} {
		if names := fmt.Sprint(r["tools"]["names"]); !strings.Contains(names, "create_entities") {
			t.Errorf("%s: tools/list through the gateway: %s", name, names)
		}
		if r["create"]["isError"] != false {
			t.Errorf("%s: create_entities failed: %v", name, r["create"])
		}
		if r["client"]["refresh"] != true {
			t.Errorf("%s: no refresh token: %v", name, r["client"])
		}
		ref := r["refreshed"]
		if ref["rotated"] != true || ref["askedUserAgain"] != false || ref["found"] != true {
			t.Errorf("%s: after refresh: %v (want rotated, not asked again, entity found)", name, ref)
		}
	}
	if one["client"]["client_id"] == two["client"]["client_id"] {
		t.Errorf("both TypeScript clients got client id %v; want one registration each", one["client"]["client_id"])
	}
}
