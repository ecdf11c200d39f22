package caddymodule

import (
	"slices"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
	"github.com/mcpgate/mcpgate/caddymodule/upstreamlogin"
)

// OIDCLogin is an OpenID Connect provider people sign in with (Google,
// Entra ID, Okta, Keycloak, ...), found through OpenID discovery. Register
// the gateway at the provider with the redirect URI
// <origin>/login/<name>/callback.
type OIDCLogin struct {
	// Name is the provider's name in the login paths. Required.
	Name string `json:"name,omitempty"`
	// Label names it on the login page's button. Default: the name.
	Label string `json:"label,omitempty"`
	// Issuer is the provider's issuer URL: https, or http on a loopback
	// host only. Required.
	Issuer string `json:"issuer,omitempty"`
	// ClientID is the gateway's client id at the provider. Required.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the gateway's client secret at the provider (use
	// {env.*} or {file.*}). Default: none, a public client.
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes are requested of the provider. Default: openid email profile.
	Scopes []string `json:"scopes,omitempty"`
	// UsernameClaim names users on the consent page and in policies
	// (there as <name>:<username>). Default: email.
	UsernameClaim string `json:"username_claim,omitempty"`
	// GroupsClaim holds the user's groups, named <name>:<group> in grant,
	// allow and the groups header. Default: none.
	GroupsClaim string `json:"groups_claim,omitempty"`
	// AllowedDomains admits only users whose verified email address is in
	// one of these domains. Default: anyone the provider signs in.
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	// ReauthenticateAfter is how long a sign-in holds before a refresh
	// asks the provider again (with the refresh token it issued, kept
	// encrypted in storage) whether the user still exists and what their
	// groups are; a user the provider disabled loses access within it
	// plus the access token lifetime. Add offline_access to scopes so the
	// provider issues that token; without one, the user signs in again.
	// Negative never asks. Default 24h.
	ReauthenticateAfter caddy.Duration `json:"reauthenticate_after,omitempty"`
}

// GitHubLogin is sign-in with GitHub (plain OAuth; GitHub is not an
// OpenID provider): the user read from GitHub's API, and active membership
// of one of AllowedOrgs required. Register an OAuth app at GitHub with the
// callback URL <origin>/login/<name>/callback.
type GitHubLogin struct {
	// Name is the provider's name in the login paths. Default: github.
	Name string `json:"name,omitempty"`
	// Label names it on the login page's button. Default: GitHub.
	Label string `json:"label,omitempty"`
	// ClientID is the OAuth app's client id. Required.
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the OAuth app's secret (use {env.*} or {file.*}).
	// Required.
	ClientSecret string `json:"client_secret,omitempty"`
	// AllowedOrgs are the organisations whose active members may sign in;
	// each is a group of its members for grant and allow, named
	// <name>:<org> (github:acme). Required.
	AllowedOrgs []string `json:"allowed_orgs,omitempty"`
	// ReauthenticateAfter is how long a sign-in holds before a refresh asks
	// GitHub again whether the user's authorization stands and which of
	// AllowedOrgs they are in; negative never asks. Default 24h.
	ReauthenticateAfter caddy.Duration `json:"reauthenticate_after,omitempty"`
}

