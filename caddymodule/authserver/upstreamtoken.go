package authserver

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// The refresh tokens of upstream providers are kept sealed (AES-256-GCM)
// with a key of their own in storage, created like the cookie key on first
// use: a copy of the records alone (a backup, a leaked bucket) does not let
// anyone act at the provider as its users. Each is bound to its user's
// subject, so a sealed token moved into another user's record does not
// open.

// upstreamSealer returns the AEAD for upstream refresh tokens.
func (s *Server) upstreamSealer(ctx context.Context) (cipher.AEAD, error) {
	if a := s.upstreamAEAD.Load(); a != nil {
		return *a, nil
	}
	s.upstreamAEADMu.Lock()
	defer s.upstreamAEADMu.Unlock()
	if a := s.upstreamAEAD.Load(); a != nil {
		return *a, nil
	}
	key, err := loadSecretKey(ctx, s.store, "upstream-tokens.json")
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s.upstreamAEAD.Store(&a)
	return a, nil
}

func upstreamTokenAAD(subject string) []byte { return []byte("upstream-refresh-token\x00" + subject) }

// sealUpstreamToken encrypts the provider's refresh token of subject.
func (s *Server) sealUpstreamToken(ctx context.Context, subject, token string) (string, error) {
	if token == "" {
		return "", nil
	}
	a, err := s.upstreamSealer(ctx)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(a.Seal(nonce, nonce, []byte(token), upstreamTokenAAD(subject))), nil
}

// openUpstreamToken decrypts a sealed refresh token of subject.
func (s *Server) openUpstreamToken(ctx context.Context, subject, sealed string) (string, error) {
	a, err := s.upstreamSealer(ctx)
	if err != nil {
		return "", err
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < a.NonceSize() {
		return "", errors.New("sealed upstream token is malformed")
	}
	plain, err := a.Open(nil, b[:a.NonceSize()], b[a.NonceSize():], upstreamTokenAAD(subject))
	return string(plain), err
}

// reauthenticationDue reports whether g's user must be checked again at
// their provider before g is refreshed.
func (s *Server) reauthenticationDue(g *grant, now time.Time) (UpstreamLogin, bool) {
	provider, ok := upstreamOf(g.Login)
	if !ok {
		return nil, false
	}
	u := s.upstream(provider)
	if u == nil || u.ReauthenticateAfter() <= 0 {
		return u, false
	}
	return u, !now.Before(g.UpstreamCheckedAt.Add(u.ReauthenticateAfter()))
}

// upstreamCheck is what a provider answered when asked again about a
// grant's user.
type upstreamCheck struct {
	// sealedToken is the refresh token to check the user with next time,
	// sealed: the provider's new one, or the one presented when it issued
	// none.
	sealedToken      string
	username, domain string
	groups           []string
	at               time.Time
}

// applyTo records c in g. A copy of the provider's token that g kept from
// before the user's record is retired by the check, whichever token it
// presented: the user's record holds the one to use.
func (c *upstreamCheck) applyTo(g *grant) {
	g.Username, g.Groups, g.Domain, g.UpstreamCheckedAt = c.username, c.groups, c.domain, c.at
	g.UpstreamToken = ""
}

// reauthenticate checks g's user again at provider u with sealed, their
// refresh token there (upstreamTokenFor), and returns who they are now
// (groups, domain), for the policy to decide on once it is recorded in g,
// and the token to keep. A user the provider no longer vouches for gets
// invalid_grant (sign in again); a provider that cannot be reached,
// temporarily_unavailable, and the current access token runs out.
// It calls the provider over the network: never inside a storage
// transaction (see reconfirmUpstream).
func (s *Server) reauthenticate(ctx context.Context, u UpstreamLogin, g *grant, sealed string) (*upstreamCheck, *oauthError) {
	log := s.log.With(zap.String("provider", u.Name()), zapSubject(g.Subject))
	if sealed == "" {
		log.Info("sign-in too old to refresh and no provider refresh token to check it with")
		return nil, errInvalidGrant("the sign-in at " + u.Label() + " must be renewed; authorize again")
	}
	token, err := s.openUpstreamToken(ctx, g.Subject, sealed)
	if err != nil {
		log.Error("opening the provider's refresh token", zapErr(err))
		return nil, errInvalidGrant("the sign-in at " + u.Label() + " must be renewed; authorize again")
	}
	// The provider vouches as of when it was asked: a slow answer does
	// not stretch the next window.
	asked := s.cfg.Now()
	id, err := u.Reauthenticate(ctx, token)
	var denied *UpstreamDenied
	switch {
	case errors.As(err, &denied):
		log.Info("provider no longer vouches for the user", zapErr(err))
		return nil, errInvalidGrant("the sign-in at " + u.Label() + " is no longer valid (" + denied.Reason + "); authorize again")
	case err != nil:
		log.Warn("checking the user again at the provider", zapErr(err))
		return nil, &oauthError{status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: "the sign-in provider " + u.Label() + " could not be reached; try again later", retryAfter: time.Minute}
	case id.Subject != g.Subject:
		log.Error("provider's refresh token names another user", zap.String("now", id.Subject))
		return nil, errInvalidGrant("the sign-in at " + u.Label() + " is no longer valid; authorize again")
	}
	if id.RefreshToken != "" {
		if sealed, err = s.sealUpstreamToken(ctx, g.Subject, id.RefreshToken); err != nil {
			log.Error("sealing the provider's refresh token", zapErr(err))
			return nil, errServer()
		}
	}
	return &upstreamCheck{sealedToken: sealed, username: id.Username, groups: id.Groups, domain: id.Domain, at: asked}, nil
}
