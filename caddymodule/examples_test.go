package caddymodule_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// exampleEnv points an example's environment variables at free loopback
// ports and a temporary data folder, and returns the data folder.
func exampleEnv(t *testing.T) string {
	t.Helper()
	data := caddyData(t)
	t.Setenv("MCPGATE_DATA", data)
	examplePorts(t)
	t.Setenv("MCPGATE_USER", testUser)
	t.Setenv("MCPGATE_PASSWORD", testPassword)
	return data
}

// examplePorts points the examples' port variables at free loopback ports.
func examplePorts(t *testing.T) {
	t.Setenv("MCPGATE_HTTP_PORT", freePort(t))
	t.Setenv("MCPGATE_HTTPS_PORT", freePort(t))
	t.Setenv("MCPGATE_MEMORY_ADDR", freeAddr(t))
}

// startExample runs an example's Caddyfile on free ports (see
// startCaddyOnFreePorts).
func startExample(t *testing.T, name string) {
	t.Helper()
	startCaddyOnFreePorts(t, func() string {
		examplePorts(t)
		return exampleCaddyfile(t, name)
	})
}

// exampleCaddyfile reads an example's Caddyfile with admin and config
// persistence turned off, as every test instance runs.
func exampleCaddyfile(t *testing.T, name string) string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "examples", name, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	if strings.HasPrefix(s, "{") || strings.Contains(s, "\n{\n") {
		return strings.Replace(s, "{\n", "{\n\tadmin off\n\tpersist_config off\n", 1)
	}
	return "{\n\tadmin off\n\tpersist_config off\n}\n" + s
}

// TestExampleCaddyfilesValidate is `caddy validate` for every example.
func TestExampleCaddyfilesValidate(t *testing.T) {
	dirs, err := filepath.Glob("../examples/*/Caddyfile")
	if err != nil || len(dirs) < 5 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	for _, path := range append(dirs, "../Caddyfile") {
		name := filepath.Base(filepath.Dir(path))
		t.Run(name, func(t *testing.T) {
			exampleEnv(t)
			t.Setenv("ALICE_HASH", hashedTestPassword)
			t.Setenv("CI_CLIENT_SECRET_HASH", hashedTestPassword)
			t.Setenv("MCPGATE_REGISTRATION_TOKEN", "an-initial-access-token-of-some-length")
			t.Setenv("GOOGLE_CLIENT_ID", "gateway.apps.example")
			t.Setenv("GOOGLE_CLIENT_SECRET", "a-secret")
			text, _ := os.ReadFile(path)
			cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format(text), map[string]any{"filename": path})
			if err != nil {
				t.Fatalf("adapting: %v", err)
			}
			var cfg caddy.Config
			if err := json.Unmarshal(cfgJSON, &cfg); err != nil {
				t.Fatal(err)
			}
			if err := caddy.Validate(&cfg); err != nil {
				t.Fatalf("caddy validate: %v", err)
			}
		})
	}
}

func TestExampleLocalEndToEnd(t *testing.T) {
	data := exampleEnv(t)
	startExample(t, "local")
	g := &gateway{base: "https://localhost:" + os.Getenv("MCPGATE_HTTPS_PORT"), data: data, client: &http.Client{Timeout: 30 * time.Second}}
	g.client.Transport = trustingTransport(t, data)
	g.waitReady(t)
	gr := authorize(t, g, "laptop-client")
	if resp, body := post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`); resp.StatusCode != http.StatusOK || !strings.Contains(body, "search_nodes") {
		t.Fatalf("tools/list: %d %s", resp.StatusCode, body)
	}
}

func TestExampleLegacyToolsEndToEnd(t *testing.T) {
	backend := startBackend(t)
	data := exampleEnv(t)
	t.Setenv("LEGACY_ADDR", backend.addr)
	startExample(t, "legacy-tools")
	g := &gateway{base: "https://localhost:" + os.Getenv("MCPGATE_HTTPS_PORT"), data: data, client: &http.Client{Timeout: 30 * time.Second}}
	g.client.Transport = trustingTransport(t, data)
	g.waitReady(t)
	gr := authorize(t, g, "legacy-client")
	if resp, body := post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("ping: %d %s", resp.StatusCode, body)
	}
	if _, path := backend.lastRequest(); path != "/tools" {
		t.Fatalf("backend saw %q, want /tools", path)
	}
}

// TestExampleThirdPartyEndToEnd runs examples/third-party in front of a
// real server-everything: the backend's session and its event stream
// reach the client.
func TestExampleThirdPartyEndToEnd(t *testing.T) {
	data := exampleEnv(t)
	t.Setenv("EVERYTHING_ADDR", startEverything(t))
	startExample(t, "third-party")
	g := &gateway{base: "https://localhost:" + os.Getenv("MCPGATE_HTTPS_PORT"), data: data, client: &http.Client{Timeout: 30 * time.Second}}
	g.client.Transport = trustingTransport(t, data)
	g.waitReady(t)
	token := authorize(t, g, "third-party-client").accessToken
	resp, body := post(t, g, "/mcp", token,
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"example","version":"1"}}}`)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != http.StatusOK || session == "" {
		t.Fatalf("initialize: %d, session %q: %s", resp.StatusCode, session, body)
	}
	stream, events := openEventStream(t, g, token, session, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	defer stream.Body.Close()
	if m := readMessage(t, events); !strings.Contains(string(m.Result), `"tools"`) {
		t.Fatalf("tools/list over the event stream: %s", m.Result)
	}
}

