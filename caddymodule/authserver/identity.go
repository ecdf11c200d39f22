package authserver

import (
	"net/http"

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
// costs the same bcrypt comparison as a known one, against s.dummyHash, so
// the response time does not tell an attacker which user names exist.
func (s *Server) checkPassword(user, password string) bool {
	hash, known := s.cfg.Users[user]
	if !known {
		// Not a real user's hash: users' costs may differ, and comparing
		// against one chosen user's hash times the unknown path at that
		// user's cost, so the others' names would stand out.
		hash = string(s.dummyHash)
	}
	ok := s.compareHash([]byte(hash), []byte(password)) == nil
	return ok && known
}

// newDummyHash returns a bcrypt hash of a random password at the highest
// cost among users (bcrypt.MinCost without users, when no login form
// exists): an unknown user name is checked against it, so it takes as long
// as the slowest known user, whose hash would otherwise stand out by its
// timing.
func newDummyHash(users map[string]string) ([]byte, error) {
	cost := bcrypt.MinCost
	for _, h := range users {
		if c, err := bcrypt.Cost([]byte(h)); err == nil && c > cost {
			cost = c
		}
	}
	return bcrypt.GenerateFromPassword([]byte(randomToken()), cost)
}
