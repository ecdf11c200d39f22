package authserver

import "crypto/hmac"

// Grants die with their user: a grant records how its user was identified
// and, for a password user, a tag of the credential it was made under, so
// that removing the user from Config.Users or changing the password ends
// the grant's refreshes (invalid_grant) and, through IsRevoked, its access
// tokens within the guards' revocation check interval.
//
// Users from TrustedIdentity or an IdentitySource live outside this server:
// nothing here can tell that they left, so their grants last until they are
// revoked (`caddy mcp revoke user`) or expire (RefreshTokenLifetime). Users
// of an upstream provider lose their grants with the provider's removal
// from Config.Upstreams.

// How the user of an authorization was identified (codeRecord.Login,
// grant.Login).
const (
	// loginPassword is a user of Config.Users, by the login form (the
	// session cookie is bound to the same credential).
	loginPassword = "password"
	// loginExternal is a subject from TrustedIdentity or an IdentitySource.
	loginExternal = "external"
	// An upstream provider's user is loginUpstreamPrefix and the
	// provider's name (upstreamlogin.go).
)

// credentialOf is what an authorization by sub records of its credential:
// the passwordTag of a password user's bcrypt hash. The tag is a digest of
// the hash, salt included, never of the password, so a stolen storage gives
// no password guess a way to be checked that the hash itself would not.
func (s *Server) credentialOf(sub, login string) string {
	if login != loginPassword {
		return ""
	}
	return passwordTag(s.cfg.Users[sub])
}

// holderGone says why the user who made g may no longer use it, or "" when
// they still may.
func (s *Server) holderGone(g *grant) string {
	switch g.Login {
	case loginPassword:
		hash, ok := s.cfg.Users[g.Subject]
		if !ok {
			return "the user no longer exists"
		}
		if !hmac.Equal([]byte(passwordTag(hash)), []byte(g.Credential)) {
			return "the user's password changed"
		}
		return ""
	case loginExternal:
		return ""
	}
	if provider, ok := upstreamOf(g.Login); ok {
		if s.upstream(provider) == nil {
			return "the user's sign-in provider " + provider + " is no longer configured"
		}
		return ""
	}
	// Made before grants recorded their user's credential: whether that
	// user still exists with the same password cannot be told.
	return "the grant predates user checks"
}
