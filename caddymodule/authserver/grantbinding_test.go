package authserver

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRefreshOfRevokedFamilySaysRevoked(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	tok := e.codeFlow(c)
	if status, _, _ := e.postForm("/revoke", url.Values{"token": {tok.refresh}, "client_id": {c.id}}, "", ""); status != http.StatusOK {
		t.Fatal(status)
	}
	status, m := e.refresh(c, tok.refresh)
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	if desc, _ := m["error_description"].(string); !strings.Contains(desc, "revoked") {
		t.Fatalf("error_description %q, want it to say the token was revoked", desc)
	}
	// Another client learns nothing about the family.
	other := e.publicClient()
	status, m = e.refresh(other, tok.refresh)
	if desc, _ := m["error_description"].(string); status != http.StatusBadRequest || desc != "unknown refresh token" {
		t.Fatalf("another client: %d %v", status, m)
	}
}

// postAt posts a form to path as if the request reached the gateway under
// host (another public origin of the same server).
func postAt(e *env, host, path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Host = host
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, decodeObject(e.t, string(b))
}

func TestGrantIsBoundToTheIssuerItWasAuthorizedAt(t *testing.T) {
	e := newEnv(t, nil)
	c := e.publicClient()
	u, _ := url.Parse(e.ts.URL)
	otherHost := "localhost:" + u.Port()
	verifier, challenge := pkce()
	code := e.authorizedCode(c, challenge)

	status, m := postAt(e, otherHost, "/token", codeForm(c, code, verifier))
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	status, m = postAt(e, u.Host, "/token", codeForm(c, code, verifier))
	tok := tokensOf(t, status, m)
	if iss := e.claimsOf(tok.access).Issuer; iss != e.ts.URL {
		t.Fatalf("iss %q", iss)
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.refresh}, "client_id": {c.id}}
	status, m = postAt(e, otherHost, "/token", refresh)
	wantError(t, status, m, http.StatusBadRequest, "invalid_grant")
	if status, m := postAt(e, u.Host, "/token", refresh); status != http.StatusOK {
		t.Fatalf("refresh at the issuer: %d %v", status, m)
	}
}
