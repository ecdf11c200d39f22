package caddymodule_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"golang.org/x/crypto/bcrypt"

	_ "github.com/caddyserver/caddy/v2/modules/standard"
	_ "github.com/mcpgate/mcpgate/caddymodule"
	"github.com/mcpgate/mcpgate/internal/testenv"
	_ "github.com/mcpgate/mcpgate/memoryserver/caddyapp"
)

// testUser and testPassword log in on every test gateway.
const (
	testUser     = "alice"
	testPassword = "correct horse battery staple"
)

// gateway is a running Caddy with an mcp_gateway and its memory server.
type gateway struct {
	// base is the public origin, e.g. http://localhost:PORT.
	base string
	// caddyfile is the configuration it runs, for restarts.
	caddyfile string
	// data is the folder holding Caddy's storage and the memory database.
	data string
	// client trusts the gateway's certificate when it serves HTTPS.
	client *http.Client
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func freePort(t testing.TB) string {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	return port
}

// startCaddy adapts caddyfile and runs it in this process until the test
// ends. Caddy is a process-wide singleton, so these tests do not run in
// parallel.
func startCaddy(t testing.TB, caddyfileText string) {
	t.Helper()
	if err := loadCaddy(t, caddyfileText); err != nil {
		t.Fatal(err)
	}
}

// startCaddyOnFreePorts runs the Caddyfile that build returns; build picks
// its ports with freePort or freeAddr. A port can be taken by another
// process between that lookup and Caddy's listen, so on "address already in
// use" it builds again with new ports, a few times. It returns the
// Caddyfile that runs.
func startCaddyOnFreePorts(t testing.TB, build func() string) string {
	t.Helper()
	const attempts = 5
	for attempt := 1; ; attempt++ {
		text := build()
		err := loadCaddy(t, text)
		if err == nil {
			return text
		}
		taken := errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") ||
			strings.Contains(err.Error(), "the address is taken by") // the memory server's own check
		if attempt == attempts || !taken {
			t.Fatal(err)
		}
		t.Logf("a port was taken meanwhile, choosing others: %v", err)
	}
}

// caddyData returns a new folder for Caddy's data (storage, the local CA),
// removed when the test ends. Not t.TempDir: certmagic may still be
// writing a certificate it was obtaining when Caddy stopped, and the
// removal is tried again until that write is done.
func caddyData(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mcpgate-test-data-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		if !eventually(10*time.Second, func() bool { err = os.RemoveAll(dir); return err == nil }) {
			t.Errorf("removing Caddy's data folder: %v", err)
		}
	})
	return dir
}

// loadCaddy adapts caddyfileText and runs it until the test ends.
func loadCaddy(t testing.TB, caddyfileText string) error {
	t.Helper()
	cfg, warnings, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(caddyfileText)), nil)
	if err != nil {
		return fmt.Errorf("adapting Caddyfile: %v\n%s", err, caddyfileText)
	}
	for _, w := range warnings {
		t.Logf("Caddyfile warning: %s", w.String())
	}
	if err := caddy.Load(cfg, true); err != nil {
		return fmt.Errorf("loading config: %w\n%s", err, cfg)
	}
	t.Cleanup(func() {
		if err := caddy.Stop(); err != nil {
			t.Errorf("stopping Caddy: %v", err)
		}
	})
	return nil
}

// gatewayOptions shape startGateway's Caddyfile.
type gatewayOptions struct {
	tls     bool   // serve https://localhost with Caddy's local CA
	data    string // reuse this data folder (a restart); default a new one
	gateway string // extra mcp_gateway subdirectives
	site    string // extra site directives before mcp_gateway
	global  string // extra global options
	// upstream replaces the memoryserver app as the backend: its address,
	// optionally followed by "upstream_path <path>" on a new line.
	upstream string
	// backend replaces the whole "upstream <address>" line, for a backend
	// of another kind (a stdio block).
	backend string
	// port is the gateway site's port; default a free one.
	port string
	// sites are extra site blocks after the gateway's.
	sites string
}

// startGateway runs the default shape of deployment: the memoryserver app on
// a loopback port and a site whose mcp_gateway fronts it, with one user.
func startGateway(t testing.TB, o gatewayOptions) *gateway {
	t.Helper()
	if o.data == "" {
		o.data = caddyData(t)
	}
	var scheme, port string
	cf := startCaddyOnFreePorts(t, func() string {
		memAddr := freeAddr(t)
		upstream := "upstream " + memAddr
		if o.upstream != "" {
			upstream = "upstream " + o.upstream
		}
		if o.backend != "" {
			upstream = o.backend
		}
		httpPort, httpsPort := freePort(t), freePort(t)
		var tlsLine string
		scheme, port = "http", httpPort
		if o.tls {
			scheme, port, tlsLine = "https", httpsPort, "tls internal"
		}
		if o.port != "" {
			port = o.port
		}
		cf := fmt.Sprintf(`{
	admin off
	persist_config off
	log {
		level ERROR
	}
	http_port %s
	https_port %s
	storage file_system %s/caddy
	skip_install_trust
	%s
	memoryserver {
		listen %s
		db %s/memory.db
		subject_header X-MCP-Subject
	}
}

%s://localhost:%s {
	%s
	%s
	mcp_gateway {
		%s
		users {
			%s %s
		}
		%s
	}
}
%s
`, httpPort, httpsPort, o.data, o.global, memAddr, o.data, scheme, port, tlsLine, o.site, upstream, testUser, hashedTestPassword, o.gateway, o.sites)
		return cf
	})
	g := &gateway{base: scheme + "://localhost:" + port, caddyfile: cf, data: o.data, client: &http.Client{Timeout: 30 * time.Second}}
	if o.tls {
		g.client.Transport = trustingTransport(t, o.data)
	}
	g.waitReady(t)
	return g
}

// waitReady waits until the gateway answers discovery; with TLS, Caddy
// issues the site's certificate in the background after it starts.
func (g *gateway) waitReady(t testing.TB) {
	t.Helper()
	var lastErr error
	if !eventually(10*time.Second, func() bool {
		resp, err := g.client.Get(g.base + "/.well-known/oauth-protected-resource/mcp")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		lastErr = err
		return false
	}) {
		t.Fatalf("gateway at %s not ready: %v", g.base, lastErr)
	}
}

// restartGateway stops Caddy and starts it again with the same
// configuration and data folder, as a process restart would.
func restartGateway(t testing.TB, g *gateway) *gateway {
	t.Helper()
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	startCaddy(t, g.caddyfile)
	g.waitReady(t)
	return g
}

// trustingTransport trusts Caddy's local CA kept under data.
func trustingTransport(t testing.TB, data string) *http.Transport {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(data, "caddy", "pki", "authorities", "local", "root.crt"))
	if err != nil {
		t.Fatalf("reading Caddy's local root certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in Caddy's root.crt")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	return tr
}

// hashedTestPassword is testPassword's bcrypt hash, at the cheapest cost.
var hashedTestPassword = func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
}()
