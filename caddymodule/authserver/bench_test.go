package authserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// benchServer is a Server on file storage in a temporary directory, called
// in-process (no network), with one public and one confidential client.
func benchServer(b *testing.B) (s *Server, public, confidential registered) {
	b.Helper()
	s = benchServerOn(b, &certmagic.FileStorage{Path: b.TempDir()})
	public, confidential = benchClients(b, s)
	return s, public, confidential
}

// benchServerOn is a Server on storage, as benchServer configures it.
func benchServerOn(b *testing.B, storage Storage) *Server {
	b.Helper()
	cfg := testConfig(&clock{t: time.Now()})
	cfg.Now = time.Now
	allowClientCredentials(&cfg)
	s, err := New(cfg, storage, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchClients registers a public and a confidential client on s.
func benchClients(b *testing.B, s *Server) (public, confidential registered) {
	b.Helper()
	reg := func(body string) registered {
		rec := serve(s, http.MethodPost, "/register", "application/json", body, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+testInitialAccessToken)
		})
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m)
		secret, _ := m["client_secret"].(string)
		return registered{id: m["client_id"].(string), secret: secret, redirect: "http://127.0.0.1:1/cb"}
	}
	public = reg(`{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none"}`)
	confidential = reg(`{"redirect_uris":["http://127.0.0.1:1/cb"],"grant_types":["client_credentials"]}`)
	return public, confidential
}

func serve(s *Server, method, path, contentType, body string, mutate func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://gw.example"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if mutate != nil {
		mutate(req)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

const formType = "application/x-www-form-urlencoded"

// BenchmarkTokenIssuance: POST /token client_credentials (client
// authentication, scope and resource checks, signing an ES256 JWT).
func BenchmarkTokenIssuance(b *testing.B) {
	s, _, conf := benchServer(b)
	body := url.Values{"grant_type": {"client_credentials"}, "client_id": {conf.id}, "client_secret": {conf.secret}}.Encode()
	for b.Loop() {
		if rec := serve(s, http.MethodPost, "/token", formType, body, nil); rec.Code != http.StatusOK {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

// BenchmarkCodeExchange: POST /token authorization_code with PKCE (one-time
// use under lock, a new grant and refresh token, an access token).
func BenchmarkCodeExchange(b *testing.B) {
	s, pub, _ := benchServer(b)
	verifier, challenge := pkce()
	ctx := context.Background()
	var bodies []string
	for range 20000 {
		code := randomToken()
		s.store.put(ctx, s.codeKey(code), codeRecord{
			ClientID: pub.id, RedirectURI: pub.redirect, Challenge: challenge, Resource: "http://gw.example/mcp", Issuer: "http://gw.example",
			Scopes: []string{"mcp"}, Subject: "alice", Login: loginPassword, Credential: s.credentialOf("alice", loginPassword),
			GrantID: randomID(), ExpiresAt: time.Now().Add(time.Hour),
		})
		bodies = append(bodies, codeForm(pub, code, verifier).Encode())
	}
	i := 0
	for b.Loop() {
		if rec := serve(s, http.MethodPost, "/token", formType, bodies[i%len(bodies)], nil); rec.Code != http.StatusOK && i < len(bodies) {
			b.Fatal(rec.Code, rec.Body.String())
		}
		i++
	}
}

// BenchmarkRefresh: POST /token refresh_token, each iteration presenting the
// token the previous one returned (rotation under the family's lock).
func BenchmarkRefresh(b *testing.B) {
	s, pub, _ := benchServer(b)
	g := grant{ID: randomID(), ClientID: pub.id, Subject: "alice", Resource: "http://gw.example/mcp", Issuer: "http://gw.example", Scopes: []string{"mcp"},
		Login: loginPassword, Credential: s.credentialOf("alice", loginPassword), ExpiresAt: time.Now().Add(time.Hour)}
	refresh := g.newRefreshToken()
	s.store.put(context.Background(), s.grantKey(g.ID), g)
	for b.Loop() {
		rec := serve(s, http.MethodPost, "/token", formType, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {pub.id}}.Encode(), nil)
		var m map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
			b.Fatal(rec.Code, rec.Body.String())
		}
		refresh = m["refresh_token"].(string)
	}
}

// BenchmarkVerification: what a guard does per request: parse the JWT,
// verify its ES256 signature with the JWKS, decode the claims; and the
// revocation check on top (served from the cache).
func BenchmarkVerification(b *testing.B) {
	s, _, conf := benchServer(b)
	rec := serve(s, http.MethodPost, "/token", formType, url.Values{"grant_type": {"client_credentials"}, "client_id": {conf.id}, "client_secret": {conf.secret}}.Encode(), nil)
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	token := m["access_token"].(string)
	ctx := context.Background()
	verify := func() oauthwire.AccessClaims {
		jwks, err := s.VerificationKeys(ctx)
		if err != nil {
			b.Fatal(err)
		}
		tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			b.Fatal(err)
		}
		var cl oauthwire.AccessClaims
		if err := tok.Claims(jwks, &cl); err != nil {
			b.Fatal(err)
		}
		return cl
	}
	b.Run("jwt", func(b *testing.B) {
		for b.Loop() {
			verify()
		}
	})
	b.Run("jwt+revocation", func(b *testing.B) {
		for b.Loop() {
			cl := verify()
			if revoked, err := s.IsRevoked(ctx, cl.ID, cl.GrantID); revoked || err != nil {
				b.Fatal(revoked, err)
			}
		}
	})
}

// BenchmarkRegistration: POST /register of a public client (open policy).
func BenchmarkRegistration(b *testing.B) {
	s, _, _ := benchServer(b)
	body := `{"client_name":"bench","redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"]}`
	for b.Loop() {
		if rec := serve(s, http.MethodPost, "/register", "application/json", body, nil); rec.Code != http.StatusCreated {
			b.Fatal(rec.Code)
		}
	}
}
