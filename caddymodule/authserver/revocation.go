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

// revocationCache remembers IsRevoked answers. A "revoked" answer is final;
// a "not revoked" answer is trusted for RevocationCacheTTL, which bounds how
// late this instance sees another instance's revocation.
type revocationCache struct {
	mu      sync.Mutex
	entries map[string]cachedAnswer
}

type cachedAnswer struct {
	revoked bool
	until   time.Time
}

// maxCachedAnswers bounds the cache; beyond it, stale answers are dropped.
const maxCachedAnswers = 100_000

func newRevocationCache() *revocationCache {
	return &revocationCache{entries: map[string]cachedAnswer{}}
}

func (c *revocationCache) get(key string, now time.Time) (revoked, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.entries[key]
	if !ok || now.After(a.until) {
		return false, false
	}
	return a.revoked, true
}

func (c *revocationCache) set(key string, a cachedAnswer, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedAnswers {
		for k, e := range c.entries {
			if now.After(e.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxCachedAnswers {
			clear(c.entries)
		}
	}
	c.entries[key] = a
}

// IsRevoked reports whether the access token with this jti, or what its
// sid names, has been revoked: a grant (its refresh-token family) that was
// revoked or whose user is gone (see grant.holderGone), or for a token
// without a user the client, when it was deleted or may no longer obtain
// such tokens. Storage is the truth; answers are cached (see
// Config.RevocationCacheTTL).
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
// ids this server cannot have issued.
func (s *Server) cachedRevoked(ctx context.Context, key, id string, lookup func(context.Context, string) (bool, time.Time, error)) (bool, error) {
	now := s.cfg.Now()
	if revoked, ok := s.revoked.get(key, now); ok {
		return revoked, nil
	}
	revoked, until, err := lookup(ctx, id)
	if err != nil {
		return false, err
	}
	if !revoked {
		until = now.Add(s.cfg.RevocationCacheTTL)
	}
	s.revoked.set(key, cachedAnswer{revoked, until}, now)
	return revoked, nil
}

// tokenRevoked looks up a revoked access token.
func (s *Server) tokenRevoked(ctx context.Context, jti string) (bool, time.Time, error) {
	if !validID(jti) {
		return true, s.cfg.Now().Add(s.cfg.RevocationCacheTTL), nil // not an id this server issued
	}
	var r revocation
	found, err := s.store.get(ctx, s.store.key(nsRevoked, jti+".json"), &r)
	return found, r.ExpiresAt, err
}

// grantRevoked looks up a grant. One that is not in storage has expired
// with all its tokens. A revoked grant stays revoked; one whose user is gone
// is refused only for RevocationCacheTTL at a time, so that an instance
// still running an older configuration (a rolling reload) refuses, but
// does not destroy, a grant of a user it does not know yet.
func (s *Server) grantRevoked(ctx context.Context, id string) (bool, time.Time, error) {
	if !validID(id) {
		return true, s.cfg.Now().Add(s.cfg.RevocationCacheTTL), nil // not an id this server issued
	}
	var g grant
	found, err := s.store.get(ctx, s.store.key(nsGrants, id+".json"), &g)
	switch {
	case err != nil || !found:
		return false, time.Time{}, err
	case g.Revoked:
		return true, g.ExpiresAt, nil
	case s.holderGone(&g) != "":
		return true, s.cfg.Now().Add(s.cfg.RevocationCacheTTL), nil
	}
	return false, time.Time{}, nil
}

// revokeToken records an access token as revoked until it expires.
func (s *Server) revokeToken(ctx context.Context, jti string, exp time.Time) error {
	if err := s.store.put(ctx, s.store.key(nsRevoked, jti+".json"), revocation{ExpiresAt: exp}); err != nil {
		return err
	}
	s.revoked.set("jti:"+jti, cachedAnswer{true, exp}, s.cfg.Now())
	return nil
}
