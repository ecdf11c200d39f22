package authserver

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"

	"go.uber.org/zap"
)

// tokenRequest is a parsed token endpoint request (RFC 6749 §4.1.3, §6,
// §4.4.2; RFC 7636 §4.5; RFC 8707 §2.2).
type tokenRequest struct {
	grantType    string
	code         string
	redirectURI  string
	verifier     string
	refreshToken string
	scope        string
	resource     string
}

// pkceVerifier is the RFC 7636 §4.1 code_verifier syntax.
var pkceVerifier = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// parseTokenRequest checks that form has what its grant type needs.
func parseTokenRequest(form url.Values) (tokenRequest, *oauthError) {
	req := tokenRequest{
		grantType: form.Get("grant_type"), code: form.Get("code"), redirectURI: form.Get("redirect_uri"),
		verifier: form.Get("code_verifier"), refreshToken: form.Get("refresh_token"),
		scope: form.Get("scope"), resource: form.Get("resource"),
	}
	switch req.grantType {
	case "":
		return req, errInvalidRequest("grant_type is missing")
	case grantCode:
		if req.code == "" {
			return req, errInvalidRequest("code is missing")
		}
		if req.verifier == "" {
			return req, errInvalidRequest("code_verifier is missing (PKCE is required)")
		}
		if !pkceVerifier.MatchString(req.verifier) {
			return req, errInvalidRequest("code_verifier is malformed")
		}
	case grantRefresh:
		if req.refreshToken == "" {
			return req, errInvalidRequest("refresh_token is missing")
		}
	case grantClientCredentials:
	default:
		return req, &oauthError{status: http.StatusBadRequest, Code: "unsupported_grant_type",
			Description: "grant_type must be authorization_code, refresh_token or client_credentials"}
	}
	return req, nil
}

// serveToken is the token endpoint.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	c, ok := s.clientPost(w, r)
	if !ok {
		return
	}
	req, e := parseTokenRequest(r.PostForm)
	if e != nil {
		writeError(w, e)
		return
	}
	if !c.allows(req.grantType) {
		writeError(w, &oauthError{status: http.StatusBadRequest, Code: "unauthorized_client", Description: "the client did not register the " + req.grantType + " grant"})
		return
	}
	var (
		resp *tokenResponse
		sub  string
	)
	switch req.grantType {
	case grantCode:
		resp, sub, e = s.exchangeCode(r, c, req)
	case grantRefresh:
		resp, sub, e = s.refresh(r, c, req)
	default:
		resp, sub, e = s.clientCredentials(r, c, req)
	}
	log := s.log.With(zapClient(c.ID), zapGrantType(req.grantType))
	if e != nil {
		log.Info("token request refused", zap.String("error", e.Code), zap.String("error_description", e.Description))
		writeError(w, e)
		return
	}
	s.touchClient(r.Context(), c)
	log.Info("token issued", zapSubject(sub))
	writeJSON(w, http.StatusOK, resp)
}

// tokenResource checks an RFC 8707 resource in a token request against
// the one the grant is bound to.
func (s *Server) tokenResource(r *http.Request, requested, bound string) *oauthError {
	if requested == "" {
		return nil
	}
	if res, ok := s.cfg.resourceURL(s.cfg.Origin(r), requested); !ok || res != bound {
		return errInvalidTarget("resource differs from the one authorized")
	}
	return nil
}

// errCodeReplay ends a code exchange whose code was used before.
var errCodeReplay = errors.New("code replayed")

