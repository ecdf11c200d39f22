package authserver

import (
	"context"
	"errors"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
)

// A user's refresh token at their sign-in provider has one home: a record
// per user and provider, which every grant of that user at that provider
// checks them with. Providers rotate refresh tokens and many detect reuse
// (Okta, Auth0, Keycloak): a copy per grant would let the check of one
// grant rotate the token and the next grant present the retired copy,
// and the provider would revoke the whole family, signing the user out of
// every client as soon as they use two. Any valid refresh token of the user
// serves to check them, so a newer sign-in replaces the one held.
//
// The record is written at sign-in and after every check, and read by the
// check under its lease (upstreamCheckLock), so that the checks of all the
// user's grants, on every instance, run one at a time with the token the
// last one left. It goes with the last grant that may use it (ExpiresAt,
// Sweep) or when the operator revokes the user (RevokeUser); revoking one
// grant leaves it for the user's other grants.

// upstreamCredential is a user's refresh token at a provider.
type upstreamCredential struct {
	// Sealed is the provider's refresh token, sealed for the user's
	// subject (upstreamtoken.go).
	Sealed string `json:"upstream_token"`
	// StoredAt is when it was stored: at a sign-in, or after a check (the
	// provider's new token, or the one presented when it issued none).
	StoredAt time.Time `json:"stored_at"`
	// ExpiresAt is when the last grant that may use it expires; the sweep
	// deletes the record after it.
	ExpiresAt time.Time `json:"expires_at"`
}

// upstreamCredentialID names the record of subject at provider: a hash, so
// the key holds no user name.
func upstreamCredentialID(provider, subject string) string {
	return hashToken(provider + "\x00" + subject)
}

func (s *Server) upstreamCredentialKey(id string) string {
	return s.store.key(nsUpstreamTokens, id+".json")
}

// upstreamCredentialLock names the short transaction lock under which the
// record id is read and written (never held across a provider call).
func upstreamCredentialLock(id string) string { return "upstream-token-" + id }

// keepSignInToken records the refresh token (sealed) that a sign-in of
// subject at provider just got, for grants authorized in that sign-in's
// session: it replaces the one held, and the record lasts at least as long
// as the last grant the session can make. A sign-in without a refresh
// token leaves the one held.
func (s *Server) keepSignInToken(ctx context.Context, provider, subject, sealed string, sessionEnds time.Time) error {
	return s.keepUpstreamToken(ctx, provider, subject, sealed, true, s.cfg.Now(), s.lastGrantOfSession(sessionEnds))
}

// lastGrantOfSession is when the last grant a session ending at ends can
// make expires: a code of the session is redeemed within CodeLifetime, and
// its grant lasts RefreshTokenLifetime from then.
func (s *Server) lastGrantOfSession(ends time.Time) time.Time {
	return ends.Add(s.cfg.CodeLifetime + s.cfg.RefreshTokenLifetime)
}

// keepUpstreamToken stores sealed, a refresh token of subject at provider
// the provider issued at storedAt, in the user's record, replacing the one
// held only when replace (a token held is newer otherwise), and makes the
// record last until lastGrantEnds at least. Without a token to store or
// one held it stores nothing.
func (s *Server) keepUpstreamToken(ctx context.Context, provider, subject, sealed string, replace bool, storedAt, lastGrantEnds time.Time) error {
	id := upstreamCredentialID(provider, subject)
	return s.store.atomically(ctx, upstreamCredentialLock(id), func(tx context.Context) error {
		var rec upstreamCredential
		if _, err := s.store.get(tx, s.upstreamCredentialKey(id), &rec); err != nil {
			return err
		}
		if sealed != "" && (replace || rec.Sealed == "") {
			rec.Sealed, rec.StoredAt = sealed, storedAt
		}
		if rec.Sealed == "" {
			return nil // nothing to check the user with, now or later
		}
		rec.ExpiresAt = laterOf(rec.ExpiresAt, lastGrantEnds)
		return s.store.put(tx, s.upstreamCredentialKey(id), rec)
	})
}

// heldUpstreamToken is the sealed refresh token a check of g's user
// presents at provider, and what the user's record held when it was read
// ("" when there was none), which the check's recording compares against.
type heldUpstreamToken struct {
	sealed, fromRecord string
}

