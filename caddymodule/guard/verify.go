package guard

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// clockSkew is the leeway allowed on exp, nbf and iat.
const clockSkew = 30 * time.Second

// rejection is why a token was refused: reason names it for logs and
// metrics, description is the error_description shown to the client.
type rejection struct {
	reason      string
	description string
}

func (r *rejection) Error() string { return r.description }

var (
	errMalformed    = &rejection{"malformed", "the access token is not a signed JWT"}
	errTokenType    = &rejection{"wrong_type", "the access token is not of type at+jwt"}
	errUnknownKey   = &rejection{"unknown_key", "the access token is signed by an unknown key"}
	errSignature    = &rejection{"bad_signature", "the access token signature is invalid"}
	errExpired      = &rejection{"expired", "the access token expired"}
	errNotYetValid  = &rejection{"not_yet_valid", "the access token is not valid yet"}
	errIssuer       = &rejection{"wrong_issuer", "the access token was issued by another server"}
	errAudience     = &rejection{"wrong_audience", "the access token is for another resource"}
	errClaims       = &rejection{"missing_claims", "the access token lacks required claims"}
	errRevoked      = &rejection{"revoked", "the access token was revoked"}
	errClientToken  = &rejection{"client_token", "this resource accepts only tokens issued to a user, not client-credentials tokens"}
	errMissingToken = &rejection{"missing_token", ""}
)

// verify checks raw's signature, type and claims against the expected
// issuer and audience and returns the identity and the token's expiry.
// A non-rejection error means the key source failed.
func (g *Guard) verify(ctx context.Context, raw, issuer, audience string) (Identity, time.Time, error) {
	tok, hdr, err := oauthwire.ParseAccessToken(raw)
	switch {
	case errors.Is(err, oauthwire.ErrNotAccessToken):
		return Identity{}, time.Time{}, errTokenType
	case err != nil:
		return Identity{}, time.Time{}, errMalformed
	}
	keys, err := g.keys.lookup(ctx, hdr.KeyID)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	if len(keys) == 0 {
		return Identity{}, time.Time{}, errUnknownKey
	}
	var c oauthwire.AccessClaims
	if !verifyWithAny(tok, keys, hdr.Algorithm, &c) {
		return Identity{}, time.Time{}, errSignature
	}
	if err := checkClaims(&c, issuer, audience, g.now()); err != nil {
		return Identity{}, time.Time{}, err
	}
	id := Identity{
		Subject:  c.Subject,
		ClientID: c.ClientID,
		Scopes:   strings.Fields(c.Scope),
		TokenID:  c.ID,
		GrantID:  c.GrantID,
		Client:   c.GrantType == oauthwire.ClientCredentials,
		Groups:   c.Groups,
	}
	return id, c.Expiry.Time(), nil
}

// verifyWithAny decodes tok's claims into c with the first key whose
// algorithm fits alg and whose signature verifies.
func verifyWithAny(tok *jwt.JSONWebToken, keys []jose.JSONWebKey, alg string, c *oauthwire.AccessClaims) bool {
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if tok.Claims(k.Key, c) == nil {
			return true
		}
	}
	return false
}

// checkClaims enforces iss, aud, the time window and the claims the
// gateway relies on (exp, sub, client_id, jti).
func checkClaims(c *oauthwire.AccessClaims, issuer, audience string, now time.Time) error {
	if c.Expiry == nil || c.Subject == "" || c.ClientID == "" || c.ID == "" {
		return errClaims
	}
	err := c.ValidateWithLeeway(jwt.Expected{
		Issuer:      issuer,
		AnyAudience: jwt.Audience{audience},
		Time:        now,
	}, clockSkew)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return errIssuer
	case errors.Is(err, jwt.ErrInvalidAudience):
		return errAudience
	case errors.Is(err, jwt.ErrExpired):
		return errExpired
	default:
		return errNotYetValid
	}
}
