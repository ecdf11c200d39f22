package authserver

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySet serves the public key of k as a JWK set.
func keySet(k *ecdsa.PrivateKey) http.HandlerFunc {
	b, _ := json.Marshal(publicJWKS(k, "k1"))
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}
}

// keyClientAt publishes a private_key_jwt document at path whose key set is
// at path+".jwks" on keys.example, served by the handler serveKeys sets
// (first the client's key set).
func (d *docEnv) keyClientAt(t *testing.T, path string) (c *keyClient, serveKeys func(http.HandlerFunc)) {
	key := newSigningKey(t)
	serveKeys = d.swappable(path + ".jwks")
	serveKeys(keySet(key))
	jwksURI := "https://keys.example:" + d.host.Port() + path + ".jwks"
	reg := d.publish(path, map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwksURI})
	return &keyClient{registered: reg, key: key, kid: "k1"}, serveKeys
}

// rotate gives c a new key, published in place of the old one: only a key
// set fetched anew verifies its assertions, a stale one does not.
func (c *keyClient) rotate(t *testing.T, serveKeys func(http.HandlerFunc)) {
	c.key = newSigningKey(t)
	serveKeys(keySet(c.key))
}

// authenticate presents an assertion of c with an unknown refresh token:
// invalid_grant (400) means c was authenticated, invalid_client (401) not.
func (d *docEnv) authenticate(t *testing.T, c *keyClient) (int, map[string]any) {
	t.Helper()
	grant := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"unknown"}}
	status, m, _ := d.postForm("/token", assertionForm(d.assertion(t, *c, nil), grant), "", "")
	return status, m
}

// passes fails unless c authenticates at the token endpoint (the made-up
// refresh token it presents is then what is refused).
func (d *docEnv) passes(t *testing.T, c *keyClient) {
	t.Helper()
	code, m := d.authenticate(t, c)
	wantError(t, code, m, http.StatusBadRequest, "invalid_grant")
}

// rotatedSignedInClient returns a client users have signed in with whose
// document and key set are past their cache lifetime and whose key was
// rotated at its host: only a fresh fetch of its key set verifies it.
func (d *docEnv) rotatedSignedInClient(t *testing.T) *keyClient {
	t.Helper()
	c, serveKeys := d.keyClientAt(t, "/agent.json")
	d.signIn(t, c)
	d.clock.Advance(defaultDocumentCache)
	c.rotate(t, serveKeys)
	return c
}

// signIn runs a code flow of c, so c is a client in use.
func (d *docEnv) signIn(t *testing.T, c *keyClient) {
	t.Helper()
	verifier, challenge := pkce()
	loc := d.browser().authorize(authParams(c.registered, challenge))
	status, m, _ := d.postForm("/token", assertionForm(d.assertion(t, *c, nil), url.Values{
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier},
	}), "", "")
	tokensOf(t, status, m)
}

// Junk client_ids anyone can name on the key set's host spend the budget of
// new URLs there; a stored client's key set is fetched in its own class, so
// it is still fetched anew (a rotated key verifies), not merely served stale.
func TestJunkClientIDsDoNotStarveAKeySet(t *testing.T) {
	d := newDocEnv(t, nil)
	c, serveKeys := d.keyClientAt(t, "/agent.json")
	d.passes(t, c)
	d.clock.Advance(defaultDocumentCache)
	c.rotate(t, serveKeys)
	junk := func(i int) string { return fmt.Sprintf("https://keys.example:%s/junk%d.json", d.host.Port(), i) }
	for i := range hostFetchLimit {
		d.loadError(junk(i))
	}
	if err := d.loadError(junk(hostFetchLimit)); !strings.Contains(err.Error(), "too many documents were fetched from keys.example") {
		t.Fatalf("junk URL %d: %v, want the limit", hostFetchLimit+1, err)
	}
	d.srv.documents.client.CloseIdleConnections() // the key set's fetch must dial
	d.passes(t, c)
}

