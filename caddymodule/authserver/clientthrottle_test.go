package authserver

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestWrongStaticClientSecretsAreThrottled(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	e := newEnv(t, func(c *Config) {
		c.ClientAuthFailures = 3
		c.Clients = []StaticClient{{ID: "ci", SecretHash: testUserHash}, {ID: "ci2", SecretHash: testUserHash}}
		c.ClientIP = addr.clientIP
	})
	token := func(id, secret string) (int, map[string]any, http.Header) {
		return e.postForm("/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	}
	for range 3 {
		status, m, _ := token("ci", "guess")
		wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
	}
	throttled := func(what string, status int, m map[string]any, h http.Header) {
		t.Helper()
		if status != http.StatusTooManyRequests || m["error"] != "temporarily_unavailable" || h.Get("Retry-After") != "300" {
			t.Fatalf("%s: %d %v Retry-After=%q, want 429 temporarily_unavailable", what, status, m, h.Get("Retry-After"))
		}
	}
	status, m, h := token("ci", testPassword)
	throttled("right secret after the limit", status, m, h)
	status, m, h = e.postForm("/revoke", url.Values{"token": {"x"}}, "ci", testPassword)
	throttled("revocation", status, m, h)
	status, m, h = token("ci2", testPassword)
	throttled("another client from the same address", status, m, h)

	addr.Store("198.51.100.7")
	status, m, h = token("ci", testPassword)
	throttled("the same client from another address", status, m, h)
	if status, m, _ := token("ci2", testPassword); status != http.StatusOK {
		t.Fatalf("an unthrottled client from an unthrottled address: %d %v", status, m)
	}

	e.clock.Advance(5 * time.Minute)
	addr.Store("192.0.2.1")
	if status, m, _ := token("ci", testPassword); status != http.StatusOK {
		t.Fatalf("after the window: %d %v", status, m)
	}
}
