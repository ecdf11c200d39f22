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

// signOut is the record of a user's sign-out in storage, under the
// SHA-256 of the subject.
type signOut struct {
	// At is when the operator signed the user out.
	At time.Time `json:"signed_out_at"`
}

func (s *Server) signOutKey(sub string) string {
	return s.store.key(nsSignedOut, hashToken(sub)+".json")
}

// signOutUser records that sub is signed out now.
func (s *Server) signOutUser(ctx context.Context, sub string) error {
	return s.store.put(ctx, s.signOutKey(sub), signOut{At: s.cfg.Now()})
}

// signedOutSince reports whether sub was signed out at or after
// authenticated, the start of a session or the sign-in a code was issued
// for. A zero authenticated (a code from before codes carried it) counts
// as before every sign-out.
func (s *Server) signedOutSince(ctx context.Context, sub string, authenticated time.Time) (bool, error) {
	var rec signOut
	found, err := s.store.get(ctx, s.signOutKey(sub), &rec)
	if err != nil || !found {
		return false, err
	}
	return !authenticated.After(rec.At), nil
}

// sweepable reports whether the record may go at now: once nothing that
// started before it can be used any more. A session ends LoginLifetime
// after it started, by the configuration in force when it is used (see
// session), so this holds even when the lifetime changed between the
// session's start and the sign-out; a code ends CodeLifetime after it was
// issued.
func (o *signOut) sweepable(now time.Time, cfg *Config) bool {
	return now.After(o.At.Add(max(cfg.LoginLifetime, cfg.CodeLifetime)))
}
