package caddymodule

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTerminalSafe(t *testing.T) {
	for in, want := range map[string]string{
		"Claude Code":               "Claude Code",
		"Café ünïcode 日本":           "Café ünïcode 日本",
		"\x1b]0;pwned\x07":          `\x1b]0;pwned\x07`,
		"evil\u202Etxt.exe":         `evil\u202etxt.exe`,
		"a\tb\nc\x7f\u0085\u2066":   `a\x09b\x0ac\x7f\u0085\u2066`,
		"\xff\xfe":                  `\xff\xfe`,
		`looks\x1bescaped`:          `looks\\x1bescaped`,
		"tag\U000E0041 zero\u200bw": `tag\U000e0041 zero\u200bw`,
	} {
		if got := terminalSafe(in); got != want {
			t.Errorf("terminalSafe(%q) = %s, want %s", in, got, want)
		}
	}
}

// A client could set its name and redirect URIs to anything before
// registration checked them, and user names come from identity sources: what
// `caddy mcp` prints of them must reach the terminal escaped, and the JSON
// must still decode to the original.
func TestMCPCommandEscapesClientChosenStrings(t *testing.T) {
	const (
		evilName = "\x1b]0;pwned\x07Laptop \u202Etxt.exe"
		evilURI  = "https://evil.example/\u202Ecb"
		evilUser = "mallory\x1b[2J"
	)
	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	os.WriteFile(caddyfile, []byte(`{
	storage file_system `+dir+`/storage
}
localhost:8443 {
	mcp_gateway {
		upstream 127.0.0.1:17800
		trusted_identity
	}
}
`), 0o600)
	// Stored as registration and an identity source would have stored them.
	put := func(key string, v any) {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, "storage", "mcpgate", "authserver", key)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	put("clients/EvilClient0123456789ab.json", map[string]any{
		"client_id": "EvilClient0123456789ab", "client_name": evilName, "redirect_uris": []string{evilURI},
		"token_endpoint_auth_method": "none", "grant_types": []string{"authorization_code", "refresh_token"},
		"response_types": []string{"code"}, "issued_at": "2026-01-01T00:00:00Z",
	})
	put("grants/EvilGrant0123456789abc.json", map[string]any{
		"id": "EvilGrant0123456789abc", "client_id": "EvilClient0123456789ab", "sub": evilUser,
		"resource": "https://localhost:8443/mcp", "iss": "https://localhost:8443", "scopes": []string{"mcp"},
		"expires_at": "2099-01-01T00:00:00Z", "login": "external",
	})

	for _, tc := range []struct {
		args []string
		want []string // in the table; JSON must decode to the originals
	}{
		{[]string{"clients"}, []string{`\x1b]0;pwned\x07Laptop \u202etxt.exe`, `https://evil.example/\u202ecb`}},
		{[]string{"grants"}, []string{`mallory\x1b[2J`}},
		{[]string{"clients", "--json"}, nil},
		{[]string{"grants", "--json"}, nil},
	} {
		out, err := runMCP(t, caddyfile, tc.args...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if i := strings.IndexFunc(out, func(r rune) bool { return r == '\x1b' || r == '\x07' || r == '\u202E' }); i >= 0 {
			t.Errorf("%v printed a raw control or bidi character at %d: %q", tc.args, i, out)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%v lacks %s:\n%s", tc.args, want, out)
			}
		}
		if tc.want != nil {
			continue
		}
		var items []map[string]any
		if err := json.Unmarshal([]byte(out), &items); err != nil || len(items) != 1 {
			t.Fatalf("%v: %v\n%s", tc.args, err, out)
		}
		if n, ok := items[0]["client_name"]; ok && n != evilName {
			t.Errorf("client_name decodes to %q", n)
		}
		if s, ok := items[0]["sub"]; ok && s != evilUser {
			t.Errorf("sub decodes to %q", s)
		}
	}
}
