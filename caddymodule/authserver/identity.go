package authserver

import (
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"net/http"
	"slices"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// IdentitySource tells the authorization endpoint who the person in front
// of the browser is, without interaction of its own, for example from a
// header set by an earlier handler. (Sign-in at an upstream provider, which
// needs this server's state, cookies and session, is UpstreamLogin.)
type IdentitySource interface {
	// Identify returns the subject r is authenticated as, if any.
	Identify(r *http.Request) (subject string, ok bool)
}

// person is who is in front of the browser.
type person struct {
	Subject string
	// Login is how they were identified (loginPassword, loginExternal,
	// or loginUpstreamPrefix and the provider's name).
	Login string
	// Username is how they are shown; Groups are their groups as their
	// source gave them (a provider, Config.UserGroups; policyGroups names
	// them), Domain that of their verified email address.
	Username string
	Groups   []string
	Domain   string
	// signedIn is when the provider last vouched for an upstream user
	// (upstreamtoken.go).
	signedIn time.Time
	// authenticated is when they signed in here: their session's start,
	// or now for a password just checked or an identity the request
	// itself carries; zero for a session from before sessions carried
	// their start. Codes record it, checked against the user's sign-out
	// (signout.go).
	authenticated time.Time
}

// identify finds who r comes from and how they were identified: the
// trusted identity of an earlier handler, then this server's login session
// (password or upstream), then the further sources.
func (s *Server) identify(r *http.Request) (person, bool) {
	if s.cfg.TrustedIdentity != nil {
		if sub, ok := s.cfg.TrustedIdentity(r); ok && sub != "" {
			return person{Subject: sub, Login: loginExternal, Username: sub, authenticated: s.cfg.Now()}, true
		}
	}
	if p, ok := s.session(r); ok {
		return p, true
	}
	for _, src := range s.cfg.IdentitySources {
		if sub, ok := src.Identify(r); ok && sub != "" {
			return person{Subject: sub, Login: loginExternal, Username: sub, authenticated: s.cfg.Now()}, true
		}
	}
	return person{}, false
}

// checkPassword verifies a login against Config.Users. An unknown user
// costs one bcrypt comparison against a dummy hash (see dummyHashes), never
// a real user's hash, so the response time does not tell an attacker which
// user names exist.
func (s *Server) checkPassword(user, password string) bool {
	hash, known := s.cfg.Users[user]
	if !known {
		hash = string(s.dummies.forName(user))
	}
	ok := s.compareHash([]byte(hash), []byte(password)) == nil
	return ok && known
}

// dummyHashes make an unknown user name cost what a known one does. Users'
// bcrypt costs may differ (first_user, `caddy hash-password` and htpasswd
// each pick their own), and one dummy at any single cost would set every
// user of another cost apart. So there is a dummy per cost in use, and an
// unknown name is checked against the dummy of the cost of the user its
// SHA-256 picks: each name's timing is that of some real user, and whether
// a name exists cannot be told from it.
type dummyHashes struct {
	byCost map[int][]byte
	costs  []int // the users' costs, in the order of their names
}

func newDummyHashes(users map[string]string) (dummyHashes, error) {
	d := dummyHashes{byCost: map[int][]byte{}}
	for _, name := range slices.Sorted(maps.Keys(users)) {
		cost, err := bcrypt.Cost([]byte(users[name]))
		if err != nil {
			continue // refused by Validate
		}
		d.costs = append(d.costs, cost)
		if d.byCost[cost] == nil {
			h, err := bcrypt.GenerateFromPassword([]byte(randomToken()), cost)
			if err != nil {
				return d, err
			}
			d.byCost[cost] = h
		}
	}
	return d, nil
}

// forName returns the dummy hash an unknown name is checked against.
func (d dummyHashes) forName(name string) []byte {
	if len(d.costs) == 0 {
		return nil // no users: no login form, every name is unknown
	}
	sum := sha256.Sum256([]byte(name))
	return d.byCost[d.costs[binary.BigEndian.Uint64(sum[:8])%uint64(len(d.costs))]]
}

// mixedCosts reports whether users' hashes have different bcrypt costs.
func (d dummyHashes) mixedCosts() bool { return len(d.byCost) > 1 }
