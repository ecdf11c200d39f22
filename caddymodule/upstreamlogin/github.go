package upstreamlogin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

// GitHubConfig configures sign-in with GitHub: plain OAuth (GitHub is not
// an OpenID provider), the user read from its API, and membership of one
// of AllowedOrgs required.
type GitHubConfig struct {
	// Name is the provider's name in the login paths. Default: github.
	Name string
	// Label names it on the login page's button. Default: GitHub.
	Label string
	// ClientID and ClientSecret are the gateway's OAuth app at GitHub,
	// registered with the callback URL <origin>/login/<name>/callback.
	// Required.
	ClientID, ClientSecret string
	// AllowedOrgs are the organisations whose active members may sign in;
	// each becomes a group of the user. Required: without it anyone with
	// a GitHub account could sign in.
	AllowedOrgs []string
	// ReauthenticateAfter is how long a sign-in holds before a refresh asks
	// GitHub again whether the user's token still works and which of
	// AllowedOrgs they are still in. Negative never asks. Default 24h.
	ReauthenticateAfter time.Duration
	// BaseURL and APIURL are GitHub's web and API origins. Default:
	// https://github.com and https://api.github.com (a GitHub Enterprise
	// Server has its own).
	BaseURL, APIURL string
	// HTTPClient reaches GitHub. Default: a client with a 15s timeout.
	HTTPClient *http.Client
}

// GitHub is sign-in with GitHub; it implements authserver.UpstreamLogin.
type GitHub struct {
	cfg    GitHubConfig
	oauth2 oauth2.Config
}

var _ authserver.UpstreamLogin = (*GitHub)(nil)

// githubIssuer is the issuer part of GitHub users' subjects.
const githubIssuer = "https://github.com"

// NewGitHub checks cfg and fills its defaults.
func NewGitHub(cfg GitHubConfig) (*GitHub, error) {
	if cfg.Name == "" {
		cfg.Name = "github"
	}
	var errs []error
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		errs = append(errs, fmt.Errorf("github %s: needs client_id and client_secret: register an OAuth app at GitHub with the callback URL <origin>/login/%s/callback", cfg.Name, cfg.Name))
	}
	if len(cfg.AllowedOrgs) == 0 {
		errs = append(errs, fmt.Errorf("github %s: needs allowed_orgs: without it anyone with a GitHub account could sign in", cfg.Name))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Label == "" {
		cfg.Label = "GitHub"
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = githubIssuer
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://api.github.com"
	}
	if cfg.ReauthenticateAfter == 0 {
		cfg.ReauthenticateAfter = defaultReauthenticateAfter
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	return &GitHub{cfg: cfg, oauth2: oauth2.Config{
		ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL: cfg.BaseURL + "/login/oauth/authorize", TokenURL: cfg.BaseURL + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
		// read:org shows memberships the user keeps private.
		Scopes: []string{"read:user", "read:org"},
	}}, nil
}

// Name implements authserver.UpstreamLogin.
func (g *GitHub) Name() string { return g.cfg.Name }

// Label implements authserver.UpstreamLogin.
func (g *GitHub) Label() string { return g.cfg.Label }

// ReauthenticateAfter implements authserver.UpstreamLogin.
func (g *GitHub) ReauthenticateAfter() time.Duration { return max(g.cfg.ReauthenticateAfter, 0) }

// AuthCodeURL implements authserver.UpstreamLogin: state and PKCE (GitHub
// has no nonce, there being no ID token).
func (g *GitHub) AuthCodeURL(_ context.Context, a authserver.UpstreamAttempt) (string, error) {
	c := g.oauth2
	c.RedirectURL = a.RedirectURI
	return c.AuthCodeURL(a.State, oauth2.S256ChallengeOption(a.Verifier)), nil
}

// Complete implements authserver.UpstreamLogin: the code for a token, then
// the user and their memberships from the API. GitHub's token (an OAuth
// app's does not expire) is what Reauthenticate asks with later.
func (g *GitHub) Complete(ctx context.Context, a authserver.UpstreamAttempt, callback url.Values) (*authserver.UpstreamIdentity, error) {
	code := callback.Get("code")
	if code == "" {
		return nil, errors.New("the callback carries no code")
	}
	c := g.oauth2
	c.RedirectURL = a.RedirectURI
	tok, err := c.Exchange(context.WithValue(ctx, oauth2.HTTPClient, g.cfg.HTTPClient), code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return nil, fmt.Errorf("redeeming the code: %w", err)
	}
	return g.identity(ctx, tok.AccessToken)
}

// Reauthenticate implements authserver.UpstreamLogin with the token kept
// from Complete: a revoked token, or an account no longer in AllowedOrgs,
// is a denial.
func (g *GitHub) Reauthenticate(ctx context.Context, token string) (*authserver.UpstreamIdentity, error) {
	return g.identity(ctx, token)
}

// githubUser is what GET /user says (the fields used).
type githubUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
}

// identity reads the user behind token and their active memberships of
// AllowedOrgs; with none, the user is refused.
func (g *GitHub) identity(ctx context.Context, token string) (*authserver.UpstreamIdentity, error) {
	var u githubUser
	status, err := g.api(ctx, token, "/user", &u)
	switch {
	case status == http.StatusUnauthorized:
		return nil, &authserver.UpstreamDenied{Reason: "GitHub no longer accepts the gateway's access (the authorization was revoked)"}
	case err != nil:
		return nil, err
	case u.ID == 0 || u.Login == "":
		return nil, errors.New("GitHub's /user names no user")
	}
	var orgs []string
	for _, org := range g.cfg.AllowedOrgs {
		var m struct {
			State string `json:"state"`
		}
		status, err := g.api(ctx, token, "/user/memberships/orgs/"+url.PathEscape(org), &m)
		switch {
		case status == http.StatusNotFound || status == http.StatusForbidden:
			continue // not a member, or the org keeps it from this app
		case err != nil:
			return nil, err
		case m.State == "active": // "pending" is an invitation not accepted
			orgs = append(orgs, org)
		}
	}
	if len(orgs) == 0 {
		return nil, &authserver.UpstreamDenied{Reason: "your GitHub account " + u.Login + " is not an active member of " + strings.Join(g.cfg.AllowedOrgs, " or ")}
	}
	return &authserver.UpstreamIdentity{
		// The numeric id: a login can be renamed and then taken by
		// someone else.
		Subject:      Subject(githubIssuer, strconv.FormatInt(u.ID, 10)),
		Username:     u.Login,
		Groups:       orgs,
		RefreshToken: token,
	}, nil
}

// api GETs path from GitHub's API into v and returns the status; an error
// for any status but 200.
func (g *GitHub) api(ctx context.Context, token, path string, v any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.APIURL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("GitHub API %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("GitHub API %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("GitHub API %s: status %d", path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return resp.StatusCode, fmt.Errorf("GitHub API %s: %w", path, err)
	}
	return resp.StatusCode, nil
}
