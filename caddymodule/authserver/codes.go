package authserver

import (
	"net/http"
	"net/url"
	"time"
)

// codeRecord is an authorization code in storage, under the SHA-256 of the
// code. A used code is kept (Used) until it is swept, so that a replay
// revokes what it issued.
type codeRecord struct {
	ClientID         string    `json:"client_id"`
	RedirectURI      string    `json:"redirect_uri"`
	RedirectExplicit bool      `json:"redirect_explicit,omitempty"`
	Challenge        string    `json:"code_challenge"`
	Resource         string    `json:"resource"`
	Issuer           string    `json:"iss"` // the origin the authorization happened at
	Scopes           []string  `json:"scopes"`
	Subject          string    `json:"sub"`
	Login            string    `json:"login"`                // see holder.go
	Credential       string    `json:"credential,omitempty"` // see holder.go
	Username         string    `json:"username,omitempty"`   // see policy.go
	Groups           []string  `json:"groups,omitempty"`
	Domain           string    `json:"domain,omitempty"`
	UpstreamChecked  time.Time `json:"upstream_checked_at,omitzero"` // see upstreamtoken.go
	// AuthTime is when the user signed in for this code (person's
	// authenticated); a code whose user was signed out since does not
	// redeem (signout.go).
	AuthTime time.Time `json:"auth_time,omitzero"`
	// ApprovedAt is when the user approved what the code grants: at the
	// consent page, or earlier for a remembered approval; a code of a
	// client the operator revoked since does not redeem
	// (clientrevocation.go).
	ApprovedAt time.Time `json:"approved_at,omitzero"`
	GrantID    string    `json:"grant_id"`
	ExpiresAt  time.Time `json:"expires_at"`
	Used       bool      `json:"used,omitempty"`
	// LegacyUpstreamToken is read only from codes issued before the
	// user's record existed, which carried the session's sealed refresh
	// token: redeeming one moves it there (upstreamlegacy.go).
	LegacyUpstreamToken string `json:"upstream_token,omitempty"`
}

// sweepable reports whether the record is past use and past replay
// detection: a replay after every access token of the grant expired could
// not be punished any better than with invalid_grant.
func (c *codeRecord) sweepable(now time.Time, accessLifetime time.Duration) bool {
	return now.After(c.ExpiresAt.Add(accessLifetime))
}

func (s *Server) codeKey(code string) string {
	return s.store.key(nsCodes, hashToken(code)+".json")
}

// issueCode stores a new code for the request who approved at approved
// and redirects to the client with it.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authzRequest, who person, approved time.Time) {
	code := randomToken()
	sub := who.Subject
	rec := codeRecord{
		ClientID: req.client.ID, RedirectURI: req.redirectURI, RedirectExplicit: req.redirectExplicit,
		Challenge: req.challenge, Resource: req.resource, Issuer: req.issuer, Scopes: req.scopes, Subject: sub,
		Login: who.Login, Credential: s.credentialOf(sub, who.Login),
		Username: who.Username, Groups: who.Groups, Domain: who.Domain,
		UpstreamChecked: who.signedIn, AuthTime: who.authenticated,
		ApprovedAt: approved, GrantID: randomID(), ExpiresAt: s.cfg.Now().Add(s.cfg.CodeLifetime),
	}
	if err := s.store.put(r.Context(), s.codeKey(code), rec); err != nil {
		s.log.Error("storing authorization code", zapClient(req.client.ID), zapSubject(sub), zapErr(err))
		s.redirectToClient(w, r, req, url.Values{"error": {"server_error"}, "error_description": {"the authorization could not be stored"}})
		return
	}
	s.log.Info("authorization approved", zapClient(req.client.ID), zapSubject(sub))
	s.redirectToClient(w, r, req, url.Values{"code": {code}})
}
