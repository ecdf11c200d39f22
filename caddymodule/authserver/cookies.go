package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The browser-facing state of /authorize lives in two cookies, both scoped
// to /authorize, HttpOnly, SameSite=Lax and Secure on https:
//   - the login session: subject and expiry, HMAC-signed with a key kept in
//     storage (so every instance accepts it and a restart keeps logins);
//   - a random browser nonce, which the CSRF token of every form is bound
//     to, together with the authorization request the form continues.
const (
	cookieSession = "mcpgate_session"
	cookieBrowser = "mcpgate_browser"
	// cookieUpstream binds a sign-in at an upstream provider to the
	// browser that started it (see serveUpstreamCallback).
	cookieUpstream = "mcpgate_upstream"
	// formLifetime is how long a login or consent form may be submitted.
	formLifetime = time.Hour
)

// cookieKeyRecord is the HMAC key in storage.
type cookieKeyRecord struct {
	Key []byte `json:"key"`
}

// cookieSecret returns the cookie HMAC key. It is read from storage, and
// created there under the storage lock, when the first browser reaches
// /authorize: constructing a Server (as `caddy validate` and the operator
// commands do) writes nothing.
func (s *Server) cookieSecret(ctx context.Context) ([]byte, error) {
	if k := s.cookieKey.Load(); k != nil {
		return *k, nil
	}
	s.cookieKeyMu.Lock()
	defer s.cookieKeyMu.Unlock()
	if k := s.cookieKey.Load(); k != nil {
		return *k, nil
	}
	key, err := loadSecretKey(ctx, s.store, "cookie.json")
	if err != nil {
		return nil, err
	}
	s.cookieKey.Store(&key)
	return key, nil
}

// loadSecretKey loads a 32-byte key kept in storage under name (the
// cookie key, the upstream token key), creating it if there is none.
func loadSecretKey(ctx context.Context, st *store, name string) ([]byte, error) {
	key := st.key(nsSecrets, name)
	var rec cookieKeyRecord
	err := st.locked(ctx, "secrets", func() error {
		found, err := st.get(ctx, key, &rec)
		if err != nil || found {
			return err
		}
		rec.Key = make([]byte, 32)
		rand.Read(rec.Key)
		return st.put(ctx, key, rec)
	})
	return rec.Key, err
}

// sign returns the HMAC of data for one purpose, or "" before
// cookieSecret has loaded the key (serveAuthorize loads it first), so that
// nothing verifies without it.
func (s *Server) sign(purpose, data string) string {
	k := s.cookieKey.Load()
	if k == nil {
		return ""
	}
	m := hmac.New(sha256.New, *k)
	m.Write([]byte(purpose + "\x00" + data))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) verify(purpose, data, sig string) bool {
	want := s.sign(purpose, data)
	return want != "" && hmac.Equal([]byte(want), []byte(sig))
}

