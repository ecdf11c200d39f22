package guard

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mcpgate/mcpgate/caddymodule/guard/guardtest"
)

func TestRevocationTakesEffectWithinTTL(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RevocationCacheTTL = 10 * time.Second })
	tok := "Bearer " + f.token(nil)
	if _, got := f.admit(tok, nil); got == nil {
		t.Fatal("refused before revocation")
	}
	f.as.Revoke("grant-1", true)
	if _, got := f.admit(tok, nil); got == nil {
		t.Fatal("revocation answer was not cached")
	}
	f.clock.advance(10 * time.Second)
	w, got := f.admit(tok, nil)
	if got != nil || w.Code != http.StatusUnauthorized {
		t.Fatalf("revoked grant still admitted after the TTL: %d", w.Code)
	}
	f.as.Revoke("grant-1", false)
	f.clock.advance(time.Minute)
	if _, got := f.admit(tok, nil); got != nil {
		t.Fatal("a revoked token came back to life")
	}
}

func TestRevokedTokenByJTI(t *testing.T) {
	f := newFixture(t, nil)
	f.as.Revoke("tok-1", true)
	if w, got := f.admit("Bearer "+f.token(nil), nil); got != nil || w.Code != http.StatusUnauthorized {
		t.Fatalf("revoked jti admitted: %d", w.Code)
	}
}

func TestVerifiedTokenIsCachedUntilExpiry(t *testing.T) {
	f := newFixture(t, nil)
	tok := "Bearer " + f.token(func(c map[string]any) { c["exp"] = f.clock.now().Add(time.Minute).Unix() })
	f.admit(tok, nil)
	f.as.SetKeys() // a cached token needs no key
	if _, got := f.admit(tok, nil); got == nil {
		t.Fatal("cached token refused")
	}
	f.clock.advance(time.Minute + clockSkew + time.Second)
	if w, got := f.admit(tok, nil); got != nil || w.Code != http.StatusUnauthorized {
		t.Fatalf("expired cached token admitted: %d", w.Code)
	}
}

func TestCacheIsPerOrigin(t *testing.T) {
	origin := testOrigin
	f := newFixture(t, func(c *Config) { c.Origin = func(*http.Request) string { return origin } })
	tok := "Bearer " + f.token(nil)
	if _, got := f.admit(tok, nil); got == nil {
		t.Fatal("refused")
	}
	origin = "https://other.example"
	if _, got := f.admit(tok, nil); got != nil {
		t.Fatal("token cached for one origin admitted on another")
	}
}

func TestUnknownKidRefetchesKeysBounded(t *testing.T) {
	f := newFixture(t, nil)
	f.admit("Bearer "+f.token(nil), nil)
	rotated := guardtest.NewIssuer(t, "k2")
	f.as.SetKeys(f.as.PublicKey(), rotated.PublicKey())
	tok := "Bearer " + rotated.Mint(t, f.claims())
	fetches := f.as.Fetches()
	if _, got := f.admit(tok, nil); got != nil {
		t.Fatal("refetched keys before keyRefetchInterval")
	}
	f.clock.advance(keyRefetchInterval)
	if _, got := f.admit(tok, nil); got == nil {
		t.Fatal("new key not picked up after keyRefetchInterval")
	}
	if got := f.as.Fetches(); got != fetches+1 {
		t.Errorf("key fetches = %d, want %d", got, fetches+1)
	}
}

func TestWithdrawnKeyStopsVerifyingAfterKeyTTL(t *testing.T) {
	f := newFixture(t, nil)
	f.admit("Bearer "+f.token(func(c map[string]any) { c["jti"] = "a" }), nil)
	f.as.SetKeys(guardtest.NewIssuer(t, "k2").PublicKey())
	f.clock.advance(keyTTL)
	if _, got := f.admit("Bearer "+f.token(func(c map[string]any) { c["jti"] = "b" }), nil); got != nil {
		t.Fatal("withdrawn key still verifies")
	}
}

func TestTokenCacheBounded(t *testing.T) {
	c := newTokenCache(10)
	now := time.Unix(0, 0)
	for i := range 100 {
		c.put(cacheKey("o", string(rune('a'+i))), cachedToken{expires: now.Add(time.Hour)}, now)
	}
	if n := len(c.entries); n > 10 {
		t.Fatalf("cache holds %d entries, bound 10", n)
	}
}

func TestAdmitConcurrently(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.CacheSize = 4 })
	tokens := make([]string, 8)
	for i := range tokens {
		tokens[i] = "Bearer " + f.token(func(c map[string]any) { c["jti"] = fmt.Sprint("t", i) })
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			if _, got := f.admit(tokens[i%len(tokens)], nil); got == nil {
				t.Error("refused")
			}
		})
	}
	wg.Wait()
}
