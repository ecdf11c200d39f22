package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// The refresh token a sign-in session or an authorization code carried
// before the user's record existed (upstreamlegacy.go): these tests write
// the session or code as that version did, with the sealed token in its
// upstream_token field and no record, and use it after the upgrade.

// legacyField names the field a session or code kept the sealed provider
// token in before the user's record existed.
const legacyField = "upstream_token"

// sessionKeyOf returns the storage key of the one upstream session e holds.
func sessionKeyOf(t *testing.T, e *env) string {
	t.Helper()
	keys, err := e.srv.store.list(t.Context(), nsUpstream)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []string
	for _, k := range keys {
		if strings.HasPrefix(k[strings.LastIndex(k, "/")+1:], "session-") {
			sessions = append(sessions, k)
		}
	}
	if len(sessions) != 1 {
		t.Fatalf("%d upstream sessions stored, want 1", len(sessions))
	}
	return sessions[0]
}

// storedFields returns the JSON object stored at key.
func storedFields(t *testing.T, e *env, key string) map[string]any {
	t.Helper()
	b, err := e.srv.store.Load(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// writeAsBeforeRecords rewrites the session or code at key as it was
// written before the user's record existed: with token, sealed for u's
// user, in its own field, and the user without a record.
func writeAsBeforeRecords(t *testing.T, e *env, u *fakeUpstream, key, token string) {
	t.Helper()
	ctx := t.Context()
	sealed, err := e.srv.sealUpstreamToken(ctx, u.id.Subject, token)
	if err != nil {
		t.Fatal(err)
	}
	m := storedFields(t, e, key)
	m[legacyField] = sealed
	b, _ := json.Marshal(m)
	if err := e.srv.store.Store(ctx, key, b); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.store.remove(ctx, e.srv.upstreamCredentialKey(upstreamCredentialID(u.name, u.id.Subject))); err != nil {
		t.Fatal(err)
	}
}

// legacyCase is a session or code from before the upgrade leading to a
// grant: carry rewrites what carries the token in browser b, signed in
// already, and returns a function that makes the grant.
type legacyCase struct {
	name  string
	carry func(t *testing.T, e *env, b *browser, u *fakeUpstream, token string) (grantFrom func() (registered, tokens), carrier string)
}

var legacyCases = []legacyCase{
	{"session", func(t *testing.T, e *env, b *browser, u *fakeUpstream, token string) (func() (registered, tokens), string) {
		key := sessionKeyOf(t, e)
		writeAsBeforeRecords(t, e, u, key, token)
		return func() (registered, tokens) { return browserGrant(t, e, b, u, false) }, key
	}},
	{"code", func(t *testing.T, e *env, b *browser, u *fakeUpstream, token string) (func() (registered, tokens), string) {
		c, code, verifier := browserCode(t, e, b, u, false)
		key := e.srv.codeKey(code)
		writeAsBeforeRecords(t, e, u, key, token)
		return func() (registered, tokens) {
			status, m, _ := e.postForm("/token", codeForm(c, code, verifier), "", "")
			return c, tokensOf(t, status, m)
		}, key
	}},
}

// checkOnce refreshes tok of c past the provider check due and returns the
// refresh tokens the provider was asked with. It sweeps first: the user's
// record must last as long as the grant.
func checkOnce(t *testing.T, e *env, u *fakeUpstream, c registered, tok tokens) string {
	t.Helper()
	e.clock.Advance(e.srv.cfg.LoginLifetime + time.Hour) // past the session and the check interval
	if err := e.srv.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	u.again = &UpstreamIdentity{Subject: u.id.Subject, Username: u.id.Username, Groups: []string{"eng"}}
	status, m := e.refresh(c, tok.refresh)
	tokensOf(t, status, m)
	return strings.Join(u.rechecked, " ")
}

// legacyEnv is reauthEnv on one instance of a cluster over storages.
func legacyEnv(t *testing.T, storages clusterStorage) (*env, *fakeUpstream) {
	u := corp()
	u.id.RefreshToken = "provider-refresh-token-1"
	u.reauthAfter = time.Hour
	e, _ := startCluster(t, storages, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{u}
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}}
	})
	return e, u
}

// TestATokenHeldBeforeTheUpgradeChecksTheGrantsMadeWithIt: a user signed
// in before the upgrade (their session kept the token), or whose code was
// in flight at it (the code carried a copy), is not told to sign in again
// at their grant's first check: the provider is asked with that token. The
// session or code keeps it no longer. On PostgreSQL the code's move joins
// the redemption's transaction.
func TestATokenHeldBeforeTheUpgradeChecksTheGrantsMadeWithIt(t *testing.T) {
	for _, tc := range legacyCases {
		t.Run(tc.name, func(t *testing.T) {
			runOnClusters(t, func(t *testing.T, storages clusterStorage) {
				e, u := legacyEnv(t, storages)
				b := e.browser()
				browserCode(t, e, b, u, true)
				grantFrom, carrier := tc.carry(t, e, b, u, "provider-refresh-token-before-the-upgrade")
				c, tok := grantFrom()
				if _, kept := storedFields(t, e, carrier)[legacyField]; kept {
					t.Errorf("the %s still carries the provider token after it moved", tc.name)
				}
				if got, want := checkOnce(t, e, u, c, tok), "provider-refresh-token-before-the-upgrade"; got != want {
					t.Fatalf("the grant's first check asked the provider with %q, want %q", got, want)
				}
			})
		})
	}
}

