package authserver

import (
	"context"
	"errors"
	"path"
	"time"
)

// A client whose id is the URL of its metadata document cannot be
// deleted: it comes back, fetched again, when it is next used. So the
// operator's RevokeClient records when it revoked such a client, before
// it lists the client's grants, and what users approved before no longer
// counts: a code is refused where it is redeemed (exchangeCode), as
// RevokeUser's sign-out refuses codes of sign-ins before it, and a
// remembered approval lets nothing through silently (standing). Without
// the record, a code redeemed while RevokeClient runs, committing its
// grant after the list was read, gets tokens and a live grant the
// revocation missed.

func (s *Server) clientRevocationKey(clientID string) string {
	return s.endMarkKey(nsRevokedClients, clientID)
}

// recordClientRevocation records that the client is revoked now.
func (s *Server) recordClientRevocation(ctx context.Context, clientID string) error {
	return s.markEnd(ctx, nsRevokedClients, clientID)
}

// clientRevokedSince reports whether the client was revoked at or after
// approved, when a user approved it (for a code, or a remembered
// approval). A zero approved (a record from before they carried it)
// counts as before every revocation.
func (s *Server) clientRevokedSince(ctx context.Context, clientID string, approved time.Time) (bool, error) {
	return s.endedSince(ctx, nsRevokedClients, clientID, approved)
}

// clientRevokedAt returns when the client was last revoked; zero if never
// (or its record was swept).
func (s *Server) clientRevokedAt(ctx context.Context, clientID string) (time.Time, error) {
	return s.endMarkOf(ctx, nsRevokedClients, clientID)
}

// clientRevocationLifetime is how long a revocation must be kept: until
// nothing a user approved before it can be used any more. An approval is
// remembered for ConsentLifetime (RevokeClient deletes those it finds,
// but one given just before may be written after), and a code issued on
// it until then redeems for CodeLifetime.
func clientRevocationLifetime(cfg *Config) time.Duration {
	return max(cfg.ConsentLifetime, 0) + cfg.CodeLifetime
}

// forgetClientConsents deletes every user's approvals of the client, so
// that after RevokeClient each user's next authorization of it asks them
// again: a client revoked because it should not be trusted must not be
// let back in silently by an approval given before. (The record already
// voids them, until it is swept.) subjects are the users with grants of
// the client, how records that do not name their user are found.
func (s *Server) forgetClientConsents(ctx context.Context, clientID string, subjects []string) error {
	names, err := s.store.list(ctx, nsConsent)
	if err != nil {
		return err
	}
	legacy := map[string]bool{}
	for _, sub := range subjects {
		legacy[path.Base(s.consentKey(sub, clientID))] = true
	}
	var errs []error
	for _, name := range names {
		var c consent
		found, err := s.store.get(ctx, name, &c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The key is a hash of the user and the client: a record that
		// names its user is this client's when its key is that user's.
		if found && (c.Subject != "" && path.Base(name) == path.Base(s.consentKey(c.Subject, clientID)) || c.Subject == "" && legacy[path.Base(name)]) {
			errs = append(errs, s.store.remove(ctx, name))
		}
	}
	return errors.Join(errs...)
}
