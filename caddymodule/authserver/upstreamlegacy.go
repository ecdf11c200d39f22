package authserver

import (
	"context"
	"time"
)

// Before a user's provider refresh token had a record of its own
// (upstreamcredential.go), the sign-in session kept it and every code the
// session issued carried a copy into its grant. Sessions last LoginLifetime
// and codes CodeLifetime past an upgrade: their first use moves the token
// into the user's record, where the grants they make are checked with it,
// and drops it from the session or code, so that a session used again after
// the operator revoked the user does not bring the token back. A token the
// record holds already was written since the upgrade, by a sign-in or a
// check, and is newer: it is kept. (Grants with a copy of their own move it
// at their first check: upstreamTokenFor.)

// moveLegacySessionToken moves the token of rec, the record of session
// sid of a user of provider, into the user's record, for the grants the
// session can still make, and drops it from the session. On failure the
// session keeps it for its next use.
func (s *Server) moveLegacySessionToken(ctx context.Context, provider, sid string, rec upstreamSession) {
	err := s.keepUpstreamToken(ctx, provider, rec.Subject, rec.LegacyUpstreamToken, false, rec.SignedIn, s.lastGrantOfSession(rec.ExpiresAt))
	if err == nil {
		rec.LegacyUpstreamToken = ""
		err = s.store.put(ctx, s.upstreamSessionKey(sid), rec)
	}
	if err != nil {
		s.log.Error("moving a session's provider refresh token to the user's record", zapSubject(rec.Subject), zapErr(err))
	}
}

// moveLegacyCodeToken moves the token of rec, a code being redeemed into
// a grant expiring at grantEnds, into the user's record, and drops it from
// rec. It runs in the redemption's transaction (ctx), taking the record's
// lock too: the record and the used code are written together, and when
// the move fails the redemption does, the code unused for the client to
// try again.
func (s *Server) moveLegacyCodeToken(ctx context.Context, rec *codeRecord, grantEnds time.Time) error {
	provider, ok := upstreamOf(rec.Login)
	if !ok || rec.LegacyUpstreamToken == "" {
		return nil
	}
	if err := s.keepUpstreamToken(ctx, provider, rec.Subject, rec.LegacyUpstreamToken, false, rec.UpstreamChecked, grantEnds); err != nil {
		return err
	}
	rec.LegacyUpstreamToken = ""
	return nil
}
