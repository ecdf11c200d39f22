package authserver

import (
	"net/http"
	"strings"
	"testing"
)

func TestPasswordLoginsAreThrottledPerAddress(t *testing.T) {
	var addr testAddr
	addr.Store("192.0.2.1")
	e := newEnv(t, func(c *Config) {
		c.LoginAttempts = 3
		c.ClientIP = addr.clientIP
	})
	c := e.publicClient()
	_, challenge := pkce()
	b := e.browser()
	_, page := b.get(authParams(c, challenge))
	for range 3 {
		form := formOf(t, page)
		form.Set("username", testUser)
		form.Set("password", "guess")
		var resp *http.Response
		resp, page = b.post(form)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `name="password"`) {
			t.Fatalf("wrong password: %d, want 401 and the login form again", resp.StatusCode)
		}
	}
	resp, _ := b.login(page)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt (right password) from the same address: %d, want 429", resp.StatusCode)
	}

	addr.Store("192.0.2.2")
	other := e.browser()
	_, page = other.get(authParams(c, challenge))
	if resp, page := other.login(page); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
		t.Fatalf("another address during the throttle: %d, want the consent page", resp.StatusCode)
	}
}