// exchangeCode redeems an authorization code, once: under the code's lock
// it checks client, redirect URI, PKCE and resource, marks the code used
// and starts its grant. A used code presented again revokes that grant.
func (s *Server) exchangeCode(r *http.Request, c *client, req tokenRequest) (*tokenResponse, string, *oauthError) {
	ctx := r.Context()
	key := s.codeKey(req.code)
	var (
		resp *tokenResponse
		rec  codeRecord
		oerr *oauthError
	)
	err := s.store.atomically(ctx, "code-"+hashToken(req.code), func(tx context.Context) error {
		found, err := s.store.get(tx, key, &rec)
		switch {
		case err != nil:
			return err
		case !found:
			oerr = errInvalidGrant("unknown authorization code")
			return nil
		case rec.Used:
			return errCodeReplay
		case s.cfg.Now().After(rec.ExpiresAt):
			oerr = errInvalidGrant("the authorization code has expired")
			return nil
		case rec.ClientID != c.ID:
			oerr = errInvalidGrant("the authorization code was issued to another client")
			return nil
		case rec.Issuer != s.cfg.Origin(r):
			oerr = errInvalidGrant("the authorization code was issued by another issuer (" + rec.Issuer + ")")
			return nil
		case (rec.RedirectExplicit || req.redirectURI != "") && req.redirectURI != rec.RedirectURI:
			oerr = errInvalidGrant("redirect_uri differs from the authorization request")
			return nil
		case !pkceMatches(req.verifier, rec.Challenge):
			oerr = errInvalidGrant("code_verifier does not match the code_challenge")
			return nil
		}
		if oerr = s.tokenResource(r, req.resource, rec.Resource); oerr != nil {
			return nil
		}
		// The user may have been removed, or changed password, since the
		// code was issued (a reload within CodeLifetime).
		g := grant{
			ID: rec.GrantID, ClientID: c.ID, Subject: rec.Subject, Resource: rec.Resource, Issuer: rec.Issuer,
			Scopes: rec.Scopes, Login: rec.Login, Credential: rec.Credential,
			Username: rec.Username, Groups: rec.Groups, Domain: rec.Domain,
			UpstreamCheckedAt: rec.UpstreamChecked,
			ExpiresAt:         s.cfg.Now().Add(s.cfg.RefreshTokenLifetime),
		}
		if gone := s.holderGone(&g); gone != "" {
			oerr = errInvalidGrant(gone + "; authorize again")
			return nil
		}
		// The policy may have changed since the code was issued (a reload
		// within CodeLifetime).
		if refused := s.policyRefuses(&g); refused != "" {
			s.audit(auditRefused, refused, c.ID, s.holderOf(&g), g.Resource, g.Scopes)
			oerr = errInvalidGrant(refused + "; authorize again")
			return nil
		}
		if err := s.moveLegacyCodeToken(tx, &rec, g.ExpiresAt); err != nil {
			return err
		}
		rec.Used = true
		if err := s.store.put(tx, key, rec); err != nil {
			return err
		}
		refresh := g.newRefreshToken()
		// Outside the transaction (ctx, not tx): a signing key this creates
		// must be visible to the other instances at once, whatever becomes
		// of the exchange.
		if resp, err = s.mintAccessToken(ctx, s.issued(&g)); err != nil {
			return err
		}
		resp.RefreshToken = refresh
		return s.store.put(tx, s.grantKey(g.ID), g)
	})
	if errors.Is(err, errCodeReplay) {
		if err := s.revokeGrant(ctx, rec.GrantID, "authorization code replayed"); err != nil {
			s.log.Error("revoking grant of replayed code", zapClient(c.ID), zapErr(err))
		}
		return nil, "", errInvalidGrant("the authorization code was already used; the tokens issued for it are revoked")
	}
	if err != nil {
		s.log.Error("exchanging authorization code", zapClient(c.ID), zapErr(err))
		return nil, "", errServer()
	}
	if oerr != nil {
		return nil, "", oerr
	}
	// A code issued for a sign-in the operator has ended since (RevokeUser),
	// or redeemed by a client the operator deleted or revoked meanwhile
	// (RevokeClient), gives nothing: whoever holds the stolen session or
	// the code would get a grant the revocation missed. Read after the
	// commit, not in the transaction: RevokeUser records the sign-out,
	// and RevokeClient deletes the client or records its revocation,
	// before they list the grants, so either this read sees it, or the
	// grant was committed before and is in that list. Refused, the grant
	// is revoked, and its tokens never leave this server.
	ended, err := s.endedSinceIssue(ctx, c, &rec)
	if ended != "" || err != nil {
		if rerr := s.revokeGrant(ctx, rec.GrantID, cmp.Or(ended, "the user's sign-out or the client's record could not be read")); rerr != nil {
			s.log.Error("revoking grant of a code redeemed too late", zapClient(c.ID), zapErr(rerr))
		}
	}
	if err != nil {
		s.log.Error("loading the user's sign-out or the client's record", zapClient(c.ID), zapSubject(rec.Subject), zapErr(err))
		return nil, "", errServer()
	}
	if ended != "" {
		return nil, "", errInvalidGrant(ended)
	}
	return resp, rec.Subject, nil
}

