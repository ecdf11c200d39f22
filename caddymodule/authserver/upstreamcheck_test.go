package authserver

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/pgstorage/pgstore"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// heldUpstream is a provider whose Reauthenticate waits, as a slow or
// unreachable provider does, until the test releases it, and tells the
// test each time it is entered.
type heldUpstream struct {
	*fakeUpstream
	entered chan string // the refresh token of each call, as it starts
	release chan struct{}
	free    func() // releases every call, now and later; idempotent
	calls   atomic.Int32
}

func newHeldUpstream() *heldUpstream {
	h := &heldUpstream{fakeUpstream: corp(), entered: make(chan string, 8), release: make(chan struct{})}
	h.id.RefreshToken = "provider-refresh-token-1"
	h.reauthAfter = time.Hour
	h.again = &UpstreamIdentity{Subject: h.id.Subject, Username: h.id.Username, Groups: []string{"eng"}, RefreshToken: "provider-refresh-token-2"}
	h.free = sync.OnceFunc(func() { close(h.release) })
	return h
}

func (h *heldUpstream) Reauthenticate(ctx context.Context, refreshToken string) (*UpstreamIdentity, error) {
	h.calls.Add(1)
	h.entered <- refreshToken
	select {
	case <-h.release:
		return h.again, h.againErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// watchedStorage counts the transactions open on a storage, Transact calls
// in progress and held locks of grants (the file storage's transactions),
// and reports each request for the lease lock of a provider check, and
// each such request that finds the lease held by another and waits.
type watchedStorage struct {
	certmagic.Storage
	open       atomic.Int32
	checkLocks chan string
	checkWaits chan string
}

// watchedTransactor is a watchedStorage over a storage with transactions.
type watchedTransactor struct{ *watchedStorage }

func watch(s certmagic.Storage) (certmagic.Storage, *watchedStorage) {
	w := &watchedStorage{Storage: s, checkLocks: make(chan string, 8), checkWaits: make(chan string, 8)}
	if _, ok := s.(Transactor); ok {
		return watchedTransactor{w}, w
	}
	return w, w
}

func (w *watchedStorage) Lock(ctx context.Context, name string) error {
	if strings.HasPrefix(path.Base(name), "upstream-check-") {
		w.checkLocks <- name
		// Both storages under test can try a lock without waiting.
		if held, err := w.Storage.(certmagic.TryLocker).TryLock(ctx, name); err != nil || held {
			return err
		}
		w.checkWaits <- name
	}
	if err := w.Storage.Lock(ctx, name); err != nil {
		return err
	}
	if strings.HasPrefix(path.Base(name), "grant-") {
		w.open.Add(1)
	}
	return nil
}

func (w *watchedStorage) Unlock(ctx context.Context, name string) error {
	if strings.HasPrefix(path.Base(name), "grant-") {
		w.open.Add(-1)
	}
	return w.Storage.Unlock(ctx, name)
}

func (w watchedTransactor) Transact(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	w.open.Add(1)
	defer w.open.Add(-1)
	return w.Storage.(Transactor).Transact(ctx, name, fn)
}

// onePostgresSlot is a cluster on PostgreSQL whose instances may each have
// one transaction open at a time (pgstorage gives half the pool's
// connections to transactions).
func onePostgresSlot(t testing.TB) (a, b certmagic.Storage) {
	dsn := testenv.PostgresDatabase(t)
	open := func() certmagic.Storage {
		s, err := pgstore.New(pgstore.Config{DSN: dsn, MaxConnections: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	return open(), open()
}

// checkCluster starts instances A and B over watched storages, with h as
// their sign-in provider.
func checkCluster(t *testing.T, storages clusterStorage, h *heldUpstream) (a, b *env, wa, wb *watchedStorage) {
	watched := func(t testing.TB) (certmagic.Storage, certmagic.Storage) {
		sa, sb := storages(t)
		var ta, tb certmagic.Storage
		ta, wa = watch(sa)
		tb, wb = watch(sb)
		return ta, tb
	}
	a, b = startCluster(t, watched, func(c *Config) {
		c.Users = nil
		c.Upstreams = []UpstreamLogin{h}
		c.ScopeGrants = []ScopeGrant{{Scopes: []string{"mcp"}, Groups: []string{"corp:eng"}}}
	})
	// Registered after the servers, so it runs before they close: they
	// wait for the requests in flight, which wait for h.
	t.Cleanup(h.free)
	return a, b, wa, wb
}

// tokenAnswer is the outcome of a token request sent in the background.
type tokenAnswer struct {
	status int
	body   map[string]any
}

// refreshLater sends a refresh in the background.
func (e *env) refreshLater(c registered, token string) <-chan tokenAnswer {
	ch := make(chan tokenAnswer, 1)
	go func() {
		status, m, _ := e.postForm("/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}, "client_id": {c.id}}, "", "")
		ch <- tokenAnswer{status, m}
	}()
	return ch
}

// checkThenAnother refreshes first on a until the held provider is asked
// about its user, then refreshes second on b, and returns the two answers
// to come.
func checkThenAnother(h *heldUpstream, a *env, ca registered, first string, b *env, cb registered, second string) (<-chan tokenAnswer, <-chan tokenAnswer) {
	firstAnswer := a.refreshLater(ca, first)
	<-h.entered
	return firstAnswer, b.refreshLater(cb, second)
}

// gotTokens fails unless each answer to come is a token response.
func gotTokens(t *testing.T, answers ...<-chan tokenAnswer) {
	t.Helper()
	for _, ch := range answers {
		got := <-ch
		tokensOf(t, got.status, got.body)
	}
}

// TestAProviderCheckHoldsNoTransaction: while one user's provider is slow
// to answer, nothing of the storage is held for it, and another grant is
// refreshed meanwhile, even on PostgreSQL with a single transaction slot,
// which a check inside the transaction would keep.
func TestAProviderCheckHoldsNoTransaction(t *testing.T) {
	for name, storages := range map[string]clusterStorage{"file": fileCluster, "postgres with one transaction slot": onePostgresSlot} {
		t.Run(name, func(t *testing.T) {
			h := newHeldUpstream()
			e, _, w, _ := checkCluster(t, storages, h)
			slowClient, slow := upstreamGrant(t, e, h.fakeUpstream, "mcp")
			e.clock.Advance(2 * time.Hour) // the first grant is due for a check
			otherClient, other := upstreamGrant(t, e, h.fakeUpstream, "mcp")

			answer := e.refreshLater(slowClient, slow.refresh)
			if got := <-h.entered; got != "provider-refresh-token-1" {
				t.Fatalf("provider asked with %q", got)
			}
			if n := w.open.Load(); n != 0 {
				h.free()
				t.Fatalf("%d storage transactions open while the provider is asked", n)
			}
			status, m := e.refresh(otherClient, other.refresh)
			tokensOf(t, status, m)

			h.free()
			gotTokens(t, answer)
			if n := h.calls.Load(); n != 1 {
				t.Fatalf("provider asked %d times", n)
			}
		})
	}
}

// TestOneProviderCheckPerGrantAcrossInstances: the same refresh token sent
// to both instances at once (two tabs, within the grace window) asks the
// provider once: providers rotate refresh tokens, and one presented twice
// at once can make the provider revoke the whole family.
func TestOneProviderCheckPerGrantAcrossInstances(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		h := newHeldUpstream()
		a, b, _, wb := checkCluster(t, storages, h)
		c, tok := upstreamGrant(t, a, h.fakeUpstream, "mcp")
		a.clock.Advance(2 * time.Hour)

		first, second := checkThenAnother(h, a, c, tok.refresh, b, c, tok.refresh)
		select {
		case <-wb.checkLocks: // B waits for A's check
		case <-h.entered:
			t.Fatal("the provider was asked twice at once about one grant")
		}
		h.free()
		gotTokens(t, first, second)
		if n := h.calls.Load(); n != 1 {
			t.Fatalf("provider asked %d times; want once (the second request finds the check done)", n)
		}
	})
}

// TestAGrantRevokedDuringAProviderCheck: the grant is revoked while its
// user is being checked. The request waiting for the check does not ask
// the provider again with the revoked grant, and the provider's new
// refresh token is not kept in the revoked grant.
func TestAGrantRevokedDuringAProviderCheck(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		h := newHeldUpstream()
		a, b, _, wb := checkCluster(t, storages, h)
		c, tok := upstreamGrant(t, a, h.fakeUpstream, "mcp")
		a.clock.Advance(2 * time.Hour)

		first, second := checkThenAnother(h, a, c, tok.refresh, b, c, tok.refresh)
		<-wb.checkLocks
		if status, _, _ := b.postForm("/revoke", url.Values{"token": {tok.refresh}, "client_id": {c.id}}, "", ""); status != http.StatusOK {
			t.Fatalf("revoke: %d", status)
		}
		h.free()
		for _, ch := range []<-chan tokenAnswer{first, second} {
			got := <-ch
			wantError(t, got.status, got.body, http.StatusBadRequest, "invalid_grant")
		}
		if n := h.calls.Load(); n != 1 {
			t.Fatalf("provider asked %d times; the revoked grant's must not be asked about again", n)
		}
		id, _ := grantIDOf(tok.refresh)
		var g grant
		if found, err := a.srv.store.get(t.Context(), a.srv.grantKey(id), &g); !found || err != nil || !g.Revoked {
			t.Fatalf("grant: found %v, %v, revoked %v", found, err, g.Revoked)
		}
		if g.UpstreamToken != "" {
			t.Fatal("the revoked grant keeps a provider refresh token; neither the old nor the new one may stay")
		}
	})
}

// TestAWrongRefreshTokenNeverReachesTheProvider: a stranger holding a
// wrong, foreign or stale refresh token of a grant due for a check gets
// invalid_grant without the provider being asked (each call spends and
// rotates the user's provider token) or the check's lease being taken (a
// stream of such requests would hold up the user's own refresh).
func TestAWrongRefreshTokenNeverReachesTheProvider(t *testing.T) {
	h := newHeldUpstream()
	h.free()
	e, _, w, _ := checkCluster(t, fileCluster, h)
	c, tok := upstreamGrant(t, e, h.fakeUpstream, "mcp")
	stranger := e.publicClient()
	e.clock.Advance(2 * time.Hour)
	refused := func(why string, c registered, token string, calls int32) {
		t.Helper()
		status, m := e.refresh(c, token)
		wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		if n := h.calls.Load(); n != calls {
			t.Fatalf("%s: the provider was asked", why)
		}
		select {
		case <-w.checkLocks:
			t.Fatalf("%s: the provider check's lease was taken", why)
		default:
		}
	}
	id, _ := grantIDOf(tok.refresh)
	refused("a guessed secret of the grant", c, id+".guessed", 0)
	refused("the token presented by another client", stranger, tok.refresh, 0)

	// The user's own refresh checks them and rotates the token; a
	// reauthenticate_after later, the old token comes back.
	status, m := e.refresh(c, tok.refresh)
	tokensOf(t, status, m)
	select {
	case <-w.checkLocks:
	default:
		t.Fatal("the user's own check ran without its lease")
	}
	e.clock.Advance(2 * time.Hour)
	refused("a token retired past the grace window", c, tok.refresh, 1)
}

// TestAProviderSlowerThanItsWindowIsAskedOnce: a check that takes longer
// than reauthenticate_after (a slow provider, a short window) counts for
// the refresh that waited for it: it is neither repeated nor turned into
// an error. The provider vouched as of when it was asked, so the next
// refresh asks again.
func TestAProviderSlowerThanItsWindowIsAskedOnce(t *testing.T) {
	h := newHeldUpstream()
	e, _, _, _ := checkCluster(t, fileCluster, h)
	c, tok := upstreamGrant(t, e, h.fakeUpstream, "mcp")
	e.clock.Advance(2 * time.Hour)
	answer := e.refreshLater(c, tok.refresh)
	<-h.entered
	e.clock.Advance(2 * time.Hour) // the provider answers after the window
	h.free()
	got := <-answer
	tok = tokensOf(t, got.status, got.body)
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("provider asked %d times", n)
	}
	status, m := e.refresh(c, tok.refresh)
	tokensOf(t, status, m)
	if n := h.calls.Load(); n != 2 {
		t.Fatalf("provider asked %d times; the window runs from the question, not the late answer", n)
	}
}
