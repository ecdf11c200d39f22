// Package oidctest runs a real OpenID provider for tests: panva's
// oidc-provider (npm, certified) on a loopback port, started by the test
// with a user database of the test's own and groups in a custom claim,
// team_groups (oidcprovider.mjs beside this file says how it is set up).
package oidctest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/internal/testenv"
)

// GroupsClaim is the claim the provider puts the users' groups in.
const GroupsClaim = "team_groups"

// Client is a client registered at the provider.
type Client struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret"`
	RedirectURIs []string `json:"redirect_uris"`
}

// User is an account at the provider, signed in with its map key as the
// login and Password.
type User struct {
	Password      string   `json:"password"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified,omitempty"` // default true
	Groups        []string `json:"groups,omitempty"`
	Disabled      bool     `json:"disabled,omitempty"`
}

// Config is the provider's setup.
type Config struct {
	Clients []Client        `json:"clients"`
	Users   map[string]User `json:"users"`
	// IDTokenTTL is the lifetime of ID tokens. Default: 1h.
	IDTokenTTL time.Duration `json:"-"`
}

// Provider is a running provider.
type Provider struct {
	// Issuer is its issuer, http://127.0.0.1:<port>.
	Issuer string
	stop   func()
}

// Start runs a provider until the test ends. Without the Node tools it
// skips the test, or fails it under MCPGATE_CI=1.
func Start(t testing.TB, cfg Config) *Provider {
	t.Helper()
	node := testenv.Bin(t, "node")
	modules := filepath.Dir(filepath.Dir(node))
	if _, err := os.Stat(filepath.Join(modules, "oidc-provider")); err != nil {
		msg := "oidctest: the npm package oidc-provider is not installed; run bash .ci/run"
		if os.Getenv("MCPGATE_CI") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	raw, err := json.Marshal(struct {
		Config
		TTL int `json:"id_token_ttl,omitempty"`
	}{cfg, int(cfg.IDTokenTTL / time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "provider.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, self, _, _ := runtime.Caller(0)
	cmd := testenv.Cmd(t, "node", filepath.Join(filepath.Dir(self), "oidcprovider.mjs"), cfgPath)
	cmd.Env = append(cmd.Env, "NODE_MODULES_DIR="+modules)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Provider{}
	var once bool
	p.stop = func() {
		if !once {
			once = true
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(p.stop)
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "ISSUER "); ok {
				lines <- issuer
			}
		}
	}()
	select {
	case p.Issuer = <-lines:
	case <-time.After(30 * time.Second):
		p.stop()
		t.Fatalf("oidctest: the provider did not start: %s", stderr.String())
	}
	return p
}

// Stop ends the provider (a provider that is down).
func (p *Provider) Stop() { p.stop() }

// SetUsers replaces the provider's users (a group removed, an account
// disabled).
func (p *Provider) SetUsers(t testing.TB, users map[string]User) {
	t.Helper()
	raw, _ := json.Marshal(users)
	resp, err := http.Post(p.Issuer+"/_test/users", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("oidctest: setting users: status %d", resp.StatusCode)
	}
}