// upstreamTokenFor returns the refresh token to check g's user at provider
// with: the user's record's, or for a grant made before records existed
// (which kept a copy of its own) that copy, which the check then moves
// into a record.
func (s *Server) upstreamTokenFor(ctx context.Context, provider string, g *grant) (heldUpstreamToken, error) {
	var rec upstreamCredential
	found, err := s.store.get(ctx, s.upstreamCredentialKey(upstreamCredentialID(provider, g.Subject)), &rec)
	if err != nil {
		return heldUpstreamToken{}, err
	}
	if found && rec.Sealed != "" {
		return heldUpstreamToken{sealed: rec.Sealed, fromRecord: rec.Sealed}, nil
	}
	return heldUpstreamToken{sealed: g.UpstreamToken}, nil
}

// storeCheckedToken records in the user's record the refresh token a check
// of g's user at provider ended with (sealed; the provider's new one, or
// the one it presented when the provider issued none), provided the record
// still holds what the check read (held): a sign-in meanwhile stored a
// token of its own, as valid as this one and newer, and a record removed
// meanwhile (the operator revoked the user) must not come back.
func (s *Server) storeCheckedToken(ctx context.Context, provider string, g *grant, held heldUpstreamToken, sealed string, at time.Time) error {
	id := upstreamCredentialID(provider, g.Subject)
	return s.store.atomically(ctx, upstreamCredentialLock(id), func(tx context.Context) error {
		var rec upstreamCredential
		if _, err := s.store.get(tx, s.upstreamCredentialKey(id), &rec); err != nil {
			return err
		}
		// A record gone meanwhile reads as "", which differs from what a
		// check that read one holds.
		if rec.Sealed != held.fromRecord {
			s.log.Info("the user's provider refresh token changed while they were checked; the check's is dropped", zap.String("grant_id", g.ID))
			return nil
		}
		if held.fromRecord == "" {
			// The check read no record (g is from before records, with
			// a copy of its own), and a record RevokeUser deleted
			// meanwhile reads as "" too. RevokeUser revokes the grants
			// before it takes this lock to delete, so g as stored now
			// tells: revoked or gone, the token is dropped. Also when
			// something else revoked g: the price is that the user's
			// other grants sharing g's copy, if any, present a copy the
			// provider retired, and the user signs in again.
			live, err := s.grantLive(tx, g.ID)
			if err != nil {
				return err
			}
			if !live {
				s.log.Info("grant revoked while its user was checked at their provider; the check's token is dropped", zap.String("grant_id", g.ID))
				return nil
			}
		}
		rec.Sealed, rec.StoredAt = sealed, at
		rec.ExpiresAt = laterOf(rec.ExpiresAt, g.ExpiresAt)
		return s.store.put(tx, s.upstreamCredentialKey(id), rec)
	})
}

// grantLive reports whether grant id is stored and not revoked.
func (s *Server) grantLive(ctx context.Context, id string) (bool, error) {
	var g grant
	found, err := s.store.get(ctx, s.grantKey(id), &g)
	return found && !g.Revoked, err
}

// forgetUpstreamTokens deletes the refresh tokens of subject at every
// configured provider.
func (s *Server) forgetUpstreamTokens(ctx context.Context, subject string) error {
	var errs []error
	for _, u := range s.cfg.Upstreams {
		id := upstreamCredentialID(u.Name(), subject)
		errs = append(errs, s.store.atomically(ctx, upstreamCredentialLock(id), func(tx context.Context) error {
			return s.store.remove(tx, s.upstreamCredentialKey(id))
		}))
	}
	return errors.Join(errs...)
}

// sweepUpstreamCredentials deletes the records whose last grant expired,
// deciding again under each record's lock: a sign-in may have extended it
// since it was listed.
func (s *Server) sweepUpstreamCredentials(ctx context.Context, now time.Time) error {
	names, err := s.store.list(ctx, nsUpstreamTokens)
	if err != nil {
		return err
	}
	expired := func(ctx context.Context, name string) (bool, error) {
		var rec upstreamCredential
		found, err := s.store.get(ctx, name, &rec)
		return found && now.After(rec.ExpiresAt), err
	}
	var errs []error
	for _, name := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if gone, err := expired(ctx, name); err != nil || !gone {
			errs = append(errs, err)
			continue
		}
		id := strings.TrimSuffix(path.Base(name), ".json")
		errs = append(errs, s.store.atomically(ctx, upstreamCredentialLock(id), func(tx context.Context) error {
			if gone, err := expired(tx, name); err != nil || !gone {
				return err
			}
			return s.store.remove(tx, name)
		}))
	}
	return errors.Join(errs...)
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
