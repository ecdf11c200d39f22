package authserver

import (
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// serveRevoke is the RFC 7009 revocation endpoint. The client authenticates;
// it may revoke only its own tokens. Revoking a refresh token revokes its
// whole family and the family's access tokens; revoking an access token
// records its jti until it expires. Unknown tokens are answered 200, as the
// RFC requires.
func (s *Server) serveRevoke(w http.ResponseWriter, r *http.Request) {
	c, ok := s.clientPost(w, r)
	if !ok {
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeError(w, errInvalidRequest("token is missing"))
		return
	}
	var err error
	if strings.Count(token, ".") == 2 {
		err = s.revokeAccessToken(r, c, token)
	} else {
		err = s.revokeRefreshToken(r, c, token)
	}
	if err != nil {
		s.log.Error("revoking token", zapClient(c.ID), zapErr(err))
		writeError(w, errServer())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

func (s *Server) revokeAccessToken(r *http.Request, c *client, token string) error {
	claims, ok := s.parseAccessToken(r, token)
	if !ok || claims.ClientID != c.ID {
		return nil
	}
	s.log.Info("access token revoked", zapClient(c.ID), zapSubject(claims.Subject))
	return s.revokeToken(r.Context(), claims.ID, claims.Expiry.Time())
}

// parseAccessToken verifies a token this server signed; ok is false for
// anything else, expired tokens included.
func (s *Server) parseAccessToken(r *http.Request, token string) (oauthwire.AccessClaims, bool) {
	var claims oauthwire.AccessClaims
	tok, _, err := oauthwire.ParseAccessToken(token)
	if err != nil {
		return claims, false
	}
	jwks, err := s.VerificationKeys(r.Context())
	if err != nil || tok.Claims(jwks, &claims) != nil || claims.Expiry == nil {
		return claims, false
	}
	return claims, s.cfg.Now().Before(claims.Expiry.Time()) && validID(claims.ID)
}

func (s *Server) revokeRefreshToken(r *http.Request, c *client, token string) error {
	id, ok := grantIDOf(token)
	if !ok {
		return nil
	}
	var g grant
	found, err := s.store.get(r.Context(), s.grantKey(id), &g)
	if err != nil || !found || g.Revoked || g.ClientID != c.ID || g.find(token) == nil {
		return err
	}
	s.log.Info("refresh token revoked", zapClient(c.ID), zapSubject(g.Subject), zap.String("grant_id", id))
	return s.revokeGrant(r.Context(), id, "revoked by the client")
}
