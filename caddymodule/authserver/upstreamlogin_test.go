package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// fakeUpstream is a provider whose authorization endpoint is a URL of the
// test's choosing and whose answer is decided by the test (the protocol
// with real providers is tested in package upstreamlogin).
type fakeUpstream struct {
	name     string
	id       *UpstreamIdentity
	err      error // of Complete
	startErr error // of AuthCodeURL
	// attempts are the attempts AuthCodeURL was called with.
	attempts []UpstreamAttempt
	// reauthAfter, and what Reauthenticate answers: again (nil: the
	// provider is asked in vain) or againErr; rechecked are the refresh
	// tokens it was asked with.
	reauthAfter time.Duration
	again       *UpstreamIdentity
	againErr    error
	rechecked   []string
}

func (f *fakeUpstream) ReauthenticateAfter() time.Duration { return f.reauthAfter }

func (f *fakeUpstream) Reauthenticate(_ context.Context, refreshToken string) (*UpstreamIdentity, error) {
	f.rechecked = append(f.rechecked, refreshToken)
	return f.again, f.againErr
}

func (f *fakeUpstream) Name() string  { return f.name }
func (f *fakeUpstream) Label() string { return "Corp " + f.name }

func (f *fakeUpstream) AuthCodeURL(_ context.Context, a UpstreamAttempt) (string, error) {
	if f.startErr != nil {
		return "", f.startErr
	}
	f.attempts = append(f.attempts, a)
	return "https://idp.example/authorize?state=" + url.QueryEscape(a.State), nil
}

func (f *fakeUpstream) Complete(_ context.Context, a UpstreamAttempt, callback url.Values) (*UpstreamIdentity, error) {
	if callback.Get("code") != "good-code" {
		return nil, errors.New("bad code")
	}
	return f.id, f.err
}

func upstreamEnv(t *testing.T, ups ...*fakeUpstream) *env {
	return newEnv(t, func(c *Config) {
		c.Users = nil
		for _, u := range ups {
			c.Upstreams = append(c.Upstreams, u)
		}
	})
}

func corp() *fakeUpstream {
	return &fakeUpstream{name: "corp", id: &UpstreamIdentity{Subject: "https://idp.example#u1", Username: "ann@example.com", Groups: []string{"eng"}}}
}

// startUpstream opens the login page, presses the provider's button and
// returns the state the provider was sent.
func (b *browser) startUpstream(u *fakeUpstream, q url.Values) string {
	b.e.t.Helper()
	resp, page := b.get(q)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign in with "+u.Label()) || !strings.Contains(page, `action="/login/`+u.name+`"`) {
		b.e.t.Fatalf("login page without the provider's button: %d\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, `name="password"`) {
		b.e.t.Errorf("login page shows a password form without users")
	}
	resp, page = b.send(http.MethodGet, "/login/"+u.name+"?"+q.Encode(), "")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "https://idp.example/") {
		b.e.t.Fatalf("want a redirect to the provider, got %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	return u.attempts[len(u.attempts)-1].State
}

func (b *browser) callback(u *fakeUpstream, state, code string) (*http.Response, string) {
	b.e.t.Helper()
	return b.send(http.MethodGet, "/login/"+u.name+"/callback?"+url.Values{"state": {state}, "code": {code}}.Encode(), "")
}

func TestUpstreamLoginStartsASessionAndTheCodeCarriesItsSubject(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	c := e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	b := e.browser()
	state := b.startUpstream(u, q)
	a := u.attempts[0]
	if a.RedirectURI != e.ts.URL+"/login/corp/callback" || a.Nonce == "" || a.Verifier == "" || a.Nonce == a.State {
		t.Fatalf("attempt %+v", a)
	}
	resp, _ := b.callback(u, state, "good-code")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/authorize?") {
		t.Fatalf("callback: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := b.send(http.MethodGet, resp.Header.Get("Location"), "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "ann@example.com") {
		t.Fatalf("consent page should name the user by username: %d\n%s", resp.StatusCode, page)
	}
	loc := location(t, b.decide(page, "approve"))
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	tok := tokensOf(t, status, m)
	claims := e.claimsOf(tok.access)
	if claims.Subject != "https://idp.example#u1" || strings.Join(claims.Groups, ",") != "corp:eng" {
		t.Errorf("token sub %q groups %q, want the upstream subject and groups named with the provider", claims.Subject, claims.Groups)
	}
}

func TestUpstreamCallbackRefusesAReplayedState(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	b := e.browser()
	_, challenge := pkce()
	state := b.startUpstream(u, authParams(e.publicClient(), challenge))
	if resp, _ := b.callback(u, state, "good-code"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first callback: %d", resp.StatusCode)
	}
	// The same callback URL again, from a browser that still holds the
	// binding cookie (an attacker who learned the URL has it too when the
	// victim's browser is the one replaying).
	b2 := e.browser()
	b2.client.Jar = b.client.Jar
	resp, page := b2.callback(u, state, "good-code")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "already completed") {
		t.Fatalf("replayed state: %d\n%s", resp.StatusCode, page)
	}
}

