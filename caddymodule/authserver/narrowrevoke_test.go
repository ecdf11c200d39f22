package authserver

import (
	"context"
	"net/http"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/certmagic"
)

// A refresh the policy narrows continues the family in a grant under a new
// id (token.go). These tests hold such a refresh at the moments of a
// revocation that a grant under a new id could slip through, and check
// that the revocation reaches the narrower grant all the same (grants.go,
// revokeFamily).

// interleaved runs a function once, in the middle of a storage call of the
// operator's process: after it listed the grants, or after it read one.
type interleaved struct {
	certmagic.Storage
	mu        sync.Mutex
	afterList func()            // once, when the grants were listed
	afterLoad map[string]func() // once per key, when it was read
}

// interleavedTransactor is an interleaved storage with transactions.
type interleavedTransactor struct{ *interleaved }

func interleave(s certmagic.Storage) (certmagic.Storage, *interleaved) {
	i := &interleaved{Storage: s, afterLoad: map[string]func(){}}
	if _, ok := s.(Transactor); ok {
		return interleavedTransactor{i}, i
	}
	return i, i
}

func (i interleavedTransactor) Transact(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	return i.Storage.(Transactor).Transact(ctx, name, fn)
}

// onLoad arms f to run once after the next read of a key ending in suffix.
func (i *interleaved) onLoad(suffix string, f func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.afterLoad[suffix] = f
}

func (i *interleaved) List(ctx context.Context, prefix string, recursive bool) ([]string, error) {
	keys, err := i.Storage.List(ctx, prefix, recursive)
	if path.Base(prefix) == nsGrants {
		i.mu.Lock()
		f := i.afterList
		i.afterList = nil
		i.mu.Unlock()
		if f != nil {
			f()
		}
	}
	return keys, err
}

func (i *interleaved) Load(ctx context.Context, key string) ([]byte, error) {
	b, err := i.Storage.Load(ctx, key)
	i.mu.Lock()
	var f func()
	for suffix, g := range i.afterLoad {
		if strings.HasSuffix(key, suffix) {
			f = g
			delete(i.afterLoad, suffix)
		}
	}
	i.mu.Unlock()
	if f != nil {
		f()
	}
	return b, err
}

// TestRevocationReachesAGrantNarrowedDuringIt: a user's grant is narrowed
// by a refresh (the operator took mcp:admin away) on one instance while
// the operator's RevokeUser or RevokeClient (of a registered client, or
// of one whose id is a URL) runs in a process of its own:
// after the revocation listed the grants, so that the narrower grant is
// not in the list and the wider one reads revoked; or after it read the
// wider grant live, so that it revokes a grant already retired. Either
// way the narrower grant is revoked: its refresh token is refused and its
// access tokens fail the guards' check. On file storage and PostgreSQL.
func TestRevocationReachesAGrantNarrowedDuringIt(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		for _, revoke := range []string{"user", "client", "document client"} {
			for _, when := range []string{"after the listing", "after reading the grant"} {
				t.Run(revoke+" "+when, func(t *testing.T) {
					testNarrowedDuringRevocation(t, storages, revoke, when)
				})
			}
		}
	})
}

