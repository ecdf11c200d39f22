package guard

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers verified tokens until they expire, so the signature
// is checked once per token, and when their revocation status was last
// consulted. Entries are keyed by a hash of the origin and the token, so a
// token verified for one origin is not reused for another and the cache
// holds no token text.
type tokenCache struct {
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*cachedToken
}

// cachedToken is one verified token.
type cachedToken struct {
	id        Identity
	expires   time.Time
	checkedAt time.Time // last revocation check; zero means never
	revoked   bool
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[sha256.Size]byte]*cachedToken)}
}

func cacheKey(origin, raw string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(origin))
	h.Write([]byte{0})
	h.Write([]byte(raw))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// get returns a copy of the live entry for key, if any.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return cachedToken{}, false
	}
	if now.After(e.expires.Add(clockSkew)) {
		delete(c.entries, key)
		return cachedToken{}, false
	}
	return *e, true
}

// put stores e. When the cache is full it drops expired entries and then,
// if still above 90% full, arbitrary ones, so a full cache is not rescanned
// on every put.
func (c *tokenCache) put(key [sha256.Size]byte, e cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[key] = &e
}

func (c *tokenCache) evict(now time.Time) {
	for k, e := range c.entries {
		if now.After(e.expires.Add(clockSkew)) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.max*9/10 {
			return
		}
		delete(c.entries, k)
	}
}
