package caddymodule_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// Negative held-session bounds, which only JSON can hold (the Caddyfile
// parser refuses them), stop `caddy validate` with the JSON keys to fix,
// not with the transport's Go field names at the first request.
func TestNegativeBackendSessionBoundsStopValidate(t *testing.T) {
	site := `{
	storage file_system ` + t.TempDir() + `
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		github {
			client_id Iv1.0123456789abcdef
			client_secret the-secret
			allowed_orgs acme
		}
		backend_sessions 5 1m {
			per_subject 2
		}
	}
}
`
	cfgJSON, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(site), nil)
	if err != nil {
		t.Fatal(err)
	}
	var valid caddy.Config
	if err := json.Unmarshal(cfgJSON, &valid); err != nil {
		t.Fatal(err)
	}
	if err := caddy.Validate(&valid); err != nil {
		t.Fatalf("the positive bounds: %v", err)
	}
	for _, tc := range []struct{ from, to string }{
		{`"max_backend_sessions":5`, `"max_backend_sessions":-5`},
		{`"max_backend_sessions_per_subject":2`, `"max_backend_sessions_per_subject":-2`},
		{`"backend_session_idle":60000000000`, `"backend_session_idle":-60000000000`},
	} {
		if !strings.Contains(string(cfgJSON), tc.from) {
			t.Fatalf("adapted config has no %s: %s", tc.from, cfgJSON)
		}
		var cfg caddy.Config
		if err := json.Unmarshal([]byte(strings.Replace(string(cfgJSON), tc.from, tc.to, 1)), &cfg); err != nil {
			t.Fatal(err)
		}
		want := "max_backend_sessions, max_backend_sessions_per_subject and backend_session_idle must not be negative"
		if err := caddy.Validate(&cfg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: validate: %v, want %q", tc.to, err, want)
		}
	}
}