// A stranger's documents, stored but never used, naming junk key sets on
// the host spend the budget of stored documents there; a client users have
// signed in with fetches its key set from a budget of its own.
func TestStrangersKeySetsDoNotStarveASignedInClient(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.rotatedSignedInClient(t)
	for i := range hostFetchLimit {
		junk := d.load(d.publish(fmt.Sprintf("/junk%d.json", i), map[string]any{
			"token_endpoint_auth_method": "private_key_jwt",
			"jwks_uri":                   fmt.Sprintf("https://keys.example:%s/junk%d.jwks", d.host.Port(), i),
		}).id)
		if _, err := d.srv.clientKeys(context.Background(), junk); err == nil || !strings.Contains(err.Error(), "answered HTTP 404") {
			t.Fatalf("junk key set %d: %v, want the host's 404", i, err)
		}
	}
	d.srv.documents.client.CloseIdleConnections() // the key set's fetch must dial
	d.passes(t, c)
}

// A fetch refused by this server's own limit is not remembered for the
// URL: a stranger's document naming a signed-in client's jwks_uri, fetched
// when the budget of stored documents is spent, must not hand that refusal
// to the client's own fetch, whose budget has room.
func TestKeySetRefusalNotHandedToAnotherBudget(t *testing.T) {
	d := newDocEnv(t, nil)
	c := d.rotatedSignedInClient(t)
	copied := d.load(d.publish("/copy.json", map[string]any{
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": c.jwksURI(d),
	}).id)
	for range hostFetchLimit {
		d.srv.documents.hosts.allow(hostBudget(fetchKnown, "keys.example"), d.clock.Now())
	}
	hits := d.host.Hits("/agent.json.jwks")
	d.srv.clientKeys(context.Background(), copied) // refused by the limit
	if d.host.Hits("/agent.json.jwks") != hits {
		t.Fatal("the stranger's client fetched the key set past the limit")
	}
	d.passes(t, c)
}

// A signed-in client's request does not wait for, and take the result of,
// a fetch of its key set that a stranger's client naming the same jwks_uri
// started in a budget that then runs out (here at the address, held while
// it resolves the name).
func TestKeySetFetchNotSharedAcrossBudgets(t *testing.T) {
	var holding atomic.Bool
	resolving, release := make(chan struct{}, 1), make(chan struct{})
	d := newDocEnv(t, func(c *Config) {
		c.ClientMetadataDocuments.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host == "keys.example" && holding.CompareAndSwap(true, false) {
				resolving <- struct{}{}
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return resolveTo("127.0.0.1")(ctx, host)
		}
	})
	c := d.rotatedSignedInClient(t)
	copied := d.load(d.publish("/copy.json", map[string]any{
		"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": c.jwksURI(d),
	}).id)
	for range hostFetchLimit {
		d.srv.documents.hosts.allow(addressBudget(fetchKnown, netip.MustParseAddr("127.0.0.1")), d.clock.Now())
	}
	d.srv.documents.client.CloseIdleConnections() // every fetch must dial
	holding.Store(true)
	go d.srv.clientKeys(context.Background(), copied)
	<-resolving
	answered := make(chan int, 1)
	go func() {
		code, _ := d.authenticate(t, c)
		answered <- code
	}()
	var code int
	waitFor(t, "the signed-in client's request to be answered or to wait for the stranger's fetch", func() bool {
		select {
		case code = <-answered:
			return true
		default:
			return d.srv.jwksFlights.callersOf(keySetFlight(fetchKnown, c.jwksURI(d))) == 2
		}
	})
	close(release)
	if code == 0 {
		code = <-answered
	}
	if code != http.StatusBadRequest {
		t.Errorf("the signed-in client got %d, want it authenticated (400 invalid_grant)", code)
	}
}

func (c *keyClient) jwksURI(d *docEnv) string {
	return "https://keys.example:" + d.host.Port() + strings.TrimPrefix(c.id, d.url("")) + ".jwks"
}

