// Package upstreamlogin signs people in at the identity provider of their
// organisation for the authorization server: an OpenID Connect provider
// found by discovery (Google, Entra ID, Okta, Keycloak, ...) or GitHub. It
// speaks the provider's protocol (authorization code with PKCE, state and
// nonce; the ID token checked) and decides whether the person may sign in
// (allowed domains, organisations); the authorization server keeps the
// browser's side (see authserver.UpstreamLogin). It does not import Caddy.
package upstreamlogin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/oauthwire"
)

// OIDCConfig configures an OpenID Connect provider.
type OIDCConfig struct {
	// Name is the provider's name in the login paths /login/<name> and
	// /login/<name>/callback (the redirect URI to register at the
	// provider). Required.
	Name string
	// Label names the provider on the login page's button. Default: Name.
	Label string
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration". https, or http on a
	// loopback host only. Required.
	Issuer string
	// ClientID and ClientSecret are the gateway's registration at the
	// provider. ClientID is required; the secret may be empty for a
	// provider that registered the gateway as a public client.
	ClientID, ClientSecret string
	// Scopes are requested of the provider. Default: openid email profile
	// ("openid" is always added).
	Scopes []string
	// UsernameClaim is the claim users are shown and named by in
	// policies. Default: email.
	UsernameClaim string
	// GroupsClaim is the claim holding the user's groups (a list of
	// strings, or one string). Default: none, no groups.
	GroupsClaim string
	// AllowedDomains, when set, admits only users whose verified email
	// address is in one of these domains. Default: anyone the provider
	// signs in.
	AllowedDomains []string
	// ReauthenticateAfter is how long a sign-in holds before a refresh of
	// the gateway's grant asks the provider again, with the refresh token
	// it issued, whether the user still exists and what their groups are
	// (request offline_access in Scopes where the provider wants it). A
	// user without such a token signs in again. Negative never asks.
	// Default: 24h.
	ReauthenticateAfter time.Duration
	// HTTPClient reaches the provider. Default: a client with a 15s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock ID tokens' expiry is checked against. Default:
	// time.Now.
	Now func() time.Time
}

// OIDC is an OpenID Connect provider; it implements
// authserver.UpstreamLogin.
type OIDC struct {
	cfg OIDCConfig

	mu       sync.Mutex
	provider *oidc.Provider // found by discovery on first use
}

var _ authserver.UpstreamLogin = (*OIDC)(nil)

// defaultHTTPTimeout bounds each exchange with a provider, so a provider
// that hangs shows the person an error page instead of holding the request.
const defaultHTTPTimeout = 15 * time.Second

// defaultReauthenticateAfter is OIDCConfig.ReauthenticateAfter's default.
const defaultReauthenticateAfter = 24 * time.Hour

// NewOIDC checks cfg and fills its defaults. It does not reach the
// provider: discovery happens on the first sign-in (and again after a
// failed one), so the gateway starts while the provider is down.
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("oidc %s: "+format, append([]any{cfg.Name}, args...)...))
	}
	if cfg.Issuer == "" {
		add("no issuer: set the provider's issuer URL, for example https://accounts.google.com")
	} else if err := checkIssuer(cfg.Issuer); err != nil {
		add("%v", err)
	}
	if cfg.ClientID == "" {
		add("no client_id: register the gateway at the provider with the redirect URI <origin>/login/%s/callback and set client_id and client_secret", cfg.Name)
	}
	for _, d := range cfg.AllowedDomains {
		if d == "" || strings.ContainsAny(d, "@/ ") {
			add("allowed domain %q: give a domain such as example.com", d)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Label == "" {
		cfg.Label = cfg.Name
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{oidc.ScopeOpenID, "email", "profile"}
	} else if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "email"
	}
	if cfg.ReauthenticateAfter == 0 {
		cfg.ReauthenticateAfter = defaultReauthenticateAfter
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for i, d := range cfg.AllowedDomains {
		cfg.AllowedDomains[i] = strings.ToLower(d)
	}
	return &OIDC{cfg: cfg}, nil
}

// checkIssuer accepts an https issuer, or an http one on a loopback host:
// over plain http anyone on the path could serve their own discovery
// document and keys, and sign in as anyone.
func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("issuer %q is not a URL such as https://accounts.google.com", issuer)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && oauthwire.LoopbackHost(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("issuer %q: plain http is accepted only on a loopback host (tests, laptops); use the provider's https URL", issuer)
	}
	return fmt.Errorf("issuer %q must be an https URL", issuer)
}

// Name implements authserver.UpstreamLogin.
func (o *OIDC) Name() string { return o.cfg.Name }

// Label implements authserver.UpstreamLogin.
func (o *OIDC) Label() string { return o.cfg.Label }

func (o *OIDC) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.cfg.HTTPClient)
}

