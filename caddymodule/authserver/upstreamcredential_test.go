package authserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// providerToken returns the provider refresh token e keeps for u's user,
// "" when it keeps none.
func providerToken(t *testing.T, e *env, u *fakeUpstream) string {
	t.Helper()
	var rec upstreamCredential
	found, err := e.srv.store.get(t.Context(), e.srv.upstreamCredentialKey(upstreamCredentialID(u.name, u.id.Subject)), &rec)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return ""
	}
	token, err := e.srv.openUpstreamToken(t.Context(), u.id.Subject, rec.Sealed)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// madeBeforeRecords makes the grants of refreshes, of u's user, look as
// grants made before users had a record of their provider token: each
// keeps a copy of the record's sealed token, and the record is gone. It
// returns the last grant as stored.
func madeBeforeRecords(t *testing.T, e *env, u *fakeUpstream, refreshes ...string) grant {
	t.Helper()
	ctx := t.Context()
	credential := e.srv.upstreamCredentialKey(upstreamCredentialID(u.name, u.id.Subject))
	var rec upstreamCredential
	if found, err := e.srv.store.get(ctx, credential, &rec); !found || err != nil {
		t.Fatalf("the user's record: found %v, %v", found, err)
	}
	var g grant
	for _, refresh := range refreshes {
		g = storedGrant(t, e, refresh)
		g.UpstreamToken = rec.Sealed
		if err := e.srv.store.put(ctx, e.srv.grantKey(g.ID), g); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.store.remove(ctx, credential); err != nil {
		t.Fatal(err)
	}
	return g
}

// storedGrant returns the grant of a refresh token as stored.
func storedGrant(t *testing.T, e *env, refresh string) grant {
	t.Helper()
	id, _ := grantIDOf(refresh)
	var g grant
	if found, err := e.srv.store.get(t.Context(), e.srv.grantKey(id), &g); !found || err != nil {
		t.Fatalf("grant %s: found %v, %v", id, found, err)
	}
	return g
}

// browserGrant authorizes a new public client for scope mcp in browser b,
// signing u's user in first when signIn, else in b's session, and returns
// the client and the tokens.
func browserGrant(t *testing.T, e *env, b *browser, u *fakeUpstream, signIn bool) (registered, tokens) {
	t.Helper()
	c, code, verifier := browserCode(t, e, b, u, signIn)
	status, m, _ := e.postForm("/token", codeForm(c, code, verifier), "", "")
	return c, tokensOf(t, status, m)
}

// browserCode is browserGrant up to the authorization code: it returns
// the client, the code and its PKCE verifier.
func browserCode(t *testing.T, e *env, b *browser, u *fakeUpstream, signIn bool) (c registered, code, verifier string) {
	t.Helper()
	c = e.publicClient()
	verifier, challenge := pkce()
	q := authParams(c, challenge)
	q.Set("scope", "mcp")
	var (
		resp *http.Response
		page string
	)
	if signIn {
		resp, page = b.upstreamConsent(u, q)
	} else {
		resp, page = b.get(q)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent: %d\n%s", resp.StatusCode, page)
	}
	loc := location(t, b.decide(page, "approve"))
	return c, loc.Query().Get("code"), verifier
}

// TestGrantsOfOneSignInCheckTheUserWithOneProviderToken: two clients
// authorized in one browser sign-in (Claude Code and VS Code) are checked
// with the one provider refresh token the user has, each check presenting
// the token the one before left: a provider that detects reuse would
// otherwise see the token the first check rotated presented again, and
// revoke the family, signing the user out of both.
func TestGrantsOfOneSignInCheckTheUserWithOneProviderToken(t *testing.T) {
	e, u := reauthEnv(t)
	b := e.browser()
	c1, t1 := browserGrant(t, e, b, u, true)
	c2, t2 := browserGrant(t, e, b, u, false)
	if g := storedGrant(t, e, t2.refresh); g.UpstreamToken != "" {
		t.Fatal("the grant keeps a copy of the provider token")
	}
	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}, RefreshToken: "provider-refresh-token-2"}
	status, m := e.refresh(c1, t1.refresh)
	tokensOf(t, status, m)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}, RefreshToken: "provider-refresh-token-3"}
	status, m = e.refresh(c2, t2.refresh)
	tokensOf(t, status, m)
	if want := "provider-refresh-token-1 provider-refresh-token-2"; strings.Join(u.rechecked, " ") != want {
		t.Fatalf("the provider was asked with %q, want %q", u.rechecked, want)
	}
	if got := providerToken(t, e, u); got != "provider-refresh-token-3" {
		t.Fatalf("the user's provider token is %q after the second check", got)
	}
}