func TestUpstreamCallbackRefusesAnotherBrowser(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	_, challenge := pkce()
	// The attacker starts a sign-in and sends the callback URL of their
	// own account to a victim (login CSRF).
	state := e.browser().startUpstream(u, authParams(e.publicClient(), challenge))
	resp, page := e.browser().callback(u, state, "good-code")
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "another browser") {
		t.Fatalf("callback in another browser: %d\n%s", resp.StatusCode, page)
	}
	if len(resp.Cookies()) != 0 && strings.Contains(resp.Header.Get("Set-Cookie"), cookieSession) {
		t.Errorf("a session was started: %v", resp.Header["Set-Cookie"])
	}
}

func TestUpstreamCallbackRefusesAStateOfAnotherProvider(t *testing.T) {
	u, v := corp(), &fakeUpstream{name: "other", id: corp().id}
	e := upstreamEnv(t, u, v)
	b := e.browser()
	_, challenge := pkce()
	state := b.startUpstream(u, authParams(e.publicClient(), challenge))
	// The browser holds corp's binding cookie only for corp's callback
	// path, so the mix-up shows as a foreign state or browser; either way
	// no session.
	resp, page := b.callback(v, state, "good-code")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "another sign-in") {
		t.Fatalf("state of another provider: %d\n%s", resp.StatusCode, page)
	}
}

func TestUpstreamCallbackRefusesAnExpiredAttempt(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	b := e.browser()
	_, challenge := pkce()
	state := b.startUpstream(u, authParams(e.publicClient(), challenge))
	e.clock.Advance(upstreamAttemptLifetime + 1)
	resp, page := b.callback(u, state, "good-code")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "expired") {
		t.Fatalf("expired attempt: %d\n%s", resp.StatusCode, page)
	}
}

func TestUpstreamFailuresShowAPageNeverA500(t *testing.T) {
	for _, tc := range []struct {
		name       string
		setup      func(*fakeUpstream)
		code       string
		wantStatus int
		wantText   string
	}{
		{"denied", func(u *fakeUpstream) {
			u.err = &UpstreamDenied{Reason: "accounts of evil.example are not allowed here"}
		}, "good-code", http.StatusForbidden, "accounts of evil.example are not allowed here"},
		{"unverifiable answer", nil, "bad-code", http.StatusBadGateway, "could not be verified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := corp()
			if tc.setup != nil {
				tc.setup(u)
			}
			e := upstreamEnv(t, u)
			b := e.browser()
			_, challenge := pkce()
			state := b.startUpstream(u, authParams(e.publicClient(), challenge))
			resp, page := b.callback(u, state, tc.code)
			if resp.StatusCode != tc.wantStatus || !strings.Contains(page, tc.wantText) {
				t.Fatalf("%d\n%s", resp.StatusCode, page)
			}
			if strings.Contains(resp.Header.Get("Set-Cookie"), cookieSession) {
				t.Errorf("a session was started")
			}
		})
	}
	t.Run("provider down", func(t *testing.T) {
		u := corp()
		u.startErr = errors.New("dial tcp: connection refused")
		e := upstreamEnv(t, u)
		_, challenge := pkce()
		resp, page := e.browser().send(http.MethodGet, "/login/corp?"+authParams(e.publicClient(), challenge).Encode(), "")
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(page, "could not be reached") {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
	})
	t.Run("provider says no", func(t *testing.T) {
		u := corp()
		e := upstreamEnv(t, u)
		b := e.browser()
		_, challenge := pkce()
		state := b.startUpstream(u, authParams(e.publicClient(), challenge))
		resp, page := b.send(http.MethodGet, "/login/corp/callback?state="+url.QueryEscape(state)+"&error=access_denied", "")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "did not sign you in (access_denied)") {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
	})
}

func TestUpstreamStartRefusesAnInvalidAuthorizationRequest(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	// Without a valid request, /login/corp would send anyone to the
	// provider and back to a redirect of their choosing.
	resp, _ := e.browser().send(http.MethodGet, "/login/corp?client_id=unknown&redirect_uri=https://evil.example/", "")
	if resp.StatusCode != http.StatusBadRequest || len(u.attempts) != 0 {
		t.Fatalf("invalid request: %d, attempts %d", resp.StatusCode, len(u.attempts))
	}
}

