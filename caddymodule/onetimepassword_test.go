package caddymodule_test

import (
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcpgate/mcpgate/caddymodule"
)

// bannerPassword returns the one-time password a banner shows, "" if none.
func bannerPassword(text string) string {
	m := regexp.MustCompile(`First user: +admin, password (\S+)`).FindStringSubmatch(text)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestOneTimePasswordShownUntilTheFirstLogin: the generated password of
// the first user survives starts until it is used (a first start that
// failed does not burn it), is no longer shown after the first login, and
// `mcp passwd` gives a new one, revoking the user's grants.
func TestOneTimePasswordShownUntilTheFirstLogin(t *testing.T) {
	first := caddymodule.CaptureBanner(t)
	g := startGateway(t, gatewayOptions{gateway: "first_user admin"})
	password := bannerPassword(first())
	if password == "" {
		t.Fatalf("the first start shows no password:\n%s", first())
	}

	second := caddymodule.CaptureBanner(t)
	restartGateway(t, g)
	if got := bannerPassword(second()); got != password {
		t.Fatalf("before the first login a restart shows %q, want the same password:\n%s", got, second())
	}

	gr := authorizeAs(t, g, "admin", password, "/mcp", "first login")

	third := caddymodule.CaptureBanner(t)
	restartGateway(t, g)
	if strings.Contains(third(), password) || !strings.Contains(third(), "forgot the password?") {
		t.Fatalf("after the first login the banner still shows the password, or no recovery:\n%s", third())
	}

	// The recovery: a new password, printed once, and the old grants end.
	caddyfile := filepath.Join(t.TempDir(), "Caddyfile")
	if err := os.WriteFile(caddyfile, []byte(g.caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "mcp", "passwd", "admin", "--config", caddyfile)
	cmd.Env = append(os.Environ(), runAsCaddyEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mcp passwd: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^    (\S+)$`).FindSubmatch(out)
	if m == nil || !strings.Contains(string(out), "1 grant(s) of admin revoked") {
		t.Fatalf("mcp passwd printed no password or revoked nothing:\n%s", out)
	}
	resp, err := g.client.PostForm(g.base+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {gr.refreshToken}, "client_id": {gr.clientID}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a grant of the old password still refreshes: %d", resp.StatusCode)
	}
	restartGateway(t, g)
	authorizeAs(t, g, "admin", string(m[1]), "/mcp", "after passwd")
}
