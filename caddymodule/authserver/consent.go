package authserver

import (
	"context"
	"slices"
	"time"
)

// consent is a remembered approval of a client by a user.
type consent struct {
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) consentKey(sub, clientID string) string {
	return s.store.key(nsConsent, hashToken(sub+"\x00"+clientID)+".json")
}

// consentRemembered reports whether sub approved this client for at least
// the requested scopes and the approval has not expired.
func (s *Server) consentRemembered(ctx context.Context, sub string, req *authzRequest) bool {
	if s.cfg.ConsentLifetime < 0 {
		return false
	}
	var c consent
	found, err := s.store.get(ctx, s.consentKey(sub, req.client.ID), &c)
	if err != nil {
		s.log.Error("loading consent", zapClient(req.client.ID), zapSubject(sub), zapErr(err))
	}
	return found && err == nil && s.cfg.Now().Before(c.ExpiresAt) && subset(req.scopes, c.Scopes)
}

// rememberConsent records that sub approved the client for the requested
// scopes, in addition to scopes approved before.
func (s *Server) rememberConsent(ctx context.Context, sub string, req *authzRequest) error {
	if s.cfg.ConsentLifetime < 0 {
		return nil
	}
	key := s.consentKey(sub, req.client.ID)
	var c consent
	if found, err := s.store.get(ctx, key, &c); err != nil || !found || s.cfg.Now().After(c.ExpiresAt) {
		c.Scopes = nil
	}
	for _, sc := range req.scopes {
		if !slices.Contains(c.Scopes, sc) {
			c.Scopes = append(c.Scopes, sc)
		}
	}
	c.ExpiresAt = s.cfg.Now().Add(s.cfg.ConsentLifetime)
	return s.store.put(ctx, key, c)
}