// TestATokenHeldBeforeTheUpgradeDoesNotReplaceANewerOne: the user signed
// in again since the upgrade (another browser); that sign-in's token is
// the newer, and the one an old session or code carried does not replace
// it (a provider that rotated it may have retired the old one).
func TestATokenHeldBeforeTheUpgradeDoesNotReplaceANewerOne(t *testing.T) {
	for _, tc := range legacyCases {
		t.Run(tc.name, func(t *testing.T) {
			e, u := reauthEnv(t)
			b := e.browser()
			browserCode(t, e, b, u, true)
			grantFrom, _ := tc.carry(t, e, b, u, "provider-refresh-token-before-the-upgrade")
			u.id.RefreshToken = "provider-refresh-token-since-the-upgrade"
			browserCode(t, e, e.browser(), u, true)
			c, tok := grantFrom()
			if got, want := checkOnce(t, e, u, c, tok), "provider-refresh-token-since-the-upgrade"; got != want {
				t.Fatalf("the grant's first check asked the provider with %q, want %q", got, want)
			}
		})
	}
}

// TestAnOldSessionDoesNotBringBackARevokedUsersToken: the operator revokes
// the user after their old session moved its token, or before; the
// session, refused from then on, authorizes nothing, and nothing here
// acts for the user at the provider any more.
func TestAnOldSessionDoesNotBringBackARevokedUsersToken(t *testing.T) {
	for _, moved := range []bool{true, false} {
		t.Run(fmt.Sprintf("moved=%v", moved), func(t *testing.T) {
			e, u := reauthEnv(t)
			b := e.browser()
			browserCode(t, e, b, u, true)
			writeAsBeforeRecords(t, e, u, sessionKeyOf(t, e), "provider-refresh-token-before-the-upgrade")
			want := 0
			if moved {
				browserGrant(t, e, b, u, false)
				want = 1
			}
			if n, err := e.srv.RevokeUser(t.Context(), u.id.Subject); n != want || err != nil {
				t.Fatalf("RevokeUser: %d, %v", n, err)
			}
			_, challenge := pkce()
			if resp, page := b.get(authParams(e.publicClient(), challenge)); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign in with") {
				t.Fatalf("the revoked user's session still signs in: %d\n%s", resp.StatusCode, page)
			}
			if got := providerToken(t, e, u); got != "" {
				t.Fatalf("the revoked user's provider token %q came back", got)
			}
		})
	}
}

// refusingStorage fails the writes of users' provider token records while
// refuse is set.
type refusingStorage struct {
	certmagic.Storage
	refuse atomic.Bool
}

func (s *refusingStorage) Store(ctx context.Context, key string, value []byte) error {
	if s.refuse.Load() && strings.Contains(key, "/"+nsUpstreamTokens+"/") {
		return errors.New("refused")
	}
	return s.Storage.Store(ctx, key, value)
}

// TestAnOldTokenThatCouldNotMoveIsKept: the user's record cannot be
// written when an old session or code is used. The session still
// authorizes and keeps the token for its next use; the code is not
// redeemed (server_error) and stays unused, and redeemed again once
// storage works it leads to a grant checked with the token.
func TestAnOldTokenThatCouldNotMoveIsKept(t *testing.T) {
	var storage *refusingStorage
	e, u := legacyEnv(t, func(t testing.TB) (a, b certmagic.Storage) {
		a, b = fileCluster(t)
		storage = &refusingStorage{Storage: a}
		return storage, b
	})
	const old = "provider-refresh-token-before-the-upgrade"
	b := e.browser()
	browserCode(t, e, b, u, true)
	session := sessionKeyOf(t, e)
	writeAsBeforeRecords(t, e, u, session, old)

	storage.refuse.Store(true)
	c, code, verifier := browserCode(t, e, b, u, false)
	if _, kept := storedFields(t, e, session)[legacyField]; !kept {
		t.Fatal("the session dropped the provider token it could not move")
	}
	writeAsBeforeRecords(t, e, u, e.srv.codeKey(code), old)
	status, m, _ := e.postForm("/token", codeForm(c, code, verifier), "", "")
	wantError(t, status, m, http.StatusInternalServerError, "server_error")

	storage.refuse.Store(false)
	status, m, _ = e.postForm("/token", codeForm(c, code, verifier), "", "")
	tok := tokensOf(t, status, m)
	if got := checkOnce(t, e, u, c, tok); got != old {
		t.Fatalf("the grant's first check asked the provider with %q, want %q", got, old)
	}
}