// When fetching a key set again learns nothing about it, the last good set
// stands in for StaleGrace past its expiry, logged once, as a stored
// document does.
func TestLastGoodKeySetStandsIn(t *testing.T) {
	d, logs := newLoggedDocEnv(t, nil)
	c, serveKeys := d.keyClientAt(t, "/agent.json")
	d.passes(t, c)
	d.clock.Advance(defaultDocumentCache)
	serveKeys(status(http.StatusServiceUnavailable))
	for range 2 {
		d.passes(t, c)
		d.clock.Advance(failureCache) // the next one tries the host again
	}
	if entries := logs.FilterMessageSnippet("stored copy of a JWK set").All(); len(entries) != 1 || entries[0].ContextMap()["url"] != c.jwksURI(d) {
		t.Errorf("log entries %v, want one naming the key set", entries)
	}
	d.clock.Advance(defaultStaleGrace)
	code, m := d.authenticate(t, c)
	wantError(t, code, m, http.StatusUnauthorized, "invalid_client")
	if !strings.Contains(m["error_description"].(string), "answered HTTP 503") {
		t.Errorf("after the grace: %v", m)
	}
}

// A key set fetch our own limit held back never lets the last good set
// stand in: whoever holds a key the owner rotated away because it leaked
// could spend the budget (the host's for a stored client, which strangers'
// documents there spend too; the address's for a signed-in one, which
// documents on other names pointing at it spend) to keep the key working
// for the grace.
func TestKeySetNeverStandsInForOurOwnLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		signedIn bool
		spend    func(d *docEnv)
		want     string
	}{
		{"host budget of a stored client", false, func(d *docEnv) {
			for range hostFetchLimit {
				d.srv.documents.hosts.allow(hostBudget(fetchKnown, "keys.example"), d.clock.Now())
			}
		}, "too many documents were fetched from keys.example"},
		{"address budget of a signed-in client", true, func(d *docEnv) {
			for range hostFetchLimit {
				d.srv.documents.hosts.allow(addressBudget(fetchInUse, netip.MustParseAddr("127.0.0.1")), d.clock.Now())
			}
			d.srv.documents.client.CloseIdleConnections() // the key set's fetch must dial
		}, "from the address of"}, // the document's refetch, on the same address, is held back too
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			c, serveKeys := d.keyClientAt(t, "/agent.json")
			if tc.signedIn {
				d.signIn(t, c)
			} else {
				d.passes(t, c)
			}
			leaked := *c
			c.rotate(t, serveKeys)
			d.clock.Advance(defaultDocumentCache)
			tc.spend(d)
			code, m := d.authenticate(t, &leaked)
			if code != http.StatusUnauthorized || !strings.Contains(m["error_description"].(string), tc.want) {
				t.Errorf("the rotated-away key past its set's expiry: %d %v, want invalid_client saying %q", code, m, tc.want)
			}
		})
	}
}