// cookie returns a cookie for /authorize; maxAge 0 makes a browser-session
// cookie.
func (s *Server) cookie(r *http.Request, name, value string, maxAge time.Duration) *http.Cookie {
	secure := strings.HasPrefix(s.cfg.Origin(r), "https://")
	if secure {
		name = "__Secure-" + name
	}
	return &http.Cookie{Name: name, Value: value, Path: pathAuthorize, MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
}

func (s *Server) readCookie(r *http.Request, name string) string {
	if strings.HasPrefix(s.cfg.Origin(r), "https://") {
		name = "__Secure-" + name
	}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// sessionPayload is the signed content of the session cookie. A password
// session is bound to the user's entry in Config.Users: removing the user
// or changing the password ends it. An upstream session (Login set) is
// bound to its provider: removing the provider ends it.
type sessionPayload struct {
	Subject string `json:"sub"`
	// Started is when the session started, in Unix milliseconds (a
	// login in the second after a sign-out must not read as before it),
	// checked against the user's sign-out (signout.go) and today's
	// LoginLifetime; cookies from before sessions carried it are refused.
	Started   int64  `json:"iat_ms,omitempty"`
	ExpiresAt int64  `json:"exp"`
	Password  string `json:"pw,omitempty"` // passwordTag of the hash logged in with
	// Login is the login kind of an upstream session ("upstream:<name>"),
	// Session the id of its record in storage (upstreamSession), which
	// holds what the provider said of the user: a few hundred groups do
	// not fit in a cookie.
	Login   string `json:"login,omitempty"`
	Session string `json:"sid,omitempty"`
}

// passwordTag is a short digest of a user's bcrypt hash (not of the
// password): it changes whenever the hash does.
func passwordTag(bcryptHash string) string {
	sum := sha256.Sum256([]byte(bcryptHash))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// startSession logs the browser in as the configured user sub for
// LoginLifetime from now.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, sub string, now time.Time) {
	s.setSession(w, r, sessionPayload{Subject: sub, Started: now.UnixMilli(), ExpiresAt: now.Add(s.cfg.LoginLifetime).Unix(), Password: passwordTag(s.cfg.Users[sub])})
}

// startUpstreamSession logs the browser in as a user of the provider
// named provider for LoginLifetime.
func (s *Server) startUpstreamSession(w http.ResponseWriter, r *http.Request, provider string, id *UpstreamIdentity) error {
	sealed, err := s.sealUpstreamToken(r.Context(), id.Subject, id.RefreshToken)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	rec := upstreamSession{
		Subject: id.Subject, Login: loginUpstreamPrefix + provider, Username: id.Username, Groups: id.Groups, Domain: id.Domain,
		SignedIn: now, ExpiresAt: now.Add(s.cfg.LoginLifetime),
	}
	if err := s.keepSignInToken(r.Context(), provider, id.Subject, sealed, rec.ExpiresAt); err != nil {
		return err
	}
	sid := randomID()
	if err := s.store.put(r.Context(), s.upstreamSessionKey(sid), rec); err != nil {
		return err
	}
	s.setSession(w, r, sessionPayload{Subject: id.Subject, Started: now.UnixMilli(), ExpiresAt: rec.ExpiresAt.Unix(), Login: rec.Login, Session: sid})
	return nil
}

func (s *Server) setSession(w http.ResponseWriter, r *http.Request, p sessionPayload) {
	b, _ := json.Marshal(p)
	payload := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, s.cookie(r, cookieSession, payload+"."+s.sign("session", payload), s.cfg.LoginLifetime))
}

// session returns the person of a valid login session cookie: a password
// user still configured with the same password hash, or a user of an
// upstream provider still configured; and not signed out by the operator
// since the session started.
func (s *Server) session(r *http.Request) (person, bool) {
	payload, sig, ok := strings.Cut(s.readCookie(r, cookieSession), ".")
	if !ok || !s.verify("session", payload, sig) {
		return person{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	var p sessionPayload
	now := s.cfg.Now()
	// A cookie without its start (issued before cookies carried it) is
	// refused, its user signs in again: its start is not known, so neither
	// today's lifetime nor a sign-out bounds it once the sign-out record
	// is swept. Its expiry does not tell either: issued under a
	// login_lifetime longer than today's (the operator lowered it, maybe
	// in the incident that made them sign the user out), a stolen one
	// would sign in again after the sweep.
	if err != nil || json.Unmarshal(b, &p) != nil || now.Unix() >= p.ExpiresAt || p.Subject == "" || p.Started == 0 {
		return person{}, false
	}
	authenticated := time.UnixMilli(p.Started)
	// A session lasts the LoginLifetime in force now, not the one it was
	// issued under: lowering it ends longer sessions at once, and a
	// sign-out record needs to outlive only today's lifetime (sweepable).
	if !now.Before(authenticated.Add(s.cfg.LoginLifetime)) {
		return person{}, false
	}
	// The cookie of a user the operator signed out (a stolen laptop, a
	// copied cookie) must not sign anyone in again: the signature still
	// verifies, so storage says whether it started before the sign-out.
	// Asked first, so that nothing acts on the session's behalf (an old
	// upstream session moving its provider token) once it is over; an
	// unreadable record refuses too.
	out, err := s.signedOutSince(r.Context(), p.Subject, authenticated)
	if err != nil {
		s.log.Error("loading the user's sign-out", zapSubject(p.Subject), zapErr(err))
		return person{}, false
	}
	if out {
		s.log.Info("session of a signed-out user refused", zapSubject(p.Subject))
		return person{}, false
	}
	var who person
	if _, ok := upstreamOf(p.Login); ok {
		if who, ok = s.upstreamPerson(r.Context(), p); !ok {
			return person{}, false
		}
	} else {
		hash, ok := s.cfg.Users[p.Subject]
		if !ok || !hmac.Equal([]byte(p.Password), []byte(passwordTag(hash))) {
			return person{}, false
		}
		who = person{Subject: p.Subject, Login: loginPassword, Username: p.Subject, Groups: s.cfg.UserGroups[p.Subject]}
	}
	who.authenticated = authenticated
	return who, true
}

// browserNonce returns the browser's nonce, setting a new one if it has
// none.
func (s *Server) browserNonce(w http.ResponseWriter, r *http.Request) string {
	if n := s.readCookie(r, cookieBrowser); validID(n) {
		return n
	}
	n := randomID()
	http.SetCookie(w, s.cookie(r, cookieBrowser, n, 0))
	return n
}

// csrfToken binds a form to this browser, to the person it was shown to
// (sub, empty on the login form) and to the authorization request it
// continues.
func (s *Server) csrfToken(nonce, sub string, req *authzRequest) string {
	exp := strconv.FormatInt(s.cfg.Now().Add(formLifetime).Unix(), 10)
	return exp + "." + s.sign("csrf", csrfData(nonce, sub, exp, req))
}

// validCSRF checks a posted form's token (see csrfToken).
func (s *Server) validCSRF(token, nonce, sub string, req *authzRequest) bool {
	exp, sig, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	e, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || s.cfg.Now().Unix() >= e {
		return false
	}
	return s.verify("csrf", csrfData(nonce, sub, exp, req), sig)
}

func csrfData(nonce, sub, exp string, req *authzRequest) string {
	return strings.Join([]string{nonce, sub, exp, req.params().Encode()}, "\x00")
}
