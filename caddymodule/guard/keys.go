package guard

import (
	"context"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Key cache bounds: keys are refetched at least every keyTTL (so a key the
// authorization server withdrew stops verifying), and a token naming an
// unknown kid triggers at most one refetch per keyRefetchInterval (so
// garbage kids cannot hammer the key source).
const (
	keyTTL             = 5 * time.Minute
	keyRefetchInterval = 10 * time.Second
)

// keyCache holds the public verification keys from a KeySource.
type keyCache struct {
	src KeySource
	now func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time
}

// lookup returns the candidate keys for kid (all keys when kid is empty).
func (c *keyCache) lookup(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.keys == nil || now.Sub(c.fetchedAt) >= keyTTL {
		if err := c.fetch(ctx, now); err != nil {
			return nil, err
		}
	}
	found := c.match(kid)
	if len(found) == 0 && now.Sub(c.fetchedAt) >= keyRefetchInterval {
		if err := c.fetch(ctx, now); err != nil {
			return nil, err
		}
		found = c.match(kid)
	}
	return found, nil
}

func (c *keyCache) fetch(ctx context.Context, now time.Time) error {
	set, err := c.src.VerificationKeys(ctx)
	if err != nil {
		return err
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		keys = append(keys, k.Public())
	}
	c.keys, c.fetchedAt = keys, now
	return nil
}

func (c *keyCache) match(kid string) []jose.JSONWebKey {
	if kid == "" {
		return c.keys
	}
	var found []jose.JSONWebKey
	for _, k := range c.keys {
		if k.KeyID == kid {
			found = append(found, k)
		}
	}
	return found
}
