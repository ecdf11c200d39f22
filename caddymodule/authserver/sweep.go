package authserver

import (
	"context"
	"errors"
)

// Sweep deletes what has expired from storage: codes, grants (refresh-token
// families), revocation records, remembered consents, abandoned upstream
// sign-ins and expired upstream sessions, idle or never used dynamically
// registered clients, cached client metadata documents no longer in use,
// used client assertions, providers' refresh tokens of users whose last
// grant expired, sign-outs older than every session they ended, client
// revocations older than every code they refused, and signing keys whose
// tokens have all expired.
// The glue calls it every few minutes; several instances may sweep at once.
func (s *Server) Sweep(ctx context.Context) error {
	now := s.cfg.Now()
	return errors.Join(
		sweepNamespace(ctx, s.store, nsCodes, func(c *codeRecord) bool { return c.sweepable(now, s.cfg.AccessTokenLifetime) }),
		sweepNamespace(ctx, s.store, nsGrants, func(g *grant) bool { return now.After(g.ExpiresAt) }),
		sweepNamespace(ctx, s.store, nsRevoked, func(r *revocation) bool { return now.After(r.ExpiresAt) }),
		sweepNamespace(ctx, s.store, nsConsent, func(c *consent) bool { return len(c.live(now)) == 0 }),
		sweepNamespace(ctx, s.store, nsClients, func(c *client) bool { return c.expired(now, s.cfg.Registration) }),
		sweepNamespace(ctx, s.store, nsDocuments, func(d *documentRecord) bool { return d.sweepable(now, s.cfg.Registration) }),
		sweepNamespace(ctx, s.store, nsAssertions, func(a *usedAssertion) bool { return now.After(a.ExpiresAt) }),
		// Pending logins and upstream sessions alike have expires_at.
		sweepNamespace(ctx, s.store, nsUpstream, func(p *pendingLogin) bool { return now.After(p.ExpiresAt) }),
		s.sweepUpstreamCredentials(ctx, now),
		sweepNamespace(ctx, s.store, nsSignedOut, func(m *endMark) bool { return m.sweepableAfter(now, signOutLifetime(&s.cfg)) }),
		sweepNamespace(ctx, s.store, nsRevokedClients, func(m *endMark) bool { return m.sweepableAfter(now, clientRevocationLifetime(&s.cfg)) }),
		s.keys.sweep(ctx, now),
	)
}

// sweepNamespace deletes the records of ns that expired reports true for.
// Records that cannot be read are left alone (and reported).
func sweepNamespace[T any](ctx context.Context, st *store, ns string, expired func(*T) bool) error {
	names, err := st.list(ctx, ns)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rec := new(T)
		found, err := st.get(ctx, name, rec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if found && expired(rec) {
			errs = append(errs, st.remove(ctx, name))
		}
	}
	return errors.Join(errs...)
}
