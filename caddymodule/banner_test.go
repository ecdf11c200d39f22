package caddymodule_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/mcpgate/mcpgate/caddymodule"
)

// TestBannerSaysWhereToConnectOnce starts the default Caddyfile as
// `go run . run` does: the banner names the MCP URLs under localhost and
// 127.0.0.1 on both ports, the first user, the data folder and the CA
// root by absolute path (usable from any folder), and the `claude mcp add`
// line; a reload of the same process does not print it again.
func TestBannerSaysWhereToConnectOnce(t *testing.T) {
	banner := caddymodule.CaptureBanner(t)
	site := startDefaultCaddyfile(t)
	site.at(t, "https", "localhost")
	text := banner()
	t.Logf("banner:\n%s", text)

	data, err := filepath.Abs(site.data)
	if err != nil {
		t.Fatal(err)
	}
	rootCert := filepath.Join(data, "caddy", "pki", "authorities", "local", "root.crt")
	if _, err := os.Stat(rootCert); err != nil {
		t.Fatalf("the banner's CA path must exist: %v", err)
	}
	for _, want := range []string{
		"http://localhost:" + site.httpPort + "/mcp",
		"http://127.0.0.1:" + site.httpPort + "/mcp",
		"https://localhost:" + site.httpsPort + "/mcp",
		"https://127.0.0.1:" + site.httpsPort + "/mcp",
		"First user:     " + testUser + " (password from the configuration)",
		filepath.Join(data, "caddy") + " ",
		filepath.Join(data, "memory.db"),
		"NODE_EXTRA_CA_CERTS=" + rootCert + "\n",
		"claude mcp add --transport http memory http://localhost:" + site.httpPort + "/mcp\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("banner lacks %q", want)
		}
	}

	// A reload (same process, the configuration loaded again) starts
	// every app again.
	text2, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(strings.Replace(string(text2), "{\n", "{\n\tpersist_config off\n", 1))), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := caddy.Load(cfg, true); err != nil {
		t.Fatal(err)
	}
	site.at(t, "http", "127.0.0.1")
	if n := strings.Count(banner(), "mcpgate is running"); n != 1 {
		t.Errorf("banner printed %d times, want once", n)
	}
}

// TestNoBannerWhenTheStartFails: a start that fails (here the HTTP port is
// held by another socket) must not tell the user to connect.
func TestNoBannerWhenTheStartFails(t *testing.T) {
	banner := caddymodule.CaptureBanner(t)
	exampleEnv(t)
	examplePorts(t)
	t.Setenv("MCPGATE_ADMIN", freeAddr(t))
	held, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("MCPGATE_HTTP_PORT"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	text, err := os.ReadFile("../Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := loadCaddy(t, strings.Replace(string(text), "{\n", "{\n\tpersist_config off\n", 1)); err == nil {
		t.Fatal("Caddy started on a held port")
	}
	if text := banner(); text != "" {
		t.Errorf("a failed start printed the banner:\n%s", text)
	}
}
