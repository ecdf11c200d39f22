package authserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// The operator's RevokeUser signs the user out everywhere (signout.go):
// these tests hold a browser that signed in before it, as a thief of the
// laptop or the cookie would.

// signedIn reports whether /authorize answered q in b without a login
// page: a code at once (a remembered approval) or the consent page.
func (b *browser) signedIn(q url.Values) bool {
	b.e.t.Helper()
	resp, page := b.get(q)
	switch {
	case resp.StatusCode == http.StatusFound:
		return true
	case resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`):
		return true
	case resp.StatusCode == http.StatusOK && (strings.Contains(page, `name="password"`) || strings.Contains(page, "Sign in with")):
		return false
	}
	b.e.t.Fatalf("neither signed in nor a login page: %d\n%s", resp.StatusCode, page)
	return false
}

func revokeUser(t *testing.T, e *env, sub string) int {
	t.Helper()
	n, err := e.srv.RevokeUser(t.Context(), sub)
	if err != nil {
		t.Fatalf("RevokeUser: %v", err)
	}
	return n
}

// TestRevokeUserEndsPasswordSessions: the cookie of a password login from
// before the revocation no longer signs in: the login form is shown again
// and no code is issued. A login after it works, and asks for consent
// again: the remembered approval is gone too.
func TestRevokeUserEndsPasswordSessions(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	_, challenge := pkce()
	q := authParams(c, challenge)
	b := e.browser()
	b.authorize(q)
	if resp, _ := b.get(q); resp.StatusCode != http.StatusFound {
		t.Fatalf("before the revocation, a signed-in browser with a remembered approval gets a code: %d", resp.StatusCode)
	}
	e.clock.Advance(time.Hour)
	revokeUser(t, e, testUser)

	resp, page := b.get(q)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="password"`) || resp.Header.Get("Location") != "" {
		t.Fatalf("a session from before the revocation still signs in: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}

	e.clock.Advance(time.Millisecond) // within the second of the sign-out
	resp, page = b.login(page)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="decision"`) {
		t.Fatalf("after the revocation, the login did not ask for consent again: %d\n%s", resp.StatusCode, page)
	}
	b.decide(page, "approve")
	// The session of that login is honoured.
	verifier, challenge := pkce()
	q = authParams(c, challenge)
	resp, _ = b.get(q)
	loc := location(t, resp)
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	tokensOf(t, status, m)
}

// TestRevokeUserEndsProviderSessions: the same for a sign-in at an
// upstream provider, whose session has a record in storage.
func TestRevokeUserEndsProviderSessions(t *testing.T) {
	u := corp()
	e := upstreamEnv(t, u)
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	b := e.browser()
	if _, page := b.upstreamConsent(u, q); !strings.Contains(page, `name="decision"`) {
		t.Fatalf("signed in at the provider, want the consent page:\n%s", page)
	}
	e.clock.Advance(time.Hour)
	revokeUser(t, e, u.id.Subject)
	if b.signedIn(q) {
		t.Fatal("a provider session from before the revocation still signs in")
	}
	e.clock.Advance(time.Millisecond)
	if _, page := b.upstreamConsent(u, q); !strings.Contains(page, `name="decision"`) {
		t.Fatalf("a provider sign-in after the revocation is refused:\n%s", page)
	}
	if !b.signedIn(q) {
		t.Fatal("the session of a provider sign-in after the revocation is refused")
	}
}

// TestACodeFromBeforeRevokeUserDoesNotRedeem: an unredeemed code of the
// user (taken with the session, or redeemed by a client the thief runs)
// yields invalid_grant after the revocation, and leaves no live grant.
func TestACodeFromBeforeRevokeUserDoesNotRedeem(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	verifier, challenge := pkce()
	loc := e.browser().authorize(authParams(c, challenge))
	if n := revokeUser(t, e, testUser); n != 0 {
		t.Fatalf("revoked %d grants, want 0", n)
	}
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	grants, err := e.srv.Grants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if !g.Revoked {
			t.Fatalf("a live grant was left by the refused code: %+v", g)
		}
	}
	e.clock.Advance(time.Millisecond)
	e.codeFlow(c) // a sign-in after the revocation redeems its code
}

// TestACodeIsCheckedByItsSignInNotItsIssue: a session that passed its
// check at /authorize just before the sign-out was recorded can have its
// code issued after it. The code carries when its user signed in, and
// that is what the sign-out ends.
func TestACodeIsCheckedByItsSignInNotItsIssue(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	b := e.browser()
	b.authorize(authParams(c, "x"+strings.Repeat("y", 42)))
	signedIn := e.clock.Now()
	e.clock.Advance(time.Hour)
	verifier, challenge := pkce()
	loc := b.authorize(authParams(c, challenge)) // issued an hour after the sign-in
	if err := e.srv.store.put(t.Context(), e.srv.signOutKey(testUser), endMark{At: signedIn.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
}

// setSessionCookie puts a session cookie with payload p, signed with the
// server's key, in b.
func (b *browser) setSessionCookie(p sessionPayload) {
	b.e.t.Helper()
	js, _ := json.Marshal(p)
	payload := base64.RawURLEncoding.EncodeToString(js)
	sig := b.e.srv.sign("session", payload)
	if sig == "" {
		b.e.t.Fatal("the cookie key is not loaded yet")
	}
	b.client.Jar.SetCookies(mustURL(b.e.t, b.e.ts.URL+pathAuthorize), []*http.Cookie{{Name: cookieSession, Value: payload + "." + sig, Path: pathAuthorize}})
}

// TestASessionWithoutItsStartIsRefused: a cookie from before sessions
// carried their start (iat_ms) signs nobody in, even within today's
// LoginLifetime and never signed out: its start is unknown, so nothing
// bounds it by today's lifetime. One issued under a longer lifetime
// (72h, lowered to 12h since) and stolen before its user's sign-out would
// otherwise sign in again once the sign-out record was swept, 12h after
// the sign-out, up to its own expiry; refusing only a cookie whose expiry
// is more than today's lifetime away would let it in over its last 12h.
func TestASessionWithoutItsStartIsRefused(t *testing.T) {
	e := newEnv(t, nil) // LoginLifetime 12h
	_, challenge := pkce()
	q := authParams(e.publicClient(), challenge)
	b := e.browser()
	b.authorize(q)
	if !b.signedIn(q) {
		t.Fatal("setup: the session of this version does not sign in")
	}
	b.setSessionCookie(sessionPayload{Subject: testUser, ExpiresAt: e.clock.Now().Add(time.Hour).Unix(), Password: passwordTag(testUserHash)})
	if b.signedIn(q) {
		t.Fatal("a session cookie without its start signs in")
	}

	b.setSessionCookie(sessionPayload{Subject: testUser, ExpiresAt: e.clock.Now().Add(72 * time.Hour).Unix(), Password: passwordTag(testUserHash)})
	revokeUser(t, e, testUser)
	signedOut := e.clock.Now()
	for _, after := range []time.Duration{e.srv.cfg.LoginLifetime + time.Second, 60*time.Hour + time.Second} {
		e.clock.Advance(signedOut.Add(after).Sub(e.clock.Now()))
		if err := e.srv.Sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		if found, err := e.srv.store.get(t.Context(), e.srv.signOutKey(testUser), &endMark{}); found || err != nil {
			t.Fatalf("setup: the sign-out record is not swept: %v", err)
		}
		// A client of its own: the sweep removes one registered and unused
		// for that long.
		if b.signedIn(authParams(e.publicClient(), challenge)) {
			t.Fatalf("a stolen session cookie without its start signs in %v after its user's sign-out, once the record was swept", after)
		}
	}
}

// TestLoweringTheLoginLifetimeShortensSessions: a session lasts the
// LoginLifetime configured when it is used. Otherwise a session issued
// under a longer lifetime would outlive the sign-out record, which is
// kept only for the current one.
func TestLoweringTheLoginLifetimeShortensSessions(t *testing.T) {
	for name, lifetime := range map[string]time.Duration{"unchanged": defaultLoginLifetime, "lowered": time.Hour} {
		t.Run(name, func(t *testing.T) {
			first := newEnv(t, nil)
			_, challenge := pkce()
			q := authParams(first.publicClient(), challenge)
			b := first.browser()
			b.authorize(q)
			first.clock.Advance(2 * time.Hour)
			second := startEnv(t, first.clock, first.storage, func(cfg *Config) {
				cfg.LoginLifetime = lifetime
				cfg.Origin = func(*http.Request) string { return first.ts.URL }
			})
			b.e = second
			if got, want := b.signedIn(q), name == "unchanged"; got != want {
				t.Fatalf("signed in: %v, want %v", got, want)
			}
		})
	}
}

// TestASignOutIsSweptOnceNothingFromBeforeIsValid: the record stays while
// a session or a code from before could be used, and goes after.
func TestASignOutIsSweptOnceNothingFromBeforeIsValid(t *testing.T) {
	for name, tc := range map[string]struct{ login, code, keep time.Duration }{
		"sessions outlast codes": {login: 12 * time.Hour, code: time.Minute, keep: 12 * time.Hour},
		"codes outlast sessions": {login: 10 * time.Second, code: time.Minute, keep: time.Minute},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.LoginLifetime, c.CodeLifetime = tc.login, tc.code })
			revokeUser(t, e, testUser)
			recorded := func() bool {
				t.Helper()
				if err := e.srv.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
				found, err := e.srv.store.get(t.Context(), e.srv.signOutKey(testUser), &endMark{})
				if err != nil {
					t.Fatal(err)
				}
				return found
			}
			e.clock.Advance(tc.keep)
			if !recorded() {
				t.Fatal("the sign-out was swept while a session or code from before could still be used")
			}
			e.clock.Advance(time.Second)
			if recorded() {
				t.Fatal("the sign-out was not swept after the longest lifetime")
			}
		})
	}
}

// TestRevokeUserForgetsOnlyTheUsersApprovals: the user's remembered
// approvals go, of a client the server no longer knows (a metadata
// document swept, to be fetched again) and those written before
// approvals named their user included; another user's stay.
func TestRevokeUserForgetsOnlyTheUsersApprovals(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	gone, c, d := e.publicClient(), e.publicClient(), e.publicClient()
	_, challenge := pkce()
	e.browser().authorize(authParams(gone, challenge))
	if err := e.srv.store.remove(ctx, e.srv.store.key(nsClients, gone.id+".json")); err != nil {
		t.Fatal(err)
	}
	live := map[string]approval{"r": {Scopes: []string{"mcp"}, ExpiresAt: e.clock.Now().Add(time.Hour)}}
	records := map[string]consent{
		e.srv.consentKey(testUser, c.id): {Resources: live}, // written before consents named their user
		e.srv.consentKey("bob", c.id):    {Subject: "bob", Resources: live},
		e.srv.consentKey("bob", d.id):    {Resources: live},
	}
	for k, v := range records {
		if err := e.srv.store.put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if found, err := e.srv.store.get(ctx, e.srv.consentKey(testUser, gone.id), &consent{}); !found || err != nil {
		t.Fatalf("the approval was not remembered: %v", err)
	}
	records[e.srv.consentKey(testUser, gone.id)] = consent{Subject: testUser}
	revokeUser(t, e, testUser)
	for k, v := range records {
		found, err := e.srv.store.get(ctx, k, &consent{})
		if err != nil {
			t.Fatal(err)
		}
		if want := k == e.srv.consentKey("bob", c.id) || k == e.srv.consentKey("bob", d.id); found != want {
			t.Errorf("approval %s of %q kept: %v, want %v", k, v.Subject, found, want)
		}
	}
}

// unreadableRecords fails reading the records of namespace ns while fail
// is set.
type unreadableRecords struct {
	certmagic.Storage
	ns   string
	fail atomic.Bool
}

func (s *unreadableRecords) Load(ctx context.Context, key string) ([]byte, error) {
	if s.fail.Load() && strings.Contains(key, "/"+s.ns+"/") {
		return nil, errors.New("storage unreachable")
	}
	return s.Storage.Load(ctx, key)
}

// TestAnUnreadableSignOutRefuses: when storage cannot say whether the
// user was signed out, their session signs nobody in and their code gives
// no tokens (server_error): an outage must not reopen what a sign-out
// closed.
func TestAnUnreadableSignOutRefuses(t *testing.T) {
	var storage *unreadableRecords
	e, _ := startCluster(t, func(t testing.TB) (a, b certmagic.Storage) {
		a, b = fileCluster(t)
		storage = &unreadableRecords{Storage: a, ns: nsSignedOut}
		return storage, b
	}, nil)
	c := e.publicClient()
	_, challenge := pkce()
	q := authParams(c, challenge)
	b := e.browser()
	b.authorize(q)
	verifier, challenge := pkce()
	loc := b.authorize(authParams(c, challenge))
	storage.fail.Store(true)
	if b.signedIn(q) {
		t.Fatal("a session signs in while its user's sign-out cannot be read")
	}
	status, m, _ := e.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
	wantError(t, status, m, http.StatusInternalServerError, "server_error")
}

// TestAnApprovalInASessionSignedOutMeanwhileIsNotRemembered: the consent
// form is submitted in a session that passes its check just before
// RevokeUser runs to its end (a thief approving their own client at that
// moment): the approval is written after RevokeUser forgot the user's
// approvals, and must not stay, or the user's next authorization of that
// client would be silent. Nor when the sign-out cannot be read after the
// write.
func TestAnApprovalInASessionSignedOutMeanwhileIsNotRemembered(t *testing.T) {
	for _, then := range []string{"signed out", "sign-out unreadable"} {
		t.Run(then, func(t *testing.T) {
			c := &clock{t: e0}
			files, _ := fileCluster(t)
			storage := &unreadableRecords{Storage: files, ns: nsSignedOut}
			watched, hooks := interleave(storage)
			e := startInstance(t, c, watched, nil)
			operator, err := New(e.cfg, files, nil) // `caddy mcp revoke user`
			if err != nil {
				t.Fatal(err)
			}
			_, challenge := pkce()
			q := authParams(e.publicClient(), challenge)
			b := e.browser()
			_, page := b.get(q)
			if _, page = b.login(page); !strings.Contains(page, `name="decision"`) {
				t.Fatalf("setup: no consent page\n%s", page)
			}
			// The session check of the submission reads the sign-out
			// record, then the operator's RevokeUser runs to its end, or
			// storage stops answering.
			hooked := false
			hooks.onLoad(e.srv.signOutKey(testUser), func() {
				hooked = true
				if then == "sign-out unreadable" {
					storage.fail.Store(true)
				} else if _, err := operator.RevokeUser(t.Context(), testUser); err != nil {
					t.Error(err)
				}
			})
			b.decide(page, "approve")
			if !hooked {
				t.Fatal("setup: the submission read no sign-out")
			}
			storage.fail.Store(false)
			if found, err := e.srv.store.get(t.Context(), e.srv.consentKey(testUser, q.Get("client_id")), &consent{}); found || err != nil {
				t.Errorf("the approval is remembered (%v)", err)
			}
			next := e.browser()
			_, page = next.get(q)
			if _, page = next.login(page); !strings.Contains(page, `name="decision"`) {
				t.Fatal("the user's next authorization of the client does not ask for consent")
			}
		})
	}
}
