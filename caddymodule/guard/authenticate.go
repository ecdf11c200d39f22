package guard

import (
	"context"
	"errors"
)

// errUnavailable marks a failure of the key source or revocation checker:
// the token may be fine, so the client gets a 503, not a 401.
var errUnavailable = errors.New("token verification unavailable")

// authenticate returns the identity of raw for this origin, from the cache
// when possible, consulting revocation at most every RevocationCacheTTL.
// Errors are *rejection values or errUnavailable.
func (g *Guard) authenticate(ctx context.Context, origin, raw string) (Identity, error) {
	now := g.now()
	key := cacheKey(origin, raw)
	e, ok := g.tokens.get(key, now)
	if !ok {
		id, exp, err := g.verify(ctx, raw, origin, origin+g.cfg.ResourcePath)
		if err != nil {
			return Identity{}, asVerifyError(err)
		}
		e = cachedToken{id: id, expires: exp}
	}
	if e.revoked {
		return Identity{}, errRevoked
	}
	if g.revocations != nil && (e.checkedAt.IsZero() || now.Sub(e.checkedAt) >= g.cfg.RevocationCacheTTL) {
		revoked, err := g.revocations.IsRevoked(ctx, e.id.TokenID, e.id.GrantID)
		if err != nil {
			return Identity{}, errUnavailable
		}
		e.checkedAt, e.revoked = now, revoked
		ok = false
	}
	if !ok {
		g.tokens.put(key, e, now)
	}
	if e.revoked {
		return Identity{}, errRevoked
	}
	return e.id, nil
}

// asVerifyError keeps rejections and maps anything else (a failing key
// source) to errUnavailable.
func asVerifyError(err error) error {
	var rej *rejection
	if errors.As(err, &rej) {
		return rej
	}
	return errUnavailable
}