// endedSinceIssue says why a code just redeemed gives nothing: its user
// was signed out after the sign-in it was issued for, or its client was
// deleted (a registered one) or revoked after the user approved what the
// code grants (one whose id is a URL); "" when none of these.
func (s *Server) endedSinceIssue(ctx context.Context, c *client, rec *codeRecord) (string, error) {
	out, err := s.signedOutSince(ctx, rec.Subject, rec.AuthTime)
	if err != nil {
		return "", err
	}
	if out {
		return "the user was signed out after this code was issued; authorize again", nil
	}
	if c.static {
		return "", nil // not revoked by RevokeClient
	}
	if c.document {
		revoked, err := s.clientRevokedSince(ctx, c.ID, rec.ApprovedAt)
		if revoked {
			return "the client was revoked after this authorization was approved; authorize again", nil
		}
		return "", err
	}
	still, err := s.loadClient(ctx, c.ID)
	if still == nil && err == nil {
		return "the client was deleted", nil
	}
	return "", err
}

// pkceMatches verifies RFC 7636 S256.
func pkceMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// issued describes what the grant's next access token carries: its
// user's groups as the policy that let it be minted names them.
func (s *Server) issued(g *grant) issued {
	return issued{issuer: g.Issuer, subject: g.Subject, clientID: g.ClientID, resource: g.Resource, grantID: g.ID, scopes: g.Scopes, groups: s.holderOf(g).policyGroups()}
}

// errUpstreamCheckDue ends a refresh transaction that found its user due
// for a check at their sign-in provider, having written nothing: the check
// runs with no transaction open (reconfirmUpstream), then the refresh runs
// again.
var errUpstreamCheckDue = errors.New("a check at the sign-in provider is due")

