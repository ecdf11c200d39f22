package authserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// A client whose id is a URL cannot be deleted; RevokeClient records its
// revocation before it lists the client's grants (clientrevocation.go).
// These tests run it in the middle of the client's code exchange and
// authorization, and check what users approved before no longer counts.

// docClientEnv is an instance with a document client, and the operator's
// process, on storage whose reads can be held.
type docClientEnv struct {
	*docEnv
	client   registered
	held     *interleaved // the instance's
	operator *Server
	hooks    *interleaved // the operator's
}

func startDocClientEnv(t *testing.T, storages clusterStorage) *docClientEnv {
	t.Helper()
	host := testCA.NewDocumentHost(t, "client.example")
	sa, sb := storages(t)
	instance, held := interleave(sa)
	e := startInstance(t, &clock{t: e0}, instance, func(c *Config) {
		c.ClientMetadataDocuments.AllowPrivateAddresses = true
		c.ClientMetadataDocuments.Resolve = resolveTo("127.0.0.1")
	})
	watched, hooks := interleave(sb)
	operator, err := New(e.cfg, watched, nil) // `caddy mcp revoke client <url>`
	if err != nil {
		t.Fatal(err)
	}
	d := &docEnv{env: e, host: host}
	return &docClientEnv{docEnv: d, client: d.publish("/c.json", nil), held: held, operator: operator, hooks: hooks}
}

// revoke runs the operator's RevokeClient of the document client.
func (de *docClientEnv) revoke() {
	de.t.Helper()
	if _, err := de.operator.RevokeClient(de.t.Context(), de.client.id); err != nil {
		de.t.Fatal(err)
	}
}

// asks reports whether b's authorization of the client shows the consent
// page, rather than a code at once.
func (de *docClientEnv) asks(b *browser, scope string) bool {
	de.t.Helper()
	_, challenge := pkce()
	q := authParams(de.client, challenge)
	q.Set("scope", scope)
	resp, page := b.get(q)
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="password"`) {
		resp, page = b.login(page)
	}
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`) {
		return true
	}
	location(de.t, resp)
	return false
}

// TestACodeRedeemedDuringRevokeClientOfADocumentClientGivesNothing: the
// operator's RevokeClient of a client id URL listed the client's grants,
// then a code approved before was redeemed and committed a grant that
// list does not have: the exchange sees the revocation, revokes the grant
// and gives no tokens. On file storage and PostgreSQL.
func TestACodeRedeemedDuringRevokeClientOfADocumentClientGivesNothing(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		de := startDocClientEnv(t, storages)
		verifier, challenge := pkce()
		code := de.browser().authorize(authParams(de.client, challenge)).Query().Get("code")
		var (
			status int
			m      map[string]any
		)
		de.hooks.afterList = func() {
			status, m, _ = de.postForm("/token", codeForm(de.client, code, verifier), "", "")
		}
		de.revoke()
		if status == 0 {
			t.Fatal("setup: the exchange did not run during RevokeClient")
		}
		wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		if live := liveGrants(t, de.env, de.client.id); len(live) != 0 {
			t.Fatalf("grants of the revoked client live: %+v", live)
		}
	})
}

// TestASilentCodeOnAnApprovalFromBeforeRevokeClientGivesNothing: the
// user's authorization found their remembered approval standing (the
// revocation was not recorded yet), then the operator's RevokeClient ran
// to its end, then the code was issued, after the revocation: it rests on
// the approval from before, and redeems nothing. On file storage and
// PostgreSQL.
func TestASilentCodeOnAnApprovalFromBeforeRevokeClientGivesNothing(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		de := startDocClientEnv(t, storages)
		b := de.browser()
		de.codeFlowIn(b)
		de.clock.Advance(time.Minute)
		revoked := false
		de.held.onLoad(de.srv.clientRevocationKey(de.client.id), func() {
			de.revoke()
			revoked = true
			de.clock.Advance(time.Second) // the code is issued after the revocation
		})
		verifier, challenge := pkce()
		loc := b.authorize(authParams(de.client, challenge))
		if !revoked {
			t.Fatal("setup: RevokeClient did not run during the authorization")
		}
		status, m, _ := de.postForm("/token", codeForm(de.client, loc.Query().Get("code"), verifier), "", "")
		wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
		if live := liveGrants(t, de.env, de.client.id); len(live) != 0 {
			t.Fatalf("grants of the revoked client live: %+v", live)
		}
		if !de.asks(b, "mcp") {
			t.Error("the authorization after RevokeClient did not ask again")
		}
	})
}

// codeFlowIn authorizes the client in b, approving it, and redeems the
// code.
func (de *docClientEnv) codeFlowIn(b *browser) tokens {
	de.t.Helper()
	verifier, challenge := pkce()
	loc := b.authorize(authParams(de.client, challenge))
	status, m, _ := de.postForm("/token", codeForm(de.client, loc.Query().Get("code"), verifier), "", "")
	return tokensOf(de.t, status, m)
}

// TestRevokeClientOfADocumentClient: a code approved before does not
// redeem, the refresh token is refused, the user is asked again, and
// once they approve the client works again (it comes back when used).
func TestRevokeClientOfADocumentClient(t *testing.T) {
	de := startDocClientEnv(t, fileCluster)
	b := de.browser()
	before := de.codeFlowIn(b)
	verifier, challenge := pkce()
	code := b.authorize(authParams(de.client, challenge)).Query().Get("code")
	de.clock.Advance(time.Second)
	de.revoke()
	de.clock.Advance(time.Second)
	status, m, _ := de.postForm("/token", codeForm(de.client, code, verifier), "", "")
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	status, m = de.refresh(de.client, before.refresh)
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	if !de.asks(b, "mcp") {
		t.Fatal("the authorization after RevokeClient did not ask again")
	}
	after := de.codeFlowIn(b)
	if status, m := de.refresh(de.client, after.refresh); status != http.StatusOK {
		t.Fatalf("the client approved again after RevokeClient: refresh %d %v", status, m)
	}
	if de.asks(b, "mcp") {
		t.Error("the approval given after RevokeClient is not remembered")
	}
}

