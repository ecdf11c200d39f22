package authserver

import (
	"encoding/json"
	"testing"
)

// FuzzParseRegistration: any body yields either an error or metadata that
// satisfies the registration rules, and never panics.
func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(`{"redirect_uris":["http://127.0.0.1:5555/callback"],"token_endpoint_auth_method":"none"}`))
	f.Add([]byte(`{"client_name":"x","redirect_uris":["cursor://a/b"],"grant_types":["authorization_code","client_credentials"]}`))
	f.Add([]byte(`{"redirect_uris":null,"grant_types":["client_credentials"],"scope":"mcp other"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, e := parseRegistration(body, []string{"mcp"})
		if e != nil {
			if e.Code == "" || e.status != 400 {
				t.Fatalf("bad error %+v", e)
			}
			return
		}
		for _, u := range m.RedirectURIs {
			if checkRedirectURI(u) != nil {
				t.Fatalf("accepted redirect %q", u)
			}
		}
		if m.TokenEndpointAuthMethod == "" || m.RedirectURIs == nil || m.GrantTypes == nil || m.ResponseTypes == nil {
			t.Fatalf("unnormalized %+v", m)
		}
		out, err := json.Marshal(registrationResponse{ClientID: "x", clientMetadata: m})
		if err != nil || json.Valid(out) == false {
			t.Fatal(err)
		}
	})
}

// FuzzParseTokenForm: any form body yields either an OAuth error or a
// request with what its grant type needs.
func FuzzParseTokenForm(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("grant_type=authorization_code&code=abc&code_verifier=0123456789012345678901234567890123456789abc&client_id=c"))
	f.Add("application/x-www-form-urlencoded; charset=utf-8", []byte("grant_type=refresh_token&refresh_token=a.b"))
	f.Add("application/x-www-form-urlencoded", []byte("grant_type=client_credentials&scope=mcp&scope=x"))
	f.Add("text/plain", []byte("%zz"))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		form, e := parseFormBody(contentType, body)
		if e != nil {
			return
		}
		req, e := parseTokenRequest(form)
		if e != nil {
			if e.Code == "" {
				t.Fatal("error without code")
			}
			return
		}
		switch req.grantType {
		case grantCode:
			if req.code == "" || !pkceVerifier.MatchString(req.verifier) {
				t.Fatalf("code request accepted without code or verifier: %+v", req)
			}
		case grantRefresh:
			if req.refreshToken == "" {
				t.Fatal("refresh without token")
			}
		case grantClientCredentials:
		default:
			t.Fatalf("grant type %q accepted", req.grantType)
		}
	})
}
