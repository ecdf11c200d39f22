package authserver

import (
	"context"
	"net/url"
	"testing"
)

func TestRevokeRefreshTokenRevokesFamily(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	tok := e.codeFlow(c)
	other := e.publicClient()
	// Another client cannot revoke it.
	status, _, _ := e.postForm("/revoke", url.Values{"token": {tok.refresh}, "client_id": {other.id}}, "", "")
	if status != 200 {
		t.Fatal(status)
	}
	if status, m := e.refresh(c, tok.refresh); status != 200 {
		t.Fatalf("revoked by another client: %v", m)
	}
	status, m := e.refresh(c, tok.refresh) // within grace; now retire it properly
	fresh := tokensOf(t, status, m)
	status, _, _ = e.postForm("/revoke", url.Values{"token": {fresh.refresh}, "token_type_hint": {"refresh_token"}, "client_id": {c.id}}, "", "")
	if status != 200 {
		t.Fatal(status)
	}
	status, m = e.refresh(c, fresh.refresh)
	wantError(t, status, m, 400, "invalid_grant")
	cl := e.claimsOf(fresh.access)
	if revoked, _ := e.srv.IsRevoked(context.Background(), cl.ID, cl.GrantID); !revoked {
		t.Fatal("access token of the revoked family still valid")
	}
}

func TestRevokeAccessToken(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	tok := e.codeFlow(c)
	cl := e.claimsOf(tok.access)
	other := e.publicClient()
	e.postForm("/revoke", url.Values{"token": {tok.access}, "client_id": {other.id}}, "", "")
	if revoked, _ := e.srv.IsRevoked(context.Background(), cl.ID, cl.GrantID); revoked {
		t.Fatal("another client revoked the token")
	}
	status, _, _ := e.postForm("/revoke", url.Values{"token": {tok.access}, "client_id": {c.id}}, "", "")
	if status != 200 {
		t.Fatal(status)
	}
	if revoked, _ := e.srv.IsRevoked(context.Background(), cl.ID, ""); !revoked {
		t.Fatal("access token not revoked")
	}
	// The family itself lives on.
	if status, m := e.refresh(c, tok.refresh); status != 200 {
		t.Fatalf("refresh after access-token revocation: %v", m)
	}
}

func TestRevokeNeedsClientAndToken(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	status, m, _ := e.postForm("/revoke", url.Values{"token": {"x"}, "client_id": {"unknown"}}, "", "")
	wantError(t, status, m, 401, "invalid_client")
	status, m, _ = e.postForm("/revoke", url.Values{"client_id": {c.id}}, "", "")
	wantError(t, status, m, 400, "invalid_request")
	status, _, _ = e.postForm("/revoke", url.Values{"token": {"unknown.token"}, "client_id": {c.id}}, "", "")
	if status != 200 {
		t.Fatalf("unknown token: %d", status)
	}
}

// IsRevoked caches no "not revoked" answer: the guard's
// revocation_check_interval is the one documented bound, so another
// instance's revocation is seen at the next question, not a cache TTL later.
func TestIsRevokedSeesAnotherInstanceAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	tok := e.codeFlow(c)
	cl := e.claimsOf(tok.access)
	second := startEnv(t, e.clock, e.storage, nil)
	if revoked, _ := second.srv.IsRevoked(context.Background(), cl.ID, cl.GrantID); revoked {
		t.Fatal("revoked too early")
	}
	e.postForm("/revoke", url.Values{"token": {tok.refresh}, "client_id": {c.id}}, "", "")
	if revoked, _ := second.srv.IsRevoked(context.Background(), cl.ID, cl.GrantID); !revoked {
		t.Fatal("second instance does not see the revocation")
	}
	if revoked, _ := second.srv.IsRevoked(context.Background(), "../../etc", ""); !revoked {
		t.Fatal("an id this server never issued counts as valid")
	}
}
