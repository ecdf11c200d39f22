package caddymodule_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// adaptHandler adapts a site whose only directive is the given mcp_gateway
// block and returns the handler's JSON.
func adaptHandler(t *testing.T, block string) (string, error) {
	t.Helper()
	cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte("localhost:8443 {\n"+block+"\n}\n"), nil)
	if err != nil {
		return "", err
	}
	var parsed struct {
		Apps struct {
			HTTP struct {
				Servers map[string]struct {
					Routes []struct {
						Handle []struct {
							Routes []struct {
								Handle []json.RawMessage `json:"handle"`
							} `json:"routes"`
						} `json:"handle"`
					} `json:"routes"`
				} `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(cfg, &parsed); err != nil {
		t.Fatal(err)
	}
	for _, srv := range parsed.Apps.HTTP.Servers {
		h := srv.Routes[0].Handle[0].Routes[0].Handle[0]
		var indented strings.Builder
		var v any
		json.Unmarshal(h, &v)
		enc := json.NewEncoder(&indented)
		enc.SetIndent("", "\t")
		enc.Encode(v)
		return indented.String(), nil
	}
	t.Fatal("no server in adapted config")
	return "", nil
}

// TestCaddyfileAdaptsEveryOption adapts a block that uses every option and
// compares the JSON with testdata/every_option.json.
func TestCaddyfileAdaptsEveryOption(t *testing.T) {
	block, err := os.ReadFile("testdata/every_option.caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	got, err := adaptHandler(t, string(block))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/every_option.json")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("adapted JSON differs from testdata/every_option.json:\n%s", got)
	}
}

func TestCaddyfileErrorsTellTheOperatorWhatToFix(t *testing.T) {
	for _, tc := range []struct{ block, want string }{
		{"mcp_gateway {\n upstream 127.0.0.1:1\n public_origin\n}", "wrong argument count"},
		{"mcp_gateway extra {\n upstream 127.0.0.1:1\n}", "takes no arguments"},
		{"mcp_gateway {\n bogus\n}", "unrecognized mcp_gateway option 'bogus'"},
		{"mcp_gateway {\n upstream\n}", "needs at least one backend address"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n upstream 127.0.0.1:2\n}", "only one upstream"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n users {\n  bob\n }\n}", "needs exactly one bcrypt hash"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n registration sometimes\n}", "not open, token or closed"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n registration token\n}", "needs the initial access token"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n registration open {\n  rate_limit lots\n }\n}", "not a positive number"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n registration open {\n  allow_client_credentials\n }\n}", "use 'registration token <initial-access-token>', or a client block"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n registration open {\n  unused_clients_per_address 0\n }\n}", "unused_clients_per_address \"0\" is not a positive number or off"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n access_token_lifetime soon\n}", "access_token_lifetime: \"soon\" is not a duration"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n max_body huge\n}", "is not a size"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n timeout -5s\n}", "timeout: \"-5s\" must be longer than zero"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n tool_scope memory.read\n}", "tool_scope needs a scope and the tools"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n cache_hints 5m shared\n}", "cache_hints scope \"shared\" must be public (the same for every user) or private"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n cache_hints\n}", "cache_hints needs a time to live"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions\n}", "backend_sessions needs the most sessions to hold"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions many\n}", "backend_sessions \"many\" is not a positive number of sessions"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions 10 soon\n}", "backend_sessions idle time \"soon\" is not a duration such as 10m"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions 10 10m 2\n}", "backend_sessions takes the most sessions to hold and optionally how long one may idle, then a block for per_subject"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions {\n }\n}", "backend_sessions needs the most sessions to hold, optionally how long one may idle, or a block with per_subject"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions {\n  per_subject\n }\n}", "per_subject needs the most sessions held for one user"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions {\n  per_subject 0\n }\n}", "backend_sessions per_subject \"0\" is not a positive number of sessions (the default is 4)"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions 10 {\n  per_user 2\n }\n}", "unrecognized backend_sessions option 'per_user'; the only one is per_subject"},
		{"mcp_gateway {\n resource {\n }\n}", "resource needs the MCP path"},
		{"mcp_gateway {\n resource /x {\n  users\n }\n}", "unrecognized resource option 'users'"},
		{"mcp_gateway {\n resource /notes/ {\n  upstream 127.0.0.1:1\n }\n}", "must start with / and not end with one"},
		{"mcp_gateway {\n resource notes {\n  upstream 127.0.0.1:1\n }\n}", "must start with / and not end with one"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n identity_headers X-Only\n}", "identity_headers needs the subject header, the client id header and optionally the subject type header"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n allow_client_tokens yes\n}", "wrong argument count"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n first_user\n}", "first_user takes a user name"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n login_attempts many\n}", "login_attempts count \"many\" is not a positive number"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n sign_in_starts 30 soon\n}", "sign_in_starts window \"soon\" is not a positive duration"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n max_pending_sign_ins 0\n}", "max_pending_sign_ins \"0\" is not a positive number or off"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n max_pending_sign_ins\n}", "max_pending_sign_ins takes a count or off"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n client_metadata_documents on\n}", "client_metadata_documents takes only 'off'"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n client_metadata_documents off {\n  max_size 1KiB\n }\n}", "client_metadata_documents off takes no options"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n client_metadata_documents {\n  max_size big\n }\n}", "max_size \"big\" is not a size such as 5KiB"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n client_metadata_documents {\n  allow_hosts\n }\n}", "allow_hosts needs host names"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n client_metadata_documents {\n  fetch_anything\n }\n}", "unrecognized client_metadata_documents option 'fetch_anything'"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n client_metadata_documents {\n  stale_grace a_day\n }\n}", "stale_grace: \"a_day\" is not a duration such as 90s, 1h or 30d"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n grant {\n  users a\n }\n}", "grant needs the scopes it gives"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n github {\n  client_id a\n }\n}", "github needs allowed_orgs: without it anyone with a GitHub account could sign in"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n github {\n  allowed_orgs a\n  team x\n }\n}", "unrecognized github option 'team'"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n github {\n  allowed_orgs a\n }\n github {\n  allowed_orgs b\n }\n}", "sign-in provider github is declared twice"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n oidc github {\n  issuer https://a\n  client_id x\n }\n github {\n  allowed_orgs b\n }\n}", "sign-in provider github is declared twice"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n grant mcp\n}", "grant [mcp] gives its scopes to no one: add users, groups or domains"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n grant mcp {\n  roles x\n }\n}", "unrecognized grant option 'roles'"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n allow {\n }\n}", "allow lets no one in"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n allow everyone\n}", "allow takes a block"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n groups_header\n}", "groups_header needs the header's name"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n oidc {\n }\n}", "oidc needs the provider's name, used in its redirect URI <origin>/login/<name>/callback"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n oidc g {\n  client_id x\n }\n}", "oidc g needs issuer and client_id (register the gateway at the provider with the redirect URI <origin>/login/g/callback)"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n oidc g {\n  issuer https://a\n  client_id x\n  tenant y\n }\n}", "unrecognized oidc option 'tenant'"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n oidc g {\n  issuer https://a\n  client_id x\n  allowed_domains\n }\n}", "allowed_domains needs at least one value"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n oidc g {\n  issuer https://a\n  client_id x\n }\n oidc g {\n  issuer https://b\n  client_id x\n }\n}", "sign-in provider g is declared twice"},
		{"mcp_gateway {\n stdio\n}", "stdio needs the command to run"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n upstream_transport websocket\n}", "upstream_transport \"websocket\" must be http (the default) or sse"},
		{"mcp_gateway {\n upstream 127.0.0.1:1\n stdio srv\n}", "only one backend per resource"},
		{"mcp_gateway {\n stdio srv\n upstream 127.0.0.1:1\n}", "only one upstream, reverse_proxy or stdio"},
		{"mcp_gateway {\n stdio srv {\n  env A\n }\n}", "env takes a variable name and one value"},
		{"mcp_gateway {\n stdio srv {\n  env A 1\n  env A 2\n }\n}", "env A is set twice"},
		{"mcp_gateway {\n stdio srv {\n  max_processes none\n }\n}", "max_processes \"none\" is not a positive number"},
		{"mcp_gateway {\n stdio srv {\n  idle_timeout 0s\n }\n}", "idle_timeout: \"0s\" must be longer than zero"},
		{"mcp_gateway {\n stdio srv {\n  per_user\n  restart always\n }\n}", "unrecognized stdio option 'restart'"},
	} {
		_, err := adaptHandler(t, tc.block)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.block, err, tc.want)
		}
	}
}

// backend_sessions with only its block sets the share of one user and
// leaves the pool's size and idle time at their defaults.
func TestBackendSessionsBlockAlone(t *testing.T) {
	got, err := adaptHandler(t, "mcp_gateway {\n upstream 127.0.0.1:1\n backend_sessions {\n  per_subject 2\n }\n}")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, `"max_backend_sessions_per_subject": 2`) || strings.Contains(got, `"max_backend_sessions":`) || strings.Contains(got, `"backend_session_idle"`) {
		t.Errorf("adapted:\n%s", got)
	}
}
