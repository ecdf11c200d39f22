package publicurl

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestOrigin(t *testing.T) {
	plain := httptest.NewRequest("GET", "http://Example.COM:8080/mcp", nil)
	secure := httptest.NewRequest("GET", "https://example.com/mcp", nil)
	secure.TLS = &tls.ConnectionState{}
	proxied := httptest.NewRequest("GET", "http://10.0.0.5:8080/mcp", nil)
	proxied.Header.Set("X-Forwarded-Proto", "https")
	proxied.Header.Set("X-Forwarded-Host", "mcp.example.com, inner.example")
	evil := httptest.NewRequest("GET", "http://10.0.0.5:8080/mcp", nil)
	evil.Header.Set("X-Forwarded-Host", "evil.example/path?x")

	for _, tc := range []struct{ name, got, want string }{
		{"configured wins", Origin(proxied, "https://public.example/", true), "https://public.example"},
		{"plain request, host lowercased", Origin(plain, "", false), "http://example.com:8080"},
		{"TLS request", Origin(secure, "", false), "https://example.com"},
		{"trusted proxy's forwarded origin", Origin(proxied, "", true), "https://mcp.example.com"},
		{"untrusted forwarding headers are ignored", Origin(proxied, "", false), "http://10.0.0.5:8080"},
		{"a forwarded host that is not a host is ignored", Origin(evil, "", true), "http://10.0.0.5:8080"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}