// discover returns the provider, fetching its discovery document the first
// time; a failure is not remembered, so the next sign-in tries again.
// go-oidc checks that the document names exactly the configured issuer.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	// The key set keeps the context it is made with for its own fetches:
	// not the request's, which ends with the request.
	p, err := oidc.NewProvider(o.clientContext(context.WithoutCancel(ctx)), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery at %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth2Config(p *oidc.Provider, redirectURI string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: redirectURI, Scopes: o.cfg.Scopes,
	}
}

// AuthCodeURL implements authserver.UpstreamLogin: the code flow with
// PKCE (S256), state and nonce.
func (o *OIDC) AuthCodeURL(ctx context.Context, a authserver.UpstreamAttempt) (string, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.Verifier), oidc.Nonce(a.Nonce)}
	// OpenID Connect Core §11: offline access (the refresh token
	// Reauthenticate needs) is granted only with prompt=consent.
	if slices.Contains(o.cfg.Scopes, oidc.ScopeOfflineAccess) {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	return o.oauth2Config(p, a.RedirectURI).AuthCodeURL(a.State, opts...), nil
}

// Complete implements authserver.UpstreamLogin: it redeems the code with
// the PKCE verifier and checks the ID token (signature by the provider's
// published keys, iss, aud, azp, exp, nonce) before reading who it names.
func (o *OIDC) Complete(ctx context.Context, a authserver.UpstreamAttempt, callback url.Values) (*authserver.UpstreamIdentity, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 9207: a provider that names itself in the callback must name
	// this one (an answer from another provider, mixed up, is refused).
	if iss := callback.Get("iss"); iss != "" && iss != o.cfg.Issuer {
		return nil, fmt.Errorf("the callback names issuer %q, not %q", iss, o.cfg.Issuer)
	}
	code := callback.Get("code")
	if code == "" {
		return nil, errors.New("the callback carries no code")
	}
	cctx := o.clientContext(ctx)
	tok, err := o.oauth2Config(p, a.RedirectURI).Exchange(cctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return nil, fmt.Errorf("redeeming the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now}).Verify(cctx, raw)
	if err != nil {
		return nil, fmt.Errorf("checking the ID token: %w", err)
	}
	// The nonce ties the ID token to this sign-in: without the check, an
	// ID token issued for another sign-in (stolen or replayed) would do.
	if idt.Nonce != a.Nonce {
		return nil, errors.New("checking the ID token: its nonce is not the one this sign-in sent")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("reading the ID token: %w", err)
	}
	// go-oidc checks that aud contains the client id; OpenID Connect Core
	// §3.1.3.7 also wants azp to be this client when there are several
	// audiences, so a token made for another client that lists this one
	// as an extra audience is not taken as a sign-in here.
	if len(idt.Audience) > 1 {
		if azp, _ := claims["azp"].(string); azp != o.cfg.ClientID {
			return nil, fmt.Errorf("checking the ID token: several audiences and azp %q is not this client", azp)
		}
	}
	if idt.Subject == "" {
		return nil, errors.New("the ID token has no sub")
	}
	if o.needsUserInfo(claims) && p.UserInfoEndpoint() != "" {
		if err := o.addUserInfo(cctx, p, tok, idt.Subject, claims); err != nil {
			return nil, err
		}
	}
	id, err := o.identity(idt.Issuer, idt.Subject, claims)
	if err != nil {
		return nil, err
	}
	id.RefreshToken = tok.RefreshToken
	return id, nil
}

// ReauthenticateAfter implements authserver.UpstreamLogin.
func (o *OIDC) ReauthenticateAfter() time.Duration { return max(o.cfg.ReauthenticateAfter, 0) }

// Reauthenticate implements authserver.UpstreamLogin: a refresh token
// grant at the provider (a disabled account or a revoked token gets
// invalid_grant there), then who the answer names: its ID token, checked
// as at sign-in but without a nonce (OpenID Connect Core §12.2), and the
// UserInfo claims it lacks, which must be about the same subject.
func (o *OIDC) Reauthenticate(ctx context.Context, refreshToken string) (*authserver.UpstreamIdentity, error) {
	p, err := o.discover(ctx)
	if err != nil {
		return nil, err
	}
	cctx := o.clientContext(ctx)
	tok, err := o.oauth2Config(p, "").TokenSource(cctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	var rerr *oauth2.RetrieveError
	switch {
	case errors.As(err, &rerr) && rerr.ErrorCode == "invalid_grant":
		return nil, &authserver.UpstreamDenied{Reason: "the provider no longer accepts your sign-in (" + rerr.ErrorDescription + ")"}
	case err != nil:
		return nil, fmt.Errorf("refreshing at the provider: %w", err)
	}
	claims := map[string]any{}
	issuer, sub := o.cfg.Issuer, ""
	if raw, _ := tok.Extra("id_token").(string); raw != "" {
		idt, err := p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now}).Verify(cctx, raw)
		if err != nil {
			return nil, fmt.Errorf("checking the refreshed ID token: %w", err)
		}
		if err := idt.Claims(&claims); err != nil {
			return nil, fmt.Errorf("reading the refreshed ID token: %w", err)
		}
		issuer, sub = idt.Issuer, idt.Subject
	}
	switch {
	case sub == "" && p.UserInfoEndpoint() == "":
		return nil, errors.New("the provider's refresh answer has no ID token, and it has no UserInfo endpoint to say who it is for")
	case sub == "":
		// No ID token: UserInfo says who the new access token is for.
		ui, err := p.UserInfo(cctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return nil, fmt.Errorf("reading UserInfo: %w", err)
		}
		if sub = ui.Subject; sub == "" || ui.Claims(&claims) != nil {
			return nil, errors.New("UserInfo names no subject")
		}
	case o.needsUserInfo(claims) && p.UserInfoEndpoint() != "":
		if err := o.addUserInfo(cctx, p, tok, sub, claims); err != nil {
			return nil, err
		}
	}
	id, err := o.identity(issuer, sub, claims)
	if err != nil {
		return nil, err
	}
	id.RefreshToken = tok.RefreshToken
	return id, nil
}

// needsUserInfo reports whether claims lack what the configuration reads
// (providers put some claims in the UserInfo response only).
func (o *OIDC) needsUserInfo(claims map[string]any) bool {
	names := []string{o.cfg.UsernameClaim}
	if o.cfg.GroupsClaim != "" {
		names = append(names, o.cfg.GroupsClaim)
	}
	if len(o.cfg.AllowedDomains) > 0 {
		names = append(names, "email", "email_verified")
	}
	for _, n := range names {
		if _, ok := claims[n]; !ok {
			return true
		}
	}
	return false
}

// addUserInfo adds the UserInfo claims the ID token lacks. The response
// must be about the ID token's subject (OpenID Connect Core §5.3.2), or
// claims of another user could be mixed in.
func (o *OIDC) addUserInfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, sub string, claims map[string]any) error {
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return fmt.Errorf("reading UserInfo: %w", err)
	}
	if ui.Subject != sub {
		return fmt.Errorf("UserInfo is about subject %q, not the ID token's %q", ui.Subject, sub)
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return fmt.Errorf("reading UserInfo: %w", err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// identity turns verified claims into who signed in, or refuses them.
func (o *OIDC) identity(issuer, sub string, claims map[string]any) (*authserver.UpstreamIdentity, error) {
	username, _ := claims[o.cfg.UsernameClaim].(string)
	if username == "" {
		return nil, &authserver.UpstreamDenied{Reason: fmt.Sprintf("the provider did not tell this server your %s (the operator may need to request another scope or set username_claim)", o.cfg.UsernameClaim)}
	}
	if o.cfg.UsernameClaim == "email" {
		// An address the person typed into their profile is no name a
		// policy may trust: only one the provider verified.
		if verified, _ := claims["email_verified"].(bool); !verified {
			return nil, &authserver.UpstreamDenied{Reason: "the provider has not verified your email address, which this server uses as your user name; verify it there and sign in again"}
		}
	}
	if len(o.cfg.AllowedDomains) > 0 {
		if err := o.checkDomain(claims); err != nil {
			return nil, err
		}
	}
	return &authserver.UpstreamIdentity{
		Subject:  Subject(issuer, sub),
		Username: username,
		Groups:   stringList(claims[o.cfg.GroupsClaim]),
		Domain:   verifiedDomain(claims),
	}, nil
}

// verifiedDomain is the domain of the user's email address when the
// provider verified it, else "" (policies grant by domain only on a
// verified address; see checkDomain).
func verifiedDomain(claims map[string]any) string {
	email, _ := claims["email"].(string)
	_, domain, ok := strings.Cut(email, "@")
	if verified, _ := claims["email_verified"].(bool); !ok || !verified {
		return ""
	}
	return strings.ToLower(domain)
}

// checkDomain admits an email address of an allowed domain, and only a
// verified one: at a provider where people choose their own email address
// (several let an account name any address until it is verified), an
// unverified alice@example.com proves nothing about example.com.
func (o *OIDC) checkDomain(claims map[string]any) error {
	email, _ := claims["email"].(string)
	_, domain, ok := strings.Cut(email, "@")
	domain = strings.ToLower(domain)
	if !ok || domain == "" {
		return &authserver.UpstreamDenied{Reason: "the provider did not tell this server your email address, which decides who may sign in here"}
	}
	if !slices.Contains(o.cfg.AllowedDomains, domain) {
		return &authserver.UpstreamDenied{Reason: "accounts of " + domain + " are not allowed here"}
	}
	if verifiedDomain(claims) == "" {
		return &authserver.UpstreamDenied{Reason: "the provider has not verified your email address " + email}
	}
	return nil
}

// Subject is the subject of an upstream user in the gateway's tokens: the
// provider's issuer, '#' and its subject, since a provider's subject is
// unique only at that provider (OpenID Connect Core §5.7).
func Subject(issuer, sub string) string { return issuer + "#" + sub }

// stringList reads a claim holding a list of strings or one string.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
