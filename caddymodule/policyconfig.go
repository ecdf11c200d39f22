package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/mcpgate/mcpgate/caddymodule/authserver"
)

// ScopeGrant gives scopes to the users any of its rules match. Once any
// grant is configured, a user holds a scope only through a grant naming it;
// the consent page offers only those, and each refresh decides again.
type ScopeGrant struct {
	// Scopes are the scopes given. Required.
	Scopes []string `json:"scopes,omitempty"`
	// Users match by user name: a users entry or a trusted_identity user
	// plainly, a sign-in provider's user (its username_claim, a GitHub
	// login) as <provider>:<username>. Default: none.
	Users []string `json:"users,omitempty"`
	// Groups match users of these groups: a group of the users block
	// plainly, a sign-in provider's group (its groups_claim, a GitHub
	// organisation) as <provider>:<group>. Default: none.
	Groups []string `json:"groups,omitempty"`
	// Domains match users whose verified email address is in one of
	// these domains. Default: none.
	Domains []string `json:"domains,omitempty"`
}

// AccessRule says who may use a resource at all; others get a 403 page
// when they sign in for it, and lose it at their next refresh.
type AccessRule struct {
	// Users are user names allowed, named as in ScopeGrant. Default: none.
	Users []string `json:"users,omitempty"`
	// Groups are groups whose users are allowed, named as in ScopeGrant.
	// Default: none.
	Groups []string `json:"groups,omitempty"`
}

// policy returns the authorization server's view of the grants and of
// the resources' allow rules.
func (g *Gateway) policy() ([]authserver.ScopeGrant, map[string]authserver.AccessRule) {
	var grants []authserver.ScopeGrant
	for _, sg := range g.Auth.Grants {
		grants = append(grants, authserver.ScopeGrant{Scopes: sg.Scopes, Users: sg.Users, Groups: sg.Groups, Domains: sg.Domains})
	}
	var access map[string]authserver.AccessRule
	for _, res := range g.Resources {
		if res.Allow != nil {
			if access == nil {
				access = map[string]authserver.AccessRule{}
			}
			access[res.Path] = authserver.AccessRule{Users: res.Allow.Users, Groups: res.Allow.Groups}
		}
	}
	return grants, access
}

// parseGrant parses
//
//	grant <scopes...> {
//	    users <names...>      # users entries; a provider's user as <provider>:<username>
//	    groups <groups...>    # users groups; a provider's group as <provider>:<group>
//	    domains <domains...>
//	}
func parseGrant(d *caddyfile.Dispenser, a *AuthConfig) error {
	sg := ScopeGrant{Scopes: d.RemainingArgs()}
	if len(sg.Scopes) == 0 {
		return d.Errf("grant needs the scopes it gives, for example: grant memory.write { groups editors }")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "users":
			err = someArgs(d, &sg.Users)
		case "groups":
			err = someArgs(d, &sg.Groups)
		case "domains":
			err = someArgs(d, &sg.Domains)
		default:
			return d.Errf("unrecognized grant option '%s' (known: users, groups, domains)", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if len(sg.Users)+len(sg.Groups)+len(sg.Domains) == 0 {
		return d.Errf("grant %v gives its scopes to no one: add users, groups or domains inside its block", sg.Scopes)
	}
	a.Grants = append(a.Grants, sg)
	return nil
}

// parseAllow parses a resource's
//
//	allow {
//	    users <names...>      # as in grant
//	    groups <groups...>    # as in grant
//	}
func parseAllow(d *caddyfile.Dispenser, res *Resource) error {
	if d.NextArg() {
		return d.Errf("allow takes a block, for example: allow { groups engineering }")
	}
	if res.Allow == nil {
		res.Allow = &AccessRule{}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "users":
			err = someArgs(d, &res.Allow.Users)
		case "groups":
			err = someArgs(d, &res.Allow.Groups)
		default:
			return d.Errf("unrecognized allow option '%s' (known: users, groups)", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if len(res.Allow.Users)+len(res.Allow.Groups) == 0 {
		return d.Errf("allow lets no one in: add users or groups inside its block")
	}
	return nil
}