// TestTheChecksOfAUsersGrantsRunOneAtATime: the user's two grants
// refreshed at once on two instances: the second check waits for the
// first (one lease per user, not per grant) and presents the token the
// first one left, never the one the first is presenting.
func TestTheChecksOfAUsersGrantsRunOneAtATime(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		h := newHeldUpstream()
		a, b, _, wb := checkCluster(t, storages, h)
		c1, t1 := upstreamGrant(t, a, h.fakeUpstream, "mcp")
		c2, t2 := upstreamGrant(t, b, h.fakeUpstream, "mcp")
		a.clock.Advance(2 * time.Hour)

		first, second := checkThenAnother(h, a, c1, t1.refresh, b, c2, t2.refresh)
		select {
		case <-wb.checkWaits: // B waits for A's check
		case got := <-h.entered:
			t.Fatalf("the provider was asked with %q about the user's second grant while the first's check held their token", got)
		}
		h.free()
		if got := <-h.entered; got != "provider-refresh-token-2" {
			t.Fatalf("the second check presented %q, want the token the first one left", got)
		}
		gotTokens(t, first, second)
	})
}

// TestAGrantFromBeforeTheUsersRecordMovesItsCopyThere: grants made when
// each kept a copy of the provider token (here two, from one sign-in, and
// the user without a record) are still checked: the first with its copy,
// whose rotated successor goes to the user's record, the second with the
// record, not its own copy, which the first check retired. Checked grants
// keep no copy; the record lasts as long as they do.
func TestAGrantFromBeforeTheUsersRecordMovesItsCopyThere(t *testing.T) {
	e, u := reauthEnv(t)
	c1, t1 := upstreamGrant(t, e, u, "mcp")
	c2, t2 := upstreamGrant(t, e, u, "mcp")
	madeBeforeRecords(t, e, u, t1.refresh, t2.refresh)

	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}, RefreshToken: "provider-refresh-token-2"}
	status, m := e.refresh(c1, t1.refresh)
	tokensOf(t, status, m)
	if got := providerToken(t, e, u); got != "provider-refresh-token-2" {
		t.Fatalf("after the first check the user's record holds %q", got)
	}
	if g := storedGrant(t, e, t1.refresh); g.UpstreamToken != "" {
		t.Fatal("the checked grant keeps its copy of the provider token")
	}
	// The record lasts as long as the grants that moved there.
	if err := e.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	status, m = e.refresh(c2, t2.refresh)
	tokensOf(t, status, m)
	if want := "provider-refresh-token-1 provider-refresh-token-2"; strings.Join(u.rechecked, " ") != want {
		t.Fatalf("the provider was asked with %q, want %q", u.rechecked, want)
	}
}

// TestANewerSignInReplacesTheUsersProviderToken: any valid refresh token
// of the user serves to check them, and the newest sign-in's is the one
// kept; a sign-in at which the provider issued none keeps the one held.
func TestANewerSignInReplacesTheUsersProviderToken(t *testing.T) {
	e, u := reauthEnv(t)
	c, tok := upstreamGrant(t, e, u, "mcp")
	u.id.RefreshToken = "provider-refresh-token-of-the-new-sign-in"
	upstreamGrant(t, e, u, "mcp")
	u.id.RefreshToken = ""
	upstreamGrant(t, e, u, "mcp")
	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}}
	status, m := e.refresh(c, tok.refresh)
	tokensOf(t, status, m)
	if want := "provider-refresh-token-of-the-new-sign-in"; strings.Join(u.rechecked, " ") != want {
		t.Fatalf("the first grant's check presented %q, want %q", u.rechecked, want)
	}
}

