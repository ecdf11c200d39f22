package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// waitFor yields until cond holds. The deadline only keeps a broken
// build from hanging the test run; no outcome depends on how long
// anything takes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// callersOf is how many requests have asked for the call of key under way.
func (g *flightGroup[T]) callersOf(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.flights[key]; f != nil {
		return f.callers
	}
	return 0
}

// swappable serves path through a handler the test replaces (to make the
// host fail, hold requests or change the document) with the returned
// function.
func (d *docEnv) swappable(path string) func(http.HandlerFunc) {
	var mu sync.Mutex
	var current http.HandlerFunc
	d.host.Handle(path, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := current
		mu.Unlock()
		h(w, r)
	})
	return func(h http.HandlerFunc) {
		mu.Lock()
		current = h
		mu.Unlock()
	}
}

// document serves a valid document for path whose client is called name.
func (d *docEnv) document(path, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"client_id": d.url(path), "client_name": name, "redirect_uris": []string{"http://localhost/callback"}})
	}
}

// status answers every request with code.
func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }
}

// held returns a handler that waits for release before serving next, and
// release; the test's cleanup releases it too, so the host can close.
func held(t *testing.T, next http.HandlerFunc) (http.HandlerFunc, func()) {
	gate := make(chan struct{})
	release := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(release)
	return func(w http.ResponseWriter, r *http.Request) {
		<-gate
		next(w, r)
	}, release
}

// load loads the client of id, failing the test on an error.
func (d *docEnv) load(id string) *client {
	d.t.Helper()
	c, err := d.srv.loadClient(context.Background(), id)
	if err != nil {
		d.t.Fatalf("loading %s: %v", id, err)
	}
	return c
}

// loadError loads the client of id and returns the error it must fail with.
func (d *docEnv) loadError(id string) error {
	d.t.Helper()
	c, err := d.srv.loadClient(context.Background(), id)
	if err == nil {
		d.t.Fatalf("loading %s: got the client %q, want an error", id, c.ClientName)
	}
	return err
}

func newLoggedDocEnv(t *testing.T, mutate func(*Config)) (*docEnv, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.WarnLevel)
	host := testCA.NewDocumentHost(t, "client.example", "keys.example")
	e := startLoggedEnv(t, &clock{t: e0}, &certmagic.FileStorage{Path: t.TempDir()}, zap.New(core), func(c *Config) {
		c.ClientMetadataDocuments.AllowPrivateAddresses = true
		c.ClientMetadataDocuments.Resolve = resolveTo("127.0.0.1")
		if mutate != nil {
			mutate(c)
		}
	})
	return &docEnv{env: e, host: host}, logs
}

// A burst of requests naming one uncached, then one expired, document
// costs the host one fetch each time, not one per request.
func TestConcurrentDocumentLoadsShareOneFetch(t *testing.T) {
	const n = 8
	d := newDocEnv(t, nil)
	const path = "/c.json"
	id := d.url(path)
	serve := d.swappable(path)
	for round, advance := range []time.Duration{0, defaultDocumentCache} {
		d.clock.Advance(advance)
		h, release := held(t, d.document(path, "Example Agent"))
		serve(h)
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := d.srv.loadClient(context.Background(), id)
				errs <- err
			}()
		}
		waitFor(t, "every request to wait for the fetch or to reach the host", func() bool {
			return d.srv.documentFlights.callersOf(id) == n || d.host.Hits(path) >= round+n
		})
		release()
		for range n {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got := d.host.Hits(path); got != round+1 {
			t.Fatalf("round %d: %d concurrent requests fetched the document %d times in all, want %d", round, n, got, round+1)
		}
	}
}

// The same holds for a private_key_jwt client's key set at its jwks_uri.
func TestConcurrentKeySetLoadsShareOneFetch(t *testing.T) {
	const n = 8
	d := newDocEnv(t, nil)
	keys, _ := json.Marshal(publicJWKS(newSigningKey(t), "k1"))
	h, release := held(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(keys)
	})
	d.host.Handle("/agent.jwks", h)
	jwksURI := "https://keys.example:" + d.host.Port() + "/agent.jwks"
	c := d.load(d.publish("/agent.json", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwksURI}).id)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := d.srv.clientKeys(context.Background(), c)
			errs <- err
		}()
	}
	waitFor(t, "every request to wait for the fetch or to reach the host", func() bool {
		return d.srv.jwksFlights.callersOf(keySetFlight(fetchKnown, jwksURI)) == n || d.host.Hits("/agent.jwks") >= n
	})
	release()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := d.host.Hits("/agent.jwks"); got != 1 {
		t.Errorf("%d concurrent requests fetched the key set %d times, want once", n, got)
	}
}

