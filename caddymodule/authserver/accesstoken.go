package authserver

import (
	"context"
	"encoding/json"
	"time"
)

// accessClaims are the claims of an access token (RFC 9068 §2.2), plus sid,
// the grant the token came from (or for a token without a user, the
// client: see clientSID), so revoking a grant revokes its tokens, and gty,
// "client_credentials" on a token without a user and absent on a user's.
type accessClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	Expiry   int64  `json:"exp"`
	IssuedAt int64  `json:"iat"`
	ID       string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	GrantID  string `json:"sid"`
	GrantTy  string `json:"gty,omitempty"`
}

// issued is what one token request grants.
type issued struct {
	issuer, subject, clientID, resource, grantID string
	grantType                                    string // gty: empty for a user's token
	scopes                                       []string
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
	payload, err := json.Marshal(accessClaims{
		Issuer: g.issuer, Subject: g.subject, Audience: g.resource,
		Expiry: exp.Unix(), IssuedAt: now.Unix(), ID: randomID(),
		ClientID: g.clientID, Scope: scopeString(g.scopes), GrantID: g.grantID, GrantTy: g.grantType,
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
