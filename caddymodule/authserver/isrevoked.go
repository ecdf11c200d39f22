package authserver

import (
	"context"
	"strings"
	"sync"
	"time"
)

// revocation records a revoked access token (by jti) until it expires.
type revocation struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// revocationCache remembers final answers: a revoked token or grant, until
// it would have expired anyway. "Not revoked" is never cached here: the
// guard reuses it for its revocation_check_interval, and a second cache
// stacked on that one would stretch the documented bound.
type revocationCache struct {
	mu      sync.Mutex
	entries map[string]time.Time // key -> revoked until
}

// maxCachedAnswers bounds the cache; beyond it, expired answers are dropped.
const maxCachedAnswers = 100_000

func newRevocationCache() *revocationCache {
	return &revocationCache{entries: map[string]time.Time{}}
}

func (c *revocationCache) revoked(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.entries[key]
	return ok && !now.After(until)
}

func (c *revocationCache) set(key string, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedAnswers {
		for k, u := range c.entries {
			if now.After(u) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedAnswers {
			clear(c.entries)
		}
	}
	c.entries[key] = until
}

// IsRevoked reports whether the access token with this jti, or what its
// sid names, has been revoked: a grant (its refresh-token family) that was
// revoked or whose user is gone (see grant.holderGone), or for a token
// without a user the client, when it was deleted or may no longer obtain
// such tokens. Storage is the truth; only final "revoked" answers are
// cached (see revocationCache).
func (s *Server) IsRevoked(ctx context.Context, jti, sid string) (bool, error) {
	revoked, err := s.cachedRevoked(ctx, "jti:"+jti, jti, s.tokenRevoked)
	if revoked || err != nil || sid == "" {
		return revoked, err
	}
	if strings.HasPrefix(sid, clientSIDPrefix) {
		return s.cachedRevoked(ctx, "client:"+sid, sid, s.clientSIDRevoked)
	}
	return s.cachedRevoked(ctx, "grant:"+sid, sid, s.grantRevoked)
}

// cachedRevoked answers from the cache or asks lookup, which also judges
// ids this server cannot have issued. lookup returns a non-zero time only
// with a final "revoked" answer: how long it stays worth remembering.
func (s *Server) cachedRevoked(ctx context.Context, key, id string, lookup func(context.Context, string) (bool, time.Time, error)) (bool, error) {
	now := s.cfg.Now()
	if s.revoked.revoked(key, now) {
		return true, nil
	}
	revoked, until, err := lookup(ctx, id)
	if err != nil {
		return false, err
	}
	if revoked && !until.IsZero() {
		s.revoked.set(key, until, now)
	}
	return revoked, nil
}

// tokenRevoked looks up a revoked access token.
func (s *Server) tokenRevoked(ctx context.Context, jti string) (bool, time.Time, error) {
	if !validID(jti) {
		return true, time.Time{}, nil // not an id this server issued
	}
	var r revocation
	found, err := s.store.get(ctx, s.store.key(nsRevoked, jti+".json"), &r)
	return found, r.ExpiresAt, err
}

// grantRevoked looks up a grant. One that is not in storage has expired
// with all its tokens. A revoked grant stays revoked; one whose user is gone
// is refused each time it is asked about, never remembered, so that an
// instance still running an older configuration (a rolling reload)
// refuses, but does not destroy, a grant of a user it does not know yet.
func (s *Server) grantRevoked(ctx context.Context, id string) (bool, time.Time, error) {
	if !validID(id) {
		return true, time.Time{}, nil // not an id this server issued
	}
	var g grant
	found, err := s.store.get(ctx, s.store.key(nsGrants, id+".json"), &g)
	switch {
	case err != nil || !found:
		return false, time.Time{}, err
	case g.Revoked:
		return true, g.ExpiresAt, nil
	case s.holderGone(&g) != "" || s.policyRefuses(&g) != "":
		return true, time.Time{}, nil
	}
	return false, time.Time{}, nil
}

// revokeToken records an access token as revoked until it expires.
func (s *Server) revokeToken(ctx context.Context, jti string, exp time.Time) error {
	if err := s.store.put(ctx, s.store.key(nsRevoked, jti+".json"), revocation{ExpiresAt: exp}); err != nil {
		return err
	}
	s.revoked.set("jti:"+jti, exp, s.cfg.Now())
	return nil
}