// A request that found the document expired, but reaches the refresh only
// after another refresh stored it, fetches nothing.
func TestRefreshAfterAnotherStoredTheDocumentFetchesNothing(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.publish("/c.json", nil)
	d.load(c.id)
	u, _ := d.srv.checkDocumentURL(c.id)
	if _, err := d.srv.refreshDocument(context.Background(), u, c.id); err != nil || d.host.Hits("/c.json") != 1 {
		t.Errorf("refresh of a fresh document: %v, %d fetches, want the stored one and no fetch", err, d.host.Hits("/c.json"))
	}
}

// A request waiting for a fetch another started stops waiting when its own
// context ends, and the one that started it can go away without failing the
// others (or leaving a failure cached for the next minute).
func TestDocumentLoadWaitHonoursItsOwnContext(t *testing.T) {
	d := newDocEnv(t, nil)
	const path = "/c.json"
	id := d.url(path)
	h, release := held(t, d.document(path, "Example Agent"))
	d.swappable(path)(h)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := d.srv.loadClient(ctx, id)
		first <- err
	}()
	waitFor(t, "the first request's fetch to reach the host", func() bool { return d.host.Hits(path) == 1 })
	second := make(chan error, 1)
	go func() {
		_, err := d.srv.loadClient(context.Background(), id)
		second <- err
	}()
	waitFor(t, "the second request to wait for the same fetch", func() bool { return d.srv.documentFlights.callersOf(id) == 2 })

	cancel()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the cancelled request got %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled request kept waiting for the fetch")
	}
	release()
	if err := <-second; err != nil {
		t.Fatalf("the second request failed when the first went away: %v", err)
	}
	if c := d.load(id); c.ClientName != "Example Agent" || d.host.Hits(path) != 1 {
		t.Errorf("after the shared fetch: %q, %d fetches, want the stored document and one fetch", c.ClientName, d.host.Hits(path))
	}
}

// When a refetch learns nothing about the document, its stored copy stands
// in: an outage of claude.ai must not lock out the users of Claude Code.
func TestStaleDocumentStandsInWhenRefetchLearnsNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		fail   func(t *testing.T, d *docEnv) http.HandlerFunc // serves the refetch
		reason string
	}{
		{name: "5xx", fail: func(*testing.T, *docEnv) http.HandlerFunc { return status(http.StatusServiceUnavailable) }, reason: "answered HTTP 503"},
		{name: "429", fail: func(*testing.T, *docEnv) http.HandlerFunc { return status(http.StatusTooManyRequests) }, reason: "answered HTTP 429"},
		{name: "408", fail: func(*testing.T, *docEnv) http.HandlerFunc { return status(http.StatusRequestTimeout) }, reason: "answered HTTP 408"},
		{name: "connection dropped", fail: func(*testing.T, *docEnv) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err == nil {
					conn.Close()
				}
			}
		}, reason: "could not be reached"},
		{name: "timeout", mutate: func(c *Config) { c.ClientMetadataDocuments.Timeout = 500 * time.Millisecond },
			fail: func(t *testing.T, d *docEnv) http.HandlerFunc {
				h, _ := held(t, status(http.StatusOK)) // answers only after the test
				return h
			}, reason: "could not be reached"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, logs := newLoggedDocEnv(t, tc.mutate)
			id := d.url("/c.json")
			serve := d.swappable("/c.json")
			serve(d.document("/c.json", "Example Agent"))
			d.load(id)
			d.clock.Advance(defaultDocumentCache)
			serve(tc.fail(t, d))
			if c := d.load(id); c.ClientName != "Example Agent" {
				t.Errorf("got %q, want the stored copy", c.ClientName)
			}
			entries := logs.FilterMessageSnippet("stored copy").All()
			if len(entries) != 1 || !strings.Contains(entries[0].ContextMap()["reason"].(string), tc.reason) {
				t.Errorf("log entries %v, want one giving the reason %q", entries, tc.reason)
			}
			hits := d.host.Hits("/c.json")
			if c := d.load(id); c.ClientName != "Example Agent" || d.host.Hits("/c.json") != hits {
				t.Errorf("again: %q, fetched again: %v; want the stored copy and the failure remembered", c.ClientName, d.host.Hits("/c.json") != hits)
			}
			// The grace over, the failure is the answer.
			d.clock.Advance(defaultStaleGrace)
			d.loadError(id)
		})
	}
}

