package authserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/pgstorage/pgstore"
	"github.com/mcpgate/mcpgate/internal/testenv"
)

// Two instances of the authorization server sharing one storage, as behind
// a load balancer: what must happen once happens once whichever instance
// each request lands on. Each test runs on the file storage (a shared
// directory, its lock files) and on PostgreSQL (transactions).

// clusterOrigin is the public origin both instances serve, as a balancer
// in front of them presents it.
const clusterOrigin = "http://gateway.test"

// clusterStorage returns two instances over one fresh storage.
type clusterStorage func(t testing.TB) (a, b certmagic.Storage)

func fileCluster(t testing.TB) (a, b certmagic.Storage) {
	dir := t.TempDir()
	return &certmagic.FileStorage{Path: dir}, &certmagic.FileStorage{Path: dir}
}

func postgresCluster(t testing.TB) (a, b certmagic.Storage) {
	dsn := testenv.PostgresDatabase(t)
	open := func() certmagic.Storage {
		s, err := pgstore.New(pgstore.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	return open(), open()
}

func runOnClusters(t *testing.T, test func(t *testing.T, storages clusterStorage)) {
	t.Run("file", func(t *testing.T) { test(t, fileCluster) })
	t.Run("postgres", func(t *testing.T) { test(t, postgresCluster) })
}

// startCluster starts instances A and B on one clock and the storages.
func startCluster(t *testing.T, storages clusterStorage, mutate func(*Config)) (a, b *env) {
	t.Helper()
	c := &clock{t: e0}
	sa, sb := storages(t)
	return startInstance(t, c, sa, mutate), startInstance(t, c, sb, mutate)
}

// startInstance starts one instance of a cluster on clock c and storage s.
func startInstance(t *testing.T, c *clock, s certmagic.Storage, mutate func(*Config)) *env {
	t.Helper()
	cfg := testConfig(c)
	cfg.Origin = func(*http.Request) string { return clusterOrigin }
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{t: t, srv: srv, ts: ts, clock: c, cfg: cfg, client: noRedirect(nil)}
}

// race sends n token requests at once, alternating between the instances,
// and returns the status of each. A first round of requests for an unknown
// grant opens the connections that the real round then races on, instead
// of queueing on their setup.
func race(envs []*env, n int, form url.Values) []int {
	race1(envs, n, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"warmup.x"}, "client_id": {form.Get("client_id")}})
	return race1(envs, n, form)
}

func race1(envs []*env, n int, form url.Values) []int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], _, _ = envs[i%len(envs)].postForm("/token", form, "", "")
		}()
	}
	close(start)
	wg.Wait()
	return statuses
}

func count(statuses []int, status int) int {
	n := 0
	for _, s := range statuses {
		if s == status {
			n++
		}
	}
	return n
}

// TestClusterCodeRedeemedOnce: one authorization code presented to both
// instances at once yields tokens once.
func TestClusterCodeRedeemedOnce(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		a, b := startCluster(t, storages, nil)
		c := a.publicClient()
		verifier, challenge := pkce()
		loc := a.browser().authorize(authParams(c, challenge))
		statuses := race([]*env{a, b}, 10, codeForm(c, loc.Query().Get("code"), verifier))
		if count(statuses, http.StatusOK) != 1 || count(statuses, http.StatusBadRequest) != 9 {
			t.Fatalf("statuses %v; want one 200 and nine 400 invalid_grant", statuses)
		}
	})
}

// TestClusterRefreshRotatesOnce: without a grace window, one refresh
// token presented 20 times at once over both instances rotates once.
func TestClusterRefreshRotatesOnce(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		a, b := startCluster(t, storages, func(cfg *Config) { cfg.RefreshReuseGrace = -1 })
		c := a.publicClient()
		tok := a.codeFlow(c)
		statuses := race([]*env{a, b}, 20, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {c.id}})
		if count(statuses, http.StatusOK) != 1 || count(statuses, http.StatusBadRequest) != 19 {
			t.Fatalf("statuses %v; want exactly one rotation (one 200, nineteen 400)", statuses)
		}
	})
}

