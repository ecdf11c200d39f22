package guard

import (
	"context"

	"github.com/go-jose/go-jose/v4"
)

// KeySource supplies the public keys that sign access tokens, including
// retired keys whose tokens may still be in flight. The authorization
// server implements it.
type KeySource interface {
	// VerificationKeys returns the public keys; the guard caches them (see
	// keyTTL and keyRefetchInterval in keys.go).
	VerificationKeys(ctx context.Context) (jose.JSONWebKeySet, error)
}

// RevocationChecker reports whether a token (by jti) or its grant (the
// token's sid claim, empty when absent) has been revoked. The authorization
// server implements it.
type RevocationChecker interface {
	// IsRevoked reports whether the token jti or the grant grantID was
	// revoked; the guard reuses a "no" for Config.RevocationCacheTTL.
	IsRevoked(ctx context.Context, jti, grantID string) (bool, error)
}