// upstreamLogins builds the configured sign-in providers, replacing global
// placeholders in their settings.
func (a *AuthConfig) upstreamLogins(repl *caddy.Replacer) ([]authserver.UpstreamLogin, error) {
	var out []authserver.UpstreamLogin
	for _, p := range a.OIDC {
		o, err := upstreamlogin.NewOIDC(upstreamlogin.OIDCConfig{
			Name: p.Name, Label: p.Label,
			Issuer:              repl.ReplaceAll(p.Issuer, ""),
			ClientID:            repl.ReplaceAll(p.ClientID, ""),
			ClientSecret:        repl.ReplaceAll(p.ClientSecret, ""),
			Scopes:              p.Scopes,
			UsernameClaim:       p.UsernameClaim,
			GroupsClaim:         p.GroupsClaim,
			AllowedDomains:      append([]string(nil), p.AllowedDomains...),
			ReauthenticateAfter: time.Duration(p.ReauthenticateAfter),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	for _, p := range a.GitHub {
		gh, err := upstreamlogin.NewGitHub(upstreamlogin.GitHubConfig{
			Name: p.Name, Label: p.Label,
			ClientID:            repl.ReplaceAll(p.ClientID, ""),
			ClientSecret:        repl.ReplaceAll(p.ClientSecret, ""),
			AllowedOrgs:         p.AllowedOrgs,
			ReauthenticateAfter: time.Duration(p.ReauthenticateAfter),
		})
		if err != nil {
			return nil, err
		}
		out = append(out, gh)
	}
	return out, nil
}

// parseGitHub parses
//
//	github [<name>] {
//	    client_id <id>
//	    client_secret <secret>
//	    allowed_orgs <orgs...>
//	    label <text>
//	    reauthenticate_after <duration>
//	}
func parseGitHub(d *caddyfile.Dispenser, a *AuthConfig) error {
	p := GitHubLogin{Name: "github"}
	if d.NextArg() {
		p.Name = d.Val()
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "client_id":
			err = oneArg(d, &p.ClientID)
		case "client_secret":
			err = oneArg(d, &p.ClientSecret)
		case "label":
			err = oneArg(d, &p.Label)
		case "allowed_orgs":
			err = someArgs(d, &p.AllowedOrgs)
		case "reauthenticate_after":
			err = durationOrOffArg(d, &p.ReauthenticateAfter)
		default:
			return d.Errf("unrecognized github option '%s' (known: client_id, client_secret, allowed_orgs, label, reauthenticate_after)", opt)
		}
		if err != nil {
			return err
		}
	}
	if len(p.AllowedOrgs) == 0 {
		return d.Errf("github needs allowed_orgs: without it anyone with a GitHub account could sign in")
	}
	if a.providerDeclared(p.Name) {
		return d.Errf("sign-in provider %s is declared twice; give the second a name of its own: github <name> { ... }", p.Name)
	}
	a.GitHub = append(a.GitHub, p)
	return nil
}

// parseOIDC parses
//
//	oidc <name> {
//	    issuer <url>
//	    client_id <id>
//	    client_secret <secret>
//	    label <text>
//	    scopes <scopes...>
//	    username_claim <claim>
//	    groups_claim <claim>
//	    allowed_domains <domains...>
//	    reauthenticate_after <duration>
//	}
func parseOIDC(d *caddyfile.Dispenser, a *AuthConfig) error {
	var p OIDCLogin
	if !d.AllArgs(&p.Name) {
		return d.Errf("oidc needs the provider's name, used in its redirect URI <origin>/login/<name>/callback, for example: oidc google { ... }")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch opt := d.Val(); opt {
		case "issuer":
			err = oneArg(d, &p.Issuer)
		case "client_id":
			err = oneArg(d, &p.ClientID)
		case "client_secret":
			err = oneArg(d, &p.ClientSecret)
		case "label":
			err = oneArg(d, &p.Label)
		case "username_claim":
			err = oneArg(d, &p.UsernameClaim)
		case "groups_claim":
			err = oneArg(d, &p.GroupsClaim)
		case "scopes":
			err = someArgs(d, &p.Scopes)
		case "allowed_domains":
			err = someArgs(d, &p.AllowedDomains)
		case "reauthenticate_after":
			err = durationOrOffArg(d, &p.ReauthenticateAfter)
		default:
			return d.Errf("unrecognized oidc option '%s' (known: issuer, client_id, client_secret, label, scopes, username_claim, groups_claim, allowed_domains, reauthenticate_after)", opt)
		}
		if err != nil {
			return err
		}
	}
	if p.Issuer == "" || p.ClientID == "" {
		return d.Errf("oidc %s needs issuer and client_id (register the gateway at the provider with the redirect URI <origin>/login/%s/callback)", p.Name, p.Name)
	}
	if a.providerDeclared(p.Name) {
		return d.Errf("sign-in provider %s is declared twice; give each provider its own name", p.Name)
	}
	a.OIDC = append(a.OIDC, p)
	return nil
}

// providerDeclared reports whether a sign-in provider, of either kind, is
// named name already: the name is its login path and its namespace in
// grant and allow rules.
func (a *AuthConfig) providerDeclared(name string) bool {
	return slices.ContainsFunc(a.OIDC, func(o OIDCLogin) bool { return o.Name == name }) ||
		slices.ContainsFunc(a.GitHub, func(g GitHubLogin) bool { return g.Name == name })
}

// oneArg reads exactly one argument of the current option into dst.
func oneArg(d *caddyfile.Dispenser, dst *string) error {
	if !d.AllArgs(dst) {
		return d.Errf("%s takes exactly one value", d.Val())
	}
	return nil
}

// someArgs appends the current option's arguments, at least one, to dst.
func someArgs(d *caddyfile.Dispenser, dst *[]string) error {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.Errf("%s needs at least one value", name)
	}
	*dst = append(*dst, args...)
	return nil
}
