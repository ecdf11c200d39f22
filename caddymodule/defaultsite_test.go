package caddymodule_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loopbackNames are the hosts the default sites answer to, as a client
// writes them in a URL.
var loopbackNames = []string{"localhost", "127.0.0.1", "[::1]"}

// loopbackSite is a Caddyfile of this repository serving the loopback
// names, running on the free ports exampleEnv chose.
type loopbackSite struct {
	data, httpPort, httpsPort string
}

// startDefaultCaddyfile runs the repository's own Caddyfile, the one
// `go run . run` serves.
func startDefaultCaddyfile(t *testing.T) loopbackSite {
	t.Helper()
	data := exampleEnv(t)
	t.Setenv("MCPGATE_ADMIN", freeAddr(t))
	text, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	startCaddyOnFreePorts(t, func() string {
		examplePorts(t)
		return strings.Replace(string(text), "{\n", "{\n\tpersist_config off\n", 1)
	})
	return loopbackSite{data: data, httpPort: os.Getenv("MCPGATE_HTTP_PORT"), httpsPort: os.Getenv("MCPGATE_HTTPS_PORT")}
}

// at returns a client of the site at scheme://host on its port for that
// scheme, once it answers. The client never follows redirects: a redirect
// is an answer under test, not a way to reach the gateway.
func (s loopbackSite) at(t *testing.T, scheme, host string) *gateway {
	t.Helper()
	port := s.httpPort
	if scheme == "https" {
		port = s.httpsPort
	}
	g := &gateway{base: scheme + "://" + host + ":" + port, data: s.data, client: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if scheme == "https" {
		g.client.Transport = trustingTransport(t, s.data)
	}
	g.waitReady(t)
	return g
}

// TestDefaultCaddyfileEndToEnd runs the authorization code flow and a tool
// call on both default sites, under a name and an address.
func TestDefaultCaddyfileEndToEnd(t *testing.T) {
	site := startDefaultCaddyfile(t)
	for _, at := range [][2]string{{"https", "localhost"}, {"http", "localhost"}, {"https", "127.0.0.1"}, {"http", "127.0.0.1"}} {
		g := site.at(t, at[0], at[1])
		gr := authorize(t, g, "default-setup-client")
		if resp, body := post(t, g, "/mcp", gr.accessToken, `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_graph","arguments":{}}}`); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: tools/call: %d %s", g.base, resp.StatusCode, body)
		}
	}
}

// TestDefaultCaddyfileAnswersEveryLoopbackName: http://127.0.0.1:8080/mcp
// once got Caddy's redirect to https://127.0.0.1/mcp (port 443), which no
// client survives. Every loopback name works on both ports, and each names
// its own origin in discovery and in the 401 challenge, so that a client
// never leaves the origin it was given.
func TestDefaultCaddyfileAnswersEveryLoopbackName(t *testing.T) {
	site := startDefaultCaddyfile(t)
	for _, scheme := range []string{"http", "https"} {
		for _, host := range loopbackNames {
			answersAsItsOwnOrigin(t, site.at(t, scheme, host))
		}
	}
}

// TestDefaultCaddyfileRefusesForeignHosts: a web page whose own name now
// resolves to 127.0.0.1 (DNS rebinding) makes the browser send its Host to
// the loopback ports. The plain-HTTP port used to answer it with Caddy's
// redirect to the HTTPS site; both ports now refuse it, with no Location to
// follow, whatever the path. No Origin header is sent: the refusal must not
// depend on the gateway's Origin check.
func TestDefaultCaddyfileRefusesForeignHosts(t *testing.T) {
	site := startDefaultCaddyfile(t)
	plain, secure := site.at(t, "http", "localhost"), site.at(t, "https", "localhost")
	for _, g := range []*gateway{plain, secure} {
		for _, host := range []string{"evil.example.com", "evil.example.com:" + site.httpPort, "localhost.evil.example.com", "127.0.0.2"} {
			for _, target := range []string{"POST /mcp", "GET /.well-known/oauth-authorization-server", "GET /authorize", "GET /"} {
				refusesHost(t, g, host, target)
			}
		}
	}
}

