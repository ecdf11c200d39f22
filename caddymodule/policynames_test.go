package caddymodule_test

import (
	"strings"
	"testing"
)

// TestAGroupOfAnUnknownProviderStopsValidate: `caddy validate` of a grant
// naming gihtub:acme (a typo of the configured github) fails and says what
// to write, instead of starting with a rule that matches no one.
func TestAGroupOfAnUnknownProviderStopsValidate(t *testing.T) {
	site := func(group string) string {
		return `{
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
		grant mcp {
			groups ` + group + `
		}
	}
}
`
	}
	want := `grant mcp: group "gihtub:acme": there is no sign-in provider "gihtub" (configured: github); write <provider>:<group> with one of them`
	if err := validateCaddyfile(t, site("gihtub:acme")); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("validate: %v\nwant %q", err, want)
	}
	if err := validateCaddyfile(t, site("github:acme")); err != nil {
		t.Errorf("validate github:acme: %v", err)
	}
}
