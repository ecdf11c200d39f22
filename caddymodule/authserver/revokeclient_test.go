package authserver

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// RevokeClient deletes a registered client before it lists the client's
// grants (admin.go): these tests run it in the middle of the client's
// token request, in a process of its own, as `caddy mcp revoke client`.

// clientEnv is an instance, a client of it with a code to redeem, and
// the operator's process, each on storage whose reads can be held.
type clientEnv struct {
	*env
	client   registered
	code     url.Values
	held     *interleaved // the instance's
	operator *Server
	hooks    *interleaved // the operator's
}

func startClientEnv(t *testing.T, storages clusterStorage) *clientEnv {
	t.Helper()
	c := &clock{t: e0}
	sa, sb := storages(t)
	instance, held := interleave(sa)
	e := startInstance(t, c, instance, nil)
	watched, hooks := interleave(sb)
	operator, err := New(e.cfg, watched, nil) // `caddy mcp revoke client`
	if err != nil {
		t.Fatal(err)
	}
	cl := e.publicClient()
	verifier, challenge := pkce()
	code := codeForm(cl, e.browser().authorize(authParams(cl, challenge)).Query().Get("code"), verifier)
	return &clientEnv{env: e, client: cl, code: code, held: held, operator: operator, hooks: hooks}
}

// clientKey is the key of the client's record.
func (ce *clientEnv) clientKey() string { return ce.srv.store.key(nsClients, ce.client.id+".json") }

// liveGrants returns the client's grants that are not revoked.
func liveGrants(t *testing.T, e *env, clientID string) []GrantInfo {
	t.Helper()
	grants, err := e.srv.Grants(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var live []GrantInfo
	for _, g := range grants {
		if g.ClientID == clientID && !g.Revoked {
			live = append(live, g)
		}
	}
	return live
}

// TestACodeRedeemedDuringRevokeClientGivesNothing: the client
// authenticated, then the operator's RevokeClient listed the client's
// grants, then the client's code exchange committed a grant that list
// does not have: the exchange finds the client gone (RevokeClient deleted
// it before listing), revokes the grant and gives no tokens. On file
// storage and PostgreSQL.
func TestACodeRedeemedDuringRevokeClientGivesNothing(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		ce := startClientEnv(t, storages)
		type answer struct {
			status int
			m      map[string]any
		}
		authenticated, proceed, done := make(chan struct{}), make(chan struct{}), make(chan answer, 1)
		release := sync.OnceFunc(func() { close(proceed) })
		t.Cleanup(release)
		ce.held.onLoad(ce.clientKey(), func() {
			close(authenticated)
			<-proceed
		})
		go func() {
			status, m, _ := ce.postForm("/token", ce.code, "", "")
			done <- answer{status, m}
		}()
		<-authenticated
		var exchanged *answer
		ce.hooks.afterList = func() {
			release()
			a := <-done
			exchanged = &a
		}
		if _, err := ce.operator.RevokeClient(t.Context(), ce.client.id); err != nil {
			t.Fatal(err)
		}
		if exchanged == nil {
			t.Fatal("setup: the exchange did not run during RevokeClient")
		}
		wantError(t, exchanged.status, exchanged.m, http.StatusBadRequest, "invalid_grant")
		if live := liveGrants(t, ce.env, ce.client.id); len(live) != 0 {
			t.Fatalf("grants of the deleted client live: %+v", live)
		}
	})
}

// TestATokenRequestDuringRevokeClientDoesNotBringTheClientBack: the
// exchange passed its checks, then the operator deleted the client and
// revoked the grant; the request's record of the client's first use must
// not write the client back, or it would authenticate again with its
// secret and its redirect URIs. On file storage and PostgreSQL.
func TestATokenRequestDuringRevokeClientDoesNotBringTheClientBack(t *testing.T) {
	runOnClusters(t, func(t *testing.T, storages clusterStorage) {
		ce := startClientEnv(t, storages)
		revoked := false
		// Read once to authenticate the client, then once after the
		// exchange's commit: RevokeClient runs after that.
		ce.held.onLoad(ce.clientKey(), func() {
			ce.held.onLoad(ce.clientKey(), func() {
				if _, err := ce.operator.RevokeClient(t.Context(), ce.client.id); err != nil {
					t.Error(err)
				}
				revoked = true
			})
		})
		status, m, _ := ce.postForm("/token", ce.code, "", "")
		if !revoked {
			t.Fatal("setup: RevokeClient did not run during the exchange")
		}
		tokens := tokensOf(t, status, m) // the grant was listed, and revoked
		if live := liveGrants(t, ce.env, ce.client.id); len(live) != 0 {
			t.Fatalf("grants of the deleted client live: %+v", live)
		}
		if c, err := ce.srv.loadClient(t.Context(), ce.client.id); c != nil || err != nil {
			t.Fatalf("the deleted client is stored again (%v)", err)
		}
		status, m = ce.refresh(ce.client, tokens.refresh)
		wantError(t, status, m, http.StatusUnauthorized, "invalid_client")
	})
}