// A key set its host says is gone, or that cannot be used, ends the
// client's keys at once: the old set must not come back when the host is
// next down (or made busy by someone who wants the old keys back).
func TestWithdrawnKeySetNeverStandsIn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve http.HandlerFunc
		want  string
	}{
		{"404", status(http.StatusNotFound), "answered HTTP 404"},
		{"no keys", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"keys":[]}`))
		}, "not a JSON Web Key Set with keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDocEnv(t, nil)
			c, serveKeys := d.keyClientAt(t, "/agent.json")
			d.passes(t, c)
			d.clock.Advance(defaultDocumentCache)
			serveKeys(tc.serve)
			code, m := d.authenticate(t, c)
			if code != http.StatusUnauthorized || !strings.Contains(m["error_description"].(string), tc.want) {
				t.Fatalf("got %d %v, want invalid_client saying %q", code, m, tc.want)
			}
			d.clock.Advance(failureCache)
			serveKeys(status(http.StatusServiceUnavailable))
			code, m = d.authenticate(t, c)
			if code != http.StatusUnauthorized || !strings.Contains(m["error_description"].(string), "answered HTTP 503") {
				t.Errorf("host down after the withdrawal: %d %v", code, m)
			}
		})
	}
}

// A full key set cache makes room with the sets whose grace is over before
// it evicts any that could still stand in, even the sets of clients in use
// and older ones.
func TestFullKeySetCacheKeepsSetsInTheirGrace(t *testing.T) {
	j := newJWKSCache(defaultStaleGrace)
	set := new(jose.JSONWebKeySet)
	j.put("https://keys.example/last-good.jwks", set, e0, e0.Add(-time.Hour), false)
	for i := range maxCachedJWKS - 1 {
		fetched := e0.Add(-defaultStaleGrace - 2*time.Hour)
		j.put(fmt.Sprintf("https://keys.example/old%d.jwks", i), set, fetched.Add(time.Hour), fetched, true)
	}
	j.put("https://keys.example/new.jwks", set, e0.Add(time.Hour), e0, false)
	if last, _ := j.stale("https://keys.example/last-good.jwks", e0); last != set {
		t.Error("a set in its grace was forgotten while sets past theirs were kept")
	}
	if len(j.sets) != 2 {
		t.Errorf("%d sets cached, want the sets past their grace gone", len(j.sets))
	}
}

// Strangers filling the key set cache with sets still in their grace evict
// one another, oldest first, never the last good set of a client someone
// has signed in with: emptying the full cache whole would let them wipe it,
// so it no longer stands in when its host is down.
func TestStrangersCannotWipeASignedInClientsKeySet(t *testing.T) {
	j := newJWKSCache(defaultStaleGrace)
	set := new(jose.JSONWebKeySet)
	j.put("https://keys.example/signed-in.jwks", set, e0, e0, true)
	// A stranger's client naming the same jwks_uri fetches it too.
	j.put("https://keys.example/signed-in.jwks", set, e0, e0, false)
	stranger := func(i int) string { return fmt.Sprintf("https://evil%d.example/k.jwks", i) }
	for i := range 2 * maxCachedJWKS {
		fetched := e0.Add(time.Duration(i) * time.Second)
		j.put(stranger(i), set, fetched.Add(minDocumentCache), fetched, false)
	}
	now := e0.Add(2 * maxCachedJWKS * time.Second)
	if last, _ := j.stale("https://keys.example/signed-in.jwks", now); last != set {
		t.Error("strangers' sets wiped the signed-in client's last good set")
	}
	if len(j.sets) != maxCachedJWKS {
		t.Errorf("%d sets cached, want the bound of %d", len(j.sets), maxCachedJWKS)
	}
	if old, _ := j.stale(stranger(maxCachedJWKS), now); old != nil {
		t.Error("an older stranger's set was kept while newer ones were evicted")
	}
	if newest, _ := j.stale(stranger(maxCachedJWKS+1), now); newest != set {
		t.Error("a newer stranger's set was evicted while an older one was kept")
	}
}

// When every set in a full cache is a signed-in client's, the oldest makes
// room.
func TestFullKeySetCacheOfClientsInUseEvictsTheOldest(t *testing.T) {
	j := newJWKSCache(defaultStaleGrace)
	set := new(jose.JSONWebKeySet)
	uri := func(i int) string { return fmt.Sprintf("https://keys%d.example/k.jwks", i) }
	for i := range maxCachedJWKS + 1 {
		fetched := e0.Add(time.Duration(i) * time.Second)
		j.put(uri(i), set, fetched.Add(time.Hour), fetched, true)
	}
	now := e0.Add(maxCachedJWKS * time.Second)
	if oldest, _ := j.stale(uri(0), now); oldest != nil {
		t.Error("the oldest set was kept")
	}
	if next, _ := j.stale(uri(1), now); next != set {
		t.Error("a set other than the oldest was evicted")
	}
}

// A signed-in client's key set, fetched in its budget, is kept as one in
// use: strangers' sets filling the cache do not evict it, and it stands in
// when its host is down.
func TestSignedInClientsKeySetOutlivesAFullCache(t *testing.T) {
	d := newDocEnv(t, nil)
	c, serveKeys := d.keyClientAt(t, "/agent.json")
	d.signIn(t, c)
	d.clock.Advance(defaultDocumentCache)
	code, m := d.authenticate(t, c) // fetched again, as the set of a client in use
	wantError(t, code, m, http.StatusBadRequest, "invalid_grant")
	for i := range maxCachedJWKS {
		fetched := d.clock.Now().Add(time.Duration(i+1) * time.Second) // after the client's set
		d.srv.jwksCache.put(fmt.Sprintf("https://evil%d.example/k.jwks", i), new(jose.JSONWebKeySet), fetched.Add(minDocumentCache), fetched, false)
	}
	d.clock.Advance(defaultDocumentCache)
	serveKeys(status(http.StatusServiceUnavailable))
	d.passes(t, c)
}
