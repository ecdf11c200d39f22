package authserver

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// authzRequest is a validated authorization request. Its params travel
// through the login and consent forms, bound to them by the CSRF token, and
// are validated again when a form comes back.
type authzRequest struct {
	client           *client
	redirectURI      string
	redirectExplicit bool
	state            string
	challenge        string
	scopes           []string
	resource         string
	issuer           string
}

// params are the request's parameters in canonical form (scope and
// resource resolved).
func (a *authzRequest) params() url.Values {
	v := url.Values{
		"response_type":         {"code"},
		"client_id":             {a.client.ID},
		"code_challenge":        {a.challenge},
		"code_challenge_method": {"S256"},
		"scope":                 {scopeString(a.scopes)},
		"resource":              {a.resource},
	}
	if a.redirectExplicit {
		v.Set("redirect_uri", a.redirectURI)
	}
	if a.state != "" {
		v.Set("state", a.state)
	}
	return v
}

// authzError is an authorization request error. page marks errors found
// before the client and redirect URI were validated, which are never
// redirected; the others are redirected only under the rule of
// refuseAuthorization.
type authzError struct {
	page bool
	*oauthError
}

// pkceChallenge is a base64url SHA-256 (43 characters) or, generously, any
// RFC 7636 length.
var pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9\-._~]{43,128}$`)

// parseAuthorization validates an authorization request. Until the client
// and redirect URI are known good, errors are pages (no open redirect).
func (s *Server) parseAuthorization(r *http.Request, q url.Values) (*authzRequest, *authzError) {
	page := func(status int, desc string) (*authzRequest, *authzError) {
		e := errInvalidRequest(desc)
		e.status = status
		return nil, &authzError{page: true, oauthError: e}
	}
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) > 1 {
		return page(http.StatusBadRequest, "The request must name exactly one client_id and at most one redirect_uri.")
	}
	tooLong, lengthErr := oversizedParam(q)
	if tooLong == "redirect_uri" {
		return page(http.StatusBadRequest, "The request's "+lengthErr.Description+".")
	}
	c, err := s.loadClient(r.Context(), q.Get("client_id"))
	var derr *documentError
	if errors.As(err, &derr) {
		// Never redirected: the redirect URIs are the document's, and it
		// could not be used.
		return page(http.StatusBadRequest, derr.pageMessage())
	}
	if err != nil {
		s.log.Error("loading client", zapErr(err))
		return page(http.StatusInternalServerError, "The server could not load the application's registration. Try again later.")
	}
	if c == nil {
		return page(http.StatusBadRequest, "This application is not registered here (unknown client_id). It may need to register again.")
	}
	req := &authzRequest{client: c, issuer: s.cfg.Origin(r)}
	switch ru := q.Get("redirect_uri"); {
	case ru != "":
		if !redirectMatches(c.RedirectURIs, ru) {
			return page(http.StatusBadRequest, "The redirect_uri is not one the application registered, so this server will not send you there.")
		}
		req.redirectURI, req.redirectExplicit = ru, true
	case len(c.RedirectURIs) == 1:
		req.redirectURI = c.RedirectURIs[0]
	default:
		return page(http.StatusBadRequest, "The request has no redirect_uri and the application registered several.")
	}

	fail := func(e *oauthError) (*authzRequest, *authzError) {
		return req, &authzError{oauthError: e}
	}
	if lengthErr != nil {
		// Refused before state is taken: an oversized state is neither
		// kept nor sent back.
		return fail(lengthErr)
	}
	req.state = q.Get("state")
	for k, v := range q {
		if len(v) > 1 {
			return fail(errInvalidRequest("parameter " + echoedParamName(k) + " is repeated"))
		}
	}
	if q.Get("response_type") != "code" {
		return fail(&oauthError{status: http.StatusBadRequest, Code: "unsupported_response_type", Description: "only response_type=code is supported"})
	}
	if !c.allows(grantCode) {
		return fail(&oauthError{status: http.StatusBadRequest, Code: "unauthorized_client", Description: "the client did not register the authorization_code grant"})
	}
	req.challenge = q.Get("code_challenge")
	if req.challenge == "" {
		return fail(errInvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256"))
	}
	if q.Get("code_challenge_method") != "S256" {
		return fail(errInvalidRequest("code_challenge_method must be S256 (plain is not allowed)"))
	}
	if !pkceChallenge.MatchString(req.challenge) {
		return fail(errInvalidRequest("code_challenge is malformed"))
	}
	resource, ok := s.cfg.resourceURL(req.issuer, q.Get("resource"))
	if !ok {
		return fail(errInvalidTarget("resource is not an MCP endpoint of this server"))
	}
	req.resource = resource
	scopes, e := s.grantableScopes(c, q.Get("scope"))
	if e != nil {
		return fail(e)
	}
	req.scopes = scopes
	return req, nil
}

// serveAuthorize is the authorization endpoint: GET starts, and POSTs of
// the login and consent forms continue, an authorization request.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if _, err := s.cookieSecret(r.Context()); err != nil {
		s.log.Error("loading the cookie key", zapErr(err))
		s.renderError(w, http.StatusInternalServerError, "The server could not read its storage; try again later.")
		return
	}

	var q url.Values
	switch r.Method {
	case http.MethodGet:
		q = r.URL.Query()
	case http.MethodPost:
		if e := readForm(w, r, s.cfg.MaxBodyBytes); e != nil {
			s.renderError(w, http.StatusBadRequest, "The form could not be read: "+e.Description)
			return
		}
		q = r.PostForm
	default:
		h.Set("Allow", "GET, POST")
		s.renderError(w, http.StatusMethodNotAllowed, "Use GET or POST.")
		return
	}
	params := q
	if r.Method == http.MethodPost {
		// The form's own fields are not part of the authorization request.
		params = url.Values{}
		for k, v := range q {
			if k != "csrf" && k != "username" && k != "password" && k != "decision" {
				params[k] = v
			}
		}
	}
	req, aerr := s.parseAuthorization(r, params)
	if aerr != nil {
		s.refuseAuthorization(w, r, req, aerr)
		return
	}
	nonce := s.browserNonce(w, r)
	who, known := s.identify(r)
	if known && !s.applyPolicy(w, req, who) {
		return
	}
	if r.Method == http.MethodPost {
		shownTo := "" // the login form
		if q.Has("decision") {
			shownTo = who.Subject // the consent form, shown to whoever is signed in
		}
		if !s.validCSRF(q.Get("csrf"), nonce, shownTo, req) {
			s.renderError(w, http.StatusForbidden, "This form has expired or did not come from this server. Go back to the application and start signing in again.")
			return
		}
	}

	loginFailed := false
	if !known && r.Method == http.MethodPost && q.Has("username") && len(s.cfg.Users) > 0 {
		user, now, addr := q.Get("username"), s.cfg.Now(), s.clientAddr(r)
		// Reserved before the comparison, so parallel guesses cannot all
		// pass the check; a right password takes its attempt back, so
		// signing in often never locks anyone out.
		if !s.logins.reserve(now, addr) {
			s.log.Warn("login attempts throttled", zapClient(req.client.ID), zapInput("username", user))
			s.renderError(w, http.StatusTooManyRequests, "Too many failed sign-in attempts from your address. Wait a few minutes, then start signing in again from the application.")
			return
		}
		if s.checkPassword(user, q.Get("password")) {
			s.logins.refund(now, addr)
			s.startSession(w, r, user, now)
			if s.cfg.OnPasswordLogin != nil {
				s.cfg.OnPasswordLogin(user)
			}
			who, known = person{Subject: user, Login: loginPassword, Username: user, Groups: s.cfg.UserGroups[user], authenticated: now}, true
			if !s.applyPolicy(w, req, who) {
				return
			}
		} else {
			loginFailed = true
			s.log.Info("login failed", zapClient(req.client.ID), zapInput("username", user))
		}
	}
	if !known {
		if len(s.cfg.Users) == 0 && len(s.cfg.Upstreams) == 0 {
			s.renderError(w, http.StatusForbidden, "You are not signed in, and this server has no login form. The operator must put an authentication handler in front of "+pathAuthorize+".")
			return
		}
		failedUser := ""
		if loginFailed {
			failedUser = q.Get("username")
		}
		s.renderLogin(w, req, s.csrfToken(nonce, "", req), loginFailed, failedUser)
		return
	}

	sub := who.Subject
	switch decision := q.Get("decision"); {
	case r.Method == http.MethodPost && decision == "deny":
		s.log.Info("authorization denied", zapClient(req.client.ID), zapSubject(sub))
		s.audit(auditDenied, "", req.client.ID, who, req.resource, req.scopes)
		s.redirectToClient(w, r, req, url.Values{"error": {"access_denied"}, "error_description": {"the user denied access"}})
	case r.Method == http.MethodPost && decision == "approve":
		now := s.cfg.Now()
		if err := s.rememberConsent(r.Context(), who, req, now); err != nil {
			s.log.Error("remembering consent", zapClient(req.client.ID), zapSubject(sub), zapErr(err))
		}
		s.audit(auditApproved, "", req.client.ID, who, req.resource, req.scopes)
		s.issueCode(w, r, req, who, now)
	default:
		if approved, ok := s.rememberedApproval(r.Context(), sub, req); ok {
			s.audit(auditApproved, "approved before", req.client.ID, who, req.resource, req.scopes)
			s.issueCode(w, r, req, who, approved)
			return
		}
		s.renderConsent(w, req, who, s.csrfToken(nonce, sub, req))
	}
}

// refuseAuthorization answers an invalid authorization request.
//
// RFC 6749 §4.1.2.1 redirects errors to a validated redirect URI, but with
// open registration anyone can register any https redirect URI, so a
// validated URI proves nothing about who owns it: redirecting at once would
// make /authorize an open redirector on this server's name (RFC 9700
// §4.11.2), ready for phishing links. So an error is redirected only when
// the person in front of the browser is signed in and has already approved
// this client (a remembered consent); everyone else gets an error page. The
// same reasoning lets the consent page's Deny redirect access_denied: the
// person saw the page that names the redirect host and chose to go there.
func (s *Server) refuseAuthorization(w http.ResponseWriter, r *http.Request, req *authzRequest, aerr *authzError) {
	if !aerr.page {
		if who, known := s.identify(r); known && s.clientApproved(r.Context(), who.Subject, req.client.ID) {
			s.redirectToClient(w, r, req, url.Values{"error": {aerr.Code}, "error_description": {aerr.Description}})
			return
		}
	}
	msg := aerr.Description
	if !aerr.page {
		msg = "The application sent an invalid request (" + aerr.Code + ": " + aerr.Description + "). Report this to its developers."
	}
	s.renderError(w, aerr.status, msg)
}

// redirectToClient sends the browser back to the client's redirect URI
// with params, state and iss (RFC 9207).
func (s *Server) redirectToClient(w http.ResponseWriter, r *http.Request, req *authzRequest, params url.Values) {
	if req.state != "" {
		params.Set("state", req.state)
	}
	params.Set("iss", req.issuer)
	sep := "?"
	if strings.Contains(req.redirectURI, "?") {
		sep = "&"
	}
	w.Header().Set("Location", req.redirectURI+sep+params.Encode())
	if r.Method == http.MethodPost {
		w.WriteHeader(http.StatusSeeOther)
	} else {
		w.WriteHeader(http.StatusFound)
	}
}