func TestRemovingTheProviderEndsItsUsersGrants(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	g := &grant{Subject: u.id.Subject, Login: loginUpstreamPrefix + "corp"}
	if gone := e.srv.holderGone(g); gone != "" {
		t.Fatalf("holder gone with the provider configured: %s", gone)
	}
	g.Login = loginUpstreamPrefix + "removed"
	if gone := e.srv.holderGone(g); !strings.Contains(gone, "no longer configured") {
		t.Fatalf("holder of a removed provider: %q", gone)
	}
}

func TestUpstreamConfigMistakes(t *testing.T) {
	cfg := testConfig(&clock{t: e0})
	cfg.Users = map[string]string{"https://idp.example#u1": testUserHash}
	cfg.Upstreams = []UpstreamLogin{&fakeUpstream{name: "a b"}, &fakeUpstream{name: "x"}, &fakeUpstream{name: "x"}}
	err := cfg.Validate()
	for _, want := range []string{"'#' is kept for users of upstream", `"a b": the name appears in URLs`, `"x": declared twice`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant %q", err, want)
		}
	}
}

func TestAnUpstreamSessionEndsWithItsProvider(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	c := e.publicClient()
	b := e.browser()
	_, challenge := pkce()
	q := authParams(c, challenge)
	if resp, _ := b.callback(u, b.startUpstream(u, q), "good-code"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if _, page := b.get(q); !strings.Contains(page, `name="decision"`) {
		t.Fatalf("signed in, want the consent page:\n%s", page)
	}
	// The same storage (cookie key, client) after a reload without corp.
	e2 := startEnv(t, e.clock, e.storage, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{&fakeUpstream{name: "other"}}
	})
	b.e = e2
	b.client.Jar.SetCookies(mustURL(t, e2.ts.URL+"/authorize"), b.client.Jar.Cookies(mustURL(t, e.ts.URL+"/authorize")))
	if _, page := b.get(q); strings.Contains(page, `name="decision"`) || !strings.Contains(page, "Sign in with") {
		t.Fatalf("a session of a removed provider was honoured:\n%s", page)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUpstreamSessionsStayServerSide: a provider's long refresh token and
// hundreds of groups (Entra ID has both) stay out of the cookie, which a
// browser would drop past 4 KiB; the record expires and is swept.
func TestUpstreamSessionsStayServerSide(t *testing.T) {
	u := corp()
	u.id.RefreshToken = strings.Repeat("r", 2000)
	for i := range 300 {
		u.id.Groups = append(u.id.Groups, "group-with-a-longish-name-"+strings.Repeat("x", i%7))
	}
	e := upstreamEnv(t, u)
	b := e.browser()
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	resp, _ := b.callback(u, b.startUpstream(u, q), "good-code")
	for _, c := range resp.Cookies() {
		if len(c.String()) > 1024 {
			t.Errorf("cookie %s is %d bytes", c.Name, len(c.String()))
		}
	}
	if _, page := b.get(q); !strings.Contains(page, `name="decision"`) {
		t.Fatalf("not signed in:\n%s", page)
	}
	e.clock.Advance(e.srv.cfg.LoginLifetime - time.Second)
	if _, page := b.get(q); !strings.Contains(page, `name="decision"`) {
		t.Fatal("signed out before the session's end")
	}
	e.clock.Advance(2 * time.Second)
	if _, page := b.get(q); strings.Contains(page, `name="decision"`) {
		t.Fatal("an expired upstream session still signs in")
	}
	if err := e.srv.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names, _ := e.srv.store.list(context.Background(), nsUpstream); len(names) != 0 {
		t.Errorf("left after the sweep: %v", names)
	}
}

func TestAnUpstreamSessionWithoutItsRecordIsOver(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	b := e.browser()
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	b.callback(u, b.startUpstream(u, q), "good-code")
	names, _ := e.srv.store.list(context.Background(), nsUpstream)
	for _, n := range names {
		e.srv.store.remove(context.Background(), n)
	}
	if _, page := b.get(q); strings.Contains(page, `name="decision"`) || !strings.Contains(page, "Sign in with") {
		t.Fatalf("a session whose record is gone still signs in:\n%s", page)
	}
}

func TestTwoSignInsInOneBrowserBothComplete(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	b := e.browser()
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	first := b.startUpstream(u, q)
	second := b.startUpstream(u, q)
	for _, state := range []string{second, first} {
		if resp, page := b.callback(u, state, "good-code"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("callback: %d\n%s", resp.StatusCode, page)
		}
	}
}