// refresh rotates a refresh token under its family's lock (see grant).
func (s *Server) refresh(r *http.Request, c *client, req tokenRequest) (*tokenResponse, string, *oauthError) {
	ctx := r.Context()
	id, ok := grantIDOf(req.refreshToken)
	if !ok {
		return nil, "", errInvalidGrant("unknown refresh token")
	}
	var (
		resp        *tokenResponse
		g           grant
		oerr        *oauthError
		reuse       bool
		wider       *grant // the grant a narrower one replaces
		reconfirmed bool   // the provider check this refresh was due for is done
	)
	rotate := func(tx context.Context) error {
		g = grant{} // a second run must not keep fields of the first
		found, err := s.store.get(tx, s.grantKey(id), &g)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		var entry *refreshEntry
		if entry, oerr, reuse = s.presentedRefreshToken(r, c, &g, found, req.refreshToken, now); oerr != nil || reuse {
			return nil
		}
		// A removed user, or one whose password changed, must not keep
		// minting access tokens with a refresh token taken before.
		if gone := s.holderGone(&g); gone != "" {
			oerr = errInvalidGrant(gone + "; authorize again")
			return nil
		}
		// A sign-in at a provider holds for its ReauthenticateAfter; past
		// it, the provider is asked again whether the user still exists
		// and what their groups are now. Not from here: that network call
		// may take the provider's whole timeout, and this transaction
		// holds the grant's lock and, on PostgreSQL, one of a bounded set
		// of transaction slots and a pooled connection, which every other
		// refresh of the gateway needs. Once reconfirmUpstream returned,
		// the check is decided for this request: the provider vouched and
		// it is recorded, or another request did the check meanwhile, or
		// the token no longer passes the checks above.
		if _, due := s.reauthenticationDue(&g, now); due && !reconfirmed {
			return errUpstreamCheckDue
		}
		// The policy decides again: a user who may no longer use the
		// resource gets nothing more; one who lost a scope (removed from a
		// group, or from a grant) continues in a narrower family, and the
		// wider one is revoked, so its access tokens stop passing the
		// guards at their next revocation check.
		holder := s.holderOf(&g)
		if !s.mayUse(holder, resourcePath(g.Resource, g.Issuer)) {
			s.audit(auditRefused, "not allowed on the resource", c.ID, holder, g.Resource, g.Scopes)
			oerr = errInvalidGrant("the user may no longer use this resource")
			return nil
		}
		if held := s.scopesHeldBy(holder, g.Scopes); len(held) != len(g.Scopes) {
			if !slices.ContainsFunc(held, func(sc string) bool { return sc != offlineAccessScope }) {
				s.audit(auditRefused, "holds no scope of the grant", c.ID, holder, g.Resource, g.Scopes)
				oerr = errInvalidGrant("the user may no longer hold any scope of this authorization")
				return nil
			}
			narrower := g
			narrower.ID, narrower.Scopes, narrower.Tokens = randomID(), held, nil
			retired := g
			retired.Revoked = true // stored once the narrower one is
			retired.dropCredentials()
			// The link makes a revocation of the wider grant that comes
			// after this commit reach the narrower one (revokeFamily): a
			// RevokeUser or RevokeClient that listed the wider grant live
			// would otherwise revoke it and miss the grant it continues in.
			retired.NarrowedTo = narrower.ID
			wider, g, entry = &retired, narrower, &refreshEntry{}
		}
		// Scopes the server or the client no longer has are not refreshed
		// into new tokens either.
		if _, e := s.grantableScopes(c, scopeString(g.Scopes)); e != nil {
			oerr = errInvalidGrant("the authorization covers a scope that is no longer available; authorize again")
			return nil
		}
		scopes := g.Scopes
		if req.scope != "" {
			if scopes = scopeList(req.scope); !subset(scopes, g.Scopes) {
				oerr = errInvalidScope("scope exceeds what was authorized")
				return nil
			}
		}
		if oerr = s.tokenResource(r, req.resource, g.Resource); oerr != nil {
			return nil
		}
		if entry.RetiredAt.IsZero() {
			entry.RetiredAt = now
		}
		refresh := g.newRefreshToken()
		is := s.issued(&g)
		is.scopes = scopes
		if resp, err = s.mintAccessToken(ctx, is); err != nil {
			return err
		}
		resp.RefreshToken = refresh
		if err := s.store.put(tx, s.grantKey(g.ID), g); err != nil || wider == nil {
			return err
		}
		return s.store.put(tx, s.grantKey(wider.ID), wider)
	}
	err := s.store.atomically(ctx, "grant-"+id, rotate)
	if errors.Is(err, errUpstreamCheckDue) {
		if oerr := s.reconfirmUpstream(r, c, &g, req.refreshToken); oerr != nil {
			return nil, "", oerr
		}
		reconfirmed = true
		err = s.store.atomically(ctx, "grant-"+id, rotate)
	}
	if wider != nil && err == nil && oerr == nil {
		s.revoked.set("grant:"+wider.ID, wider.ExpiresAt, s.cfg.Now())
		s.audit(auditNarrowed, "", c.ID, s.holderOf(&g), g.Resource, g.Scopes)
		s.log.Info("grant narrowed by policy", zapClient(c.ID), zapSubject(g.Subject), zap.String("grant_id", wider.ID), zap.String("new_grant_id", g.ID), zap.Strings("scopes", g.Scopes))
	}
	if reuse {
		if err := s.revokeGrant(ctx, id, "refresh token reused after rotation"); err != nil {
			s.log.Error("revoking grant of reused refresh token", zapClient(c.ID), zapErr(err))
		}
		return nil, "", errInvalidGrant("the refresh token was already used; its whole family is revoked, authorize again")
	}
	if err != nil {
		s.log.Error("refreshing", zapClient(c.ID), zapErr(err))
		return nil, "", errServer()
	}
	return resp, g.Subject, oerr
}

