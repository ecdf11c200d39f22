package authserver

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
)

// grant is one authorization of a client by a user: the refresh-token
// family that an authorization code starts. Every refresh retires the
// presented token and adds a new one; presenting a retired token after the
// grace window revokes the grant, and with it (via the access tokens' sid)
// every access token it issued.
type grant struct {
	ID       string   `json:"id"`
	ClientID string   `json:"client_id"`
	Subject  string   `json:"sub"`
	Resource string   `json:"resource"`
	Issuer   string   `json:"iss"` // only requests at this origin may refresh
	Scopes   []string `json:"scopes"`
	// Login is how the user was identified (loginPassword, loginExternal),
	// Credential the passwordTag of a password user's hash: see holder.go.
	Login      string `json:"login,omitempty"`
	Credential string `json:"credential,omitempty"`
	// Username, Groups and Domain are what was known of the user at the
	// authorization, for the policy (policy.go).
	Username string   `json:"username,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Domain   string   `json:"domain,omitempty"`
	// UpstreamCheckedAt is when an upstream user's provider last vouched
	// for them (upstreamtoken.go). UpstreamToken is the provider's sealed
	// refresh token as grants made before the user's record
	// (upstreamcredential.go) copied it: their first check reads it when
	// the user has no record, moves the provider's answer there and clears
	// it; grants made since keep none.
	UpstreamToken     string    `json:"upstream_token,omitempty"`
	UpstreamCheckedAt time.Time `json:"upstream_checked_at,omitzero"`
	ExpiresAt         time.Time `json:"expires_at"`
	Revoked           bool      `json:"revoked,omitempty"`
	// NarrowedTo is, in a grant a refresh retired because the policy took
	// a scope away, the id of the narrower grant the family continues in
	// (see refresh); revoking this grant revokes that one too.
	NarrowedTo string         `json:"narrowed_to,omitempty"`
	Tokens     []refreshEntry `json:"tokens,omitempty"`
}

// refreshEntry is a refresh token of the family, by SHA-256.
type refreshEntry struct {
	Hash      string    `json:"sha256"`
	RetiredAt time.Time `json:"retired_at,omitzero"`
}

// Bounds of a family's token list. Live tokens beyond one exist only while
// concurrent refreshes race; retired ones are kept to detect reuse.
const (
	maxLiveRefresh    = 4
	maxRetiredRefresh = 16
)

func (s *Server) grantKey(id string) string { return s.store.key(nsGrants, id+".json") }

// grantIDOf returns the grant id a refresh token carries ("<grant>.<secret>").
func grantIDOf(refreshToken string) (string, bool) {
	id, secret, ok := strings.Cut(refreshToken, ".")
	return id, ok && validID(id) && secret != ""
}

// newRefreshToken adds a live token to the family and returns it.
func (g *grant) newRefreshToken() string {
	token := g.ID + "." + randomToken()
	g.Tokens = append(g.Tokens, refreshEntry{Hash: hashToken(token)})
	var live, retired []refreshEntry
	for _, e := range g.Tokens {
		if e.RetiredAt.IsZero() {
			live = append(live, e)
		} else {
			retired = append(retired, e)
		}
	}
	live = live[max(0, len(live)-maxLiveRefresh):]
	retired = retired[max(0, len(retired)-maxRetiredRefresh):]
	g.Tokens = append(retired, live...)
	return token
}

// dropCredentials forgets what a revoked grant would only be refreshed
// with: its refresh tokens' hashes and its own copy of the provider's
// sealed refresh token, if it is old enough to have one, a live credential
// for the user's account at their provider that nothing uses once the
// grant is revoked (a stolen copy of storage would otherwise keep one per
// revoked grant until the sweep). The user's record of that token stays:
// their other grants check them with it.
func (g *grant) dropCredentials() {
	g.Tokens, g.UpstreamToken = nil, ""
}

// find returns the family's entry for token, or nil.
func (g *grant) find(token string) *refreshEntry {
	h := hashToken(token)
	var found *refreshEntry
	for i := range g.Tokens {
		if hashEqual(g.Tokens[i].Hash, h) {
			found = &g.Tokens[i]
		}
	}
	return found
}

// revokeGrant revokes a grant (a refresh-token family and every access
// token issued from it) and the narrower grants the family continued in.
// A grant not stored yet is stored revoked, so a code replayed before its
// first exchange finished still revokes it.
func (s *Server) revokeGrant(ctx context.Context, id, reason string) error {
	_, err := s.revokeFamily(ctx, id, reason, true)
	return err
}

// revokeFamily revokes grant id, storing it revoked if it is not stored
// and create is set, then follows NarrowedTo: it returns how many of the
// grants were live.
//
// A refresh the policy narrows stores the narrower grant and the wider one
// revoked, with NarrowedTo naming the narrower, in one transaction under
// the wider grant's lock, which this takes too. So a revocation of the
// wider grant (by the operator's RevokeUser or RevokeClient, which list
// the grants first, or by a replayed code) comes either before the
// narrowing, which then finds the grant revoked and refuses, or after it,
// and finds the link here: the family cannot slip out of a revocation into
// a grant under a new id, whatever the timing and on every instance.
// Each narrowing drops a scope, so a chain is no longer than a grant's
// scopes.
func (s *Server) revokeFamily(ctx context.Context, id, reason string, create bool) (int, error) {
	now := s.cfg.Now()
	var (
		expires    time.Time
		next       string
		live, seen bool
	)
	err := s.store.atomically(ctx, "grant-"+id, func(tx context.Context) error {
		g := grant{ID: id}
		found, err := s.store.get(tx, s.grantKey(id), &g)
		if err != nil {
			return err
		}
		// A link to a grant swept meanwhile (both expired) stores nothing.
		if seen = found || create; !seen {
			return nil
		}
		if !found {
			g.ExpiresAt = now.Add(s.cfg.RefreshTokenLifetime)
		}
		next, expires, live = g.NarrowedTo, g.ExpiresAt, !g.Revoked
		if found && g.Revoked {
			return nil // revoked for good: nothing to write
		}
		g.Revoked = true
		g.dropCredentials()
		return s.store.put(tx, s.grantKey(id), g)
	})
	if err != nil || !seen {
		return 0, err
	}
	n := 0
	if live {
		n = 1
		s.revoked.set("grant:"+id, expires, now)
		s.log.Warn("grant revoked", zap.String("grant_id", id), zap.String("reason", reason))
	}
	if next == "" {
		return n, nil
	}
	m, err := s.revokeFamily(ctx, next, reason, false)
	return n + m, err
}
