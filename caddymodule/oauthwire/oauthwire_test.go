package oauthwire

import "testing"

func TestScopeToken(t *testing.T) {
	for s, want := range map[string]bool{"mcp": true, "memory.read": true, "a:b/c": true, "": false, "a b": false, `a"b`: false, `a\b`: false, "é": false} {
		if got := ScopeToken(s); got != want {
			t.Errorf("ScopeToken(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true, "localhost.evil.example": false, "10.0.0.1": false, "example.com": false, "": false} {
		if got := LoopbackHost(h); got != want {
			t.Errorf("LoopbackHost(%q) = %v, want %v", h, got, want)
		}
	}
}