// ignoresCancel is a provider that answers once released whatever became
// of the gateway's request (it rotated its token when asked), and notes
// whether the gateway still waited for the answer, and whether it bounded
// the wait.
type ignoresCancel struct {
	*heldUpstream
	abandoned chan error // the context's error when the provider answered
	bounded   chan bool  // whether the context had a deadline
}

func (p ignoresCancel) Reauthenticate(ctx context.Context, refreshToken string) (*UpstreamIdentity, error) {
	p.calls.Add(1)
	p.entered <- refreshToken
	_, bounded := ctx.Deadline()
	p.bounded <- bounded
	<-p.release
	p.abandoned <- ctx.Err()
	return p.again, nil
}

// TestAProviderCheckOutlivesTheClientThatStartedIt: a client that gives up
// while the provider is slow (a short client timeout) does not cut the
// check short: the provider's answer is waited for and recorded, so its
// rotated refresh token is the one presented next, not the one it retired.
// The wait has a bound of its own instead.
func TestAProviderCheckOutlivesTheClientThatStartedIt(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		h := newHeldUpstream()
		p := ignoresCancel{heldUpstream: h, abandoned: make(chan error, 1), bounded: make(chan bool, 1)}
		e, _ := startCluster(t, storages, func(c *Config) {
			c.Users = nil
			c.Upstreams = []UpstreamLogin{p}
			c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}}
		})
		t.Cleanup(h.free)
		c, tok := upstreamGrant(t, e, h.fakeUpstream, "mcp")
		e.clock.Advance(2 * time.Hour)

		ctx, leave := context.WithCancel(t.Context())
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {c.id}}
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		done := make(chan struct{})
		go func() {
			defer close(done)
			e.srv.ServeHTTP(httptest.NewRecorder(), r)
		}()
		<-h.entered
		if !<-p.bounded {
			t.Error("the provider is waited for without a bound")
		}
		leave()
		h.free()
		if err := <-p.abandoned; err != nil {
			t.Fatalf("the gateway stopped waiting for the provider when the client left: %v", err)
		}
		<-done
		if got := providerToken(t, e, h.fakeUpstream); got != "provider-refresh-token-2" {
			t.Fatalf("after the provider rotated its token the user's record holds %q", got)
		}
		if g := storedGrant(t, e, tok.refresh); !g.UpstreamCheckedAt.Equal(e.clock.Now()) {
			t.Fatalf("the grant's check is not recorded: last checked %v", g.UpstreamCheckedAt)
		}
	})
}

// TestRevokingAGrantKeepsTheTokenTheUsersOtherGrantsNeed: one client
// signed out; the user's other client is still checked at the provider
// with their token.
func TestRevokingAGrantKeepsTheTokenTheUsersOtherGrantsNeed(t *testing.T) {
	e, u := reauthEnv(t)
	c1, t1 := upstreamGrant(t, e, u, "mcp")
	c2, t2 := upstreamGrant(t, e, u, "mcp")
	if status, _, _ := e.postForm("/revoke", url.Values{"token": {t1.refresh}, "client_id": {c1.id}}, "", ""); status != http.StatusOK {
		t.Fatalf("revoke: %d", status)
	}
	e.clock.Advance(2 * time.Hour)
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}, RefreshToken: "provider-refresh-token-2"}
	status, m := e.refresh(c2, t2.refresh)
	tokensOf(t, status, m)
	if want := "provider-refresh-token-1"; strings.Join(u.rechecked, " ") != want {
		t.Fatalf("the provider was asked with %q, want %q", u.rechecked, want)
	}
}

// TestTheUsersProviderTokenGoesWithTheirLastGrant: the sweep keeps the
// user's provider token while a grant their sign-in could make may still
// be refreshed, and deletes it after.
func TestTheUsersProviderTokenGoesWithTheirLastGrant(t *testing.T) {
	e, u := reauthEnv(t)
	b := e.browser()
	browserGrant(t, e, b, u, true)
	// The session's last grant: its code issued as the session ends and
	// redeemed as late as it can be.
	e.clock.Advance(e.srv.cfg.LoginLifetime - time.Second)
	c, code, verifier := browserCode(t, e, b, u, false)
	e.clock.Advance(e.srv.cfg.CodeLifetime)
	status, m, _ := e.postForm("/token", codeForm(c, code, verifier), "", "")
	tok := tokensOf(t, status, m)
	lastExpires := storedGrant(t, e, tok.refresh).ExpiresAt
	e.clock.Advance(lastExpires.Sub(e.clock.Now()) - 30*time.Second)
	if err := e.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}}
	status, m = e.refresh(c, tok.refresh)
	tokensOf(t, status, m)

	e.clock.Advance(2 * time.Minute) // past the latest a grant of the session could expire
	if err := e.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := providerToken(t, e, u); got != "" {
		t.Fatal("the user's provider token outlives every grant that could use it")
	}
}

