package caddymodule_test

import (
	"fmt"
	"strings"
	"testing"
)

// runTSClientV2 runs testdata/tsclient2.mjs (the TypeScript SDK v2 client)
// against the gateway in negotiation mode, calling tool with args, playing
// its browser, and returns its results by step.
func runTSClientV2(t *testing.T, g *gateway, name, mode, tool, args string) map[string]map[string]any {
	t.Helper()
	return runNodeClient(t, g, name, passwordLogin, "CLIENT_DIR="+nodePackage(t, "@modelcontextprotocol", "client"),
		"testdata/tsclient2.mjs", g.base+"/mcp", name, mode, tool, args)
}

// TestTypeScriptSDKv2ClientInEveryNegotiationMode runs the v2 client
// through the whole OAuth flow and tool calls, in its three negotiation
// modes, against memoryserver and a plain JSON-RPC /tools backend: legacy
// speaks 2025-11-25 (initialize), auto and the pinned 2026-07-28 get the
// gateway's server/discover and speak 2026-07-28.
func TestTypeScriptSDKv2ClientInEveryNegotiationMode(t *testing.T) {
	backends := []struct {
		name, upstream, tool, args, want string
	}{
		{"memoryserver", "", "create_entities", `{"entities":[{"name":"v2-note-%[1]s","entityType":"note","observations":["from the v2 SDK"]}]}`, "v2-note-%[1]s"},
		{"tools-backend", "tools", "echo", `{"text":"through the gateway in %[1]s mode"}`, "through the gateway in %[1]s mode"},
	}
	// The memory server's create_entities answers with the entities it
	// created, so each mode creates its own.
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			upstream := ""
			if b.upstream == "tools" {
				upstream = toolsBackend(t) + "\n\t\tupstream_path /tools"
			}
			g := startGateway(t, gatewayOptions{tls: true, upstream: upstream})
			for _, mode := range []string{"legacy", "auto", "2026-07-28"} {
				r := runTSClientV2(t, g, "ts-v2-"+mode, mode, b.tool, fmt.Sprintf(b.args, mode))
				want := fmt.Sprintf(b.want, mode)
				wantEra, wantVersion := "modern", "2026-07-28"
				if mode == "legacy" {
					wantEra, wantVersion = "legacy", "2025-11-25"
				}
				if c := r["connected"]; c["era"] != wantEra || c["version"] != wantVersion {
					t.Errorf("%s: connected %v, want era %s version %s", mode, c, wantEra, wantVersion)
				}
				if names := fmt.Sprint(r["tools"]["names"]); !strings.Contains(names, b.tool) {
					t.Errorf("%s: tools/list %s", mode, names)
				}
				if c := r["call"]; c["isError"] != false || !strings.Contains(fmt.Sprint(c["text"]), want) {
					t.Errorf("%s: %s: %v", mode, b.tool, c)
				}
				if ref := r["refreshed"]; ref["askedUserAgain"] != false || ref["isError"] != false {
					t.Errorf("%s: after refresh: %v", mode, ref)
				}
			}
		})
	}
}