// TestExampleBehindProxyEndToEnd puts a TLS-terminating reverse proxy for
// https://example.com in front of the example and runs the whole flow
// through it: every URL the gateway hands out names the public origin.
func TestExampleBehindProxyEndToEnd(t *testing.T) {
	data := exampleEnv(t)
	t.Setenv("MCPGATE_PUBLIC_ORIGIN", "https://example.com")
	startExample(t, "behind-proxy")
	inner, _ := url.Parse("http://127.0.0.1:" + os.Getenv("MCPGATE_HTTP_PORT"))
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(inner))
	t.Cleanup(front.Close)

	client := front.Client() // trusts the front proxy's certificate, valid for example.com
	tr := client.Transport.(*http.Transport)
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, network, front.Listener.Addr().String())
	}
	g := &gateway{base: "https://example.com", data: data, client: client}
	g.waitReady(t)

	_, body := get(t, g, "/.well-known/oauth-protected-resource/mcp")
	if !strings.Contains(body, `"resource":"https://example.com/mcp"`) || !strings.Contains(body, `"authorization_servers":["https://example.com"]`) {
		t.Fatalf("resource metadata behind the proxy: %s", body)
	}
	gr := authorize(t, g, "behind-proxy-client")
	if resp, body := post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"ping"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("ping through the front proxy: %d %s", resp.StatusCode, body)
	}
}

// TestLoopbackExamplesServeOnlyTheirOwnNames: the laptop examples serve
// localhost, 127.0.0.1 and [::1] over HTTPS, each as its own origin, and
// refuse any other Host (DNS rebinding) and any other path.
func TestLoopbackExamplesServeOnlyTheirOwnNames(t *testing.T) {
	for _, name := range []string{"local", "legacy-tools", "third-party", "docker"} {
		t.Run(name, func(t *testing.T) {
			data := exampleEnv(t)
			startExample(t, name)
			site := loopbackSite{data: data, httpsPort: os.Getenv("MCPGATE_HTTPS_PORT")}
			for _, host := range loopbackNames {
				answersAsItsOwnOrigin(t, site.at(t, "https", host))
			}
			g := site.at(t, "https", "localhost")
			refusesHost(t, g, "evil.example.com", "POST /mcp")
			if resp, body := get(t, g, "/.well-known/anything"); resp.StatusCode != http.StatusNotFound {
				t.Errorf("unknown path: %d %s, want 404", resp.StatusCode, body)
			}
		})
	}
}

// TestExampleBehindProxyLimitsIgnoreSpoofedForwardedFor: a client that
// sends its own X-Forwarded-For through the front proxy (which appends the
// address it saw, as nginx and load balancers do) cannot reset the
// registration limit with a new made-up address each time: with
// trusted_proxies_strict Caddy takes the proxy's value, not the client's.
// Also for a client on a private network: the example trusts only its
// proxy's address, not a private range, which would skip that client's own
// address and land on the one it wrote.
func TestExampleBehindProxyLimitsIgnoreSpoofedForwardedFor(t *testing.T) {
	for _, seenFrom := range []string{"203.0.113.", "10.20.30."} { // the internet, a company network
		t.Run(seenFrom+"x", func(t *testing.T) {
			exampleEnv(t)
			startExample(t, "behind-proxy")
			inner, _ := url.Parse("http://127.0.0.1:" + os.Getenv("MCPGATE_HTTP_PORT"))
			front := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(inner)
				// The test's clients connect from 127.0.0.x; the proxy
				// appends the address it saw, in the network under test.
				host, _, _ := net.SplitHostPort(pr.In.RemoteAddr)
				seen := seenFrom + host[strings.LastIndex(host, ".")+1:]
				pr.Out.Header["X-Forwarded-For"] = append(pr.In.Header.Values("X-Forwarded-For"), seen)
			}})
			t.Cleanup(front.Close)
			g := &gateway{base: front.URL, client: &http.Client{Timeout: 30 * time.Second}}
			g.waitReady(t)

			register := func(c *http.Client, spoofed string) int {
				req, _ := http.NewRequest(http.MethodPost, front.URL+"/register",
					strings.NewReader(`{"redirect_uris":["http://127.0.0.1:9/cb"],"token_endpoint_auth_method":"none"}`))
				req.Header.Set("Content-Type", "application/json")
				if spoofed != "" {
					req.Header.Set("X-Forwarded-For", spoofed)
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			attacker, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
			var statuses []int
			for i := range 12 { // the example allows 10 per minute
				statuses = append(statuses, register(attacker, "198.51.100."+strconv.Itoa(i+1)))
			}
			for i, s := range statuses {
				want := http.StatusCreated
				if i >= 10 {
					want = http.StatusTooManyRequests
				}
				if s != want {
					t.Fatalf("registrations with a new spoofed X-Forwarded-For each: %v, want 10 x 201 then 429", statuses)
				}
			}
			if s := register(other, ""); s != http.StatusCreated {
				t.Fatalf("another client behind the same proxy: %d, want 201", s)
			}
		})
	}
}