// The grace ends exactly StaleGrace after the document's own expiry, and a
// negative one turns stale copies off.
func TestStaleGraceBounds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		want  time.Duration // the last moment, after expiry, the copy stands in; <0: never
	}{
		{"default", 0, defaultStaleGrace},
		{"configured", 2 * time.Hour, 2 * time.Hour},
		{"off", -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, func(c *Config) { c.ClientMetadataDocuments.StaleGrace = tc.grace })
			id := d.url("/c.json")
			serve := d.swappable("/c.json")
			serve(d.document("/c.json", "Example Agent"))
			d.load(id)
			serve(status(http.StatusBadGateway))
			expiry := e0.Add(defaultDocumentCache)
			if tc.want < 0 {
				d.clock.Advance(defaultDocumentCache)
				d.loadError(id)
				return
			}
			d.clock.Advance(expiry.Add(tc.want - time.Nanosecond).Sub(d.clock.Now()))
			if c := d.load(id); c.ClientName != "Example Agent" {
				t.Errorf("at the end of the grace: %q", c.ClientName)
			}
			d.clock.Advance(time.Nanosecond)
			if err := d.loadError(id); !strings.Contains(err.Error(), "answered HTTP 502") {
				t.Errorf("after the grace: %v", err)
			}
		})
	}
}

// A stored copy in use is logged once per URL and outage, not per request.
func TestStaleDocumentUseLoggedOncePerOutage(t *testing.T) {
	d, logs := newLoggedDocEnv(t, nil)
	id := d.url("/c.json")
	serve := d.swappable("/c.json")
	serve(d.document("/c.json", "Example Agent"))
	d.load(id)
	outage := func() {
		d.clock.Advance(defaultDocumentCache)
		serve(status(http.StatusServiceUnavailable))
		for range 3 {
			d.load(id)
			d.clock.Advance(failureCache) // each load tries the host again
		}
	}
	stale := func() []observer.LoggedEntry { return logs.FilterMessageSnippet("stored copy").All() }
	outage()
	if entries := stale(); len(entries) != 1 || entries[0].Level != zap.WarnLevel || entries[0].ContextMap()["url"] != id {
		t.Fatalf("log entries %v, want one warning naming %s", entries, id)
	}
	serve(d.document("/c.json", "Renamed Agent"))
	if c := d.load(id); c.ClientName != "Renamed Agent" {
		t.Fatalf("after the outage: %q", c.ClientName)
	}
	outage()
	if n := len(stale()); n != 2 {
		t.Errorf("%d warnings after a second outage, want 2", n)
	}
}

// A refetch that says the document is wrong or gone ends the client at
// once, and its copy is deleted: it must not come back when the host is
// next down, or made busy by whoever wants the old redirect URIs back.
func TestWithdrawnDocumentNeverStandsIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		serve  func(d *docEnv) http.HandlerFunc
		reason string
	}{
		{"404", func(*docEnv) http.HandlerFunc { return status(http.StatusNotFound) }, "answered HTTP 404"},
		{"410", func(*docEnv) http.HandlerFunc { return status(http.StatusGone) }, "answered HTTP 410"},
		{"403", func(*docEnv) http.HandlerFunc { return status(http.StatusForbidden) }, "answered HTTP 403"},
		{"redirect", func(d *docEnv) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, d.url("/moved.json"), http.StatusMovedPermanently)
			}
		}, "redirects are not followed"},
		{"another client_id", func(d *docEnv) http.HandlerFunc { return d.document("/other.json", "Example Agent") }, "is not its own URL"},
		{"not JSON", func(*docEnv) http.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>moved</html>") }
		}, "it is not JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, id, serve := expiredDocument(t)
			serve(tc.serve(d))
			if err := d.loadError(id); !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("got %v, want it to say %q", err, tc.reason)
			}
			d.clock.Advance(failureCache)
			serve(status(http.StatusServiceUnavailable))
			if err := d.loadError(id); !strings.Contains(err.Error(), "answered HTTP 503") {
				t.Errorf("host down after the withdrawal: %v", err)
			}
		})
	}
}