// TestRevokingAUserForgetsTheirProviderToken: the operator signing a user
// out everywhere leaves nothing here that acts for them at the provider.
func TestRevokingAUserForgetsTheirProviderToken(t *testing.T) {
	e, u := reauthEnv(t)
	upstreamGrant(t, e, u, "mcp")
	if providerToken(t, e, u) == "" {
		t.Fatal("no provider token to begin with")
	}
	if n, err := e.srv.RevokeUser(t.Context(), u.id.Subject); n != 1 || err != nil {
		t.Fatalf("RevokeUser: %d, %v", n, err)
	}
	if got := providerToken(t, e, u); got != "" {
		t.Fatal("the revoked user's provider token is kept")
	}
}

// TestACheckInFlightDoesNotBringBackARevokedUsersToken: the operator
// revokes the user while a check of theirs waits for the provider; the
// token the provider then answers with is not stored.
func TestACheckInFlightDoesNotBringBackARevokedUsersToken(t *testing.T) {
	h := newHeldUpstream()
	e, _, _, _ := checkCluster(t, fileCluster, h)
	c, tok := upstreamGrant(t, e, h.fakeUpstream, "mcp")
	e.clock.Advance(2 * time.Hour)
	answer := e.refreshLater(c, tok.refresh)
	<-h.entered
	if n, err := e.srv.RevokeUser(t.Context(), h.id.Subject); n != 1 || err != nil {
		t.Fatalf("RevokeUser: %d, %v", n, err)
	}
	h.free()
	got := <-answer
	wantError(t, got.status, got.body, http.StatusBadRequest, "invalid_grant")
	if token := providerToken(t, e, h.fakeUpstream); token != "" {
		t.Fatalf("the check stored %q for the revoked user", token)
	}
}

// TestACheckOfAGrantFromBeforeRecordsDoesNotBringBackARevokedUsersToken:
// a grant from before the user's record (its own copy, no record) is being
// checked when the operator revokes the user, or the grant goes; the check
// read no record and the deleted one reads the same, yet the token the
// provider then answers with is not stored in a new record.
func TestACheckOfAGrantFromBeforeRecordsDoesNotBringBackARevokedUsersToken(t *testing.T) {
	for _, tc := range []struct {
		name       string
		whileAsked func(t *testing.T, e *env, h *heldUpstream, g grant)
	}{
		{"user revoked", func(t *testing.T, e *env, h *heldUpstream, _ grant) {
			if n, err := e.srv.RevokeUser(t.Context(), h.id.Subject); n != 1 || err != nil {
				t.Fatalf("RevokeUser: %d, %v", n, err)
			}
		}},
		{"grant gone", func(t *testing.T, e *env, _ *heldUpstream, g grant) {
			if err := e.srv.store.remove(t.Context(), e.srv.grantKey(g.ID)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runOnClusters(t, func(t *testing.T, storages clusterStorage) {
				h := newHeldUpstream()
				e, _, _, _ := checkCluster(t, storages, h)
				c, tok := upstreamGrant(t, e, h.fakeUpstream, "mcp")
				g := madeBeforeRecords(t, e, h.fakeUpstream, tok.refresh)
				e.clock.Advance(2 * time.Hour)
				answer := e.refreshLater(c, tok.refresh)
				<-h.entered
				tc.whileAsked(t, e, h, g)
				h.free()
				got := <-answer
				wantError(t, got.status, got.body, http.StatusBadRequest, "invalid_grant")
				if token := providerToken(t, e, h.fakeUpstream); token != "" {
					t.Fatalf("the check stored %q in a new record", token)
				}
			})
		})
	}
}
