package caddymodule_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// Two sites importing one gateway snippet (the default Caddyfile's shape)
// share one authorization server: a registration limit of one per address
// holds across both sites instead of doubling.
func TestSitesWithTheSameSettingsShareOneAuthorizationServer(t *testing.T) {
	data := t.TempDir()
	var portA, portB string
	startCaddyOnFreePorts(t, func() string {
		portA, portB = freePort(t), freePort(t)
		return fmt.Sprintf(`{
	admin off
	persist_config off
	log {
		level ERROR
	}
	storage file_system %s/caddy
}

(gateway) {
	mcp_gateway {
		upstream %s
		users {
			%s %s
		}
		registration open {
			rate_limit 1 1h
		}
	}
}

http://localhost:%s {
	import gateway
}

http://localhost:%s {
	import gateway
}
`, data, freeAddr(t), testUser, hashedTestPassword, portA, portB)
	})

	client := &http.Client{Timeout: 10 * time.Second}
	register := func(port string) int {
		t.Helper()
		body := `{"redirect_uris":["http://127.0.0.1:9/callback"],"token_endpoint_auth_method":"none"}`
		resp, err := client.Post("http://localhost:"+port+"/register", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := register(portA); status != http.StatusCreated {
		t.Fatalf("first registration: %d, want 201", status)
	}
	if status := register(portB); status != http.StatusTooManyRequests {
		t.Fatalf("second registration from the same address on the other site: %d, want 429 (one limiter per process)", status)
	}
}

// The mcp_auth global option configures the app; mistakes name the fix.
func TestAuthAppGlobalOption(t *testing.T) {
	adapt := func(global string) (string, error) {
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("{\n"+global+"\n}\n:8080 {\n}\n"), nil)
		return string(cfg), err
	}
	cfg, err := adapt("mcp_auth {\n sweep_interval 5m\n}")
	if err != nil || !strings.Contains(cfg, `"mcp_auth":{"sweep_interval":300000000000}`) {
		t.Fatalf("adapted %s, %v", cfg, err)
	}
	for global, want := range map[string]string{
		"mcp_auth {\n sweep_interval -1m\n}": "must be a positive duration",
		"mcp_auth {\n sweep 5m\n}":           "known: sweep_interval",
	} {
		if _, err := adapt(global); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", global, err, want)
		}
	}
}

// The routing table refuses a resource whose path another part of the
// gateway serves, at load time, naming the path.
func TestResourcePathThatCollidesWithAnEndpointIsRefused(t *testing.T) {
	err := loadCaddy(t, fmt.Sprintf(`{
	admin off
	persist_config off
	storage file_system %s/caddy
}
http://localhost:%s {
	mcp_gateway {
		upstream %s
		users {
			%s %s
		}
		resource /token {
			upstream %s
		}
	}
}
`, t.TempDir(), freePort(t), freeAddr(t), testUser, hashedTestPassword, freeAddr(t)))
	if err == nil || !strings.Contains(err.Error(), "path /token is already served") {
		t.Fatalf("loading a resource at /token: %v", err)
	}
}