// Junk URLs anyone can name on a client's host, or under names of their
// own pointing at its address, spend a budget of their own: the real
// document is still fetched anew, not merely served stale.
func TestJunkURLsDoNotStarveKnownDocuments(t *testing.T) {
	for _, tc := range []struct {
		name string
		junk func(d *docEnv, i int) string
		want string // what the next junk URL is refused with
	}{
		{"same host", func(d *docEnv, i int) string { return d.url(fmt.Sprintf("/junk%d.json", i)) }, "too many documents were fetched from client.example"},
		{"names pointing at its address", func(d *docEnv, i int) string {
			return fmt.Sprintf("https://n%d.client.example:%s/c.json", i, d.host.Port())
		}, "from the address of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			id := d.url("/real.json")
			serve := d.swappable("/real.json")
			serve(d.document("/real.json", "Example Agent"))
			d.load(id)
			d.clock.Advance(defaultDocumentCache)
			for i := range hostFetchLimit {
				d.loadError(tc.junk(d, i))
			}
			if err := d.loadError(tc.junk(d, hostFetchLimit)); !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("junk URL %d: %v, want the limit", hostFetchLimit+1, err)
			}
			d.srv.documents.client.CloseIdleConnections() // the refetch must dial
			serve(d.document("/real.json", "Renamed Agent"))
			if c := d.load(id); c.ClientName != "Renamed Agent" {
				t.Errorf("after %d junk URLs the real document was not fetched anew: %q", hostFetchLimit, c.ClientName)
			}
		})
	}
}

// Documents someone published and fetched once (on a host where anyone can
// publish) spend the known budget, which stays limited; a client users
// have signed in with is refreshed from a budget of its own.
func TestSignedInClientRefreshedBeyondKnownBudget(t *testing.T) {
	d := newDocEnv(t, nil)
	usedID := d.url("/used.json")
	serve := d.swappable("/used.json")
	serve(d.document("/used.json", "Example Agent"))
	d.codeFlow(registered{id: usedID, redirect: "http://localhost:41234/callback"})
	d.clock.Advance(hostFetchWindow)
	var known []string
	for i := range hostFetchLimit + 1 {
		if i == hostFetchLimit {
			d.clock.Advance(hostFetchWindow) // the first fetches spend the budget of new URLs
		}
		c := d.publish(fmt.Sprintf("/k%d.json", i), nil)
		d.load(c.id)
		known = append(known, c.id)
	}
	d.clock.Advance(defaultDocumentCache)
	for i, id := range known {
		if i < hostFetchLimit {
			d.load(id)
		} else {
			d.loadError(id) // held back, and no stored copy stands in for our own limit
		}
	}
	if n := d.host.Hits("") - 1 - len(known); n != hostFetchLimit {
		t.Errorf("%d stored documents were fetched again %d times in one minute, want the limit of %d", len(known), n, hostFetchLimit)
	}
	serve(d.document("/used.json", "Renamed Agent"))
	if c := d.load(usedID); c.ClientName != "Renamed Agent" {
		t.Errorf("the signed-in client's document was not fetched anew: %q", c.ClientName)
	}
}

// A panic while loading becomes the waiting requests' error instead of
// taking down the server (the call runs outside net/http's recovery), and
// the next request for the key starts a new call.
func TestFlightPanicBecomesAnError(t *testing.T) {
	g := flightGroup[int]{limit: time.Minute}
	_, err := g.do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v, want the panic as an error", err)
	}
	if v, err := g.do(context.Background(), "k", func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("the next call: %d, %v", v, err)
	}
}

// Stored documents under many names pointing at one address (names an
// attacker once pointed at a host of their own) are still limited per
// address when fetched again: the gateway must not hammer the address they
// point at now.
func TestKnownDocumentsStillLimitedPerAddress(t *testing.T) {
	var names []string
	for i := range hostFetchLimit + 1 {
		names = append(names, fmt.Sprintf("n%d.client.example", i))
	}
	host := testCA.NewDocumentHost(t, names...)
	e := newEnv(t, func(c *Config) {
		c.ClientMetadataDocuments.AllowPrivateAddresses = true
		c.ClientMetadataDocuments.Resolve = resolveTo("127.0.0.1")
	})
	d := &docEnv{env: e, host: host}
	var ids []string
	for i, name := range names {
		if i == hostFetchLimit {
			d.clock.Advance(hostFetchWindow) // the first fetches spend the budget of new URLs
		}
		path := fmt.Sprintf("/c%d.json", i)
		id := "https://" + name + ":" + host.Port() + path
		host.JSON(path, `{"client_id":`+strconvQuote(id)+`,"redirect_uris":["http://localhost/callback"]}`)
		d.load(id)
		ids = append(ids, id)
	}
	d.clock.Advance(defaultDocumentCache)
	d.srv.documents.client.CloseIdleConnections() // every refetch must dial
	before := host.Connections()
	for i, id := range ids {
		if i < hostFetchLimit {
			d.load(id)
		} else {
			d.loadError(id) // held back, and no stored copy stands in for our own limit
		}
	}
	if n := host.Connections() - before; n != hostFetchLimit {
		t.Errorf("%d stored documents on one address were fetched again over %d connections in one minute, want the limit of %d", len(ids), n, hostFetchLimit)
	}
}