// TestAnApprovalFromBeforeRevokeClientDoesNotStand: an approval of the
// client written back after RevokeClient forgot the approvals (an
// approval submitted before, stored late) does not make the next
// authorization silent, nor do its scopes come back with a narrower
// approval given after.
func TestAnApprovalFromBeforeRevokeClientDoesNotStand(t *testing.T) {
	de := startDocClientEnv(t, fileCluster)
	ctx := t.Context()
	b := de.browser()
	_, challenge := pkce()
	q := authParams(de.client, challenge)
	q.Set("scope", "mcp mcp:admin")
	b.authorize(q)
	key := de.srv.consentKey(testUser, de.client.id)
	var late consent
	if found, err := de.srv.store.get(ctx, key, &late); !found || err != nil {
		t.Fatalf("setup: the approval was not remembered (%v)", err)
	}
	de.clock.Advance(time.Second)
	de.revoke()
	if err := de.srv.store.put(ctx, key, late); err != nil {
		t.Fatal(err)
	}
	de.clock.Advance(time.Second)
	if !de.asks(b, "mcp") {
		t.Fatal("an approval from before RevokeClient made the authorization silent")
	}
	b.authorize(authParams(de.client, challenge)) // approves "mcp" only
	if !de.asks(b, "mcp mcp:admin") {
		t.Error("mcp:admin, approved before RevokeClient, came back with the approval of mcp after it")
	}
}

// TestRevokeClientForgetsTheClientsApprovals: every user's approvals of
// the client go, those written before approvals named their user
// included (found through the user's grant); approvals of other clients
// stay.
func TestRevokeClientForgetsTheClientsApprovals(t *testing.T) {
	de := startDocClientEnv(t, fileCluster)
	ctx := t.Context()
	de.codeFlowIn(de.browser()) // alice's grant and approval
	other := de.publish("/other.json", nil)
	live := map[string]approval{"r": {Scopes: []string{"mcp"}, ExpiresAt: de.clock.Now().Add(time.Hour)}}
	records := map[string]consent{
		de.srv.consentKey(testUser, de.client.id): {Resources: live}, // written before consents named their user
		de.srv.consentKey("bob", de.client.id):    {Subject: "bob", Resources: live},
		de.srv.consentKey("bob", other.id):        {Subject: "bob", Resources: live},
		de.srv.consentKey(testUser, other.id):     {Resources: live},
	}
	for k, v := range records {
		if err := de.srv.store.put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	de.revoke()
	for k, v := range records {
		found, err := de.srv.store.get(ctx, k, &consent{})
		if err != nil {
			t.Fatal(err)
		}
		if want := k == de.srv.consentKey("bob", other.id) || k == de.srv.consentKey(testUser, other.id); found != want {
			t.Errorf("approval %s of %q kept: %v, want %v", k, v.Subject, found, want)
		}
	}
}

// TestAClientRevocationIsSweptOnceNothingFromBeforeIsValid: the record
// stays while an approval from before it, and a code issued on one, could
// still be used.
func TestAClientRevocationIsSweptOnceNothingFromBeforeIsValid(t *testing.T) {
	for name, consentLifetime := range map[string]time.Duration{"remembered": 24 * time.Hour, "not remembered": -1} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.ConsentLifetime, c.CodeLifetime = consentLifetime, time.Minute })
			id := "https://client.example/c.json"
			if _, err := e.srv.RevokeClient(t.Context(), id); err != nil {
				t.Fatal(err)
			}
			recorded := func() bool {
				t.Helper()
				if err := e.srv.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
				found, err := e.srv.store.get(t.Context(), e.srv.clientRevocationKey(id), &endMark{})
				if err != nil {
					t.Fatal(err)
				}
				return found
			}
			e.clock.Advance(max(consentLifetime, 0) + time.Minute)
			if !recorded() {
				t.Fatal("the revocation was swept while an approval or code from before could still be used")
			}
			e.clock.Advance(time.Second)
			if recorded() {
				t.Fatal("the revocation was not swept after the approvals and codes from before expired")
			}
		})
	}
}

// TestAnUnreadableClientRevocationRefuses: when storage cannot say
// whether the client was revoked, its code gives no tokens (server_error)
// and leaves no live grant, and a remembered approval does not make the
// authorization silent: an outage must not reopen what a revocation
// closed.
func TestAnUnreadableClientRevocationRefuses(t *testing.T) {
	var storage *unreadableRecords
	de := startDocClientEnv(t, func(t testing.TB) (a, b certmagic.Storage) {
		a, b = fileCluster(t)
		storage = &unreadableRecords{Storage: a, ns: nsRevokedClients}
		return storage, b
	})
	b := de.browser()
	de.codeFlowIn(b)
	verifier, challenge := pkce()
	code := b.authorize(authParams(de.client, challenge)).Query().Get("code")
	if code == "" {
		t.Fatal("setup: the approval was not remembered")
	}
	storage.fail.Store(true)
	if !de.asks(b, "mcp") {
		t.Error("a remembered approval stands while the client's revocation cannot be read")
	}
	status, m, _ := de.postForm("/token", codeForm(de.client, code, verifier), "", "")
	wantError(t, status, m, http.StatusInternalServerError, "server_error")
	if live := liveGrants(t, de.env, de.client.id); len(live) != 1 {
		t.Errorf("want only the grant from before the outage live, got %+v", live)
	}
}
