package authserver

import (
	"context"
	"encoding/json"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// issued is what one token request grants.
type issued struct {
	issuer, subject, clientID, resource, grantID string
	grantType                                    string // gty: empty for a user's token
	scopes, groups                               []string
}

// tokenResponse is the token endpoint's success answer (RFC 6749 §5.1).
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

// mintAccessToken signs an access token, a JWT with typ at+jwt, with the
// current key, and returns it as a token response.
func (s *Server) mintAccessToken(ctx context.Context, g issued) (*tokenResponse, error) {
	now := s.cfg.Now()
	key, err := s.keys.signer(ctx, now)
	if err != nil {
		return nil, err
	}
	exp := now.Add(s.cfg.AccessTokenLifetime)
	payload, err := json.Marshal(oauthwire.AccessClaims{
		Claims: jwt.Claims{
			Issuer: g.issuer, Subject: g.subject, Audience: jwt.Audience{g.resource},
			Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), ID: randomID(),
		},
		ClientID: g.clientID, Scope: scopeString(g.scopes), GrantID: g.grantID, GrantType: g.grantType,
		Groups: g.groups,
	})
	if err != nil {
		return nil, err
	}
	jws, err := key.signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return nil, err
	}
	return &tokenResponse{
		AccessToken: token, TokenType: "Bearer",
		ExpiresIn: int64(s.cfg.AccessTokenLifetime / time.Second), Scope: scopeString(g.scopes),
	}, nil
}