// The host name spelled with the root's trailing dot shares the host's
// budget instead of opening a second one.
func TestTrailingDotSharesTheHostBudget(t *testing.T) {
	d := newDocEnv(t, nil)
	for i := range hostFetchLimit {
		d.loadError(d.url(fmt.Sprintf("/junk%d.json", i)))
	}
	id := "https://client.example.:" + d.host.Port() + "/c.json"
	if err := d.loadError(id); !strings.Contains(err.Error(), "too many documents were fetched from client.example") {
		t.Errorf("got %v, want the host's limit", err)
	}
	if n := d.host.Hits("/c.json"); n != 0 {
		t.Errorf("the document was fetched %d times past the limit", n)
	}
}

// faultyDocuments is a storage whose writes of document records hang until
// their context ends (hang: each hung write's context error is sent on
// ended), or whose deletes of document records fail (failDelete).
type faultyDocuments struct {
	Storage
	hang, failDelete atomic.Bool
	hung             chan struct{}
	ended            chan error
}

// faultDocuments puts a faultyDocuments in front of d's storage, before
// anything is loaded.
func faultDocuments(d *docEnv) *faultyDocuments {
	f := &faultyDocuments{Storage: d.srv.store.Storage, hung: make(chan struct{}, 1), ended: make(chan error, 1)}
	d.srv.store.Storage = f
	return f
}

func isDocumentKey(key string) bool { return path.Base(path.Dir(key)) == nsDocuments }

func (f *faultyDocuments) Store(ctx context.Context, key string, value []byte) error {
	if isDocumentKey(key) && f.hang.Load() {
		f.hung <- struct{}{}
		<-ctx.Done()
		f.ended <- ctx.Err()
		return ctx.Err()
	}
	return f.Storage.Store(ctx, key, value)
}

func (f *faultyDocuments) Delete(ctx context.Context, key string) error {
	if isDocumentKey(key) && f.failDelete.Load() {
		return errors.New("storage unavailable")
	}
	return f.Storage.Delete(ctx, key)
}

// A load of a document runs detached from the request that started it, so
// its storage calls get a deadline of their own: a storage that does not
// answer (a PostgreSQL pool with no free connection) must not keep a
// goroutine for every URL a stranger names and abandons.
func TestDetachedLoadEndsWhenStorageHangs(t *testing.T) {
	d := newDocEnv(t, nil)
	f := faultDocuments(d)
	// Short, so the test does not wait for the real limit; no outcome
	// depends on its length.
	d.srv.documentFlights.limit = 50 * time.Millisecond
	f.hang.Store(true)
	id := d.publish("/c.json", nil).id
	ctx, cancel := context.WithCancel(context.Background())
	abandoned := make(chan error, 1)
	go func() {
		_, err := d.srv.loadClient(ctx, id)
		abandoned <- err
	}()
	<-f.hung
	cancel()
	if err := <-abandoned; !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned request got %v", err)
	}
	select {
	case err := <-f.ended:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the hung write ended with %v, want the load's deadline", err)
		}
	case <-time.After(30 * time.Second): // only a broken build gets here
		t.Fatal("the detached load is still waiting for the storage")
	}
	waitFor(t, "the load to end", func() bool { return d.srv.documentFlights.callersOf(id) == 0 })
}

