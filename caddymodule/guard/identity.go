package guard

import "context"

// Identity is who a verified access token speaks for.
type Identity struct {
	// Subject is the token's sub claim: the user, or for a client token the
	// client id.
	Subject string
	// Client is true when the token speaks for an OAuth client itself, with
	// no user behind it (a client_credentials token, gty claim
	// "client_credentials").
	Client bool
	// ClientID is the OAuth client the token was issued to.
	ClientID string
	// Scopes are the token's granted scopes.
	Scopes []string
	// TokenID is the token's jti claim.
	TokenID string
	// GrantID is the token's sid claim (grant or refresh family), possibly empty.
	GrantID string
	// Groups are the token's groups claim: the user's groups as the
	// policy names them ("<provider>:<group>" for a sign-in provider's).
	Groups []string
}

type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity the guard attached to ctx, if any.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
