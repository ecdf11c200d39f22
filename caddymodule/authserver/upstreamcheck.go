package authserver

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// A refresh whose user is due for a check at their sign-in provider asks
// the provider with no storage transaction open: the call goes over the
// network and may take the provider's whole timeout, and a transaction
// held that long (on PostgreSQL a slot of a bounded set and a pooled
// connection; on files the grant's lock) would stall the token issuance
// of every user behind one slow or unreachable provider. The check still
// runs once per user at a time across every instance, under a lease lock
// that holds no connection: providers rotate their refresh tokens, and one
// token presented twice at once can make the provider revoke its whole
// family, signing the user out. The token is the user's, not the grant's
// (upstreamcredential.go), so the lease is the user's too: the checks of
// all their grants run one at a time.

// A check, once its lease is held, runs to its end whether or not the
// request that started it is still there: a client that gives up while the
// provider is slow (routine with short client timeouts) must not leave the
// provider's new refresh token unrecorded, the old one retired at the
// provider, and the user signed out at their next check when it is
// presented again. It has budgets of its own instead.
const (
	// upstreamCallTimeout bounds the provider's answer: the providers of
	// package upstreamlogin give each exchange 15s, and a check makes one
	// to a few (a token refresh and the user's info; GitHub's user and
	// each allowed organisation).
	upstreamCallTimeout = time.Minute
	// upstreamRecordTimeout bounds the storage work around it: the grant
	// read again under the lease, the user's record and the grant written.
	upstreamRecordTimeout = 10 * time.Second
)

// upstreamCheckLock names the lease lock under which the user whose
// provider refresh token is the record id (upstreamcredential.go) is
// checked at their provider, for any of their grants. It is neither the
// grants' transaction locks, which refreshes take meanwhile only to find
// the check due, nor the record's.
func upstreamCheckLock(id string) string { return "upstream-check-" + id }

// reconfirmUpstream checks the user of grant seen (as the refresh
// transaction read it) again at their provider, for a refresh of c presenting
// refreshToken whose transaction found the check due, and records the
// provider's answer in the user's record and the grant. It returns the
// refusal when the provider no longer vouches for the user or cannot be
// reached; nil leaves the answer to the refresh transaction, which runs
// next: the check is recorded, or another request did it meanwhile, or the
// presented token no longer passes (revoked or reused meanwhile).
func (s *Server) reconfirmUpstream(r *http.Request, c *client, seen *grant, refreshToken string) *oauthError {
	// A grant's user and provider never change: the lease named after
	// them covers the grant as read again below.
	provider, _ := upstreamOf(seen.Login)
	id := seen.ID
	var oerr *oauthError
	err := s.store.locked(r.Context(), upstreamCheckLock(upstreamCredentialID(provider, seen.Subject)), func() error {
		detached := context.WithoutCancel(r.Context())
		ctx, cancel := context.WithTimeout(detached, upstreamRecordTimeout)
		defer cancel()
		// Read again under the lease: the grant may have been checked,
		// revoked or rotated since the transaction looked at it, and the
		// user's token rotated by the check of another of their grants.
		var g grant
		found, err := s.store.get(ctx, s.grantKey(id), &g)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		// Only a request the refresh transaction would accept makes the
		// gateway spend the user's provider token: a stranger with a wrong
		// or stale refresh token must not get the provider called (each
		// call rotates the token, and the provider sees the gateway act).
		if _, refused, reuse := s.presentedRefreshToken(r, c, &g, found, refreshToken, now); refused != nil || reuse {
			return nil
		}
		u, due := s.reauthenticationDue(&g, now)
		if !due {
			return nil // checked by another request while this one waited
		}
		held, err := s.upstreamTokenFor(ctx, provider, &g)
		if err != nil {
			return err
		}
		call, cancelCall := context.WithTimeout(detached, upstreamCallTimeout)
		defer cancelCall()
		check, e := s.reauthenticate(call, u, &g, held.sealed)
		if e != nil {
			if e.Code == "invalid_grant" {
				s.audit(auditRefused, e.Description, c.ID, s.holderOf(&g), g.Resource, g.Scopes)
			}
			oerr = e
			return nil
		}
		record, cancelRecord := context.WithTimeout(detached, upstreamRecordTimeout)
		defer cancelRecord()
		recorded, err := s.recordUpstreamCheck(record, provider, &g, held, check)
		if err != nil || recorded == nil {
			return err
		}
		s.audit(auditReconfirmed, "", c.ID, s.holderOf(recorded), recorded.Resource, recorded.Scopes)
		return nil
	})
	if err != nil {
		s.log.Error("checking a user again at their provider", zapClient(c.ID), zap.String("grant_id", id), zapErr(err))
		return errServer()
	}
	return oerr
}

// recordUpstreamCheck stores check of g's user at provider, which
// presented held: first the token it ended with in the user's record (the
// provider retired the one presented, which the user's other grants would
// otherwise present next), then what the provider said in grant g, each in
// a short transaction of its own. It returns the grant as stored; nil when
// the grant was revoked or removed while the provider was asked.
func (s *Server) recordUpstreamCheck(ctx context.Context, provider string, g *grant, held heldUpstreamToken, check *upstreamCheck) (*grant, error) {
	if err := s.storeCheckedToken(ctx, provider, g, held, check.sealedToken, check.at); err != nil {
		return nil, err
	}
	id := g.ID
	var recorded *grant
	err := s.store.atomically(ctx, "grant-"+id, func(tx context.Context) error {
		var g grant
		found, err := s.store.get(tx, s.grantKey(id), &g)
		if err != nil {
			return err
		}
		if !found || g.Revoked {
			// Revoked meanwhile (signed out, a refresh token reused, the
			// policy narrowed it into a new grant): it is never refreshed
			// again, nor recreated. The provider's token went to the
			// user's record, for their other grants (a narrower grant
			// that replaced this one among them).
			s.log.Info("grant revoked while its user was checked at their provider", zap.String("grant_id", id))
			return nil
		}
		check.applyTo(&g)
		recorded = &g
		return s.store.put(tx, s.grantKey(id), g)
	})
	if err != nil {
		return nil, err
	}
	return recorded, nil
}
