package publicurl

import "testing"

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"https://MCP.Example.com:443/": "https://mcp.example.com",
		"HTTP://localhost:80":          "http://localhost",
		"https://mcp.example.com:8443": "https://mcp.example.com:8443",
		"https://mcp.example.com/path": "https://mcp.example.com/path", // Validate refuses it
		"":                             "",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}