func testNarrowedDuringRevocation(t *testing.T, storages clusterStorage, revoke, when string) {
	c := &clock{t: e0}
	sa, sb := storages(t)
	policy := func(scopes ...string) func(*Config) {
		return func(cfg *Config) {
			cfg.ScopeGrants = []ScopeGrant{{Scopes: scopes, Users: []string{testUser}}}
			cfg.ClientMetadataDocuments.AllowPrivateAddresses = true
			cfg.ClientMetadataDocuments.Resolve = resolveTo("127.0.0.1")
		}
	}
	wide := startInstance(t, c, sa, policy("mcp", "mcp:admin"))
	refresher, held := interleave(sb)
	narrow := startInstance(t, c, refresher, policy("mcp")) // reloaded without mcp:admin
	watched, hooks := interleave(sa)
	operator, err := New(narrow.cfg, watched, nil) // `caddy mcp revoke ...`
	if err != nil {
		t.Fatal(err)
	}

	cl := wide.publicClient()
	clientKey := narrow.srv.store.key(nsClients, cl.id+".json")
	if revoke == "document client" {
		d := &docEnv{env: wide, host: testCA.NewDocumentHost(t, "client.example")}
		cl = d.publish("/c.json", nil)
		clientKey = narrow.srv.documentKey(cl.id)
	}
	verifier, challenge := pkce()
	q := authParams(cl, challenge)
	q.Set("scope", "mcp mcp:admin")
	loc := wide.browser().authorize(q)
	status, m, _ := wide.postForm("/token", codeForm(cl, loc.Query().Get("code"), verifier), "", "")
	stolen := tokensOf(t, status, m)
	wider, _ := grantIDOf(stolen.refresh)

	// The refresh authenticates its client before the revocation starts
	// (RevokeClient deletes a registered client first), and goes on where
	// the revocation's hook lets it.
	type answer struct {
		status int
		m      map[string]any
	}
	authenticated, proceed, done := make(chan struct{}), make(chan struct{}), make(chan answer, 1)
	release := sync.OnceFunc(func() { close(proceed) })
	t.Cleanup(release)
	held.onLoad(clientKey, func() {
		close(authenticated)
		<-proceed
	})
	go func() {
		status, m := narrow.refresh(cl, stolen.refresh)
		done <- answer{status, m}
	}()
	<-authenticated
	var refreshed *answer
	refresh := func() {
		release()
		a := <-done
		refreshed = &a
	}
	switch when {
	case "after the listing":
		hooks.afterList = refresh
	default:
		hooks.onLoad("/"+nsGrants+"/"+wider+".json", refresh)
	}
	var n int
	if revoke == "user" {
		n, err = operator.RevokeUser(t.Context(), testUser)
	} else {
		n, err = operator.RevokeClient(t.Context(), cl.id)
	}
	if err != nil {
		t.Fatal(err)
	}
	if refreshed == nil {
		t.Fatal("setup: the refresh did not run during the revocation")
	}
	narrowed := tokensOf(t, refreshed.status, refreshed.m)
	if g, _ := grantIDOf(narrowed.refresh); g == wider {
		t.Fatal("setup: the refresh did not narrow the grant")
	}
	if n != 1 {
		t.Errorf("revoked %d live grants, want 1 (the narrower)", n)
	}
	claims := narrow.claimsOf(narrowed.access)
	if revoked, err := operator.IsRevoked(t.Context(), claims.ID, claims.GrantID); err != nil || !revoked {
		t.Errorf("the narrower grant's access token is not revoked: %v %v", revoked, err)
	}
	status, m = narrow.refresh(cl, narrowed.refresh)
	if status == http.StatusOK {
		t.Fatalf("the narrower grant's refresh token still works after the revocation: %v", m)
	}
}

// TestRevokingANarrowedGrantRevokesTheNarrowerOne: a revocation of the
// grant the policy narrowed, after the narrowing (the operator's
// RevokeGrant of the id they listed, a replay of the code it was issued
// for), reaches the grant the family continues in.
func TestRevokingANarrowedGrantRevokesTheNarrowerOne(t *testing.T) {
	for _, how := range []string{"operator", "code replay"} {
		t.Run(how, func(t *testing.T) {
			policy := func(scopes ...string) func(*Config) {
				return func(c *Config) {
					c.Origin = sameOrigin
					c.ScopeGrants = []ScopeGrant{{Scopes: scopes, Users: []string{testUser}}}
				}
			}
			e := newEnv(t, policy("mcp", "mcp:admin"))
			cl := e.publicClient()
			verifier, challenge := pkce()
			q := authParams(cl, challenge)
			q.Set("scope", "mcp mcp:admin")
			code := codeForm(cl, e.browser().authorize(q).Query().Get("code"), verifier)
			status, m, _ := e.postForm("/token", code, "", "")
			first := tokensOf(t, status, m)
			e2 := startEnv(t, e.clock, e.storage, policy("mcp")) // reloaded without mcp:admin
			status, m = e2.refresh(cl, first.refresh)
			narrowed := tokensOf(t, status, m)
			wider, _ := grantIDOf(first.refresh)
			if g, _ := grantIDOf(narrowed.refresh); g == wider {
				t.Fatal("setup: the refresh did not narrow the grant")
			}
			if how == "operator" {
				if err := e2.srv.RevokeGrant(t.Context(), wider); err != nil {
					t.Fatal(err)
				}
			} else {
				status, m, _ = e2.postForm("/token", code, "", "")
				wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
			}
			status, m = e2.refresh(cl, narrowed.refresh)
			wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		})
	}
}
