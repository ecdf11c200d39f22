package upstreamlogin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/caddyserver/certmagic"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/internal/browsertest"
	"github.com/mcpgate/mcpgate/caddymodule/publicurl"
)

// githubStandIn answers like github.com and api.github.com, with bodies of
// the shapes GitHub's documentation records: GitHub cannot be reached from
// CI, so its HTTP exchange is tested against this stand-in. Its authorize
// page signs in user at once, as a browser already signed in to GitHub
// that authorized the app before.
type githubStandIn struct {
	ts *httptest.Server

	mu       sync.Mutex
	codes    map[string]string // code -> code_challenge
	tokens   map[string]bool   // live access tokens
	orgState map[string]string // org -> membership state ("" not a member)
	apiDown  bool
}

func startGitHub(t *testing.T) *githubStandIn {
	t.Helper()
	gh := &githubStandIn{codes: map[string]string{}, tokens: map[string]bool{}, orgState: map[string]string{"acme": "active"}}
	mux := http.NewServeMux()
	gh.ts = httptest.NewServer(mux)
	t.Cleanup(gh.ts.Close)
	mux.HandleFunc("/login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != "gh-client" || q.Get("code_challenge_method") != "S256" || !strings.Contains(q.Get("scope"), "read:org") {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		gh.mu.Lock()
		code := "code-" + rand16()
		gh.codes[code] = q.Get("code_challenge")
		gh.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		gh.mu.Lock()
		defer gh.mu.Unlock()
		challenge, ok := gh.codes[r.PostForm.Get("code")]
		delete(gh.codes, r.PostForm.Get("code"))
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		// GitHub answers a bad code with 200 and an error object.
		if !ok || r.PostForm.Get("client_secret") != "gh-secret" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired.", "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code"})
			return
		}
		token := "gho_" + rand16()
		gh.tokens[token] = true
		json.NewEncoder(w).Encode(map[string]string{"access_token": token, "token_type": "bearer", "scope": "read:org,read:user"})
	})
	api := func(w http.ResponseWriter, r *http.Request) bool {
		gh.mu.Lock()
		defer gh.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		if gh.apiDown {
			w.WriteHeader(http.StatusServiceUnavailable)
			return false
		}
		if !gh.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")] {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`))
			return false
		}
		return true
	}
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		if api(w, r) {
			w.Write([]byte(`{"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjU4MzIzMQ==","type":"User","site_admin":false,"name":"The Octocat","email":null}`))
		}
	})
	mux.HandleFunc("/user/memberships/orgs/{org}", func(w http.ResponseWriter, r *http.Request) {
		if !api(w, r) {
			return
		}
		gh.mu.Lock()
		state := gh.orgState[r.PathValue("org")]
		gh.mu.Unlock()
		if state == "" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest/orgs/members#get-an-organization-membership-for-the-authenticated-user","status":"404"}`))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"state": state, "role": "member", "organization": map[string]any{"login": r.PathValue("org")}, "user": map[string]any{"login": "octocat", "id": 583231}})
	})
	return gh
}

// change edits the stand-in's state under its lock.
func (gh *githubStandIn) change(edit func()) {
	gh.mu.Lock()
	defer gh.mu.Unlock()
	edit()
}

func rand16() string { return random()[:16] }

