package authserver

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestRateLimiterKeysAreHardCapped(t *testing.T) {
	l := newRateLimiter(1, time.Minute)
	l.maxKeys = 8
	for i := range 100 {
		if !l.allow("k"+strconv.Itoa(i), e0) {
			t.Fatalf("first event of a new key refused")
		}
		if n := len(l.windows); n > l.maxKeys {
			t.Fatalf("%d keys remembered, cap %d", n, l.maxKeys)
		}
	}
	// The newest key is remembered: its second event is limited.
	if l.allow("k99", e0) {
		t.Fatal("the newest key's count was lost")
	}
}

func TestRateLimitCountsIPv6PerSlash64(t *testing.T) {
	var addr testAddr
	e := newEnv(t, func(c *Config) {
		c.Registration.RateLimit = 1
		c.ClientIP = addr.clientIP
	})
	body := `{"redirect_uris":["https://a.example/cb"]}`
	for _, step := range []struct {
		ip   string
		want int
	}{
		{"2001:db8:1:2::1", http.StatusCreated},
		{"2001:db8:1:2:ffff::9", http.StatusTooManyRequests}, // same /64
		{"2001:db8:1:3::1", http.StatusCreated},              // next /64
		{"192.0.2.1", http.StatusCreated},
		{"::ffff:192.0.2.1", http.StatusTooManyRequests}, // the same IPv4 address
	} {
		addr.Store(step.ip)
		if resp, m := postJSON(e, body, nil); resp.StatusCode != step.want {
			t.Fatalf("%s: %d %v, want %d", step.ip, resp.StatusCode, m, step.want)
		}
	}
}