// TestClusterRefreshGraceAndReuseAcrossInstances: the previous refresh
// token still works on the other instance within the grace window (two
// tabs refreshing at once), and presented there after it revokes the
// whole family, on both instances.
func TestClusterRefreshGraceAndReuseAcrossInstances(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		const grace = 10 * time.Second
		a, b := startCluster(t, storages, func(cfg *Config) { cfg.RefreshReuseGrace = grace })
		c := a.publicClient()
		first := a.codeFlow(c)
		status, m := a.refresh(c, first.refresh)
		second := tokensOf(t, status, m)
		status, m = b.refresh(c, first.refresh)
		third := tokensOf(t, status, m) // within the grace window
		a.clock.Advance(grace + time.Second)
		status, m = b.refresh(c, first.refresh)
		wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		for _, tok := range []tokens{second, third} {
			status, m = a.refresh(c, tok.refresh)
			wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		}
		claims := a.claimsOf(third.access)
		for _, e := range []*env{a, b} {
			if revoked, err := e.srv.IsRevoked(t.Context(), claims.ID, claims.GrantID); err != nil || !revoked {
				t.Fatalf("an access token of the reused family is not revoked on an instance: %v, %v", revoked, err)
			}
		}
	})
}

// TestClusterRevocationReachesEveryInstance: a token revoked on A is
// revoked on B at B's next check (the guard asks once per
// revocation_check_interval; nothing in B remembers "not revoked").
func TestClusterRevocationReachesEveryInstance(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		a, b := startCluster(t, storages, nil)
		c := a.publicClient()
		tok := a.codeFlow(c)
		claims := a.claimsOf(tok.access)
		if revoked, err := b.srv.IsRevoked(t.Context(), claims.ID, claims.GrantID); err != nil || revoked {
			t.Fatalf("before revocation, B says revoked=%v, %v", revoked, err)
		}
		status, _, _ := a.postForm("/revoke", url.Values{"token": {tok.refresh}, "client_id": {c.id}}, "", "")
		if status != http.StatusOK {
			t.Fatalf("revoke on A: %d", status)
		}
		if revoked, err := b.srv.IsRevoked(t.Context(), claims.ID, claims.GrantID); err != nil || !revoked {
			t.Fatalf("after revocation on A, B says revoked=%v, %v", revoked, err)
		}
	})
}

// TestClusterRegistrationsDoNotCollide: registrations spread over both
// instances get distinct ids, each known to the other instance.
func TestClusterRegistrationsDoNotCollide(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		a, b := startCluster(t, storages, func(cfg *Config) { cfg.Registration.UnusedClientsPerAddress = -1 })
		envs := []*env{a, b}
		const n = 40
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i] = envs[i%2].publicClient().id
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("client id %s issued twice", id)
			}
			seen[id] = true
			if c, err := envs[(i+1)%2].srv.loadClient(t.Context(), id); c == nil || err != nil {
				t.Fatalf("client %s registered on one instance is unknown to the other: %v", id, err)
			}
		}
	})
}

// TestClusterSignOutReachesEveryInstance: the operator signs a user out on
// A (RevokeUser); on B, the session of a browser signed in before is
// refused and a code issued before does not redeem, and a new login works.
func TestClusterSignOutReachesEveryInstance(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		a, b := startCluster(t, storages, nil)
		c := a.publicClient()
		_, challenge := pkce()
		q := authParams(c, challenge)
		br := b.browser()
		br.authorize(q)
		verifier, challenge := pkce()
		loc := br.authorize(authParams(c, challenge))
		a.clock.Advance(time.Minute)
		revokeUser(t, a, testUser)
		if br.signedIn(q) {
			t.Fatal("a session from before the sign-out on A still signs in on B")
		}
		status, m, _ := b.postForm("/token", codeForm(c, loc.Query().Get("code"), verifier), "", "")
		wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		a.clock.Advance(time.Millisecond)
		b.codeFlow(c)
	})
}
