package authserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// UpstreamLogin is an identity provider people sign in with instead of a
// password (an OpenID Connect provider, GitHub): the login page offers a
// button per provider, which starts at /login/<name>; the provider sends
// the browser back to /login/<name>/callback. This server keeps the
// browser's side (state, the binding to the browser, one use, the session
// it starts); the provider's protocol lives behind this interface (package
// upstreamlogin).
type UpstreamLogin interface {
	// Name is the provider's name in the login paths (letters, digits,
	// '-', '_').
	Name() string
	// Label names the provider on the login page's button ("Sign in with
	// <Label>").
	Label() string
	// AuthCodeURL returns the provider's authorization URL for attempt.
	AuthCodeURL(ctx context.Context, attempt UpstreamAttempt) (string, error)
	// Complete verifies the provider's answer at the callback (its query)
	// and returns who signed in. An *UpstreamDenied error means the person
	// may not sign in here; any other error means the provider or its
	// answer failed.
	Complete(ctx context.Context, attempt UpstreamAttempt, callback url.Values) (*UpstreamIdentity, error)
	// ReauthenticateAfter is how long a sign-in holds: a refresh of a
	// grant whose user was last checked longer ago checks them again
	// with Reauthenticate. Zero never checks again.
	ReauthenticateAfter() time.Duration
	// Reauthenticate asks the provider again who holds refreshToken (the
	// RefreshToken of an earlier identity) and returns who they are now,
	// with the refresh token to keep. An *UpstreamDenied error means the
	// provider refused (the account disabled, the token revoked) or the
	// person may no longer sign in here; any other error means the
	// provider could not be asked.
	Reauthenticate(ctx context.Context, refreshToken string) (*UpstreamIdentity, error)
}

// UpstreamAttempt is one sign-in at a provider: what the authorization
// request carried, which its callback must match.
type UpstreamAttempt struct {
	// RedirectURI is <origin>/login/<name>/callback.
	RedirectURI string
	// State, Nonce and Verifier (PKCE) are fresh random values.
	State, Nonce, Verifier string
}

// UpstreamIdentity is who signed in at a provider.
type UpstreamIdentity struct {
	// Subject is the user's stable identifier, unique across providers
	// (the issuer and the provider's subject): the access tokens' sub.
	Subject string
	// Username is how the user is shown and named in policies, after the
	// provider's name and ':' (by default the email address).
	Username string
	// Groups are the user's groups at the provider, as it names them;
	// policies name them after the provider's name and ':'.
	Groups []string
	// Domain is the domain of the user's email address, when the provider
	// verified it; else empty.
	Domain string
	// RefreshToken is the provider's refresh token, if it issued one: kept
	// encrypted in storage for Reauthenticate, never logged.
	RefreshToken string
}

// UpstreamDenied is the error of a sign-in the provider completed for a
// person this server does not let in (a domain or organisation not
// allowed, a claim the policy needs missing).
type UpstreamDenied struct {
	// Reason completes "You signed in with <Label>, but ...", for the
	// person: "your account's domain example.org is not allowed here".
	Reason string
}

func (e *UpstreamDenied) Error() string { return "sign-in refused: " + e.Reason }

// loginUpstreamPrefix starts the login kind of an upstream user
// ("upstream:<name>", see holder.go).
const loginUpstreamPrefix = "upstream:"

// pathLogin is the prefix of the upstream login paths.
const pathLogin = "/login/"

// upstreamAttemptLifetime is how long a sign-in at a provider may take.
const upstreamAttemptLifetime = 10 * time.Minute