// A withdrawn document whose copy could not be deleted never stands in
// either: the withdrawal is remembered, and deleting it tried again, until
// the copy is gone.
func TestWithdrawnDocumentNeverStandsInWhenDeleteFails(t *testing.T) {
	d := newDocEnv(t, nil)
	f := faultDocuments(d)
	id := d.url("/c.json")
	serve := d.swappable("/c.json")
	serve(d.document("/c.json", "Example Agent"))
	d.load(id)
	d.clock.Advance(defaultDocumentCache)
	f.failDelete.Store(true)
	serve(status(http.StatusNotFound))
	if err := d.loadError(id); !strings.Contains(err.Error(), "answered HTTP 404") {
		t.Fatalf("withdrawn: %v", err)
	}
	serve(status(http.StatusServiceUnavailable))
	for range 2 {
		d.clock.Advance(failureCache)
		if err := d.loadError(id); !strings.Contains(err.Error(), "answered HTTP 503") {
			t.Fatalf("host down after the withdrawal: %v", err)
		}
		if _, found, _ := d.srv.storedDocument(context.Background(), id); !found {
			t.Fatal("the copy is gone although deleting fails")
		}
	}
	f.failDelete.Store(false)
	d.clock.Advance(failureCache)
	d.loadError(id)
	if _, found, _ := d.srv.storedDocument(context.Background(), id); found {
		t.Error("the withdrawn copy is still stored once deleting works")
	}
	serve(d.document("/c.json", "Renamed Agent"))
	d.clock.Advance(failureCache)
	if c := d.load(id); c.ClientName != "Renamed Agent" {
		t.Errorf("republished: %q", c.ClientName)
	}
}

// A fetch this server held back by its own limit, or cut short because the
// caller's own time ran out, says nothing about the URL: it is not
// remembered, so the next fetch with room in its budget (or time) asks.
func TestOwnRefusalsNotRemembered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		refused func(d *docEnv) (context.Context, fetchClass)
	}{
		{"limit", func(d *docEnv) (context.Context, fetchClass) {
			for range hostFetchLimit {
				d.srv.documents.hosts.allow(hostBudget(fetchNew, "client.example"), d.clock.Now())
			}
			return context.Background(), fetchNew
		}},
		{"caller's deadline", func(d *docEnv) (context.Context, fetchClass) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, fetchKnown
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			u, _ := d.srv.checkDocumentURL(d.publish("/c.json", nil).id)
			ctx, class := tc.refused(d)
			if _, _, derr := d.srv.documents.fetch(ctx, u, class); derr == nil {
				t.Fatal("the refused fetch succeeded")
			}
			if _, _, derr := d.srv.documents.fetch(context.Background(), u, fetchKnown); derr != nil {
				t.Errorf("the next fetch: %v", derr)
			}
		})
	}
}

// Remembered withdrawals are bounded like the fetcher's other maps.
func TestRememberedWithdrawalsBounded(t *testing.T) {
	d := newDocEnv(t, nil)
	for i := range maxRememberedFailures {
		if !d.srv.documents.withdraw(fmt.Sprintf("https://client.example/c%d.json", i), e0) {
			t.Fatalf("withdrawal %d not remembered", i)
		}
	}
	if d.srv.documents.withdraw("https://client.example/one-more.json", e0) {
		t.Errorf("%d withdrawals remembered, want at most %d", maxRememberedFailures+1, maxRememberedFailures)
	}
	if !d.srv.documents.withdraw("https://client.example/c0.json", e0.Add(time.Hour)) {
		t.Error("a remembered URL's newer withdrawal was dropped")
	}
}

// TestStoredDocumentNeverStandsInForOurOwnLimit: when this server's own
// per-host or per-address budget holds the refetch back, the stored copy
// does not stand in: anyone able to publish documents on the host can
// spend the budget, and the redirect URIs of the copy may be ones the
// owner removed because they were taken over.
func TestStoredDocumentNeverStandsInForOurOwnLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spend func(d *docEnv)
	}{
		{"host budget spent", func(d *docEnv) {
			for range hostFetchLimit {
				d.srv.documents.hosts.allow(hostBudget(fetchKnown, "client.example"), d.clock.Now())
			}
		}},
		{"address budget spent", func(d *docEnv) {
			for range hostFetchLimit {
				d.srv.documents.hosts.allow(addressBudget(fetchKnown, netip.MustParseAddr("127.0.0.1")), d.clock.Now())
			}
			d.srv.documents.client.CloseIdleConnections() // the refetch must dial
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, id, _ := expiredDocument(t)
			tc.spend(d)
			if err := d.loadError(id); !strings.Contains(err.Error(), "too many documents were fetched") {
				t.Fatalf("error %q, want the limit named", err)
			}
		})
	}
}

// expiredDocument returns an environment whose document at /c.json (id)
// was loaded and stored, and is now past its cache lifetime; serve
// changes what the host answers for it.
func expiredDocument(t *testing.T) (d *docEnv, id string, serve func(http.HandlerFunc)) {
	t.Helper()
	d = newDocEnv(t, nil)
	id = d.url("/c.json")
	serve = d.swappable("/c.json")
	serve(d.document("/c.json", "Example Agent"))
	d.load(id)
	d.clock.Advance(defaultDocumentCache)
	return d, id, serve
}