// TestDefaultCaddyfileUnknownPathsAreNotFound: the default sites serve the
// gateway and nothing else, so any other path is a JSON 404; it used to be
// an empty 200, which a client probing for metadata takes as an answer.
func TestDefaultCaddyfileUnknownPathsAreNotFound(t *testing.T) {
	site := startDefaultCaddyfile(t)
	for _, g := range []*gateway{site.at(t, "http", "localhost"), site.at(t, "https", "127.0.0.1")} {
		for _, path := range []string{"/foo", "/.well-known/anything", "/mcp-extra"} {
			resp, body := get(t, g, path)
			if resp.StatusCode != http.StatusNotFound || !json.Valid([]byte(body)) {
				t.Errorf("%s%s: %d %q, want a JSON 404", g.base, path, resp.StatusCode, body)
			}
		}
	}
}

// TestDefaultCaddyfileConformanceDNSRebinding runs the official suite's
// dns-rebinding-protection scenario against the default plain-HTTP site:
// an initialize with Host and Origin evil.example.com must get a 4xx, the
// same request from localhost a 2xx.
//
// The suite sends no Authorization header, so it talks to a front proxy
// that adds an access token and keeps the Host it was sent: the refusal it
// sees is the site's own. The token comes from the authorization code flow
// through that proxy, so its audience is the origin the suite uses.
func TestDefaultCaddyfileConformanceDNSRebinding(t *testing.T) {
	scenario := "dns-rebinding-protection"
	site := startDefaultCaddyfile(t)
	site.at(t, "http", "localhost")
	inner, _ := url.Parse("http://127.0.0.1:" + site.httpPort)
	var token atomic.Value
	token.Store("")
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(inner)
		r.Out.Host = r.In.Host
		if tok := token.Load().(string); tok != "" && r.In.Header.Get("Authorization") == "" {
			r.Out.Header.Set("Authorization", "Bearer "+tok)
		}
	}}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	_, port, _ := net.SplitHostPort(front.Listener.Addr().String())
	g := &gateway{base: "http://localhost:" + port, data: site.data, client: &http.Client{Timeout: 30 * time.Second}}
	token.Store(authorize(t, g, "conformance-suite").accessToken)

	results := runConformance(t, g.base+"/mcp", "--scenario", scenario)
	if failed, ran := results[scenario]; !ran || failed != "" {
		t.Fatalf("%s against the default Caddyfile: %s", scenario, verdict(results, scenario))
	}
}

// answersAsItsOwnOrigin checks that discovery and the 401 challenge at g
// name g's own origin.
func answersAsItsOwnOrigin(t *testing.T, g *gateway) {
	t.Helper()
	resp, body := get(t, g, "/.well-known/oauth-protected-resource/mcp")
	var prm struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
	}
	if err := json.Unmarshal([]byte(body), &prm); err != nil || resp.StatusCode != http.StatusOK ||
		prm.Resource != g.base+"/mcp" || len(prm.AuthorizationServers) != 1 || prm.AuthorizationServers[0] != g.base {
		t.Errorf("%s: resource metadata: %d %s", g.base, resp.StatusCode, body)
	}
	resp, body = get(t, g, "/.well-known/oauth-authorization-server")
	var asm struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(body), &asm); err != nil || resp.StatusCode != http.StatusOK || asm.Issuer != g.base {
		t.Errorf("%s: authorization server metadata: %d %s", g.base, resp.StatusCode, body)
	}
	resp, body = post(t, g, "/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"ping"}`)
	challenge := `resource_metadata="` + g.base + `/.well-known/oauth-protected-resource/mcp"`
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), challenge) {
		t.Errorf("%s: POST /mcp without a token: %d %q %s, want 401 with %s", g.base, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body, challenge)
	}
}

// refusesHost checks that target ("METHOD /path") sent to g with Host host
// gets a 4xx and nothing to follow.
func refusesHost(t *testing.T, g *gateway, host, target string) {
	t.Helper()
	method, path, _ := strings.Cut(target, " ")
	req, _ := http.NewRequest(method, g.base+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Host = host
	resp, err := g.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 4 || resp.Header.Get("Location") != "" {
		t.Errorf("%s with Host %s: %d (Location %q) %s, want a 4xx refusal", target, host, resp.StatusCode, resp.Header.Get("Location"), body)
	}
}