func newGitHub(t *testing.T, gh *githubStandIn, orgs ...string) *GitHub {
	t.Helper()
	g, err := NewGitHub(GitHubConfig{ClientID: "gh-client", ClientSecret: "gh-secret", AllowedOrgs: orgs, BaseURL: gh.ts.URL, APIURL: gh.ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// githubSignIn runs the sign-in with the stand-in and completes it.
func githubSignIn(t *testing.T, gh *githubStandIn, g *GitHub) (*authserver.UpstreamIdentity, error) {
	t.Helper()
	a := newAttempt()
	authURL, _ := g.AuthCodeURL(context.Background(), a)
	back, err := browsertest.New(nil).AuthorizeUpstream(authURL, gh.ts.URL, "GitHub", "", "", "approve")
	if err != nil {
		t.Fatal(err)
	}
	if back.Query().Get("state") != a.State {
		t.Fatalf("state %q", back.Query().Get("state"))
	}
	return g.Complete(context.Background(), a, back.Query())
}

func TestGitHubSignInNeedsAnActiveMembership(t *testing.T) {
	gh := startGitHub(t)
	id, err := githubSignIn(t, gh, newGitHub(t, gh, "other", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "https://github.com#583231" || id.Username != "octocat" || strings.Join(id.Groups, ",") != "acme" || id.RefreshToken == "" {
		t.Fatalf("identity %+v", id)
	}
	gh.change(func() { gh.orgState["acme"] = "pending" }) // invited, not joined
	_, err = githubSignIn(t, gh, newGitHub(t, gh, "acme"))
	if d, ok := err.(*authserver.UpstreamDenied); !ok || !strings.Contains(d.Reason, "not an active member of acme") {
		t.Fatalf("a pending membership: %v", err)
	}
	_, err = githubSignIn(t, gh, newGitHub(t, gh, "other"))
	if _, ok := err.(*authserver.UpstreamDenied); !ok {
		t.Fatalf("no membership: %v", err)
	}
}

func TestGitHubRefusesABadCodeOrVerifier(t *testing.T) {
	gh := startGitHub(t)
	g := newGitHub(t, gh, "acme")
	a := newAttempt()
	authURL, _ := g.AuthCodeURL(context.Background(), a)
	back, err := browsertest.New(nil).AuthorizeUpstream(authURL, gh.ts.URL, "GitHub", "", "", "approve")
	if err != nil {
		t.Fatal(err)
	}
	other := a
	other.Verifier = random() + random()
	if _, err := g.Complete(context.Background(), other, back.Query()); err == nil || !strings.Contains(err.Error(), "bad_verification_code") {
		t.Fatalf("wrong verifier: %v", err)
	}
}

func TestGitHubReauthenticate(t *testing.T) {
	gh := startGitHub(t)
	g := newGitHub(t, gh, "acme")
	id, err := githubSignIn(t, gh, g)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := g.Reauthenticate(context.Background(), id.RefreshToken); err != nil || again.Subject != id.Subject {
		t.Fatalf("still a member: %+v %v", again, err)
	}
	gh.change(func() { gh.apiDown = true })
	if _, err := g.Reauthenticate(context.Background(), id.RefreshToken); err == nil {
		t.Fatal("reauthenticated with the API down")
	} else if _, denied := err.(*authserver.UpstreamDenied); denied {
		t.Fatalf("the API down read as a denial: %v", err)
	}
	gh.change(func() { gh.apiDown = false; delete(gh.orgState, "acme") }) // left the organisation
	if _, err := g.Reauthenticate(context.Background(), id.RefreshToken); err == nil {
		t.Fatal("reauthenticated after leaving the org")
	} else if _, denied := err.(*authserver.UpstreamDenied); !denied {
		t.Fatalf("leaving the org: %v", err)
	}
	gh.change(func() { gh.orgState["acme"] = "active"; delete(gh.tokens, id.RefreshToken) }) // the user revoked the app
	if _, err := g.Reauthenticate(context.Background(), id.RefreshToken); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a revoked token: %v", err)
	}
}

func TestGitHubConfigMistakes(t *testing.T) {
	_, err := NewGitHub(GitHubConfig{})
	for _, want := range []string{"needs client_id and client_secret: register an OAuth app at GitHub with the callback URL <origin>/login/github/callback", "needs allowed_orgs: without it anyone with a GitHub account could sign in"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v, want %q", err, want)
		}
	}
}

// TestGitHubThroughTheAuthorizationServer: the login page's "Sign in with
// GitHub", the stand-in, and a token for octocat, whose organisation acme
// is the group github:acme: a rule naming plain acme (a group of a users
// block) gives them nothing.
func TestGitHubThroughTheAuthorizationServer(t *testing.T) {
	gh := startGitHub(t)
	g := newGitHub(t, gh, "acme")
	srv, err := authserver.New(authserver.Config{
		Origin:    func(r *http.Request) string { return publicurl.Origin(r, "", false) },
		Scopes:    []string{"mcp", "mcp:admin"},
		Upstreams: []authserver.UpstreamLogin{g},
		Clients:   []authserver.StaticClient{{ID: "app", RedirectURIs: []string{"http://127.0.0.1/cb"}}},
		ScopeGrants: []authserver.ScopeGrant{
			{Scopes: []string{"mcp"}, Groups: []string{"github:acme"}},
			{Scopes: []string{"mcp:admin"}, Groups: []string{"acme"}},
		},
	}, &certmagic.FileStorage{Path: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	verifier, q := appAuthorization("mcp mcp:admin")
	back, err := browsertest.New(nil).AuthorizeUpstream(ts.URL+"/authorize?"+q.Encode(), gh.ts.URL, "GitHub", "", "", "approve")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(ts.URL+"/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {back.Query().Get("code")}, "client_id": {"app"},
		"redirect_uri": {"http://127.0.0.1:7/cb"}, "code_verifier": {verifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken+"..", ".")[1])
	var c struct {
		Sub    string   `json:"sub"`
		Scope  string   `json:"scope"`
		Groups []string `json:"groups"`
	}
	json.Unmarshal(payload, &c)
	if c.Sub != "https://github.com#583231" || c.Scope != "mcp" || strings.Join(c.Groups, ",") != "github:acme" {
		t.Fatalf("access token claims %s", payload)
	}
}
