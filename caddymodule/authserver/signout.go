package authserver

import (
	"context"
	"time"
)

// A sign-out ends every browser sign-in of a user at once, on every
// instance: sessions are stateless signed cookies (and provider sessions
// have records of their own), so instead of finding them, the operator's
// RevokeUser records when the user was signed out, and a session or an
// authorization code that started before is refused where it is used.
// This is what a stolen laptop or cookie calls for: without it, whoever
// holds the cookie goes through /authorize again and gets a new grant
// without a password (silently, with a remembered consent).

func (s *Server) signOutKey(sub string) string { return s.endMarkKey(nsSignedOut, sub) }

// signOutUser records that sub is signed out now.
func (s *Server) signOutUser(ctx context.Context, sub string) error {
	return s.markEnd(ctx, nsSignedOut, sub)
}

// signedOutSince reports whether sub was signed out at or after
// authenticated, the start of a session or the sign-in a code was issued
// for. A zero authenticated (a code from before codes carried it) counts
// as before every sign-out.
func (s *Server) signedOutSince(ctx context.Context, sub string, authenticated time.Time) (bool, error) {
	return s.endedSince(ctx, nsSignedOut, sub, authenticated)
}

// signOutLifetime is how long a sign-out must be kept: until nothing that
// started before it can be used any more. A session ends LoginLifetime
// after it started, by the configuration in force when it is used (see
// session), so this holds even when the lifetime changed between the
// session's start and the sign-out; a code ends CodeLifetime after it was
// issued.
func signOutLifetime(cfg *Config) time.Duration {
	return max(cfg.LoginLifetime, cfg.CodeLifetime)
}
