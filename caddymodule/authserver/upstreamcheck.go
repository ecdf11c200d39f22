package authserver

import (
	"context"
	"net/http"

	"go.uber.org/zap"
)

// A refresh whose user is due for a check at their sign-in provider asks
// the provider with no storage transaction open: the call goes over the
// network and may take the provider's whole timeout, and a transaction
// held that long (on PostgreSQL a slot of a bounded set and a pooled
// connection; on files the grant's lock) would stall the token issuance
// of every user behind one slow or unreachable provider. The check still
// runs once per grant at a time across every instance, under a lease lock
// that holds no connection: providers rotate their refresh tokens, and one
// token presented twice at once can make the provider revoke its whole
// family, signing the user out.

// upstreamCheckLock names the lease lock under which grant id's user is
// checked at their provider. It is not the grant's transaction lock, which
// refreshes of the grant take meanwhile only to find the check due.
func upstreamCheckLock(id string) string { return "upstream-check-" + id }

// reconfirmUpstream checks the user of grant id again at their provider,
// for a refresh of c presenting refreshToken whose transaction found the
// check due, and records the provider's answer in the grant. It returns
// the refusal when the provider no longer vouches for the user or cannot
// be reached; nil leaves the answer to the refresh transaction, which runs
// next: the check is recorded, or another request did it meanwhile, or the
// presented token no longer passes (revoked or reused meanwhile).
func (s *Server) reconfirmUpstream(r *http.Request, c *client, id, refreshToken string) *oauthError {
	ctx := r.Context()
	var oerr *oauthError
	err := s.store.locked(ctx, upstreamCheckLock(id), func() error {
		// Read again under the lease: the grant may have been checked,
		// revoked or rotated since the transaction looked at it.
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
		check, e := s.reauthenticate(ctx, u, &g)
		if e != nil {
			if e.Code == "invalid_grant" {
				s.audit(auditRefused, e.Description, c.ID, s.holderOf(&g), g.Resource, g.Scopes)
			}
			oerr = e
			return nil
		}
		recorded, err := s.recordUpstreamCheck(ctx, id, check)
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

// recordUpstreamCheck stores check in grant id, in a short transaction of
// its own, and returns the grant as stored; nil when the grant was revoked
// or removed while the provider was asked.
func (s *Server) recordUpstreamCheck(ctx context.Context, id string, check *upstreamCheck) (*grant, error) {
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
			// again, so the provider's new refresh token would be a live
			// credential for the user's account kept for nothing. It is
			// dropped, not stored (nor the grant recreated), and lives at
			// the provider until the provider expires it; a narrower grant
			// that replaced this one holds the token the provider just
			// rotated, so its next check sends the user to sign in again.
			s.log.Info("grant revoked while its user was checked at their provider; the provider's new refresh token is dropped", zap.String("grant_id", id))
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
