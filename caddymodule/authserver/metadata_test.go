package authserver

import (
	"net/http"
	"slices"
	"testing"
)

func TestMetadataServedAtEveryDiscoveryPath(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{
		"/.well-known/oauth-authorization-server",
		"/.well-known/oauth-authorization-server/mcp",
		"/.well-known/openid-configuration",
		"/.well-known/openid-configuration/mcp",
		"/mcp/.well-known/openid-configuration",
	} {
		resp, body := e.do(http.MethodGet, p, nil, "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// The document depends on the request's Host: no cache may share it.
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", p, cc)
		}
		m := decodeObject(t, body)
		iss := e.ts.URL
		want := map[string]any{
			"issuer": iss, "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"registration_endpoint": iss + "/register", "revocation_endpoint": iss + "/revoke", "jwks_uri": iss + "/jwks",
			"authorization_response_iss_parameter_supported": true,
			"client_id_metadata_document_supported":          true,
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v, want %v", p, k, m[k], v)
			}
		}
		for k, v := range map[string][]string{
			"code_challenge_methods_supported":      {"S256"},
			"response_types_supported":              {"code"},
			"token_endpoint_auth_methods_supported": {"none", "client_secret_post", "client_secret_basic", "private_key_jwt"},
			"grant_types_supported":                 {"authorization_code", "refresh_token"}, // no client may use client_credentials here
			"scopes_supported":                      {"mcp", "mcp:admin", "offline_access"},
		} {
			if got := stringList(m[k]); !slices.Equal(got, v) {
				t.Errorf("%s: %s = %v, want %v", p, k, got, v)
			}
		}
	}
}

func stringList(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestMetadataIssuerFollowsOrigin(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Origin = func(*http.Request) string { return "https://gateway.example" }
	})
	_, body := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", nil, "")
	if m := decodeObject(t, body); m["issuer"] != "https://gateway.example" || m["token_endpoint"] != "https://gateway.example/token" {
		t.Fatalf("issuer/endpoints do not follow Origin: %v", m)
	}
}

func TestUnknownDiscoveryVariantsAre404JSON(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{
		"/.well-known/oauth-authorization-server/other",
		"/.well-known/openid-configuration/other",
		"/other/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server/mcp/x",
	} {
		resp, body := e.do(http.MethodGet, p, nil, "")
		if resp.StatusCode != http.StatusNotFound || decodeObject(t, body)["error"] == nil {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
		if e.srv.Routes()[p] != nil {
			t.Errorf("%s is routed", p)
		}
	}
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		if e.srv.Routes()[p] != nil {
			t.Errorf("the authorization server routes %s, which is the guard's", p)
		}
	}
}

// Routes names exactly the served discovery paths, with and without a
// trailing slash, and the endpoints.
func TestRoutesAreTheServedPaths(t *testing.T) {
	e := newEnv(t, nil)
	var got []string
	for p := range e.srv.Routes() {
		got = append(got, p)
	}
	slices.Sort(got)
	want := []string{
		"/.well-known/oauth-authorization-server", "/.well-known/oauth-authorization-server/",
		"/.well-known/oauth-authorization-server/mcp", "/.well-known/oauth-authorization-server/mcp/",
		"/.well-known/openid-configuration", "/.well-known/openid-configuration/",
		"/.well-known/openid-configuration/mcp", "/.well-known/openid-configuration/mcp/",
		"/authorize", "/jwks",
		"/mcp/.well-known/openid-configuration", "/mcp/.well-known/openid-configuration/",
		"/register", "/revoke", "/token",
	}
	if !slices.Equal(got, want) {
		t.Errorf("routes %q\nwant %q", got, want)
	}
	for _, p := range want {
		if resp, _ := e.do(http.MethodGet, p, nil, ""); resp.StatusCode == http.StatusNotFound {
			t.Errorf("%s: routed but 404", p)
		}
	}
}

func TestClosedRegistrationIsNotAdvertised(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Registration.Mode = RegistrationClosed })
	_, body := e.do(http.MethodGet, "/.well-known/oauth-authorization-server", nil, "")
	if _, ok := decodeObject(t, body)["registration_endpoint"]; ok {
		t.Fatal("registration_endpoint advertised while registration is closed")
	}
}

func TestCORSPreflightWithoutAuth(t *testing.T) {
	e := newEnv(t, nil)
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration/mcp", "/register", "/token", "/revoke", "/jwks"} {
		resp, _ := e.do(http.MethodOptions, p, http.Header{
			"Origin": {"http://localhost:6274"}, "Access-Control-Request-Method": {"POST"},
			"Access-Control-Request-Headers": {"content-type, mcp-protocol-version"},
		}, "")
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "*" ||
			resp.Header.Get("Access-Control-Allow-Methods") == "" {
			t.Errorf("%s: preflight %d %v", p, resp.StatusCode, resp.Header)
		}
	}
	resp, _ := e.do(http.MethodGet, "/jwks", nil, "")
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Error("no CORS header on the actual response")
	}
}
