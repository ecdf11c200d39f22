package authserver

import (
	"context"
	"errors"
	"path"
	"slices"
	"time"
)

// consent is what a user approved for a client: per resource URL (the MCP
// endpoint, origin included), the scopes and until when. An approval for
// one resource never covers another.
type consent struct {
	// Subject is the user, so that RevokeUser finds their approvals (the
	// key is a hash); empty in records from before it was kept.
	Subject   string              `json:"sub,omitempty"`
	Resources map[string]approval `json:"resources"`
}

// approval is a remembered approval of one resource.
type approval struct {
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
	// ApprovedAt is when the user last approved it; an approval from
	// before the operator revoked its client no longer counts
	// (clientrevocation.go). Zero in records from before it was kept.
	ApprovedAt time.Time `json:"approved_at,omitzero"`
}

// live returns the approvals that have not expired at now.
func (c *consent) live(now time.Time) map[string]approval {
	out := map[string]approval{}
	for res, a := range c.Resources {
		if now.Before(a.ExpiresAt) {
			out[res] = a
		}
	}
	return out
}

func (s *Server) consentKey(sub, clientID string) string {
	return s.store.key(nsConsent, hashToken(sub+"\x00"+clientID)+".json")
}

// loadConsent returns sub's standing approvals of the client; errors are
// logged and count as none.
func (s *Server) loadConsent(ctx context.Context, sub, clientID string) map[string]approval {
	if s.cfg.ConsentLifetime < 0 {
		return nil
	}
	var c consent
	_, err := s.store.get(ctx, s.consentKey(sub, clientID), &c)
	var standing map[string]approval
	if err == nil {
		standing, err = s.standing(ctx, clientID, &c)
	}
	if err != nil {
		s.log.Error("loading consent", zapClient(clientID), zapSubject(sub), zapErr(err))
		return nil
	}
	return standing
}

// standing returns the approvals of c, of the client, that count now:
// those live, and given after the operator last revoked the client. A
// remembered approval from before must not let the client back in
// silently, however the RevokeClient that forgets it interleaves with the
// authorization reading it.
func (s *Server) standing(ctx context.Context, clientID string, c *consent) (map[string]approval, error) {
	live := c.live(s.cfg.Now())
	if !urlClientID(clientID) || len(live) == 0 {
		return live, nil // only clients whose id is a URL are revoked so
	}
	revoked, err := s.clientRevokedAt(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if revoked.IsZero() {
		return live, nil
	}
	for res, a := range live {
		if !a.ApprovedAt.After(revoked) {
			delete(live, res)
		}
	}
	return live, nil
}

// rememberedApproval returns when sub approved this client for the
// request's resource and at least its scopes, if that approval stands.
func (s *Server) rememberedApproval(ctx context.Context, sub string, req *authzRequest) (time.Time, bool) {
	a, ok := s.loadConsent(ctx, sub, req.client.ID)[req.resource]
	return a.ApprovedAt, ok && subset(req.scopes, a.Scopes)
}

// clientApproved reports whether sub has a live approval of the client for
// any resource.
func (s *Server) clientApproved(ctx context.Context, sub, clientID string) bool {
	return len(s.loadConsent(ctx, sub, clientID)) > 0
}

// errConsentSignedOut refuses to remember an approval given in a session
// its user was signed out of meanwhile.
var errConsentSignedOut = errors.New("the user was signed out while approving; the approval is not remembered")

// rememberConsent records that who approved the client at now for the
// request's resource and scopes, in addition to scopes approved before
// for it that still stand.
func (s *Server) rememberConsent(ctx context.Context, who person, req *authzRequest, now time.Time) error {
	if s.cfg.ConsentLifetime < 0 {
		return nil
	}
	sub := who.Subject
	key := s.consentKey(sub, req.client.ID)
	var c consent
	if _, err := s.store.get(ctx, key, &c); err != nil {
		c = consent{} // an unreadable record is replaced
	}
	// Approvals that no longer stand are dropped, not renewed with this
	// one: scopes approved before the client was revoked would otherwise
	// come back with it.
	standing, err := s.standing(ctx, req.client.ID, &c)
	if err != nil {
		standing = map[string]approval{} // approved again when asked again
	}
	c.Subject = sub
	c.Resources = standing
	a := c.Resources[req.resource]
	for _, sc := range req.scopes {
		if !slices.Contains(a.Scopes, sc) {
			a.Scopes = append(a.Scopes, sc)
		}
	}
	a.ExpiresAt, a.ApprovedAt = now.Add(s.cfg.ConsentLifetime), now
	c.Resources[req.resource] = a
	if err := s.store.put(ctx, key, c); err != nil {
		return err
	}
	// A session that passed its check just before RevokeUser signed its
	// user out (a thief's, approving their own client) may write here
	// after forgetConsents ran: its code is refused, but the approval
	// would make the user's next authorization of that client silent.
	// Read after the write, as exchangeCode does: RevokeUser records the
	// sign-out before it lists the approvals, so either this read sees the
	// sign-out and the record goes, or the record was written before the
	// list and RevokeUser deletes it. The user's other approvals of the
	// client in that record go too, as they do when the sign-out cannot
	// be read: they are asked again.
	out, err := s.signedOutSince(ctx, sub, who.authenticated)
	if out {
		err = errConsentSignedOut
	}
	if err != nil {
		return errors.Join(err, s.store.remove(ctx, key))
	}
	return nil
}

// forgetConsents deletes every approval sub gave, so that after RevokeUser
// their next authorization of any client asks them again: a revocation
// (often because of a client they should not have trusted, or a stolen
// session that approved one) must not be undone silently by a remembered
// approval at their next sign-in.
func (s *Server) forgetConsents(ctx context.Context, sub string) error {
	names, err := s.store.list(ctx, nsConsent)
	if err != nil {
		return err
	}
	var (
		errs   []error
		legacy map[string]bool // sub's keys, for records without a subject
	)
	for _, name := range names {
		var c consent
		found, err := s.store.get(ctx, name, &c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if found && c.Subject == "" && legacy == nil {
			if legacy, err = s.consentKeysOf(ctx, sub); err != nil {
				return errors.Join(append(errs, err)...)
			}
		}
		if found && (c.Subject == sub || c.Subject == "" && legacy[path.Base(name)]) {
			errs = append(errs, s.store.remove(ctx, name))
		}
	}
	return errors.Join(errs...)
}

// consentKeysOf returns the names (base names of keys) the records of
// sub's approvals would have for every client this server knows, and
// every client sub has a grant of: how records that do not name their
// user are found.
func (s *Server) consentKeysOf(ctx context.Context, sub string) (map[string]bool, error) {
	clients, err := s.Clients(ctx)
	if err != nil {
		return nil, err
	}
	grants, err := s.Grants(ctx)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, c := range clients {
		keys[path.Base(s.consentKey(sub, c.ID))] = true
	}
	for _, g := range grants {
		if g.Subject == sub {
			keys[path.Base(s.consentKey(sub, g.ClientID))] = true
		}
	}
	return keys, nil
}
