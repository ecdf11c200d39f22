package authserver

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"slices"
	"strings"
	"time"
)

// Tokens without a user: the client_credentials grant (and MintToken) give
// a client a token in its own name. With open registration anyone can be
// such a client, so only pre-registered confidential clients may, and
// self-registered ones only when the operator opts in for clients that
// registered with the initial access token.

// gtyClientCredentials is the "gty" claim of an access token minted without
// a user, so the guard can tell it from a user's token (whose sub might
// equal a client id). User tokens carry no gty.
const gtyClientCredentials = grantClientCredentials

// mayUseClientCredentials reports whether c may obtain tokens without a
// user now. It is checked when such a token is issued and, through the
// token's sid, whenever the guard asks IsRevoked: a client stored before
// the policy changed loses what the policy no longer allows.
func (s *Server) mayUseClientCredentials(c *client) bool {
	if !c.confidential() {
		return false
	}
	if c.static {
		return true
	}
	return s.registrationAllowsClientCredentials() && c.ViaInitialAccessToken &&
		slices.Contains(c.GrantTypes, grantClientCredentials)
}

// registrationAllowsClientCredentials reports whether a registration
// request (already past registrationAllowed) may ask for client_credentials.
func (s *Server) registrationAllowsClientCredentials() bool {
	p := s.cfg.Registration
	return p.Mode == RegistrationToken && p.AllowClientCredentials
}

// clientCredentialsAdvertised reports whether some client can use the
// client_credentials grant, so metadata lists it only then and does not
// invite strangers to try a grant nobody here can get.
func (s *Server) clientCredentialsAdvertised() bool {
	if s.registrationAllowsClientCredentials() {
		return true
	}
	for _, c := range s.static {
		if c.confidential() {
			return true
		}
	}
	return false
}

// clientSIDPrefix starts the sid of a client's own tokens. Grant ids are
// base64url and never contain '.', so the two cannot be confused.
const clientSIDPrefix = "client."

// clientSID is the sid of c's own access tokens: its id and a tag of its
// secret's hash, so IsRevoked can find the client without a storage write
// per token, and a deleted client, one that lost the right to such tokens,
// or a changed secret ends them all.
func clientSID(c *client) string {
	return clientSIDPrefix + base64.RawURLEncoding.EncodeToString([]byte(c.ID)) + "." + passwordTag(c.secretHash())
}

// secretHash is the stored hash of the client's secret, whichever kind.
func (c *client) secretHash() string {
	if c.bcryptHash != "" {
		return c.bcryptHash
	}
	return c.SecretHash
}

// clientSIDRevoked is IsRevoked's lookup for a client's own token. Its
// answers are never final (a client put back into the configuration works
// again), so none is cached.
func (s *Server) clientSIDRevoked(ctx context.Context, sid string) (bool, time.Time, error) {
	encoded, tag, ok := strings.Cut(strings.TrimPrefix(sid, clientSIDPrefix), ".")
	id, err := base64.RawURLEncoding.DecodeString(encoded)
	if !ok || err != nil {
		return true, time.Time{}, nil // not a sid this server issued
	}
	c, err := s.loadClient(ctx, string(id))
	if err != nil {
		return false, time.Time{}, err
	}
	revoked := c == nil || !s.mayUseClientCredentials(c) || !hmac.Equal([]byte(tag), []byte(passwordTag(c.secretHash())))
	return revoked, time.Time{}, nil
}
