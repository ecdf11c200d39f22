package authserver

import (
	"maps"
	"net/http"
	"slices"

	"golang.org/x/crypto/bcrypt"
)

// IdentitySource tells the authorization endpoint who the person in front
// of the browser is, without interaction of its own: a header set by an
// earlier handler, or a session established by an upstream login (the seam
// for OIDC: such a source pairs its own login and callback handlers with an
// Identify that reads the session they set).
type IdentitySource interface {
	// Identify returns the subject r is authenticated as, if any.
	Identify(r *http.Request) (subject string, ok bool)
}

// identify finds the subject of r and how it was identified (loginPassword,
// loginExternal): the trusted identity of an earlier handler, then this
// server's login session, then the further sources.
func (s *Server) identify(r *http.Request) (sub, login string, ok bool) {
	if s.cfg.TrustedIdentity != nil {
		if sub, ok := s.cfg.TrustedIdentity(r); ok && sub != "" {
			return sub, loginExternal, true
		}
	}
	if sub, ok := s.sessionSubject(r); ok {
		return sub, loginPassword, true
	}
	for _, src := range s.cfg.IdentitySources {
		if sub, ok := src.Identify(r); ok && sub != "" {
			return sub, loginExternal, true
		}
	}
	return "", "", false
}

// checkPassword verifies a login against Config.Users. An unknown user
// costs a bcrypt comparison too, so timing does not reveal user names.
func (s *Server) checkPassword(user, password string) bool {
	hash, known := s.cfg.Users[user]
	if !known {
		// Any configured hash has the cost operators chose; compare a
		// password that cannot match against it.
		hash = s.cfg.Users[slices.Min(slices.Collect(maps.Keys(s.cfg.Users)))]
		password = "\x00" + password
	}
	ok := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	return ok && known
}
