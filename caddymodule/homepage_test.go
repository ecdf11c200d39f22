package caddymodule_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fetch sends a request with the given headers and returns the response
// and its body.
func fetch(t *testing.T, g *gateway, method, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// browserAccept is the Accept header of a browser's navigation.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// TestDefaultCaddyfileHomePage: / of the default sites, and /mcp for a
// browser, is a page naming the site's own MCP URL and how to connect;
// MCP clients (and a browser that sends a token) still get the JSON 401.
func TestDefaultCaddyfileHomePage(t *testing.T) {
	site := startDefaultCaddyfile(t)
	for _, g := range []*gateway{site.at(t, "http", "localhost"), site.at(t, "https", "127.0.0.1")} {
		for _, c := range []struct{ path, accept string }{{"/", ""}, {"/", browserAccept}, {"/mcp", browserAccept}, {"/mcp/", browserAccept}} {
			resp, body := fetch(t, g, http.MethodGet, c.path, "Accept", c.accept)
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s%s (Accept %q): %d %s, want the page", g.base, c.path, c.accept, resp.StatusCode, resp.Header.Get("Content-Type"))
				continue
			}
			for _, want := range []string{g.base + "/mcp", "claude mcp add --transport http memory " + g.base + "/mcp", "mcp-remote", ".vscode/mcp.json", "For the operator"} {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s%s: the page lacks %q", g.base, c.path, want)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("GET %s%s: Content-Security-Policy %q", g.base, c.path, csp)
			}
		}
		for _, c := range []struct {
			method string
			header []string
		}{
			{http.MethodGet, []string{"Accept", "text/event-stream"}},
			{http.MethodGet, []string{"Accept", "application/json, text/event-stream"}},
			{http.MethodPost, []string{"Accept", "application/json, text/event-stream", "Content-Type", "application/json"}},
			{http.MethodGet, []string{"Accept", browserAccept, "Authorization", "Bearer not-a-token"}},
		} {
			resp, body := fetch(t, g, c.method, "/mcp", c.header...)
			if resp.StatusCode != http.StatusUnauthorized || !json.Valid([]byte(body)) {
				t.Errorf("%s %s/mcp %v: %d %q, want the JSON 401 an MCP client expects", c.method, g.base, c.header, resp.StatusCode, body)
			}
		}
	}
}

// TestHomePageInChromium opens / and /mcp in a real browser and keeps a
// screenshot of the page (MCPGATE_ARTIFACTS/home.png).
func TestHomePageInChromium(t *testing.T) {
	browser := startChromium(t)
	g := startGateway(t, gatewayOptions{gateway: "home_page"})
	tab := browser.newPage(t)
	for _, path := range []string{"/mcp", "/"} {
		tab.do(t, "Page.navigate", map[string]any{"url": g.base + path})
		text := tab.waitFor(t, `document.querySelector("code.url") ? document.body.innerText : ""`)
		for _, want := range []string{"This is an MCP server", g.base + "/mcp", "claude mcp add --transport http memory " + g.base + "/mcp"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s in Chromium lacks %q:\n%s", path, want, text)
			}
		}
	}
	var shot struct{ Data string }
	json.Unmarshal(tab.do(t, "Page.captureScreenshot", map[string]any{"format": "png"}), &shot)
	png, _ := base64.StdEncoding.DecodeString(shot.Data)
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatal("the screenshot is not a PNG")
	}
	path := filepath.Join(artifactsDir(t), "home.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("home page screenshot: %s", path)
}