// pendingLogin is an upstream sign-in in progress, in storage under the
// SHA-256 of its state, deleted by the callback that uses it.
type pendingLogin struct {
	Provider string `json:"provider"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	// Browser is the SHA-256 of the value of the cookie set in the browser
	// that started the sign-in.
	Browser string `json:"browser"`
	// Params is the authorization request to continue.
	Params    string    `json:"params"`
	Issuer    string    `json:"iss"`
	ExpiresAt time.Time `json:"expires_at"`
	// StartedFrom and StartedAt are the address key (clientAddr) the
	// sign-in was counted against and when (see releaseCompletedSignIn).
	StartedFrom string    `json:"started_from,omitempty"`
	StartedAt   time.Time `json:"started_at,omitzero"`
}

func (s *Server) pendingLoginKey(state string) string {
	return s.store.key(nsUpstream, hashToken(state)+".json")
}

// upstreamRoutes adds /login/<name> and its callback for each provider.
func (s *Server) upstreamRoutes(routes map[string]http.Handler) {
	for _, u := range s.cfg.Upstreams {
		routes[pathLogin+u.Name()] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveUpstreamStart(w, r, u) })
		routes[pathLogin+u.Name()+"/callback"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveUpstreamCallback(w, r, u) })
	}
}

// upstream returns the configured provider name, or nil.
func (s *Server) upstream(name string) UpstreamLogin {
	for _, u := range s.cfg.Upstreams {
		if u.Name() == name {
			return u
		}
	}
	return nil
}

// browserCookieFor is the cookie that binds sign-ins at provider to the
// browser that started them, sent only to the provider's login paths.
func (s *Server) browserCookieFor(r *http.Request, provider, value string, maxAge time.Duration) *http.Cookie {
	c := s.cookie(r, cookieUpstream, value, maxAge)
	c.Path = pathLogin + provider
	return c
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// serveUpstreamStart sends the browser to the provider, for the
// authorization request in the query (from the login page's button).
func (s *Server) serveUpstreamStart(w http.ResponseWriter, r *http.Request, u UpstreamLogin) {
	pageHeaders(w)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		s.renderError(w, http.StatusMethodNotAllowed, "Use GET.")
		return
	}
	// Only a valid authorization request is carried through the provider:
	// this path must not become a way to send people anywhere.
	req, aerr := s.parseAuthorization(r, r.URL.Query())
	if aerr != nil {
		s.refuseAuthorization(w, r, req, aerr)
		return
	}
	if !s.reserveSignIn(w, r, u) {
		return
	}
	origin := s.cfg.Origin(r)
	attempt := UpstreamAttempt{
		RedirectURI: origin + pathLogin + u.Name() + "/callback",
		State:       randomToken(), Nonce: randomToken(), Verifier: randomToken(),
	}
	// A browser keeps its value while it has one, so sign-ins started in
	// two of its tabs both complete.
	browser := s.readCookie(r, cookieUpstream)
	if len(browser) != len(attempt.State) {
		browser = randomToken()
	}
	rec := pendingLogin{
		Provider: u.Name(), Nonce: attempt.Nonce, Verifier: attempt.Verifier, Browser: hashToken(browser),
		Params: req.params().Encode(), Issuer: origin, ExpiresAt: s.cfg.Now().Add(upstreamAttemptLifetime),
		StartedFrom: s.clientAddr(r), StartedAt: s.cfg.Now(),
	}
	target, err := u.AuthCodeURL(r.Context(), attempt)
	if err != nil {
		s.releaseSignIn(r)
		s.log.Warn("upstream login unavailable", zap.String("provider", u.Name()), zapErr(err))
		s.renderError(w, http.StatusBadGateway, "Signing in with "+u.Label()+" is not possible right now: the provider could not be reached. Try again in a few minutes; if it keeps failing, tell the operator of this server.")
		return
	}
	if err := s.store.put(r.Context(), s.pendingLoginKey(attempt.State), rec); err != nil {
		s.releaseSignIn(r)
		s.log.Error("storing upstream login", zap.String("provider", u.Name()), zapErr(err))
		s.renderError(w, http.StatusInternalServerError, "The server could not write to its storage; try again later.")
		return
	}
	http.SetCookie(w, s.browserCookieFor(r, u.Name(), browser, upstreamAttemptLifetime))
	w.Header().Set("Location", target)
	w.WriteHeader(http.StatusFound)
}

// serveUpstreamCallback completes a sign-in at the provider: the state
// must name a sign-in this browser started at this provider and origin,
// within its lifetime, and is used once; then the provider's answer is
// verified, the policy admits the person to the authorization request, a
// session is started, and the request goes on.
func (s *Server) serveUpstreamCallback(w http.ResponseWriter, r *http.Request, u UpstreamLogin) {
	pageHeaders(w)
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		s.renderError(w, http.StatusMethodNotAllowed, "Use GET.")
		return
	}
	if _, err := s.cookieSecret(r.Context()); err != nil {
		s.log.Error("loading the cookie key", zapErr(err))
		s.renderError(w, http.StatusInternalServerError, "The server could not read its storage; try again later.")
		return
	}
	q := r.URL.Query()
	log := s.log.With(zap.String("provider", u.Name()))
	restart := "Go back to the application and start signing in again."
	rec, ok := s.takePendingLogin(r.Context(), q.Get("state"))
	// Each check below stops an answer meant for another sign-in: a state
	// used before (a replayed callback URL), one started in another browser
	// (login CSRF: an attacker's own sign-in completed in a victim's
	// browser), at another provider (mix-up) or under another origin.
	browser := s.readCookie(r, cookieUpstream)
	switch {
	case !ok:
		log.Info("upstream callback with an unknown or used state")
		s.renderError(w, http.StatusBadRequest, "This sign-in has expired or was already completed. "+restart)
		return
	case rec.Provider != u.Name() || rec.Issuer != s.cfg.Origin(r):
		log.Warn("upstream callback for another provider or origin", zap.String("started_at", rec.Provider))
		s.renderError(w, http.StatusBadRequest, "This answer belongs to another sign-in. "+restart)
		return
	case browser == "" || subtle.ConstantTimeCompare([]byte(hashToken(browser)), []byte(rec.Browser)) != 1:
		log.Warn("upstream callback in a browser that did not start the sign-in")
		s.renderError(w, http.StatusForbidden, "This sign-in was started in another browser. "+restart)
		return
	case s.cfg.Now().After(rec.ExpiresAt):
		s.renderError(w, http.StatusBadRequest, "This sign-in took too long and has expired. "+restart)
		return
	}
	if e := q.Get("error"); e != "" {
		log.Info("upstream provider refused the sign-in", zapInput("error", e), zapInput("error_description", q.Get("error_description")))
		s.renderError(w, http.StatusForbidden, u.Label()+" did not sign you in ("+e+"). "+restart)
		return
	}
	attempt := UpstreamAttempt{RedirectURI: s.cfg.Origin(r) + pathLogin + u.Name() + "/callback", State: q.Get("state"), Nonce: rec.Nonce, Verifier: rec.Verifier}
	id, err := u.Complete(r.Context(), attempt, q)
	var denied *UpstreamDenied
	switch {
	case errors.As(err, &denied):
		log.Info("upstream user not allowed", zapErr(err))
		s.renderError(w, http.StatusForbidden, "You signed in with "+u.Label()+", but "+denied.Reason+". Ask the operator of this server for access.")
		return
	case err != nil:
		log.Warn("upstream sign-in failed", zapErr(err))
		s.renderError(w, http.StatusBadGateway, "Signing in with "+u.Label()+" failed: its answer could not be verified or the provider could not be reached. "+restart+" If it keeps failing, tell the operator of this server.")
		return
	case id.Subject == "":
		log.Error("upstream identity without a subject")
		s.renderError(w, http.StatusBadGateway, "Signing in with "+u.Label()+" failed: it did not say who you are. "+restart)
		return
	}
	// The policy decides before anything is stored, for the authorization
	// request the sign-in was started for, as /authorize decides it (which
	// decides again, for this request and every other). Completing a
	// sign-in takes only an account at the provider, which anyone has when
	// the policy, not the provider, says who may in (any GitHub or Google
	// account): refused only at /authorize, each of a stranger's sign-ins
	// would store a provider session for LoginLifetime and their provider
	// refresh token. A request no longer valid (its client deleted, its
	// metadata document gone) is answered as /authorize answers it, with
	// nothing stored either. Refused, the sign-in stays counted
	// (signinquota.go).
	params, _ := url.ParseQuery(rec.Params) // written with Encode; validated again here
	req, aerr := s.parseAuthorization(r, params)
	if aerr != nil {
		s.refuseAuthorization(w, r, req, aerr)
		return
	}
	who := person{Subject: id.Subject, Login: loginUpstreamPrefix + u.Name(), Username: id.Username, Groups: id.Groups, Domain: id.Domain}
	if !s.applyPolicy(w, req, who) {
		return
	}
	if err := s.startUpstreamSession(w, r, u.Name(), id); err != nil {
		log.Error("sealing the provider's refresh token", zapErr(err))
		s.renderError(w, http.StatusInternalServerError, "The server could not read its storage; try again later.")
		return
	}
	s.releaseCompletedSignIn(rec)
	log.Info("upstream sign-in", zapSubject(id.Subject), zap.String("username", id.Username))
	w.Header().Set("Location", pathAuthorize+"?"+rec.Params)
	w.WriteHeader(http.StatusSeeOther)
}

// upstreamSession is what a provider said of a signed-in user, in storage
// under the SHA-256 of the id the session cookie carries.
type upstreamSession struct {
	Subject  string   `json:"sub"`
	Login    string   `json:"login"`
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
	Domain   string   `json:"domain,omitempty"`
	// SignedIn is when the provider vouched for the user; the refresh
	// token it gave is the user's (upstreamcredential.go), not the
	// session's.
	SignedIn  time.Time `json:"signed_in"`
	ExpiresAt time.Time `json:"expires_at"` // swept with the pending logins
	// LegacyUpstreamToken is read only from sessions started before the
	// user's record existed, which kept the sealed refresh token here:
	// their first use moves it there (upstreamlegacy.go).
	LegacyUpstreamToken string `json:"upstream_token,omitempty"`
}

func (s *Server) upstreamSessionKey(id string) string {
	return s.store.key(nsUpstream, "session-"+hashToken(id)+".json")
}

// upstreamPerson returns the person of a verified upstream session cookie
// whose record exists and whose provider is still configured.
func (s *Server) upstreamPerson(ctx context.Context, p sessionPayload) (person, bool) {
	provider, _ := upstreamOf(p.Login)
	if s.upstream(provider) == nil || !validID(p.Session) {
		return person{}, false
	}
	var rec upstreamSession
	found, err := s.store.get(ctx, s.upstreamSessionKey(p.Session), &rec)
	if err != nil {
		s.log.Error("loading upstream session", zapErr(err))
	}
	// The signed cookie carries the session's subject and expiry, checked
	// by session; the record is what the provider said.
	if !found || err != nil {
		return person{}, false
	}
	if rec.LegacyUpstreamToken != "" {
		s.moveLegacySessionToken(ctx, provider, p.Session, rec)
	}
	return person{Subject: rec.Subject, Login: rec.Login, Username: rec.Username, Groups: rec.Groups, Domain: rec.Domain,
		signedIn: rec.SignedIn}, true
}

// takePendingLogin loads and deletes the sign-in of state, under its lock,
// so that of two callbacks with one state only one proceeds.
func (s *Server) takePendingLogin(ctx context.Context, state string) (pendingLogin, bool) {
	var rec pendingLogin
	if state == "" {
		return rec, false
	}
	key := s.pendingLoginKey(state)
	found := false
	err := s.store.locked(ctx, "upstream-"+hashToken(state), func() error {
		var err error
		if found, err = s.store.get(ctx, key, &rec); err != nil || !found {
			return err
		}
		return s.store.remove(ctx, key)
	})
	if err != nil {
		s.log.Error("loading upstream login", zapErr(err))
		return rec, false
	}
	return rec, found
}

// upstreamOf returns the provider name of a login kind, if it is one.
func upstreamOf(login string) (string, bool) {
	return strings.CutPrefix(login, loginUpstreamPrefix)
}
