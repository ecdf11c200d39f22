package oauthwire

import (
	"errors"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AccessClaims are the claims of the gateway's access tokens, the one
// definition that the authorization server mints and the guard verifies:
// RFC 9068 §2.2 (iss, sub, aud, exp, iat, jti, client_id, scope), plus sid,
// the grant the token came from (for a token without a user, its client),
// so revoking a grant revokes its tokens, and gty.
type AccessClaims struct {
	jwt.Claims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	GrantID  string `json:"sid"`
	// GrantType is ClientCredentials on a token minted without a user (sub
	// is then the client id), absent on a user's token.
	GrantType string `json:"gty,omitempty"`
	// Groups are the user's groups (RFC 9068 §2.2.3.1) as grant and allow
	// rules name them, for the backend's groups header: a sign-in
	// provider's as "<provider>:<group>" (google:admins, github:acme), so
	// a group anyone may create at one provider cannot pass for another's;
	// those of the users block plainly.
	Groups []string `json:"groups,omitempty"`
}

// ClientCredentials is the gty claim of a token that speaks for a client,
// not a user.
const ClientCredentials = "client_credentials"

// AccessTokenType is the JWS typ header of access tokens (RFC 9068 §2.1).
const AccessTokenType = "at+jwt"

// IsAccessTokenType accepts the RFC 9068 typ values, case-insensitively.
func IsAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, AccessTokenType) || strings.EqualFold(typ, "application/"+AccessTokenType)
}

// SigningAlgorithms are the only algorithms an access token may be signed
// with: asymmetric ones (the authorization server signs ES256), never
// "none" or HMAC, whose key a verifier would have to hold.
var SigningAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// Why ParseAccessToken refused a token.
var (
	ErrNotSignedJWT   = errors.New("not a JWT signed once with an accepted algorithm")
	ErrNotAccessToken = errors.New("not of type at+jwt")
)

// ParseAccessToken parses raw as a compact JWS access token, before any
// signature check: one of SigningAlgorithms, exactly one signature
// (ErrNotSignedJWT), typ at+jwt (ErrNotAccessToken), so an ID token or
// another JWT signed by the same keys is never taken for an access token.
// It returns the token and its header.
func ParseAccessToken(raw string) (*jwt.JSONWebToken, jose.Header, error) {
	tok, err := jwt.ParseSigned(raw, SigningAlgorithms)
	if err != nil || len(tok.Headers) != 1 {
		return nil, jose.Header{}, ErrNotSignedJWT
	}
	hdr := tok.Headers[0]
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !IsAccessTokenType(typ) {
		return nil, jose.Header{}, ErrNotAccessToken
	}
	return tok, hdr, nil
}