// presentedRefreshToken checks a refresh token presented by c at r's
// origin against its grant g as stored at now (found false: no such
// grant). It returns the token's entry; or why it is refused; or reuse, a
// token retired longer ago than the grace window, whose whole family the
// caller revokes.
func (s *Server) presentedRefreshToken(r *http.Request, c *client, g *grant, found bool, token string, now time.Time) (entry *refreshEntry, refused *oauthError, reuse bool) {
	entry = g.find(token)
	switch {
	case found && g.Revoked && g.ClientID == c.ID:
		// A revoked family keeps no token hashes, so this comes first.
		return nil, errInvalidGrant("the refresh token was revoked; authorize again"), false
	case !found || entry == nil || g.ClientID != c.ID:
		return nil, errInvalidGrant("unknown refresh token"), false
	case g.Issuer != s.cfg.Origin(r):
		return nil, errInvalidGrant("the refresh token was issued by another issuer (" + g.Issuer + ")"), false
	case now.After(g.ExpiresAt):
		return nil, errInvalidGrant("the refresh token has expired; authorize again"), false
	case !entry.RetiredAt.IsZero() && (s.cfg.RefreshReuseGrace < 0 || now.Sub(entry.RetiredAt) > s.cfg.RefreshReuseGrace):
		return nil, nil, true
	}
	return entry, nil, false
}

// clientCredentials issues an access token to a confidential client acting
// for itself (no refresh token, RFC 6749 §4.4.3).
func (s *Server) clientCredentials(r *http.Request, c *client, req tokenRequest) (*tokenResponse, string, *oauthError) {
	if !s.mayUseClientCredentials(c) {
		return nil, "", &oauthError{status: http.StatusBadRequest, Code: "unauthorized_client",
			Description: "client_credentials is only for pre-registered confidential clients (and those the operator allowed to register for it); tokens here act for a user"}
	}
	resp, oerr := s.clientToken(r.Context(), c, s.cfg.Origin(r), req.resource, req.scope)
	return resp, c.ID, oerr
}

// clientToken mints an access token whose subject is the client itself, for
// resource under origin, with the requested scopes ("" for the defaults).
// Its gty claim marks it as a token without a user and its sid names the
// client (see clientSID). The caller checked mayUseClientCredentials.
func (s *Server) clientToken(ctx context.Context, c *client, origin, resource, scope string) (*tokenResponse, *oauthError) {
	scopes, oerr := s.grantableScopes(c, scope)
	if oerr != nil {
		return nil, oerr
	}
	scopes = slices.DeleteFunc(scopes, func(sc string) bool { return sc == offlineAccessScope })
	canonical, ok := s.cfg.resourceURL(origin, resource)
	if !ok {
		return nil, errInvalidTarget("resource is not an MCP endpoint of this server")
	}
	resp, err := s.mintAccessToken(ctx, issued{
		issuer: origin, subject: c.ID, clientID: c.ID, resource: canonical, grantID: clientSID(c), scopes: scopes,
		grantType: gtyClientCredentials,
	})
	if err != nil {
		s.log.Error("issuing client token", zapClient(c.ID), zapErr(err))
		return nil, errServer()
	}
	return resp, nil
}
